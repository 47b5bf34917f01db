"""`gridcare seed_readings --months 12 [--end YYYY-MM] [--today YYYY-MM-DD] [--seed S]`: demo reading
routes and monthly AMI reads (`--end` default: the last complete month before `--today`, default the real
date)."""

import re
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from gridcare.core.clock import add_today_argument, demo_clock
from gridcare.metering import demo


def _month(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise CommandError(f"--end must be YYYY-MM, got {value!r}")
    return int(m.group(1)), int(m.group(2))


class Command(BaseCommand):
    help = (
        "Create demo reading routes for every station and N months of AMI reads for every active account's meter "
        "(idempotent; same seed ⇒ same reads)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=12, help="number of monthly periods (default 12)")
        parser.add_argument(
            "--end", help="last month, YYYY-MM (default: the last complete month before --today)"
        )
        add_today_argument(parser)
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="PostgreSQL: keep the read table's indexes and foreign keys during the load",
        )

    def handle(self, *args, months, end, seed, keep_indexes, today=None, **options):
        if months < 1:
            raise CommandError("--months must be at least 1")
        end_month = _month(end) if end else demo.last_complete_month(demo_clock(today)[0])
        start = time.monotonic()
        self.stdout.write(
            f"Seeding {months} month(s) of reads ending {end_month[0]:04d}-{end_month[1]:02d} "
            f"with seed {seed} on {connection.vendor}…"
        )
        result = demo.seed_readings(
            months=months,
            end=end_month,
            seed=seed,
            drop_indexes=False if keep_indexes else None,
            progress=self.stdout.write,
            today=today,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.routes:,} new routes, {result.memberships:,} new route memberships, "
                f"{result.reads:,} reads for {result.meters:,} meters in {time.monotonic() - start:.1f}s."
            )
        )
