"""`gridcare demo_payments [--recent 2] [--seed 42] [--today YYYY-MM-DD]`: payments for the demo bills,
through every channel, up to now (`--today`, default the real date: see core.clock).

Each account's bills before the last `--recent` billing months count as settled before the demo's history
begins: one bank payment (txn "OPEN-<户号>", 期初结清) pays them all, dated the day before the earliest of
them fell due, so no late fee arises. For the recent months each account follows a profile drawn from its
own seeded random stream: most pay each bill a few days before it is due (Alipay, WeChat, portal, bank
withholding, counter, terminal), about 17 % pay late (late fees), about 8 % have not paid (arrears). Every
payment goes through `services.payment_record`, like a real one. Receipts (the notification outbox) go out only for the last week's payments. Idempotent: transaction ids are derived
from the account and bill, so a second run records nothing new.
"""

import random
from contextlib import nullcontext
from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.clock import add_today_argument, demo_clock
from gridcare.notify.outbox import notices_muted
from gridcare.payments.choices import PaymentChannel
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import Receivable

ON_TIME_CHANNELS = [
    PaymentChannel.ALIPAY,
    PaymentChannel.WECHAT,
    PaymentChannel.PORTAL,
    PaymentChannel.BANK,
    PaymentChannel.COUNTER_CASH,
    PaymentChannel.COUNTER_CARD,
    PaymentChannel.TERMINAL,
]


class Command(BaseCommand):
    help = "演示数据：为已发行的演示账单生成各渠道缴费（含逾期与欠费）"

    def add_arguments(self, parser):
        parser.add_argument(
            "--recent", type=int, default=2, help="billing months simulated payment by payment"
        )
        parser.add_argument("--seed", type=int, default=42)
        add_today_argument(parser)

    def handle(self, *args, recent, seed, today=None, **options):
        actor = Actor(channel=Channel.JOB)
        tz = timezone.get_current_timezone()
        _today, now = demo_clock(today)
        recent_from = now - timedelta(days=7)
        rows = list(
            Receivable.objects.filter(cancelled_at__isnull=True)
            .order_by("account_id", "due_date", "id")
            .values_list("account_id", "account__account_number", "period", "due_date", "pk")
        )
        by_account: dict[int, list] = {}
        for account_id, number, period, due, pk in rows:
            by_account.setdefault(account_id, []).append((number, period, due, pk))
        made = 0
        with transaction.atomic():
            for account_id, bills in by_account.items():
                rng = random.Random(seed * 1_000_003 + account_id)
                number = bills[0][0]
                periods = sorted({b[1] for b in bills})
                cutoff = periods[-recent] if len(periods) > recent else periods[0]
                older = [b for b in bills if b[1] < cutoff]
                if older:
                    first_due = min(b[2] for b in older)
                    paid_at = datetime.combine(first_due - timedelta(days=1), time(9), tzinfo=tz)
                    owed = sum(
                        (
                            ln.total
                            for ln in selectors.statement_of_ids(account_id, [b[3] for b in older], first_due)
                        ),
                        services.ZERO,
                    )
                    if owed > 0:
                        with notices_muted():  # settled long ago: no receipt today
                            made += services.payment_record(
                                actor=actor,
                                channel=PaymentChannel.BANK,
                                channel_txn_id=f"OPEN-{number}",
                                account_number=number,
                                amount=owed,
                                paid_at=paid_at,
                            ).created
                profile = rng.random()
                for _n, period, due, pk in (b for b in bills if b[1] >= cutoff):
                    if profile < 0.08:
                        continue  # arrears
                    late = profile < 0.25
                    day = (
                        due + timedelta(days=rng.randint(5, 40))
                        if late
                        else due - timedelta(days=rng.randint(0, 9))
                    )
                    paid_at = datetime.combine(day, time(rng.randint(8, 20), rng.randint(0, 59)), tzinfo=tz)
                    # Every draw of a bill comes before any skip: a bill skipped in one run (paid already, or
                    # not yet paid by now) must not shift the days drawn for the account's later bills.
                    channel = ON_TIME_CHANNELS[rng.randrange(len(ON_TIME_CHANNELS))]
                    if paid_at > now:
                        continue
                    owed = sum(
                        (ln.total for ln in selectors.statement_of_ids(account_id, [pk], day)), services.ZERO
                    )
                    if owed <= 0:
                        continue
                    # Receipts only for the last week's payments: older ones are history, not news.
                    with notices_muted() if paid_at < recent_from else nullcontext():
                        made += services.payment_record(
                            actor=actor,
                            channel=channel,
                            channel_txn_id=f"DEMO-{number}-{period}",
                            account_number=number,
                            amount=owed,
                            paid_at=paid_at,
                        ).created
        self.stdout.write(f"{made:,} demo payments recorded for {len(by_account):,} accounts")
