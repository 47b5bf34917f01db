"""`gridcare seed --customers N --seed S [--if-empty | --reset]`: build the deterministic demo county."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from gridcare.customers import demo


class Command(BaseCommand):
    help = "Create demo data: organisation, topology, staff of every role and N customers (same seed ⇒ same data)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=5000, help="number of customers (default 5000)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--if-empty", action="store_true", help="do nothing when customers exist already")
        mode.add_argument(
            "--reset",
            action="store_true",
            help="delete the customer registry and topology first (keeps staff)",
        )
        parser.add_argument("--chunk-size", type=int, default=20_000, help="customers per generated chunk")
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="PostgreSQL: keep secondary indexes and foreign keys during the load (slower for large N)",
        )

    def handle(self, *args, customers, seed, if_empty, reset, chunk_size, keep_indexes, **options):
        if customers < 1:
            raise CommandError("--customers must be at least 1")
        if demo.demo_data_exists():
            if if_empty:
                self.stdout.write("Demo data is already there (customers exist); nothing to do.")
                return
            if not reset:
                raise CommandError(
                    "Customers exist already; refusing to seed twice. "
                    "Use --if-empty to skip, or --reset to delete the demo data first."
                )
            self.stdout.write("Replacing the existing customer registry and topology (--reset)…")
        start = time.monotonic()
        self.stdout.write(f"Seeding {customers:,} customers with seed {seed} on {connection.vendor}…")
        try:
            result = demo.seed_demo(
                customers=customers,
                seed=seed,
                chunk_size=chunk_size,
                drop_indexes=False if keep_indexes else None,
                reset=reset,
                progress=self.stdout.write,
            )
        except demo.DemoDataExists:
            raise CommandError(
                "Customers exist already (another seed ran meanwhile); nothing written."
            ) from None
        except demo.DemoResetBlocked as e:
            raise CommandError(str(e)) from None
        c = result.counts
        elapsed = time.monotonic() - start
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {c['customers']:,} customers, {c['accounts']:,} accounts "
                f"({c['closed_accounts']:,} closed, {c['transfers']:,} with 过户 history, "
                f"{c['important']:,} important customers) in {elapsed:.1f}s "
                f"({c['rows']:,} rows, {c['rows'] / max(elapsed, 1e-9):,.0f} rows/s)."
            )
        )
        self.stdout.write(
            f"Portal demo: user {demo.PORTAL_DEMO_PHONE} / {demo.DEMO_PASSWORD}, bound 户号 {result.portal_account}. "
            "Run `gridcare demo_logins` for every login."
        )
