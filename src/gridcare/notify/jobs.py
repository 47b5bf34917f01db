"""Job kinds of the notify app: launching a greeting campaign (`notify.campaign_launch`) writes its
notifications in bulk off the request. The launch itself is `campaigns.campaign_launch` (once per campaign:
a retried or repeated job changes nothing)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied, require_unit
from gridcare.jobs.registry import job_kind

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
