"""Job kinds of the notify app: launching a greeting campaign (`notify.campaign_launch`) writes its
notifications in bulk off the request (the launch itself is `campaigns.campaign_launch`, once per campaign: a
retried or repeated job changes nothing); the outbox dispatch (`notify.dispatch`, every minute by default;
quiet hours are the dispatcher's rule)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied, require_unit
from gridcare.jobs.registry import default_schedule, job_kind

from . import campaigns
from .choices import CampaignStatus
from .models import Campaign


def _validate(params: dict, actor) -> dict:
    campaign_id = params.get("campaign_id")
    if not isinstance(campaign_id, int) or isinstance(campaign_id, bool):
        raise ValidationError({"campaign_id": [_("活动编号无效")]})
    c = Campaign.objects.filter(pk=campaign_id).only("pk", "unit_id").first()
    if c is None:
        raise PermissionDenied  # missing and forbidden answer the same
    require_unit(actor, c.unit_id, Perm.NOTIFY_CAMPAIGN)
    return {"campaign_id": campaign_id, "unit_id": c.unit_id}


@job_kind(
    "notify.campaign_launch",
    label=gettext_lazy("发送问候活动"),
    validate=_validate,
    unit=lambda params: params.get("unit_id"),
)
def campaign_launch_job(ctx) -> dict:
    c = Campaign.objects.get(pk=ctx.params["campaign_id"])
    if c.status != CampaignStatus.LAUNCHED:
        ctx.set_total(campaigns.campaign_customers(c).count())
    c = campaigns.campaign_launch(actor=ctx.actor, campaign_id=c.pk)
    ctx.set_total(c.recipients)
    ctx.set_done(c.recipients)
    return {"campaign_id": c.pk, "recipients": c.recipients}


DEFAULT_LIMIT = 500
MAX_LIMIT = 1_000_000


def _validate_dispatch(params: dict, actor) -> dict:
    limit = params.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError({"limit": _("每次发送条数应为 1 到 %(max)s 之间的整数") % {"max": MAX_LIMIT}})
    return {"limit": limit}


@job_kind("notify.dispatch", label=gettext_lazy("发送到期通知"), validate=_validate_dispatch)
def dispatch(ctx):
    """Render the pending notices written beside money (payment receipts: `outbox.notices_render_pending`), then
    send the due notices of the outbox, in passes of 500 so the page shows progress."""
    from gridcare.notify.dispatch import outbox_dispatch
    from gridcare.notify.outbox import notices_render_pending

    limit = ctx.params["limit"]
    rendered = 0
    while (n := notices_render_pending(limit=DEFAULT_LIMIT)) > 0:
        rendered += n
        ctx.heartbeat()
    ctx.set_total(limit)
    totals = {"rendered": rendered, "claimed": 0, "sent": 0, "retrying": 0, "dead": 0}
    while totals["claimed"] < limit:
        step = min(DEFAULT_LIMIT, limit - totals["claimed"])
        r = outbox_dispatch(limit=step)
        for k in ("claimed", "sent", "retrying", "dead"):
            totals[k] += getattr(r, k)
        ctx.set_done(totals["claimed"])
        if r.claimed < step:
            break
    ctx.set_total(totals["claimed"])
    return totals


default_schedule("notify.dispatch", every=1, period="minutes")
