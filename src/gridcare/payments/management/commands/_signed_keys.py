"""Shared bits of `terminal_add` and `agent_add`: the unit, the public key (read or generated), the output."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from gridcare.org.models import SupplyUnit
from gridcare.payments.channels import signatures


def add_key_arguments(parser, who: str) -> None:
    parser.add_argument("--unit", required=True, help="所属供电单位编码")
    parser.add_argument("--public-key", dest="public_key", help=f"{who} Ed25519 公钥 PEM 文件")


def unit_and_key(unit: str, public_key: str | None) -> tuple[SupplyUnit, str, str | None]:
    """(unit, public PEM, private PEM or None): without a key file a key pair is generated."""
    unit_obj = SupplyUnit.objects.filter(code=unit).first()
    if unit_obj is None:
        raise CommandError(f"供电单位不存在：{unit}")
    if not public_key:
        private, pem = signatures.ed25519_key_pair()
        return unit_obj, pem, private
    try:
        return unit_obj, Path(public_key).read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"无法读取公钥文件 {public_key}：{exc}") from None


def refused(exc: ValidationError) -> CommandError:
    return CommandError("; ".join(f"{f}: {m}" for f, ms in exc.message_dict.items() for m in ms))


def print_private(stdout, private: str | None, who: str) -> None:
    if private:
        stdout.write(f"{who}私钥（只显示这一次，请安装到{who}后妥善保管）：")
        stdout.write(private)
