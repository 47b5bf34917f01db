"""`gridcare demo_billing --months 12 [--today YYYY-MM-DD]`: bill and issue the last N complete months before
`--today` (default: the real date), oldest first (demo data).

Runs `gridcare billing run --period P --unit BUREAU` for each month and bureau, oldest first, so year-to-date
tiers build up in order, and issues each run's bills dated the 5th of the following month at 10:00, or now
when that is later (due 15 days later).
Idempotent like the runs themselves: a second call bills nothing new.
"""

from contextlib import nullcontext
from datetime import date, datetime, time, timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.clock import add_today_argument, demo_clock


def last_complete_months(n: int, today: date) -> list[str]:
    """The n months before `today`'s month, oldest first, as 'YYYY-MM'."""
    y, m = today.year, today.month
    out = []
    for _n in range(n):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        out.append(f"{y:04d}-{m:02d}")
    return out[::-1]


class Command(BaseCommand):
    help = "为最近 N 个完整月份执行计费并发行账单（演示数据）"

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=12)
        add_today_argument(parser)

    def handle(self, *args, months, today=None, **options):
        from gridcare.org.choices import UnitLevel
        from gridcare.org.models import SupplyUnit

        # One run per bureau and month, as a bureau's billing clerks would run them (and can see them).
        bureaus = list(
            SupplyUnit.objects.filter(level=UnitLevel.BUREAU).order_by("path").values_list("code", flat=True)
        )

        from gridcare.notify.outbox import notices_muted

        today, now = demo_clock(today)
        periods = last_complete_months(months, today)
        for period in periods:
            # Only the latest month's bills are news to the customers; the history is backfilled silently.
            with notices_muted() if period != periods[-1] else nullcontext():
                self._bill(period, bureaus, now, today)

    def _bill(self, period, bureaus, now, today):
        from gridcare.billing import services
        from gridcare.billing.models import BillingRun
        from gridcare.core.audit import Actor

        for code in bureaus:
            call_command(
                "billing", "run", period=period, unit=code, today=today, inline=True, stdout=self.stdout
            )
            run = BillingRun.objects.get(period=period, unit__code=code, route__isnull=True)
            # Issued on the 5th of the next month at 10:00, as the bureau would have (not all today).
            issued = datetime.combine(
                run.period_end + timedelta(days=5), time(10), tzinfo=timezone.get_current_timezone()
            )
            n = services.bills_issue(actor=Actor(), run=run, now=min(issued, now))
            self.stdout.write(_("已发行账单 %(n)s 张") % {"n": n})
