"""`gridcare prepaid_estimate [--date YYYY-MM-DD]`: the daily balance estimate of every prepaid account
(智能交费) and its low-balance alerts, as of the date (default today, Asia/Shanghai). Re-running a day
replaces its estimates and raises no alert twice. It runs as a `prepaid.estimate` job (a worker, or this
process when none answers); the engine's schedule runs it daily at 06:00."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.jobs.cli import add_job_arguments, run_and_wait


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, got {value!r}") from None


class Command(BaseCommand):
    help = "智能交费：按日估算预存户剩余余额和可用天数，余额不足时提醒"

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="day", default=None, help="estimate as of this day (YYYY-MM-DD)")
        add_job_arguments(parser)

    def handle(self, *args, day=None, inline=False, timeout=None, **options):
        today = _date(day) if day else timezone.localdate()
        job = run_and_wait(
            "prepaid.estimate",
            {"date": today.isoformat()},
            Actor(channel=Channel.JOB),
            self.stdout,
            inline=inline,
            timeout=timeout,
        )
        result = job.result or {}
        self.stdout.write(
            f"prepaid_estimate {today.isoformat()}: estimated={result.get('estimated', 0)} "
            f"alerts_raised={result.get('alerts_raised', 0)} rearmed={result.get('rearmed', 0)}"
        )
