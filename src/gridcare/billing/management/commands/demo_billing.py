"""`gridcare demo_billing --months 12`: bill and issue the last N complete months, oldest first (demo data).

Runs `gridcare billing run --period P --issue` for each month so year-to-date tiers build up in order.
Idempotent like the runs themselves: a second call bills nothing new.
"""

from datetime import date

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone


def last_complete_months(n: int, today: date) -> list[str]:
    """The n months before `today`'s month, oldest first, as 'YYYY-MM'."""
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        out.append(f"{y:04d}-{m:02d}")
    return out[::-1]


class Command(BaseCommand):
    help = "为最近 N 个完整月份执行计费并发行账单（演示数据）"

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=12)

    def handle(self, *args, months, **options):
        from gridcare.org.choices import UnitLevel
        from gridcare.org.models import SupplyUnit

        # One run per bureau and month, as a bureau's billing clerks would run them (and can see them).
        bureaus = list(SupplyUnit.objects.filter(level=UnitLevel.BUREAU).order_by("path").values_list("code", flat=True))
        for period in last_complete_months(months, timezone.localdate()):
            for code in bureaus:
                call_command("billing", "run", period=period, unit=code, issue=True, stdout=self.stdout)
