"""Collections (催费): the dunning procedure of SPEC C3 and issue 4 §6, its daily run and its tasks.

The procedure, per `DunningPolicy` (the default row is seeded by migration; a unit's row overrides it for
that unit's subtree, the nearest one wins):

- **Reminder** (缴费提醒) `reminder_days_before` (3) days before a bill's due date, while it is unpaid. A run
  that missed that day catches up until the due date itself; never earlier than 3 days before.
- **Overdue notice** (逾期通知) `overdue_days_after` (1) day after the due date, once per bill.
- **Disconnection notice** (停电通知), one per account, once its oldest unpaid bill is `disconnect_after_days`
  (30) days past due and its overdue arrears are at least `disconnect_min_arrears` (50.00 yuan). It plans
  the disconnection `notice_days_residential` (7) days ahead for residential customers and
  `notice_days_other` (3) for every other class (the customer's current class). The notice opens a
  *case* (`DunningNotice.case_status`) that follows the account until reconnection. The amount it announces
  (`arrears`) is what the customer must pay on the notice day to stop it: the overdue arrears plus the late
  fee accrued on them up to that day and not yet charged (a payment charges that fee before the principal).
  Paying later costs the fee of the extra days too.
  A customer whose credit grade has the `dunning_earlier` measure (issue 17 §4, C by default) gets the
  notice `CreditPolicy.dunning_advance_days` (15) days earlier — never before the overdue-notice day
  (`gridcare.credit.measures.disconnect_notice_days`); the rest of the procedure is the same.
- **Disconnection task** on or after the planned date, if the account still has overdue arrears. Its status
  is `awaiting_approval` when the customer is important (`Customer.segment == "important"`) or the
  account is protected (`Account.protected`, medical equipment and the like), else `open`. The check is
  repeated when the account is flagged protected (its open, unapproved disconnection task goes to the
  manager) and when the field staff record the disconnection: an unapproved task of an account that is
  protected or important *by then* is refused and moved to `awaiting_approval` (that move is kept).
  A rejected disconnection ends the case; a new notice needs a *new* oldest unpaid bill (the rejected
  triggering bill is not asked again), so a refusal is not re-asked every day.
- **Paid before the disconnection**: the pending notice and any awaiting/open task are cancelled. If the
  payment is later reversed (a bounced cheque or debit), the cancelled case does not block a new notice for
  the same bill: the next run starts the procedure again.
- **Disconnected** (the task marked done, with the time): the account counts as disconnected while its case
  is `disconnected` or `reconnecting` — derived from the case, no extra field on the account.
- **Reconnection**: once a disconnected account's overdue arrears are all paid, a reconnection task due
  `reconnect_hours` (24) after the payment (`paid_at`, even for a back-dated bank debit: the customer paid
  then, so a late record makes the task urgent at once) is created at once (`collections_on_payment`, called
  by `services._record` in the payment's transaction) and, as a catch-up, by the daily run. Whether the
  arrears are paid is judged as of the real current date, not the payment's date: a back-dated payment does
  not clear bills that fell due since. If the payment is reversed while the reconnection task is still
  open (`collections_on_reversal`, called by `services.payment_reverse`), the task is cancelled with the
  reason and the case is `disconnected` again.

Arrears (欠费) here are the outstanding principal and charged, unpaid late fee of bills whose due date has
passed. Bills not yet due are not arrears. Late fee accrued but not yet charged is not counted in the
decisions (threshold, task, cancellation: it is charged when a payment reaches the bill), only in the amount
a disconnection notice announces.

The run never works on a future day (`today` after the real date is refused): it sends real notices now.
Catch-up and demo runs are for past days; tests inject past dates. A caller that injects the clock (`now`:
the demo builders' `--today`, tests) is judged against that clock's date instead.

Concurrency: the run locks the accounts it is about to act on (`SELECT … FOR UPDATE`, in id order, one
query) and re-reads their arrears after the lock, exactly as a payment locks its account. So a payment that
commits before the lock is seen (no task, the notice is cancelled) and a payment that waits for the run's
lock finds the new task in its hook and cancels it. Either way no disconnection task stays open for a paid
account. Runs are serialised by locking the default policy row, and unique constraints back idempotency:
a second run of the same day writes nothing new.

Notices are rows; `on_dunning_notices(notice_ids)` is called on commit for each batch (the seam the
notification outbox is wired to).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record, pii_view_record
from gridcare.core.choices import Channel
from gridcare.core.money import fen
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, require_object, visible_unit_ids
from gridcare.customers.choices import AccountStatus, CustomerClass, Segment
from gridcare.customers.models import Account
from gridcare.payments.choices import DisconnectCaseStatus as Case
from gridcare.payments.choices import DunningStage, TaskKind, TaskStatus
from gridcare.payments.ledger.statement import amounts_due
from gridcare.payments.models import (
    HOOK_CASE,
    OPEN_CASE,
    CollectionTask,
    DunningNotice,
    DunningPolicy,
    Payment,
    Receivable,
)

__all__ = ["PermissionDenied"]

ZERO = Decimal("0.00")
DISCONNECT_DUE_TIME = time(18, 0)  # a disconnection task is due by the end of the day it is ordered


# ---------------------------------------------------------------- the notification seam


def on_dunning_notices(notice_ids: list[int]) -> None:
    """Called on commit with the ids of newly recorded notices (reminder, overdue, disconnection,
    reconnection): they go to the notification outbox, which sends each through the customer's channels;
    `DunningNotice.sent_at` records the hand-over."""
    from gridcare.payments.notices import dunning_notices_enqueue

    dunning_notices_enqueue(notice_ids)


def _notify_on_commit(notice_ids: list[int]) -> None:
    if notice_ids:
        ids = list(notice_ids)
        # Looked up at call time so the outbox (or a test) can replace the module attribute.
        transaction.on_commit(lambda: globals()["on_dunning_notices"](ids))


# ---------------------------------------------------------------- policy


@dataclass(frozen=True)
class Policy:
    reminder_days_before: int = 3
    overdue_days_after: int = 1
    disconnect_after_days: int = 30
    disconnect_min_arrears: Decimal = Decimal("50.00")
    notice_days_residential: int = 7
    notice_days_other: int = 3
    reconnect_hours: int = 24

    def notice_days(self, customer_class: str) -> int:
        return (
            self.notice_days_residential
            if customer_class == CustomerClass.RESIDENTIAL
            else self.notice_days_other
        )


_POLICY_FIELDS = [
    "reminder_days_before",
    "overdue_days_after",
    "disconnect_after_days",
    "disconnect_min_arrears",
    "notice_days_residential",
    "notice_days_other",
    "reconnect_hours",
]


class Policies:
    """Each unit's policy: the nearest unit up the tree with its own row, else the default row."""

    def __init__(self) -> None:
        from gridcare.org.models import SupplyUnit

        rows = list(DunningPolicy.objects.select_related("unit").order_by("id"))
        default = next((r for r in rows if r.unit_id is None), None)
        self.default = Policy(**{f: getattr(default, f) for f in _POLICY_FIELDS}) if default else Policy()
        self.by_path = {
            r.unit.path: Policy(**{f: getattr(r, f) for f in _POLICY_FIELDS}) for r in rows if r.unit_id
        }
        self.paths = dict(SupplyUnit.objects.values_list("id", "path")) if self.by_path else {}
        self._cache: dict[int, Policy] = {}

    def of(self, unit_id: int) -> Policy:
        if not self.by_path:
            return self.default
        if unit_id not in self._cache:
            path = self.paths.get(unit_id, "")
            best = max((p for p in self.by_path if path.startswith(p)), key=len, default=None)
            self._cache[unit_id] = self.by_path[best] if best else self.default
        return self._cache[unit_id]

    def all(self) -> list[Policy]:
        return [self.default, *self.by_path.values()]


