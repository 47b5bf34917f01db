"""`gridcare demo_service [--seed 42] [--today YYYY-MM-DD] [--replace]`: a year of demo 95598 work orders of every
type, sub-type and channel walked through their lifecycles (fault reports linked to the demo outages, callbacks,
reopened, merged, chased, some overdue and some warned), and a knowledge base of 35 articles with their versions
(see gridcare.service.demo). Run after `demo_outages`; a second run writes nothing (as every `make run` step) unless
`--replace`, which rebuilds both."""

from django.core.management.base import BaseCommand

from gridcare.core.clock import add_today_argument, demo_clock
from gridcare.service.demo import demo_service
from gridcare.service.models import WorkOrder


class Command(BaseCommand):
    help = "演示数据：一年的95598工单（各类型、各渠道，含超时与预警工单）和35篇知识库文章"

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="rebuild the demo work orders and articles even when they exist",
        )
        add_today_argument(parser)

    def handle(self, *args, seed, today=None, replace=False, **options):
        today, now = demo_clock(today)
        counts = demo_service(today=today, seed=seed, now=now, replace=replace)
        if "orders" not in counts and not WorkOrder.objects.filter(demo=True).exists():
            self.stdout.write("no accounts to build demo work orders on: run `gridcare seed` first")
        if "orders" not in counts and "articles" not in counts:
            self.stdout.write(
                "demo work orders and articles already there: nothing written (--replace rebuilds them)"
            )
            return
        if "orders" in counts:
            self.stdout.write(
                f"demo work orders: {counts['orders']} ({counts['open']} open, {counts['overdue']} overdue, "
                f"{counts['warned']} warned, {counts['merged']} merged, {counts['reopened']} reopened, "
                f"{counts['outage_linked']} linked to outages), {counts['events']} events, "
                f"{counts['deadlines']} deadlines"
            )
        if "articles" in counts:
            self.stdout.write(
                f"demo knowledge base: {counts['articles']} articles, {counts['versions']} versions "
                f"({counts['pending_versions']} awaiting approval)"
            )
        replaced = counts["replaced"]
        self.stdout.write(
            f"replaced {replaced['orders']} orders and {replaced['articles']} articles; {counts['seconds']} s"
        )
