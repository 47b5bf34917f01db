"""`gridcare demo_credit [--seed 42] [--today YYYY-MM-DD]`: a year of credit events and 用电检查, the customer
managers' on-site assessments and twelve monthly rating runs (see gridcare.credit.demo). Run after the billing,
payments and channels demos (the ledger derivation reads their bills and payments); a second run writes nothing."""

from django.core.management.base import BaseCommand

from gridcare.core.clock import add_today_argument, demo_clock
from gridcare.credit.demo import demo_credit
from gridcare.customers.models import Customer


class Command(BaseCommand):
    help = "演示数据：一年的信用事件与用电检查、现场评估和十二个月的信用评价批次"

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        add_today_argument(parser)

    def handle(self, *args, seed, today=None, **options):
        if not Customer.objects.exists():
            self.stdout.write("no customers: run `gridcare seed` first")
            return
        today, now = demo_clock(today)
        c = demo_credit(today=today, now=now, seed=seed)
        if c.get("skipped"):
            self.stdout.write("demo credit data already there: nothing written")
            return
        grades = ", ".join(
            f"{g} {n}"
            for g, n in sorted(c["grades"].items(), key=lambda kv: "AAA AA A B C D".split().index(kv[0]))
        )
        self.stdout.write(
            f"demo credit: {c['inspections']} inspections ({c['notices']} rectification notices), "
            f"{c['events_recorded']} events recorded by staff, {c['contests']} contests, "
            f"{c['assessments']} on-site assessments, ledger {c['derived']}; {c['events']} events in the register; "
            f"{c['runs']} monthly runs, latest: {grades}; {c['seconds']} s"
        )