# ---------------------------------------------------------------- arrears (set-based)


def _live():
    return Receivable.objects.filter(cancelled_at__isnull=True)


_OUTSTANDING = F("principal") - F("principal_paid") + F("fee_charged") - F("fee_waived") - F("fee_paid")


def overdue_arrears(account_ids: list[int], today: date) -> dict[int, Decimal]:
    """Outstanding principal and charged, unpaid late fee of bills due before `today`, per account (one query).
    Accounts without arrears are absent."""
    if not account_ids:
        return {}
    rows = (
        Receivable.objects.filter(account_id__any=list(account_ids), due_date__lt=today)
        .open()
        .values("account_id")
        .annotate(s=Sum(_OUTSTANDING))
        .values_list("account_id", "s")
    )
    return {a: fen(s) for a, s in rows if s and fen(s) > 0}


def _oldest_unpaid(account_ids: list[int], today: date) -> dict[int, tuple[int, date]]:
    """Each account's oldest bill past due with principal unpaid: (receivable id, due date) (one query)."""
    if not account_ids:
        return {}
    out: dict[int, tuple[int, date]] = {}
    rows = (
        _live()
        .filter(account_id__any=list(account_ids), due_date__lt=today, principal_paid__lt=F("principal"))
        .order_by("account_id", "due_date", "id")
        .values_list("account_id", "pk", "due_date")
    )
    for account_id, pk, due in rows:
        out.setdefault(account_id, (pk, due))
    return out


