"""Job kinds of the credit-event register (issue 17 §1):

- `credit.derive_events` (daily at 02:30 China time): the arrears episodes derived from the ledger and the
  `wrong_bank_account` candidates of failed withholdings, as of the local date (`ledger.derive_all`; set-based,
  idempotent). The monthly rating run calls `derive_all` first too."""

from django.utils import timezone
from django.utils.translation import gettext_lazy

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm
from gridcare.jobs.registry import default_schedule, job_kind

from .ledger import derive_all

__all__ = ["credit_derive_events", "derive_all"]


@job_kind(
    "credit.derive_events", label=gettext_lazy("信用事件派生（欠费、代扣失败）"), perm=Perm.CREDIT_ADMIN
)
def credit_derive_events(ctx):
    ctx.set_total(2)
    today = timezone.localdate()
    result = derive_all(today=today, actor=Actor(channel=Channel.JOB))
    ctx.set_done(2)
    return {"today": today.isoformat(), **result}


default_schedule("credit.derive_events", crontab={"minute": "30", "hour": "2"})
