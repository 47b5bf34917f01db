"""`gridcare demo_collections [--days 30] [--accounts 12] [--seed 42] [--today YYYY-MM-DD]`: dunning in
progress (催费演示) as of `--today` (default the real date: see core.clock), run after `demo_payments`.

The demo bills fall due on the 20th and `demo_payments` leaves about 8 % of the accounts unpaid for the last
two months, so whether any oldest debt is already 30 days past due depends on the day of the month. To show
every stage whatever the day, a few of those accounts (`--accounts`, drawn with `--seed`) get their opening
bank payment (期初代扣) reversed as bounced — through `services.payment_reverse`, audited — so their older
bills are months in arrears. One in five of them (at least one) is flagged 保护用户 (medical equipment). Then the daily job runs for
each of the last `--days` days (set-based, about a second a day for 5,000 accounts): reminders, overdue
notices, disconnection notices, disconnection tasks (important customers and protected accounts await a
manager's approval). Finally one open disconnection is recorded as done and the account pays everything
26 hours ago, so a reconnection task exists — and is already overdue.

Idempotent: a second run reverses nothing already reversed and the daily runs write nothing new.
"""

import random
from datetime import date, datetime, timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.clock import add_today_argument, demo_clock
from gridcare.customers.choices import Segment
from gridcare.customers.models import Account
from gridcare.payments.choices import PaymentChannel, TaskKind, TaskStatus
from gridcare.payments.collections.services import account_protection_set, collection_task_done, dunning_days
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import CollectionTask, Payment, Receivable

BOUNCE_REASON = "演示：期初银行代扣退票"


class Command(BaseCommand):
    help = "演示数据：催费进行中（提醒、逾期、停电通知、停电/复电任务、保护用户）"

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--accounts", type=int, default=12)
        parser.add_argument("--seed", type=int, default=42)
        add_today_argument(parser)

    def handle(self, *args, days, accounts, seed, today=None, **options):
        actor = Actor(channel=Channel.JOB)
        today, now = demo_clock(today)
        with transaction.atomic():
            bounced = self._bounce(actor, accounts, seed, today)
        counts = dunning_days(start=today - timedelta(days=days), end=today, actor=actor, now=now)
        with transaction.atomic():
            reconnect = self._disconnect_and_pay(actor, now)
        self.stdout.write(
            f"demo collections: {len(bounced)} accounts with old arrears, "
            + ", ".join(f"{k}={v}" for k, v in counts.items())
            + (f", reconnection task for {reconnect}" if reconnect else "")
        )

    def _bounce(self, actor: Actor, n: int, seed: int, today: date) -> list[str]:
        """Reverse the opening payment of `n` accounts that are in arrears now (important customers first); on a
        second run, the accounts the first one chose (whether they have paid since or not)."""
        bounced = Payment.objects.filter(
            channel=PaymentChannel.BANK, channel_txn_id__startswith="OPEN-", reversal_reason=BOUNCE_REASON
        )
        if bounced.exists():
            return sorted(bounced.values_list("account__account_number", flat=True))
        in_arrears = set(
            Receivable.objects.filter(
                cancelled_at__isnull=True, due_date__lt=today, principal_paid__lt=F("principal")
            )
            .values_list("account_id", flat=True)
            .distinct()
        )
        opening = list(
            Payment.objects.filter(
                channel=PaymentChannel.BANK, channel_txn_id__startswith="OPEN-", account_id__in=in_arrears
            )
            .select_related("account__customer")
            .order_by("account__account_number")
        )
        rng = random.Random(seed)
        important = [p for p in opening if p.account.customer.segment == Segment.IMPORTANT][:2]
        others = [p for p in opening if p not in important]
        chosen = important + rng.sample(others, min(len(others), max(0, n - len(important))))
        for p in chosen:
            services.payment_reverse(actor=actor, payment=p, reason=BOUNCE_REASON)
        residential = [p.account for p in chosen if p.account.customer.customer_class == "residential"]
        for account in (residential or [p.account for p in chosen])[: max(1, len(chosen) // 5)]:
            account_protection_set(
                actor=actor, account=account, protected=True, reason="家中有医疗设备（演示）"
            )
        return [p.account.account_number for p in chosen]

    def _disconnect_and_pay(self, actor: Actor, now: datetime) -> str | None:
        """One open disconnection done, then the account pays everything 26 h ago → a reconnection task."""
        if CollectionTask.objects.filter(kind=TaskKind.RECONNECT).exists():
            return None
        task = (
            CollectionTask.objects.filter(kind=TaskKind.DISCONNECT, status=TaskStatus.OPEN)
            .select_related("account")
            .order_by("created_at", "id")
            .first()
        )
        if task is None:
            return None
        done_at = min(task.created_at + timedelta(hours=2), now - timedelta(hours=27))
        if done_at < task.created_at - timedelta(days=1):
            return None
        collection_task_done(actor=actor, task=task, done_at=done_at, note="演示：已停电", now=now)
        paid_at = now - timedelta(hours=26)
        account = Account.objects.get(pk=task.account_id)
        owed = selectors.statement(account, timezone.localdate(paid_at)).amount_due
        if owed > 0:
            services.payment_record(
                actor=actor,
                channel=PaymentChannel.COUNTER_CASH,
                channel_txn_id=f"DEMO-RECONNECT-{account.account_number}",
                account_number=account.account_number,
                amount=owed,
                paid_at=paid_at,
            )
        return account.account_number