def _local_dt(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=timezone.get_current_timezone())


# ---------------------------------------------------------------- the daily run


@dataclass
class RunCounts:
    reminders: int = 0
    overdue_notices: int = 0
    disconnect_notices: int = 0
    disconnect_tasks: int = 0
    awaiting_approval: int = 0
    cancelled: int = 0
    reconnect_tasks: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def collections_run(
    *, today: date, actor: Actor | None = None, now: datetime | None = None
) -> dict[str, int]:
    """The daily dunning job for `today` (see the module docstring); returns the counts per stage.

    A person runs it for their units (COLLECTIONS_MANAGE); the scheduled job (no user) runs for all units.
    Running the same day again writes nothing new."""
    actor = actor or Actor(channel=Channel.JOB)
    unit_ids: list[int] | None = None
    if actor.user is not None:
        if not has_perm(actor.user, Perm.COLLECTIONS_MANAGE):
            raise PermissionDenied
        unit_ids = visible_unit_ids(actor.user)
    # The clock is `now` when the caller injects one (the demo builders, tests), else the real time.
    _check_day(today, timezone.localdate(now) if now else None)
    now = now or (timezone.now() if today == timezone.localdate() else _local_dt(today, time(8, 0)))
    counts = RunCounts()
    with transaction.atomic():
        # One run at a time (PostgreSQL): the second waits here, then finds everything already written.
        DunningPolicy.objects.select_for_update().filter(unit__isnull=True).first()
        policies = Policies()
        scope = Q(unit_id__any=unit_ids) if unit_ids is not None else Q()
        notice_ids: list[int] = []
        notice_ids += _bill_notices(DunningStage.REMINDER, today, now, policies, scope, counts)
        notice_ids += _bill_notices(DunningStage.OVERDUE, today, now, policies, scope, counts)
        notice_ids += _cases(today, now, policies, scope, counts)
        _notify_on_commit(notice_ids)
        audit_record(
            actor=actor,
            action="collections.run",
            object_type="payments.collections",
            object_id=today.isoformat(),
            changes={
                "date": today.isoformat(),
                **counts.as_dict(),
                "units": "all" if unit_ids is None else len(unit_ids),
            },
        )
    return counts.as_dict()


def _check_day(today, real: date | None = None) -> None:
    """`today` is a date and not after `real` (the clock's date, default the real one)."""
    if not isinstance(today, date) or isinstance(today, datetime):
        raise ValidationError({"date": [_("日期格式应为 YYYY-MM-DD")]})
    real = real or timezone.localdate()
    if today > real:
        raise ValidationError(
            {
                "date": [
                    _("不能为将来的日期（%(d)s）催费：今天是 %(t)s")
                    % {"d": today.isoformat(), "t": real.isoformat()}
                ]
            }
        )


def _bill_notices(
    stage: str, today: date, now: datetime, policies: Policies, scope: Q, counts: RunCounts
) -> list[int]:
    """Reminders (due in 0..N days) or overdue notices (due ≥ M days ago), one per unpaid bill."""
    ps = policies.all()
    qs = _live().filter(scope, principal_paid__lt=F("principal"), account__status=AccountStatus.ACTIVE)
    if stage == DunningStage.REMINDER:
        qs = qs.filter(
            due_date__gte=today, due_date__lte=today + timedelta(days=max(p.reminder_days_before for p in ps))
        )
    else:
        qs = qs.filter(due_date__lte=today - timedelta(days=min(p.overdue_days_after for p in ps)))
    qs = qs.filter(~Exists(DunningNotice.objects.filter(receivable=OuterRef("pk"), stage=stage)))
    rows = qs.annotate(owed=_OUTSTANDING).values_list("pk", "account_id", "unit_id", "due_date", "owed")
    notices = []
    for pk, account_id, unit_id, due, owed in rows.iterator(chunk_size=5000):
        p = policies.of(unit_id)
        if stage == DunningStage.REMINDER and (due - today).days > p.reminder_days_before:
            continue
        if stage == DunningStage.OVERDUE and (today - due).days < p.overdue_days_after:
            continue
        notices.append(
            DunningNotice(
                stage=stage,
                account_id=account_id,
                unit_id=unit_id,
                receivable_id=pk,
                notice_date=today,
                arrears=owed,
                created_at=now,
            )
        )
    DunningNotice.objects.bulk_create(notices, batch_size=2000)
    if stage == DunningStage.REMINDER:
        counts.reminders += len(notices)
    else:
        counts.overdue_notices += len(notices)
    return [n.pk for n in notices if n.pk]


