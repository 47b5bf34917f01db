"""`gridcare prepaid_estimate [--date YYYY-MM-DD]`: the daily balance estimate of every prepaid account
(智能交费) and its low-balance alerts, as of the date (default today, Asia/Shanghai). Re-running a day
replaces its estimates and raises no alert twice; run it once a day after the day's payments (cron/Celery
beat)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.payments.prepaid.services import prepaid_estimate_run


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, got {value!r}") from None


class Command(BaseCommand):
    help = "智能交费：按日估算预存户剩余余额和可用天数，余额不足时提醒"

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="day", default=None, help="estimate as of this day (YYYY-MM-DD)")

    def handle(self, *args, day=None, **options):
        today = _date(day) if day else timezone.localdate()
        result = prepaid_estimate_run(today=today, actor=Actor(channel=Channel.JOB))
        self.stdout.write(
            f"prepaid_estimate {today.isoformat()}: estimated={result.estimated} "
            f"alerts_raised={result.alerts_raised} rearmed={result.rearmed}"
        )
