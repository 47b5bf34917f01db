"""`gridcare payment_receipts_render [--limit 5000]`: render the payment receipts (缴费成功) that payments wrote
as pending rows onto the customers' channels; `gridcare notify_dispatch` then sends them. A scheduled job runs
the same function (`payments.notices.render_pending_receipts`)."""

from django.core.management.base import BaseCommand

from gridcare.payments.notices import render_pending_receipts


class Command(BaseCommand):
    help = "生成待发送的缴费成功通知（随后由 notify_dispatch 发送）"

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=5000, help="receipts per pass")

    def handle(self, *args, limit, **options):
        total = 0
        while (n := render_pending_receipts(limit=limit)) > 0:
            total += n
            if n < limit:
                break
        self.stdout.write(f"rendered={total}")