def _cases(today: date, now: datetime, policies: Policies, scope: Q, counts: RunCounts) -> list[int]:
    """Disconnection cases: cancel the paid, order the due, reconnect the paid disconnected, open new ones."""
    from gridcare.credit import measures
    from gridcare.credit.choices import Measure
    from gridcare.credit.policy import current_policy

    credit_policy = current_policy()
    advance = measures.dunning_advance(credit_policy)  # 0: no grade dunned earlier
    min_days = min(p.disconnect_after_days for p in policies.all())
    due_by = Q(due_date__lte=today - timedelta(days=min_days))
    if advance:
        # Customers with the `dunning_earlier` measure become candidates sooner (a subquery, no round trip).
        early_days = min(
            measures.disconnect_notice_days(
                disconnect_after_days=p.disconnect_after_days,
                overdue_days_after=p.overdue_days_after,
                advance=advance,
            )
            for p in policies.all()
        )
        due_by |= Q(
            due_date__lte=today - timedelta(days=early_days),
            account__customer_id__in=measures.customers_with_qs(
                Measure.DUNNING_EARLIER, policy=credit_policy
            ),
        )
    open_case_accounts = set(
        DunningNotice.objects.filter(
            scope, stage=DunningStage.DISCONNECT, case_status__in=HOOK_CASE
        ).values_list("account_id", flat=True)
    )
    new_candidates = set(
        _live()
        .filter(
            due_by,
            scope,
            principal_paid__lt=F("principal"),
            account__status=AccountStatus.ACTIVE,
        )
        .values_list("account_id", flat=True)
        .distinct()
    )
    candidates = sorted(open_case_accounts | new_candidates)
    if not candidates:
        return []
    # Lock the accounts we may act on (id order, like every other writer), then read their state afresh.
    locked = list(
        Account.objects.select_for_update()
        .filter(pk__any=candidates)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    arrears = overdue_arrears(locked, today)
    cases = {
        c.account_id: c
        for c in DunningNotice.objects.filter(
            account_id__any=locked, stage=DunningStage.DISCONNECT, case_status__in=OPEN_CASE
        )
    }
    info = {
        a: (klass, seg, prot, unit, customer)
        for a, klass, seg, prot, unit, customer in Account.objects.filter(pk__any=locked).values_list(
            "pk", "customer__customer_class", "customer__segment", "protected", "unit_id", "customer_id"
        )
    }
    # The one extra bulk read of the credit measure: which of these customers are dunned earlier.
    earlier = (
        measures.customers_with(Measure.DUNNING_EARLIER, {v[4] for v in info.values()}, policy=credit_policy)
        if advance
        else set()
    )
    notice_ids: list[int] = []
    tasks: list[CollectionTask] = []
    to_cancel: list[DunningNotice] = []
    for account_id, case in cases.items():
        owed = arrears.get(account_id, ZERO)
        if case.case_status in (Case.PENDING, Case.ORDERED) and owed <= 0:
            to_cancel.append(case)
        elif case.case_status == Case.PENDING and case.planned_disconnect_on <= today:
            _klass, segment, protected, _unit, _customer = info[account_id]
            reasons = _approval_reasons(segment, protected)
            tasks.append(
                CollectionTask(
                    kind=TaskKind.DISCONNECT,
                    account_id=account_id,
                    unit_id=case.unit_id,
                    notice=case,
                    arrears=owed,
                    status=TaskStatus.AWAITING_APPROVAL if reasons else TaskStatus.OPEN,
                    requires_approval=bool(reasons),
                    approval_reason="、".join(reasons),
                    due_at=_local_dt(today, DISCONNECT_DUE_TIME),
                    created_at=now,
                )
            )
            case.case_status = Case.ORDERED
        elif case.case_status == Case.DISCONNECTED and owed <= 0:
            notice_ids += _reconnect(case, now=now, policy=policies.of(case.unit_id), catch_up=True)
            counts.reconnect_tasks += 1
    CollectionTask.objects.bulk_create(tasks)
    DunningNotice.objects.bulk_update([t.notice for t in tasks], ["case_status"])
    counts.disconnect_tasks += len(tasks)
    counts.awaiting_approval += sum(t.requires_approval for t in tasks)
    counts.cancelled += _cancel_cases(to_cancel, now)
    # New disconnection notices: accounts without an open case, oldest unpaid bill M days past due.
    oldest = _oldest_unpaid([a for a in locked if a not in cases], today)
    already = (
        set(
            DunningNotice.objects.filter(
                stage=DunningStage.DISCONNECT,
                case_status=Case.REJECTED,
                receivable_id__any=[r for r, _d in oldest.values()],
            ).values_list("receivable_id", flat=True)
        )
        if oldest
        else set()
    )
    notices = []
    due_now: dict[int, Decimal] | None = None
    for account_id, (receivable_id, due) in oldest.items():
        klass, _seg, _prot, unit_id, customer_id = info[account_id]
        p = policies.of(unit_id)
        owed = arrears.get(account_id, ZERO)
        after_days = p.disconnect_after_days
        if customer_id in earlier:
            after_days = measures.disconnect_notice_days(
                disconnect_after_days=p.disconnect_after_days,
                overdue_days_after=p.overdue_days_after,
                advance=advance,
            )
        if receivable_id in already or (today - due).days < after_days or owed < p.disconnect_min_arrears:
            continue
        if due_now is None:  # the accounts getting a notice, in one query
            due_now = _amount_to_stop(
                [a for a, (r, d) in oldest.items() if r not in already and arrears.get(a, ZERO) > 0], today
            )
        notices.append(
            DunningNotice(
                stage=DunningStage.DISCONNECT,
                account_id=account_id,
                unit_id=unit_id,
                receivable_id=receivable_id,
                notice_date=today,
                arrears=due_now.get(account_id, owed),
                planned_disconnect_on=today + timedelta(days=p.notice_days(klass)),
                case_status=Case.PENDING,
                created_at=now,
            )
        )
    DunningNotice.objects.bulk_create(notices, batch_size=2000)
    counts.disconnect_notices += len(notices)
    return notice_ids + [n.pk for n in notices if n.pk]


def _amount_to_stop(account_ids: list[int], today: date) -> dict[int, Decimal]:
    """What each account must pay on `today` to clear its overdue arrears: the statement total of its bills
    due before `today`, the late fee accrued up to `today` included (one query). A payment charges that fee
    first (`services._charge_fee`), so paying this amount on `today` leaves no arrears."""
    return amounts_due(account_ids, today, due_before=today)


def _cancel_cases(cases: list[DunningNotice], now: datetime) -> int:
    """Close cases whose arrears were paid before the disconnection: the notice and any pending task."""
    if not cases:
        return 0
    ids = [c.pk for c in cases]
    DunningNotice.objects.filter(pk__any=ids).update(case_status=Case.CANCELLED, closed_at=now)
    CollectionTask.objects.filter(
        notice_id__any=ids,
        kind=TaskKind.DISCONNECT,
        status__in=[TaskStatus.AWAITING_APPROVAL, TaskStatus.OPEN],
    ).update(status=TaskStatus.CANCELLED, cancelled_at=now)
    return len(ids)


def _reconnect(case: DunningNotice, *, now: datetime, policy: Policy, catch_up: bool = False) -> list[int]:
    """A reconnection task due `reconnect_hours` after the payment, its notice, and the case moves on."""
    paid_at = now
    last = None
    if catch_up:
        last = (
            Payment.objects.filter(account_id=case.account_id, status="posted")
            .order_by("-paid_at", "-id")
            .values_list("pk", "paid_at")
            .first()
        )
        if last is not None and last[1] <= now:
            paid_at = last[1]
    notice = DunningNotice.objects.create(
        stage=DunningStage.RECONNECT,
        account_id=case.account_id,
        unit_id=case.unit_id,
        notice_date=timezone.localdate(now),
        created_at=now,
    )
    CollectionTask.objects.create(
        kind=TaskKind.RECONNECT,
        status=TaskStatus.OPEN,
        account_id=case.account_id,
        unit_id=case.unit_id,
        notice=case,
        payment_id=last[0] if last else None,
        due_at=paid_at + timedelta(hours=policy.reconnect_hours),
        created_at=now,
    )
    DunningNotice.objects.filter(pk=case.pk).update(case_status=Case.RECONNECTING)
    case.case_status = Case.RECONNECTING
    return [notice.pk]


# ---------------------------------------------------------------- the payment hook


def collections_on_payment(*, account_id: int, now: datetime, today: date | None = None) -> None:
    """Called by `services._record` inside the payment's transaction (the account is locked), after the
    payment was allocated, with `now` = the payment's `paid_at`. Without an open disconnection case this is
    one indexed query and nothing else. With one, once the account has no overdue arrears left as of `today`
    (default: the real current date — a back-dated payment must not clear bills that fell due since its
    date): a pending notice or an unexecuted disconnection task is cancelled; a disconnected account gets its
    reconnection task, due `reconnect_hours` after `now` (the payment)."""
    case = (
        DunningNotice.objects.filter(
            account_id=account_id, stage=DunningStage.DISCONNECT, case_status__in=HOOK_CASE
        )
        .only("pk", "account_id", "unit_id", "case_status")
        .first()
    )
    if case is None:
        return
    today = max(today or timezone.localdate(), timezone.localdate(now))
    if overdue_arrears([account_id], today).get(account_id, ZERO) > 0:
        return
    actor = Actor(channel=Channel.SYSTEM)
    if case.case_status == Case.DISCONNECTED:
        ids = _reconnect(case, now=now, policy=Policies().of(case.unit_id))
        _notify_on_commit(ids)
        audit_record(
            actor=actor,
            action="collections.reconnect_order",
            obj=case,
            unit_id=case.unit_id,
            changes={"account_id": account_id, "paid_at": now.isoformat()},
        )
    else:
        _cancel_cases([case], timezone.now())
        audit_record(
            actor=actor,
            action="collections.cancel",
            obj=case,
            unit_id=case.unit_id,
            changes={"account_id": account_id, "case_status": [case.case_status, Case.CANCELLED]},
        )


def collections_on_reversal(*, account_id: int, now: datetime, reason: str = "") -> None:
    """Called by `services.payment_reverse` inside its transaction (the account is locked), after the
    reversal re-opened the debts. One indexed query when the account has no open case. If the account's
    reconnection is still to do and it has overdue arrears again (the payment that paid them bounced), the
    open reconnection task is cancelled with the reason and the case is back to `disconnected` (a new task
    follows the next payment). A case cancelled by the payment needs nothing here: it no longer blocks a new
    disconnection notice, so the next daily run starts the procedure again."""
    case = (
        DunningNotice.objects.filter(
            account_id=account_id, stage=DunningStage.DISCONNECT, case_status__in=OPEN_CASE
        )
        .only("pk", "account_id", "unit_id", "case_status")
        .first()
    )
    if case is None or case.case_status != Case.RECONNECTING:
        return
    owed = overdue_arrears([account_id], timezone.localdate()).get(account_id, ZERO)
    if owed <= 0:
        return
    note = (_("缴费已冲正，欠费 %(a)s 元未清，暂缓复电") % {"a": owed} + (f"：{reason}" if reason else ""))[
        :200
    ]
    cancelled = list(
        CollectionTask.objects.filter(
            notice=case, kind=TaskKind.RECONNECT, status__in=[TaskStatus.AWAITING_APPROVAL, TaskStatus.OPEN]
        ).values_list("pk", flat=True)
    )
    CollectionTask.objects.filter(pk__any=cancelled).update(
        status=TaskStatus.CANCELLED, cancelled_at=now, note=note
    )
    DunningNotice.objects.filter(pk=case.pk).update(case_status=Case.DISCONNECTED)
    audit_record(
        actor=Actor(channel=Channel.SYSTEM),
        action="collections.reconnect_cancel",
        obj=case,
        unit_id=case.unit_id,
        changes={
            "account_id": account_id,
            "case_status": [Case.RECONNECTING, Case.DISCONNECTED],
            "tasks": cancelled,
            "arrears": str(owed),
            "reason": note,
        },
    )


# ---------------------------------------------------------------- tasks: approval and execution


def _lock_task(task: CollectionTask) -> CollectionTask:
    """The account first, then the task: the same order as payments and the daily run (no deadlock)."""
    Account.objects.select_for_update().filter(pk=task.account_id).values_list("pk").first()
    return CollectionTask.objects.select_for_update().select_related("account").get(pk=task.pk)


def _reason(value, field: str, message: str, *, required: bool = True) -> str:
    text = ("" if value is None else str(value)).strip()
    if "\x00" in text or len(text) > 500 or (required and not text):
        raise ValidationError({field: [message]})
    return text


@transaction.atomic
def collection_task_approve(
    *, actor: Actor, task: CollectionTask, now: datetime | None = None
) -> CollectionTask:
    """A manager (DISCONNECT_APPROVE, the task's unit) approves the disconnection of an important customer or
    a protected account: the task becomes open for the field staff."""
    task = _lock_task(task)
    require_object(actor, task, Perm.DISCONNECT_APPROVE)
    if actor.user is None:
        raise PermissionDenied
    if task.status != TaskStatus.AWAITING_APPROVAL:
        raise ValidationError({"status": [_("该任务不在待审批状态")]})
    now = now or timezone.now()
    task.status, task.decided_by, task.decided_at = TaskStatus.OPEN, actor.user, now
    task.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="collections.task_approve",
        obj=task,
        unit_id=task.unit_id,
        customer_id=task.account.customer_id,
        changes={
            "status": [TaskStatus.AWAITING_APPROVAL, TaskStatus.OPEN],
            "account": task.account.account_number,
        },
    )
    return task


