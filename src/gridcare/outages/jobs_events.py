"""Job kinds of outage events: `outages.start_due` (every 5 minutes) puts in progress every published event whose
planned start has come, as the system; the interruptions keep the planned start as theirs."""

from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.jobs.registry import default_schedule, job_kind


@job_kind("outages.start_due", label=gettext_lazy("计划停电到时开始"), perm=Perm.OUTAGE_DRAFT)
def outages_start_due(ctx):
    """Start the published events due (see `services.outages_start_due`)."""
    from .services import outages_start_due as start_due

    ctx.set_total(1)
    result = start_due()
    ctx.set_done(1)
    return result


default_schedule("outages.start_due", every=5, period="minutes")
