"""`gridcare notify_dispatch [--limit 500] [--loop --interval 10]`: send due notices from the outbox."""

import time

from django.core.management.base import BaseCommand

from gridcare.notify.dispatch import outbox_dispatch


class Command(BaseCommand):
    help = "发送消息队列中到期的通知（短信、微信、邮件）"

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500, help="notices per pass")
        parser.add_argument("--loop", action="store_true", help="keep dispatching every --interval seconds")
        parser.add_argument("--interval", type=float, default=10.0)

    def handle(self, *args, limit, loop, interval, **options):
        while True:
            r = outbox_dispatch(limit=limit)
            self.stdout.write(f"claimed={r.claimed} sent={r.sent} retrying={r.retrying} dead={r.dead}")
            if not loop:
                return
            if r.claimed < limit:
                time.sleep(interval)