@transaction.atomic
def collection_task_reject(
    *, actor: Actor, task: CollectionTask, reason: str, now: datetime | None = None
) -> CollectionTask:
    """A manager refuses the disconnection (reason required): the task and its case are closed."""
    task = _lock_task(task)
    require_object(actor, task, Perm.DISCONNECT_APPROVE)
    if actor.user is None:
        raise PermissionDenied
    reason = _reason(reason, "reason", _("请填写驳回原因（最多500字）"))
    if task.status != TaskStatus.AWAITING_APPROVAL:
        raise ValidationError({"status": [_("该任务不在待审批状态")]})
    now = now or timezone.now()
    task.status, task.decided_by, task.decided_at, task.reject_reason = (
        TaskStatus.REJECTED,
        actor.user,
        now,
        reason,
    )
    task.save(update_fields=["status", "decided_by", "decided_at", "reject_reason"])
    DunningNotice.objects.filter(pk=task.notice_id).update(case_status=Case.REJECTED, closed_at=now)
    audit_record(
        actor=actor,
        action="collections.task_reject",
        obj=task,
        unit_id=task.unit_id,
        customer_id=task.account.customer_id,
        changes={
            "status": [TaskStatus.AWAITING_APPROVAL, TaskStatus.REJECTED],
            "reason": reason,
            "account": task.account.account_number,
        },
    )
    return task


