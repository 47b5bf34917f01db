"""`gridcare demo_channels [--seed 42]`: demo data for the counter, terminal, withholding, reconciliation,
refund, prepaid and waiver pages, run after `demo_collections` (what and how: `payments/demo_channels.py`).

Idempotent: a second run writes nothing new."""

from django.core.management.base import BaseCommand, CommandError

from gridcare.payments.demo_channels import demo_channels


class Command(BaseCommand):
    help = "演示数据：收费班次与日结、自助终端、银行代扣、渠道对账、退费、智能交费、违约金减免"

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, seed, **options):
        try:
            d = demo_channels(seed=seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        written = ", ".join(f"{k}={v}" for k, v in d.counts.items() if v) or "nothing new"
        skipped = f" (skipped: {', '.join(d.skipped)})" if d.skipped else ""
        self.stdout.write(f"demo channels: {written}{skipped}")
