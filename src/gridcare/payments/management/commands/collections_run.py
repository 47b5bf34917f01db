"""`gridcare collections_run [--date YYYY-MM-DD] [--until YYYY-MM-DD]`: the daily dunning job (催费).

Runs `collections.collections_run` for the date (default today, Asia/Shanghai) — or for each day up to
`--until` — for all units, and prints the counts per stage. Running a day again writes nothing new.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.payments.collections.services import dunning_days

LABELS = [
    ("reminders", "缴费提醒"),
    ("overdue_notices", "逾期通知"),
    ("disconnect_notices", "停电通知"),
    ("disconnect_tasks", "停电任务"),
    ("awaiting_approval", "其中待经理审批"),
    ("cancelled", "缴清撤销"),
    ("reconnect_tasks", "复电任务"),
]


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CommandError(f"{flag}: 日期格式应为 YYYY-MM-DD（收到 {value!r}）") from None


class Command(BaseCommand):
    help = "催费日跑：缴费提醒、逾期通知、停电通知、停电/复电任务"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--until", help="YYYY-MM-DD: run every day from --date up to this one")

    def handle(self, *args, date=None, until=None, **options):
        start = _day(date, "--date") if date else timezone.localdate()
        end = _day(until, "--until") if until else start
        if end < start:
            raise CommandError("--until 不能早于 --date")
        try:
            counts = dunning_days(start=start, end=end, actor=Actor(channel=Channel.JOB))
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{f}: {m}" for f, ms in exc.message_dict.items() for m in ms)
            ) from None
        span = start.isoformat() if end == start else f"{start.isoformat()}..{end.isoformat()}"
        self.stdout.write(f"collections {span}: " + ", ".join(f"{k}={counts.get(k, 0)}" for k, _l in LABELS))
