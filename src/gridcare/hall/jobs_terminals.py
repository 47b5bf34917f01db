"""Job kinds of the terminal monitoring (issue 16 §7):

- `hall.terminals_sweep` (every minute): terminals silent for more than 5 minutes go offline, with an `offline`
  event and maintenance task each (`terminals_monitor.terminals_sweep`; set-based, idempotent)."""

from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.jobs.registry import default_schedule, job_kind


@job_kind("hall.terminals_sweep", label=gettext_lazy("自助终端离线检测"), perm=Perm.HALL_MANAGE)
def hall_terminals_sweep(ctx):
    from .terminals_monitor import terminals_sweep

    ctx.set_total(1)
    result = terminals_sweep()
    ctx.set_done(1)
    return result


default_schedule("hall.terminals_sweep", every=1, period="minutes")