def _approval_reasons(segment: str, protected: bool) -> list[str]:
    return ([_("重要客户")] if segment == Segment.IMPORTANT else []) + ([_("保护用户")] if protected else [])


def _to_approval(task_ids: list[int], reasons: list[str]) -> None:
    """Open, unapproved disconnection tasks of an account that needs a manager's approval now: to the manager."""
    CollectionTask.objects.filter(pk__any=task_ids).update(
        status=TaskStatus.AWAITING_APPROVAL, requires_approval=True, approval_reason="、".join(reasons)[:100]
    )


def collection_task_done(
    *,
    actor: Actor,
    task: CollectionTask,
    done_at: datetime | None = None,
    note: str = "",
    now: datetime | None = None,
) -> CollectionTask:
    """Field staff (COLLECTIONS_MANAGE) record a disconnection or reconnection as done, with its time.
    A disconnection awaiting a manager's approval cannot be done. Disconnected → the case is `disconnected`
    (and if the arrears were paid meanwhile, a reconnection task follows at once); reconnected → closed.

    An unapproved disconnection of an account that is protected or important *now* (flagged after the task
    was ordered) is refused, and the task is moved to `awaiting_approval` so that a manager decides: that
    move is committed even though the call raises (ValidationError on `status`)."""
    with transaction.atomic():
        result = _task_done(actor=actor, task=task, done_at=done_at, note=note, now=now)
    if isinstance(result, CollectionTask):
        return result
    raise ValidationError(
        {"status": [_("该户现为%(r)s，停电须经经理审批：任务已转经理审批") % {"r": "、".join(result)}]}
    )


