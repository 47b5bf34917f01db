"""`gridcare agent_add --code CP001 --name 城东邮政代收点 --kind collection_point|phone_bank --unit <unit code>
[--public-key file.pem]`: register a collection agent (代收机构). Without `--public-key` an Ed25519 key pair
is generated and the private key is printed once (hand it to the agent; it is not stored anywhere)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.payments.channels import agents

from ._signed_keys import add_key_arguments, print_private, refused, unit_and_key


class Command(BaseCommand):
    help = "登记代收机构（代收点 / 电话银行，Ed25519 公钥）；未提供公钥时生成密钥对并只显示一次私钥"

    def add_arguments(self, parser):
        parser.add_argument("--code", required=True, help="机构编号，如 CP001")
        parser.add_argument("--name", required=True, help="机构名称")
        parser.add_argument(
            "--kind", required=True, help="渠道类型：collection_point（代收点）或 phone_bank（电话银行）"
        )
        add_key_arguments(parser, "代收机构")

    def handle(self, *args, code, name, kind, unit, public_key, **options):
        unit_obj, pem, private = unit_and_key(unit, public_key)
        try:
            a = agents.agent_add(
                actor=Actor(channel=Channel.SYSTEM),
                code=code,
                name=name,
                kind=kind,
                unit=unit_obj,
                public_key=pem,
            )
        except ValidationError as exc:
            raise refused(exc) from None
        self.stdout.write(f"代收机构 {a.code} {a.name}（{a.get_kind_display()}，{unit_obj.name}）已登记")
        print_private(self.stdout, private, "代收机构")
