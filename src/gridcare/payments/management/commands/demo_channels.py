"""`gridcare demo_channels [--seed 42] [--today YYYY-MM-DD]`: demo data for the counter, terminal,
withholding, reconciliation, refund, prepaid and waiver pages as of `--today` (default the real date), run after
`demo_collections` (what and how: `payments/demo_channels.py`).

Idempotent: a second run writes nothing new."""

from django.core.management.base import BaseCommand, CommandError

from gridcare.core.clock import add_today_argument
from gridcare.payments.demo.channels import demo_channels


class Command(BaseCommand):
    help = "演示数据：收费班次与日结、自助终端、银行代扣、渠道对账、退费、智能交费、违约金减免"

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        add_today_argument(parser)

    def handle(self, *args, seed, today=None, **options):
        try:
            d = demo_channels(seed=seed, today=today)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        written = ", ".join(f"{k}={v}" for k, v in d.counts.items() if v) or "nothing new"
        skipped = f" (skipped: {', '.join(d.skipped)})" if d.skipped else ""
        self.stdout.write(f"demo channels: {written}{skipped}")