def _task_done(*, actor, task, done_at, note, now) -> CollectionTask | list[str]:
    task = _lock_task(task)
    require_object(actor, task, Perm.COLLECTIONS_MANAGE)
    now = now or timezone.now()
    done_at = done_at or now
    note = _reason(note, "note", _("备注最多200字"), required=False)[:200]
    if task.status == TaskStatus.AWAITING_APPROVAL or (task.requires_approval and task.decided_by_id is None):
        raise ValidationError({"status": [_("重要客户或保护用户停电须经经理审批后才能执行")]})
    if task.status != TaskStatus.OPEN:
        raise ValidationError(
            {"status": [_("该任务已关闭（%(s)s），不能再执行") % {"s": task.get_status_display()}]}
        )
    if task.kind == TaskKind.DISCONNECT and task.decided_by_id is None:
        # Read after the account lock (`_lock_task` loads the account afresh): protected or important since?
        reasons = _approval_reasons(task.account.customer.segment, task.account.protected)
        if reasons:
            _to_approval([task.pk], reasons)
            audit_record(
                actor=actor,
                action="collections.task_to_approval",
                obj=task,
                unit_id=task.unit_id,
                customer_id=task.account.customer_id,
                changes={
                    "status": [TaskStatus.OPEN, TaskStatus.AWAITING_APPROVAL],
                    "reason": "、".join(reasons),
                    "account": task.account.account_number,
                },
            )
            return reasons
    if timezone.is_naive(done_at):
        done_at = timezone.make_aware(done_at)
    if done_at > now + timedelta(minutes=5):
        raise ValidationError({"done_at": [_("执行时间不能晚于当前时间")]})
    if done_at < task.created_at - timedelta(days=1):
        raise ValidationError({"done_at": [_("执行时间不能早于任务生成时间")]})
    task.status, task.done_at, task.done_by, task.note = TaskStatus.DONE, done_at, actor.user, note
    task.save(update_fields=["status", "done_at", "done_by", "note"])
    new_case = Case.DISCONNECTED if task.kind == TaskKind.DISCONNECT else Case.CLOSED
    DunningNotice.objects.filter(pk=task.notice_id).update(
        case_status=new_case, closed_at=None if new_case == Case.DISCONNECTED else now
    )
    audit_record(
        actor=actor,
        action=f"collections.{task.kind}_done",
        obj=task,
        unit_id=task.unit_id,
        customer_id=task.account.customer_id,
        changes={
            "status": [TaskStatus.OPEN, TaskStatus.DONE],
            "done_at": done_at.isoformat(),
            "note": note,
            "account": task.account.account_number,
        },
    )
    if task.kind == TaskKind.DISCONNECT:
        collections_on_payment(account_id=task.account_id, now=now)  # paid while the crew was on its way
    return task


