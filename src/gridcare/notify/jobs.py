"""Job kinds of notify: the outbox dispatch (every minute by default; quiet hours are the dispatcher's rule)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.jobs.registry import default_schedule, job_kind

DEFAULT_LIMIT = 500
MAX_LIMIT = 1_000_000


def _validate_dispatch(params: dict, actor) -> dict:
    limit = params.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError({"limit": _("每次发送条数应为 1 到 %(max)s 之间的整数") % {"max": MAX_LIMIT}})
    return {"limit": limit}


@job_kind("notify.dispatch", label=gettext_lazy("发送到期通知"), validate=_validate_dispatch)
def dispatch(ctx):
    """Send the due notices of the outbox, in passes of 500 so the page shows progress."""
    from gridcare.notify.services import outbox_dispatch

    limit = ctx.params["limit"]
    ctx.set_total(limit)
    totals = {"claimed": 0, "sent": 0, "retrying": 0, "dead": 0}
    while totals["claimed"] < limit:
        step = min(DEFAULT_LIMIT, limit - totals["claimed"])
        r = outbox_dispatch(limit=step)
        for k in totals:
            totals[k] += getattr(r, k)
        ctx.set_done(totals["claimed"])
        if r.claimed < step:
            break
    ctx.set_total(totals["claimed"])
    return totals


default_schedule("notify.dispatch", every=1, period="minutes")
