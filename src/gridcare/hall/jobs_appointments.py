"""Job kind of the appointments (issue 16 §5): `hall.appointments_no_show` (every 5 minutes) marks booked
appointments whose slot has ended without a check-in as no-shows (`appointments.no_show_mark`)."""

from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.jobs.registry import default_schedule, job_kind


@job_kind("hall.appointments_no_show", label=gettext_lazy("预约爽约记录"), perm=Perm.HALL_MANAGE)
def hall_appointments_no_show(ctx):
    from .appointments import no_show_mark

    ctx.set_total(1)
    marked = no_show_mark()
    ctx.set_done(1)
    return {"marked": marked}


default_schedule("hall.appointments_no_show", every=5, period="minutes")