# ---------------------------------------------------------------- protected accounts (保护用户)


@transaction.atomic
def account_protection_set(*, actor: Actor, account: Account, protected: bool, reason: str = "") -> Account:
    """Flag (or unflag) an account as protected — medical equipment at home and the like — so that it is never
    disconnected without a manager's approval. CUSTOMER_EDIT of the account's unit; a reason is required to
    flag; audited."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    require_object(actor, account, Perm.CUSTOMER_EDIT)
    reason = ("" if reason is None else str(reason)).strip()
    if "\x00" in reason or len(reason) > 200:
        raise ValidationError({"reason": [_("保护原因最多200字")]})
    if protected and not reason:
        raise ValidationError({"reason": [_("设为保护用户须填写原因（如：家中有医疗设备）")]})
    before = {"protected": account.protected, "protected_reason": account.protected_reason}
    account.protected, account.protected_reason = bool(protected), reason if protected else ""
    if before == {"protected": account.protected, "protected_reason": account.protected_reason}:
        return account
    account.save(update_fields=["protected", "protected_reason"])
    # An ordered, not yet approved disconnection of an account flagged now goes to the manager at once.
    moved = (
        list(
            CollectionTask.objects.filter(
                account=account, kind=TaskKind.DISCONNECT, status=TaskStatus.OPEN, decided_by__isnull=True
            ).values_list("pk", flat=True)
        )
        if account.protected
        else []
    )
    if moved:
        segment = account.customer.segment
        _to_approval(moved, _approval_reasons(segment, True))
    audit_record(
        actor=actor,
        action="account.protection",
        obj=account,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={
            "account_number": account.account_number,
            "protected": [before["protected"], account.protected],
            "protected_reason": [before["protected_reason"], account.protected_reason],
            **({"tasks_to_approval": moved} if moved else {}),
        },
    )
    return account


def dunning_days(
    *, start: date, end: date, actor: Actor | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Run the daily job for each day from `start` to `end` (inclusive); the summed counts (demo, catch-up).

    `now` (default the real time) is the clock: no day may be after its date; the run of its date happens at
    `now`, each earlier day's at 08:00 of that day (as `collections_run` does for a past day)."""
    clock = now or timezone.now()
    _check_day(start, timezone.localdate(clock))
    _check_day(end, timezone.localdate(clock))  # refused before any day is run: nothing half-done
    total: dict[str, int] = {}
    day = start
    while day <= end:
        at = clock if day == timezone.localdate(clock) else _local_dt(day, time(8, 0))
        for k, v in collections_run(today=day, actor=actor, now=at).items():
            total[k] = total.get(k, 0) + v
        day += timedelta(days=1)
    return total


def protected_reason_shown(*, actor: Actor, account: Account) -> str:
    """The protection reason (medical information, 家中有呼吸机…) as `actor` may read it: whole for a
    customer.view_pii role — an unmasked view of personal data, audited (one customer.view_pii row) — and
    "" for everyone else."""
    if not account.protected_reason or not has_perm(actor.user, Perm.CUSTOMER_VIEW_PII):
        return ""
    pii_view_record(
        actor=actor,
        source=f"{actor.channel}.collections_account",
        object_type="customers.account",
        object_ids=[account.account_number],
        customer_ids=[account.customer_id],
        unit_id=account.unit_id,
    )
    return account.protected_reason
