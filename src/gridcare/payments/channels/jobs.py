"""Job kinds of the real payment channels (issue 13): the order sweep (query what was not notified, close what
expired) every minute, and the daily statements downloaded and reconciled."""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.jobs.registry import default_schedule, job_kind


@job_kind("payments.orders_sweep", label=gettext_lazy("在线支付订单查单与关单"), perm=Perm.PAYMENT_BATCH)
def orders_sweep(ctx):
    """Orders neither paid nor notified 5 minutes after they were placed are queried with their channel and
    settled from the answer; expired ones are closed with the channel, then here (`online.sweep`)."""
    from .online import sweep

    ctx.set_total(1)
    r = sweep()
    ctx.set_done(1)
    return {
        "queried": r.queried,
        "paid": r.paid,
        "closed": r.closed,
        "errors": r.errors,
        "open_exceptions": r.exceptions,
        "notes": r.notes[:20],
    }


def _validate_statements(params: dict, actor) -> dict:
    raw = params.get("date")
    day = None
    if raw not in (None, ""):
        try:
            day = date.fromisoformat(str(raw))
        except ValueError:
            raise ValidationError({"date": [_("日期格式应为 YYYY-MM-DD")]}) from None
        if day >= timezone.localdate():
            raise ValidationError({"date": [_("只能下载今天以前的对账单")]})
    channels = params.get("channels") or []
    if not isinstance(channels, list) or any(c not in ("alipay", "wechat") for c in channels):
        raise ValidationError({"channels": [_("渠道只能是 alipay、wechat")]})
    return {"date": day.isoformat() if day else None, "channels": channels}


@job_kind(
    "payments.statements_download",
    label=gettext_lazy("下载渠道对账单并对账"),
    validate=_validate_statements,
    perm=Perm.PAYMENT_BATCH,
)
def statements_download(ctx):
    """Yesterday's statement (or `date`'s) of every configured channel, downloaded and fed to the
    reconciliation (`statements.download_and_reconcile`)."""
    from .statements import download_and_reconcile

    day = (
        date.fromisoformat(ctx.params["date"])
        if ctx.params.get("date")
        else timezone.localdate() - timedelta(days=1)
    )
    return download_and_reconcile(day, channels=ctx.params.get("channels") or None, actor=ctx.actor, ctx=ctx)


default_schedule("payments.orders_sweep", every=1, period="minutes")
# The channels publish a day's bill in the morning after (Alipay after 09:00, WeChat after 10:00 Beijing time).
default_schedule("payments.statements_download", crontab={"minute": "30", "hour": "10"})
