"""Shared bits of the withholding and reconciliation commands: the acting user and error output."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.scoping import PermissionDenied
from gridcare.org.models import SupplyUnit


def add_common(parser) -> None:
    parser.add_argument(
        "--user", metavar="USERNAME", help="记在该员工名下（须有代扣对账权限，只限其管辖单位）；缺省为系统"
    )
    parser.add_argument(
        "--unit", metavar="CODE", help="供电单位编码（缺省：该员工所在单位；系统时为最上级单位）"
    )


def actor_and_unit(options) -> tuple[Actor, SupplyUnit | None]:
    user = None
    if options.get("user"):
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(_("用户 %(u)s 不存在或已停用") % {"u": options["user"]})
    unit = None
    if options.get("unit"):
        unit = SupplyUnit.objects.filter(code=options["unit"]).first()
        if unit is None:
            raise CommandError(_("未知的供电单位：%(c)s") % {"c": options["unit"]})
    return Actor(user=user, channel=Channel.IMPORT), unit


def fail(exc: Exception) -> CommandError:
    if isinstance(exc, PermissionDenied):
        return CommandError(_("无权操作该单位的数据"))
    detail = getattr(exc, "message_dict", None) or {"__all__": getattr(exc, "messages", [str(exc)])}
    return CommandError("\n".join(m for msgs in detail.values() for m in msgs))
