"""`gridcare notify_dispatch [--limit 500] [--loop --interval 10] [--inline] [--timeout S]`: send due notices
from the outbox, as a `notify.dispatch` job (a worker runs it, or this process when none answers)."""

import time

from django.core.management.base import BaseCommand

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.jobs.cli import add_job_arguments, run_and_wait


class Command(BaseCommand):
    help = "发送消息队列中到期的通知（短信、微信、邮件）"

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500, help="notices per pass")
        parser.add_argument("--loop", action="store_true", help="keep dispatching every --interval seconds")
        parser.add_argument("--interval", type=float, default=10.0)
        add_job_arguments(parser)

    def handle(self, *args, limit, loop, interval, inline, timeout, **options):
        while True:
            job = run_and_wait(
                "notify.dispatch",
                {"limit": limit},
                Actor(channel=Channel.JOB),
                self.stdout,
                inline=inline,
                timeout=timeout,
            )
            r = job.result or {}
            self.stdout.write(
                f"claimed={r.get('claimed', 0)} sent={r.get('sent', 0)} "
                f"retrying={r.get('retrying', 0)} dead={r.get('dead', 0)}"
            )
            if not loop:
                return
            if r.get("claimed", 0) < limit:
                time.sleep(interval)
