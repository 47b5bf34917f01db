"""`gridcare demo_outages [--years 5] [--seed 42] [--today YYYY-MM-DD]`: five years of demo outages (faults,
planned and temporary works, external causes, curtailment days, two typhoon days, momentary trips, frequent
outages, partial restorations), a submitted and a published planned outage for the browser walk-through, and the
planned-outage budgets (see gridcare.outages.demo); then a year of voltage data per transformer area (hourly readings
for the last three months, monthly compliance before: gridcare.outages.demo_voltage). Run after `seed`; a second run
writes nothing (as every `make run` step) unless `--replace`, which rebuilds both."""

import time

from django.core.management.base import BaseCommand, CommandError

from gridcare.core.clock import add_today_argument, demo_clock
from gridcare.outages.choices import OutageSource
from gridcare.outages.demo import demo_outages
from gridcare.outages.demo_voltage import demo_voltage
from gridcare.outages.models import OutageEvent


class Command(BaseCommand):
    help = "演示数据：五年停电记录（含台风日、计划检修、限电、频繁停电）、待审批与已发布的计划停电、预安排停电指标"

    def add_arguments(self, parser):
        parser.add_argument("--years", type=int, default=5)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="rebuild the demo outages and voltage data even when they exist",
        )
        add_today_argument(parser)

    def handle(self, *args, years, seed, today=None, replace=False, **options):
        if years < 1:
            raise CommandError("--years must be at least 1")
        if not replace and OutageEvent.objects.filter(source=OutageSource.DEMO).exists():
            # `make run` again: what is there stays (a walk-through outage someone approved stays approved)
            self.stdout.write("demo outages already there: nothing written (--replace rebuilds them)")
            return
        today, now = demo_clock(today)
        counts = demo_outages(today=today, years=years, seed=seed, now=now)
        self.stdout.write(
            f"demo outages: {counts.get('events', 0)} events over {years} years "
            f"({counts.get('typhoon_events', 0)} on typhoon days, {counts.get('momentary', 0)} momentary), "
            f"{counts.get('interruptions', 0)} interruption groups, {counts.get('affected_accounts', 0)} affected "
            f"accounts of {counts['accounts']}, walk-through {', '.join(counts['walk_through']) or '-'}, "
            f"{counts['budgets']} budgets; replaced {counts['replaced']}; {counts['seconds']} s"
        )
        t0 = time.monotonic()
        rows = demo_voltage(today=today, seed=seed)
        self.stdout.write(f"demo voltage: {rows} hourly readings ({time.monotonic() - t0:.1f} s)")
