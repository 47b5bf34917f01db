"""`gridcare terminal_add --code T001 --unit <unit code> [--public-key file.pem] [--name 位置]`: register a
self-service terminal. Without `--public-key` an Ed25519 key pair is generated and the private key is
printed once (install it on the terminal; it is not stored anywhere)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.payments.channels import terminals

from ._signed_keys import add_key_arguments, print_private, refused, unit_and_key


class Command(BaseCommand):
    help = "登记自助缴费终端（Ed25519 公钥）；未提供公钥时生成密钥对并只显示一次私钥"

    def add_arguments(self, parser):
        parser.add_argument("--code", required=True, help="终端编号，如 T001")
        add_key_arguments(parser, "终端")
        parser.add_argument("--name", default="", help="名称/安装位置")

    def handle(self, *args, code, unit, public_key, name, **options):
        unit_obj, pem, private = unit_and_key(unit, public_key)
        try:
            t = terminals.terminal_add(
                actor=Actor(channel=Channel.SYSTEM), code=code, unit=unit_obj, public_key=pem, name=name
            )
        except ValidationError as exc:
            raise refused(exc) from None
        self.stdout.write(f"终端 {t.code} 已登记（{unit_obj.name}）")
        print_private(self.stdout, private, "终端")
