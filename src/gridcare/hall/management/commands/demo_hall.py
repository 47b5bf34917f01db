"""`gridcare demo_hall [--seed 42] [--today YYYY-MM-DD]`: every demo hall set up for the queue (categories per
counter, a display, a kiosk and an evaluation device per counter, clerks, self-service terminals) and three months
of queue history up to today with the month-start and month-end peaks, ratings and terminal events (see
gridcare.hall.demo). Run after `seed`; a second run writes nothing new, and prints the device pages again (their
keys derive from SECRET_KEY, so they are the same on every run of one installation)."""

from django.core.management.base import BaseCommand

from gridcare.core.clock import add_today_argument, demo_clock
from gridcare.hall.demo import demo_hall
from gridcare.org.models import ServiceHall


class Command(BaseCommand):
    help = "演示数据：各营业厅的排队设置、设备、三个月的排队取号历史（含月初月末高峰）、评价和自助终端事件"

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--scale", type=float, default=1.0, help="arrivals against the default volume")
        add_today_argument(parser)

    def handle(self, *args, seed, scale=1.0, today=None, **options):
        if not ServiceHall.objects.exists():
            self.stdout.write("no service halls: run `gridcare seed` first")
            return
        today, now = demo_clock(today)
        c = demo_hall(today=today, now=now, seed=seed, scale=scale)
        if not c["halls"]:
            self.stdout.write("demo hall history already there: nothing written")
        else:
            self.stdout.write(
                f"demo halls: {c['halls']} with history — {c.get('tickets', 0)} tickets "
                f"({c.get('waiting_now', 0)} waiting now), {c.get('events', 0)} ticket events, "
                f"{c.get('appointments', 0)} appointments, {c.get('ratings', 0)} ratings "
                f"({c.get('follow_ups', 0)} follow-ups, {c.get('follow_ups_open', 0)} open), "
                f"{c.get('sessions', 0)} counter sessions, {c.get('clerks', 0)} clerks added"
            )
        self.stdout.write(
            f"devices added: {c['devices_made']}, terminals added: {c['terminals_made']}; "
            f"terminal days {c.get('terminal_days', 0)}, terminal events {c.get('terminal_events', 0)}, "
            f"maintenance tasks {c.get('maintenance_tasks', 0) + c.get('open_tasks', 0)} "
            f"({c.get('open_tasks', 0)} open); {c['seconds']} s"
        )
        every = options.get("verbosity", 1) >= 2
        self.stdout.write("hall device pages (keys derive from SECRET_KEY; open them on the server's host):")
        for hall, devices in c["devices"].items():
            for kind, name, url in devices:
                if every or kind != "evaluator" or name.startswith("1号"):
                    self.stdout.write(f"  {hall} {name}: {url}")
        if not every:
            self.stdout.write("  (the other counters' evaluation devices: `gridcare demo_hall -v 2`)")
