"""Job kinds of payments: the daily dunning steps (催费) and the prepaid balance estimates with their
low-balance alerts (智能交费), which read "today" from the clock when they run (Asia/Shanghai) unless a date is
given (running a day again writes nothing new, so a retried job simply runs its days again); the download of
WeChat Pay's platform certificates every 12 hours; and the retry of refunds to the original channel still
processing (原路退回, `refunds.retry`, every 10 minutes: the same refund number each time, so the channel refunds
once). The real channels' order sweep and statement download are in `channels/jobs.py`."""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.jobs.registry import default_schedule, job_kind

MAX_DAYS = 366


def _day(params: dict, key: str) -> date | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({key: [_("日期格式应为 YYYY-MM-DD")]}) from None


def _validate_collections(params: dict, actor) -> dict:
    start, until = _day(params, "date"), _day(params, "until")
    real = timezone.localdate()
    for day in (start, until):  # the service's message and field (`date`), for either day
        if day is not None and day > real:
            raise ValidationError(
                {
                    "date": [
                        _("不能为将来的日期（%(d)s）催费：今天是 %(t)s")
                        % {"d": day.isoformat(), "t": real.isoformat()}
                    ]
                }
            )
    if until is not None:
        if start is None:
            raise ValidationError({"until": [_("指定了截止日期时须同时指定开始日期")]})
        if until < start:
            raise ValidationError({"until": [_("截止日期不能早于开始日期")]})
        if (until - start).days >= MAX_DAYS:
            raise ValidationError({"until": [_("一次最多补跑 %(n)s 天") % {"n": MAX_DAYS}]})
    return {"date": start.isoformat() if start else None, "until": until.isoformat() if until else None}


@job_kind(
    "collections.run",
    label=gettext_lazy("催费日跑"),
    validate=_validate_collections,
    perm=Perm.COLLECTIONS_MANAGE,
)
def collections_run(ctx):
    """Dunning steps for a day (default: today when the job runs), or for each day up to `until`."""
    from gridcare.payments.collections.services import dunning_days

    start = date.fromisoformat(ctx.params["date"]) if ctx.params.get("date") else timezone.localdate()
    end = date.fromisoformat(ctx.params["until"]) if ctx.params.get("until") else start
    ctx.set_total((end - start).days + 1)
    totals: dict[str, int] = {}
    day, done = start, 0
    while day <= end:
        for k, v in dunning_days(start=day, end=day, actor=ctx.actor).items():
            totals[k] = totals.get(k, 0) + v
        done += 1
        ctx.set_done(done)
        day += timedelta(days=1)
    return {"date": start.isoformat(), "until": end.isoformat(), **totals}


def _validate_prepaid(params: dict, actor) -> dict:
    day = _day(params, "date")
    return {"date": day.isoformat() if day else None}


@job_kind(
    "prepaid.estimate",
    label=gettext_lazy("预存余额估算与余额不足提醒"),
    validate=_validate_prepaid,
    perm=Perm.CUSTOMER_VIEW,
)
def prepaid_estimate(ctx):
    from gridcare.payments.prepaid.services import prepaid_estimate_run

    today = date.fromisoformat(ctx.params["date"]) if ctx.params.get("date") else timezone.localdate()
    ctx.set_total(1)
    r = prepaid_estimate_run(today=today, actor=ctx.actor)
    ctx.set_done(1)
    return {
        "date": today.isoformat(),
        "estimated": r.estimated,
        "alerts_raised": r.alerts_raised,
        "rearmed": r.rearmed,
    }


@job_kind("payments.wechat_certificates", label=gettext_lazy("下载微信支付平台证书"))
def wechat_certificates(ctx):
    """Download WeChat Pay's platform certificates (`channels.wechat_keys.refresh_platform_certificates`); a
    channel down or answering garbage fails the job with the reason, and nothing is written. A site without
    the merchant's WeChat Pay API keys has nothing to download: the run says so and succeeds (the schedule is
    installed everywhere, and beat's catch-up runs it at every start)."""
    from gridcare.payments.channels.wechat_keys import merchant_configured, refresh_platform_certificates

    if not merchant_configured():
        return {"skipped": "WeChat Pay merchant API keys not configured"}
    ctx.set_total(1)
    summary = refresh_platform_certificates(actor=ctx.actor)
    ctx.set_done(1)
    return summary.as_dict()


@job_kind("refunds.retry", label=gettext_lazy("原路退款重试"), perm=Perm.REFUND_APPROVE)
def refunds_retry(ctx):
    """Send again the approved refunds to Alipay/WeChat still processing two minutes after approval."""
    from gridcare.payments.ledger.payment_refunds import refunds_retry as retry

    ctx.set_total(1)
    counts = retry(actor=ctx.actor)
    ctx.set_done(1)
    return counts


default_schedule("collections.run", crontab={"minute": "0", "hour": "7"})
default_schedule("prepaid.estimate", crontab={"minute": "0", "hour": "6"})
default_schedule("refunds.retry", every=10, period="minutes")
default_schedule("payments.wechat_certificates", every=12, period="hours")

from .channels import jobs as _channel_jobs  # noqa: E402,F401 — registers the real channels' job kinds
