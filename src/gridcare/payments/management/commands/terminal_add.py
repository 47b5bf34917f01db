"""`gridcare terminal_add --code T001 --unit <unit code> [--public-key file.pem] [--name 位置]`: register a
self-service terminal. Without `--public-key` an Ed25519 key pair is generated and the private key is
printed once (install it on the terminal; it is not stored anywhere)."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.org.models import SupplyUnit
from gridcare.payments import terminals


class Command(BaseCommand):
    help = "登记自助缴费终端（Ed25519 公钥）；未提供公钥时生成密钥对并只显示一次私钥"

    def add_arguments(self, parser):
        parser.add_argument("--code", required=True, help="终端编号，如 T001")
        parser.add_argument("--unit", required=True, help="所属供电单位编码")
        parser.add_argument("--public-key", dest="public_key", help="终端 Ed25519 公钥 PEM 文件")
        parser.add_argument("--name", default="", help="名称/安装位置")

    def handle(self, *args, code, unit, public_key, name, **options):
        unit_obj = SupplyUnit.objects.filter(code=unit).first()
        if unit_obj is None:
            raise CommandError(f"供电单位不存在：{unit}")
        private = None
        if public_key:
            try:
                pem = Path(public_key).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"无法读取公钥文件 {public_key}：{exc}") from None
        else:
            private, pem = terminals.generate_key_pair()
        try:
            t = terminals.terminal_add(
                actor=Actor(channel=Channel.SYSTEM), code=code, unit=unit_obj, public_key=pem, name=name
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{f}: {m}" for f, ms in exc.message_dict.items() for m in ms)
            ) from None
        self.stdout.write(f"终端 {t.code} 已登记（{unit_obj.name}）")
        if private:
            self.stdout.write("终端私钥（只显示这一次，请安装到终端后妥善保管）：")
            self.stdout.write(private)
