"""Self-service terminal monitoring (issue 16 §7): heartbeats, levels and faults, transactions, ID-card reads,
offline detection, availability and maintenance tasks. The terminal registry itself (`payments.Terminal`, its
Ed25519 keys and the signed API) lives in `payments.channels`; this module keeps what a hall manager watches.

Rules (decisions where the issue is silent):
- **Offline**: a terminal is offline when more than 5 minutes have passed since its last heartbeat (exactly 5:00
  is still online; 5:01 is offline) — `is_offline`, one pure function. The job `hall.terminals_sweep` (every
  minute) turns online terminals offline set-based (a TerminalEvent `offline` and a MaintenanceTask `offline`
  each); the next heartbeat writes `online`.
- **Online time**: each heartbeat adds the gap since the previous heartbeat when that gap is at most 5 minutes
  (a longer gap was an outage), counting only the part inside the hall's opening hours (its weekdays and
  [opens_at, closes_at), less its closure days), split by China day into TerminalDay.online_seconds. A terminal
  without a hall counts the whole gap. The first heartbeat after an outage counts nothing.
- **Availability** of a month = online minutes ÷ the hall's opening minutes (`opening.opening_minutes`) of that
  month, in per cent to two places; for the running month the opening minutes run up to `now`. None when the
  hall opens no minute in the period or the terminal stands in no hall.
- **Alerts**: offline, cash box ≥ 80 %, paper low, printer fault, bill-acceptor fault. Each turning on writes a
  TerminalEvent and opens a MaintenanceTask (one open task per terminal and fault, the partial unique
  constraint); turning off writes `fault_cleared`. A task stays open until staff close it (`hall.manage`,
  audited `hall.maintenance_close`): the repair is theirs to confirm, and the page shows the current state
  beside it. A fault that comes back while its task is open opens no second task.
- **Transactions** are counted once per (terminal, terminal_txn_id): a retry answers the same, the same id with
  another kind or amount is refused (422), as terminal payments are.
- **ID-card reads** (`terminal_id_read`): the number is validated (GB 11643), the customer's accounts in the
  terminal's unit subtree are found by the ID number (stored as entered on the customer, as the console's search
  finds it), answered with the name and address masked; the read is counted, logged as a TerminalEvent with the
  number masked, and — when accounts were shown — audited as a `customer.view_pii` (source `terminal.id_read`).
Heartbeats and transactions are machine traffic: their trail is the TerminalEvent log (state changes, not every
beat), not an AuditEvent per request; staff writes (closing a task, placing a terminal in a hall) are audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record, pii_view_record
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_address, mask_customer_name, mask_id_number, mask_name
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import require_unit, restrict
from gridcare.customers.models import Account
from gridcare.org.models import ServiceHall
from gridcare.payments.models import Terminal

from .choices import TaskStatus, TerminalEventKind, TerminalFault
from .idcard import IdCardReader
from .models import HallClosure, HallProfile, MaintenanceTask, TerminalDay, TerminalEvent, TerminalState
from .opening import CHINA, china_day, is_open_day, opening_minutes

OFFLINE_AFTER = timedelta(minutes=5)
CASH_BOX_ALERT_PERCENT = 80
TXN_RE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
AMOUNT_RE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
TXN_KINDS = ("payment", "bill_query", "invoice_print", "other")
ID_READ_MAX_ACCOUNTS = 20
EVENTS_SHOWN = 200

# The device flags a heartbeat carries: flag → (the fault of its task, the event kind turning it on).
FLAGS = {
    "printer_fault": (TerminalFault.PRINTER, TerminalEventKind.PRINTER_FAULT),
    "acceptor_fault": (TerminalFault.ACCEPTOR, TerminalEventKind.ACCEPTOR_FAULT),
    "paper_low": (TerminalFault.PAPER, TerminalEventKind.PAPER_LOW),
}


def _err(field_name: str, message: str) -> ValidationError:
    return ValidationError({field_name: [message]})


# ---------------------------------------------------------------- pure rules


def is_offline(last_heartbeat_at: datetime | None, now: datetime) -> bool:
    """Offline after more than 5 minutes without a heartbeat (exactly 5:00 is online); never heard of: offline."""
    return last_heartbeat_at is None or now - last_heartbeat_at > OFFLINE_AFTER


@dataclass(frozen=True)
class Opening:
    """A hall's opening hours as plain values (None for a terminal outside a hall: always counted)."""

    opens_at: time
    closes_at: time
    open_weekdays: str
    closed_days: frozenset[date] = field(default_factory=frozenset)


def online_seconds_by_day(prev: datetime | None, now: datetime, opening: Opening | None) -> dict[date, int]:
    """Seconds of the gap (prev, now] a heartbeat at `now` adds, by China day: nothing when there is no previous
    heartbeat or the gap exceeds 5 minutes (or is not positive); only the part within the opening hours."""
    if prev is None or not timedelta(0) < now - prev <= OFFLINE_AFTER:
        return {}
    start, end = prev.astimezone(CHINA), now.astimezone(CHINA)
    out: dict[date, int] = {}
    day = start.date()
    while day <= end.date():
        if opening is None:
            lo = datetime.combine(day, time(0), tzinfo=CHINA)
            hi = lo + timedelta(days=1)
        elif is_open_day(opening.open_weekdays, opening.closed_days, day):
            lo = datetime.combine(day, opening.opens_at, tzinfo=CHINA)
            hi = datetime.combine(day, opening.closes_at, tzinfo=CHINA)
        else:
            day += timedelta(days=1)
            continue
        seconds = int((min(end, hi) - max(start, lo)).total_seconds())
        if seconds > 0:
            out[day] = out.get(day, 0) + seconds
        day += timedelta(days=1)
    return out


def availability_percent(online_seconds: int, opening_minutes_total: int) -> Decimal | None:
    """Online minutes ÷ opening minutes, in per cent to two places (at most 100); None without opening minutes."""
    if opening_minutes_total <= 0:
        return None
    pct = Decimal(online_seconds) / Decimal(60 * opening_minutes_total) * 100
    return min(pct, Decimal(100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def opening_minutes_until(opening: Opening, first: date, last: date, now: datetime | None) -> int:
    """The opening minutes of [first, last], cut at `now` when `now` falls in it (the running month)."""
    if now is None or china_day(now) > last:
        return opening_minutes(
            opens_at=opening.opens_at,
            closes_at=opening.closes_at,
            open_weekdays=opening.open_weekdays,
            closed_days=opening.closed_days,
            first=first,
            last=last,
        )
    today = china_day(now)
    if today < first:
        return 0
    total = 0
    if today > first:
        total = opening_minutes(
            opens_at=opening.opens_at,
            closes_at=opening.closes_at,
            open_weekdays=opening.open_weekdays,
            closed_days=opening.closed_days,
            first=first,
            last=today - timedelta(days=1),
        )
    if (
        is_open_day(opening.open_weekdays, opening.closed_days, today)
        and opening.closes_at > opening.opens_at
    ):
        lo = datetime.combine(today, opening.opens_at, tzinfo=CHINA)
        hi = datetime.combine(today, opening.closes_at, tzinfo=CHINA)
        total += max(0, int((min(now.astimezone(CHINA), hi) - lo).total_seconds()) // 60)
    return total


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)


def alerts_of(state: TerminalState | None, now: datetime) -> list[str]:
    """The alert codes of a terminal's state (TerminalFault values), offline first."""
    if state is None:
        return [TerminalFault.OFFLINE]
    out = []
    if is_offline(state.last_heartbeat_at, now):
        out.append(TerminalFault.OFFLINE)
    if state.cash_box_percent is not None and state.cash_box_percent >= CASH_BOX_ALERT_PERCENT:
        out.append(TerminalFault.CASH_BOX)
    if state.paper_low:
        out.append(TerminalFault.PAPER)
    if state.printer_fault:
        out.append(TerminalFault.PRINTER)
    if state.acceptor_fault:
        out.append(TerminalFault.ACCEPTOR)
    return out


# ---------------------------------------------------------------- helpers


def hall_opening(hall: ServiceHall | None, first: date, last: date) -> Opening | None:
    if hall is None:
        return None
    profile = HallProfile.objects.filter(hall=hall).first() or HallProfile(hall=hall)
    closed = frozenset(
        HallClosure.objects.filter(hall=hall, day__range=(first, last)).values_list("day", flat=True)
    )
    return Opening(profile.opens_at, profile.closes_at, profile.open_weekdays, closed)


def _state_locked(terminal: Terminal) -> TerminalState:
    """The terminal's state row, created when missing, locked for this transaction (one writer per terminal)."""
    TerminalState.objects.get_or_create(terminal=terminal)
    return TerminalState.objects.select_for_update().get(terminal=terminal)


def _day_add(terminal_id: int, day: date, **increments: int) -> None:
    """Add to the terminal's day counters atomically (created on first use; a concurrent create is retried)."""
    updates = {k: F(k) + v for k, v in increments.items() if v}
    if not updates:
        return
    if TerminalDay.objects.filter(terminal_id=terminal_id, day=day).update(**updates):
        return
    try:
        with transaction.atomic():
            TerminalDay.objects.create(terminal_id=terminal_id, day=day, **increments)
    except IntegrityError:
        TerminalDay.objects.filter(terminal_id=terminal_id, day=day).update(**updates)


def _event(terminal: Terminal, event_kind: str, at: datetime, /, **detail: Any) -> TerminalEvent:
    return TerminalEvent.objects.create(terminal=terminal, kind=event_kind, at=at, detail=detail)


def _task_open(terminal: Terminal, fault: str, now: datetime) -> bool:
    """Open a maintenance task for the fault unless one is open (the partial unique constraint holds it)."""
    if MaintenanceTask.objects.filter(terminal=terminal, fault=fault, status=TaskStatus.OPEN).exists():
        return False
    try:
        with transaction.atomic():
            MaintenanceTask.objects.create(terminal=terminal, fault=fault, opened_at=now)
    except IntegrityError:
        return False
    return True


def _flag(value: Any, name: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    raise _err(name, _("必须为 true 或 false"))


# ---------------------------------------------------------------- the terminal's writes


@transaction.atomic
def terminal_heartbeat(
    *,
    terminal: Terminal,
    cash_box_percent: Any = None,
    paper_low: Any = None,
    printer_fault: Any = None,
    acceptor_fault: Any = None,
    now: datetime | None = None,
) -> TerminalState:
    """Record a heartbeat with what it reports (an omitted level or flag keeps its last value). See the module
    docstring for the online-time rule, the alerts and the tasks. Bad values: ValidationError, nothing written."""
    now = now or timezone.now()
    if cash_box_percent is not None and (
        isinstance(cash_box_percent, bool)
        or not isinstance(cash_box_percent, int)
        or not 0 <= cash_box_percent <= 100
    ):
        raise _err("cash_box_percent", _("钱箱占用须为 0 至 100 的整数"))
    flags = {
        name: _flag(value, name)
        for name, value in (
            ("printer_fault", printer_fault),
            ("acceptor_fault", acceptor_fault),
            ("paper_low", paper_low),
        )
    }
    state = _state_locked(terminal)
    prev = state.last_heartbeat_at
    day = china_day(now)
    first = min(day, china_day(prev)) if prev is not None else day
    for d, seconds in online_seconds_by_day(prev, now, hall_opening(terminal.hall, first, day)).items():
        _day_add(terminal.pk, d, online_seconds=seconds)
    if state.online and prev is not None and is_offline(prev, now):
        # Silent for more than 5 minutes and back before the sweep saw it: the outage is recorded all the same.
        _event(terminal, TerminalEventKind.OFFLINE, prev + OFFLINE_AFTER, last_heartbeat_at=prev.isoformat())
        if terminal.enabled:
            _task_open(terminal, TerminalFault.OFFLINE, now)
    if not state.online or is_offline(prev, now):
        _event(terminal, TerminalEventKind.ONLINE, now, last_heartbeat_at=prev.isoformat() if prev else None)
    for name, value in flags.items():
        if value is None or value == getattr(state, name):
            continue
        fault, kind = FLAGS[name]
        if value:
            _event(terminal, kind, now)
            _task_open(terminal, fault, now)
        else:
            _event(terminal, TerminalEventKind.FAULT_CLEARED, now, fault=str(fault))
        setattr(state, name, value)
    if cash_box_percent is not None:
        was = state.cash_box_percent is not None and state.cash_box_percent >= CASH_BOX_ALERT_PERCENT
        full = cash_box_percent >= CASH_BOX_ALERT_PERCENT
        if full and not was:
            _event(terminal, TerminalEventKind.CASH_BOX, now, percent=cash_box_percent)
            _task_open(terminal, TerminalFault.CASH_BOX, now)
        elif was and not full:
            _event(terminal, TerminalEventKind.FAULT_CLEARED, now, fault=str(TerminalFault.CASH_BOX))
        state.cash_box_percent = cash_box_percent
    state.online = True
    state.last_heartbeat_at = max(prev, now) if prev is not None else now
    state.updated_at = now
    state.save()
    return state


@transaction.atomic
def terminal_transaction_record(
    *, terminal: Terminal, kind: Any, terminal_txn_id: Any, amount: Any = None, now: datetime | None = None
) -> tuple[dict[str, Any], bool]:
    """Count a terminal transaction once per terminal_txn_id: (the answer, whether this call recorded it). The
    same id again answers the same; with another kind or amount it is refused on `terminal_txn_id`."""
    now = now or timezone.now()
    errs: dict[str, list[str]] = {}
    kind = str(kind or "")
    txn = str(terminal_txn_id or "").strip()
    if kind not in TXN_KINDS:
        errs["kind"] = [_("交易类型须为 %(k)s 之一") % {"k": "、".join(TXN_KINDS)}]
    if not TXN_RE.fullmatch(txn):
        errs["terminal_txn_id"] = [_("终端流水号只能是1–40位字母、数字、-、_、.")]
    value: Decimal | None = None
    if amount is not None and str(amount).strip() != "":
        raw = str(amount).strip()
        try:
            value = Decimal(raw) if AMOUNT_RE.fullmatch(raw) else None
        except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
            value = None
        if value is None:
            errs["amount"] = [_("金额须为不超过两位小数的非负数（元）")]
    if errs:
        raise ValidationError(errs)
    amount_text = f"{value:.2f}" if value is not None else None
    _state_locked(terminal)  # one writer per terminal: two retries of one transaction cannot both count
    seen = (
        TerminalEvent.objects.filter(
            terminal=terminal, kind=TerminalEventKind.TRANSACTION, detail__terminal_txn_id=txn
        )
        .order_by("id")
        .first()
    )
    if seen is not None:
        if seen.detail.get("kind") != kind or seen.detail.get("amount") != amount_text:
            raise _err("terminal_txn_id", _("该终端流水号已记录为另一笔交易：%(t)s") % {"t": txn})
        return _txn_answer(seen), False
    event = _event(
        terminal, TerminalEventKind.TRANSACTION, now, terminal_txn_id=txn, kind=kind, amount=amount_text
    )
    _day_add(terminal.pk, china_day(now), transactions=1)
    return _txn_answer(event), True


def _txn_answer(event: TerminalEvent) -> dict[str, Any]:
    return {
        "terminal_txn_id": event.detail["terminal_txn_id"],
        "kind": event.detail["kind"],
        "amount": event.detail.get("amount"),
        "recorded_at": event.at,
    }


@transaction.atomic
def terminal_id_read(
    *, terminal: Terminal, reader: IdCardReader, ip: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The customer's accounts (in the terminal's unit subtree) for the card on `reader`, masked for the
    screen; counts the read, logs it (masked) and audits the personal data shown. ValidationError naming the
    field for a bad card (nothing written); on `id_number` as well when the reader holds no card."""
    now = now or timezone.now()
    card = reader.read()
    if card is None:
        raise _err("id_number", _("读卡器上没有身份证"))
    accounts = list(
        Account.objects.select_related("customer", "premise", "unit")
        .filter(customer__id_number=card.id_number, unit__path__startswith=terminal.unit.path)
        .order_by("account_number")[:ID_READ_MAX_ACCOUNTS]
    )
    _day_add(terminal.pk, china_day(now), id_reads=1)
    _event(
        terminal,
        TerminalEventKind.ID_READ,
        now,
        id_number=mask_id_number(card.id_number),
        name=mask_name(card.name),
        accounts=len(accounts),
    )
    if accounts:
        pii_view_record(
            actor=Actor(user=None, channel=Channel.API, ip=ip),
            source=f"terminal.id_read:{terminal.code}",
            object_type="customers.account",
            object_ids=[a.pk for a in accounts],
            customer_ids=[a.customer_id for a in accounts],
            unit_id=terminal.unit_id,
        )
    else:
        # The reader still handled a citizen's card: the read is audited even when it matched no account.
        audit_record(
            actor=Actor(user=None, channel=Channel.API, ip=ip),
            action="hall.id_read",
            object_type="payments.terminal",
            object_id=terminal.pk,
            unit_id=terminal.unit_id,
            changes={"terminal": terminal.code, "id_number": mask_id_number(card.id_number)},
        )
    return {
        "name": mask_name(card.name),
        "id_number": mask_id_number(card.id_number),
        "accounts": [
            {
                "account_number": a.account_number,
                "name": mask_customer_name(a.customer.name, a.customer.kind),
                "address": mask_address(a.premise.address),
                "supply_unit": a.unit.name,
            }
            for a in accounts
        ],
    }


# ---------------------------------------------------------------- the offline sweep (job hall.terminals_sweep)


def terminals_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Turn every online terminal whose last heartbeat is more than 5 minutes old offline: one `offline` event
    each and an `offline` maintenance task (enabled terminals; none when one is open). Set-based; running it
    again at the same instant changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            TerminalState.objects.select_for_update()
            .filter(online=True, last_heartbeat_at__lt=now - OFFLINE_AFTER)
            .values_list("terminal_id", "last_heartbeat_at", "terminal__enabled")
        )
        if not stale:
            return {"offline": 0, "tasks": 0}
        ids = [t for t, _at, _en in stale]
        TerminalState.objects.filter(terminal_id__in=ids).update(online=False, updated_at=now)
        TerminalEvent.objects.bulk_create(
            TerminalEvent(
                terminal_id=t,
                kind=TerminalEventKind.OFFLINE,
                at=now,
                detail={"last_heartbeat_at": at.isoformat()},
            )
            for t, at, _en in stale
        )
        already = set(
            MaintenanceTask.objects.filter(
                terminal_id__in=ids, fault=TerminalFault.OFFLINE, status=TaskStatus.OPEN
            ).values_list("terminal_id", flat=True)
        )
        new = [
            MaintenanceTask(terminal_id=t, fault=TerminalFault.OFFLINE, opened_at=now)
            for t, _at, enabled in stale
            if enabled and t not in already
        ]
        MaintenanceTask.objects.bulk_create(new, ignore_conflicts=True)
        result = {"offline": len(ids), "tasks": len(new)}
        audit_record(actor=Actor(channel=Channel.JOB), action="hall.terminals_sweep", changes=result)
    return result


# ---------------------------------------------------------------- staff writes


def monitor_perm(user) -> str:
    return Perm.HALL_MANAGE if has_perm(user, Perm.HALL_MANAGE) else Perm.HALL_REPORT


@transaction.atomic
def maintenance_task_close(
    *, actor: Actor, task: MaintenanceTask, note: str = "", now: datetime | None = None
) -> MaintenanceTask:
    """Close an open maintenance task (hall.manage on the terminal's unit), with an optional note; audited
    `hall.maintenance_close`. A closed task is refused on `status`."""
    now = now or timezone.now()
    task = MaintenanceTask.objects.select_for_update().select_related("terminal").get(pk=task.pk)
    require_unit(actor, task.terminal.unit_id, Perm.HALL_MANAGE)
    note = str(note or "").strip()
    if len(note) > 500:
        raise _err("note", _("处理说明最多 500 个字符"))
    if task.status != TaskStatus.OPEN:
        raise _err("status", _("该维护任务已处理"))
    task.status = TaskStatus.DONE
    task.closed_at = now
    task.closed_by = actor.user
    task.note = note
    task.save(update_fields=["status", "closed_at", "closed_by", "note"])
    audit_record(
        actor=actor,
        action="hall.maintenance_close",
        obj=task,
        unit_id=task.terminal.unit_id,
        changes={"terminal": task.terminal.code, "fault": task.fault, "note": note},
    )
    return task


def halls_for_terminal(terminal: Terminal) -> QuerySet[ServiceHall]:
    """The halls a terminal may stand in: those of its unit's subtree."""
    return ServiceHall.objects.filter(unit__path__startswith=terminal.unit.path).order_by("code")


@transaction.atomic
def terminal_hall_set(*, actor: Actor, terminal: Terminal, hall_id: Any) -> Terminal:
    """Place the terminal in a hall of its unit's subtree (or in none: empty); hall.manage on the terminal's
    unit; audited `hall.terminal_hall_set`. Another hall is refused on `hall`."""
    require_unit(actor, terminal.unit_id, Perm.HALL_MANAGE)
    hall = None
    if hall_id not in (None, ""):
        pk = _pk(hall_id)
        hall = halls_for_terminal(terminal).filter(pk=pk).first() if pk is not None else None
        if hall is None:
            raise _err("hall", _("请选择终端所属单位辖区内的营业厅"))
    old = terminal.hall_id
    if old == (hall.pk if hall else None):
        return terminal
    Terminal.objects.filter(pk=terminal.pk).update(hall=hall)
    terminal.hall = hall
    audit_record(
        actor=actor,
        action="hall.terminal_hall_set",
        obj=terminal,
        unit_id=terminal.unit_id,
        changes={"hall": [old, hall.pk if hall else None]},
    )
    return terminal


# ---------------------------------------------------------------- reads (scoped by the terminal's unit subtree)


def terminals_for(user) -> QuerySet[Terminal]:
    """Terminals of the user's unit subtree under hall.manage or hall.report (none otherwise)."""
    return restrict(
        Terminal.objects.select_related("unit", "hall", "state").order_by("code"), user, monitor_perm(user)
    )


def _pk(value) -> int | None:
    """A primary key from a path or form value; None for anything a database id column cannot hold."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk < 2**63 else None


def terminal_for(user, pk) -> Terminal | None:
    pk = _pk(pk)
    return terminals_for(user).filter(pk=pk).first() if pk is not None else None


def task_for(user, pk) -> MaintenanceTask | None:
    """An open or closed task of a terminal the user may manage (hall.manage), else None."""
    pk = _pk(pk)
    if pk is None:
        return None
    qs = restrict(
        MaintenanceTask.objects.select_related("terminal"),
        user,
        Perm.HALL_MANAGE,
        unit_field="terminal__unit_id",
    )
    return qs.filter(pk=pk).first()


def open_tasks_for(user, *, hall_id: int | None = None) -> QuerySet[MaintenanceTask]:
    qs = restrict(
        MaintenanceTask.objects.select_related("terminal", "terminal__hall").filter(status=TaskStatus.OPEN),
        user,
        monitor_perm(user),
        unit_field="terminal__unit_id",
    )
    if hall_id:
        qs = qs.filter(terminal__hall_id=hall_id)
    return qs.order_by("opened_at", "id")


def events_for(terminal: Terminal, *, limit: int = EVENTS_SHOWN) -> list[TerminalEvent]:
    return list(TerminalEvent.objects.filter(terminal=terminal).order_by("-at", "-id")[:limit])


@dataclass
class MonitorRow:
    terminal: Terminal
    online: bool
    last_heartbeat_at: datetime | None
    cash_box_percent: int | None
    alerts: list[str]
    transactions_today: int
    transactions_month: int
    id_reads_today: int
    id_reads_month: int
    online_minutes_month: int
    opening_minutes_month: int | None
    availability: Decimal | None
    open_tasks: int


def monitor_rows(
    terminals: QuerySet[Terminal], *, now: datetime, month: date | None = None
) -> list[MonitorRow]:
    """One row per terminal: state, alerts, usage today and in the month, availability of the month (to `now`
    for the running month). A bounded number of queries whatever the number of terminals."""
    today = china_day(now)
    first, last = month_bounds(month or today)
    terms = list(terminals)
    ids = [t.pk for t in terms]
    days = TerminalDay.objects.filter(terminal_id__in=ids, day__range=(first, last))
    month_sums = {
        r["terminal_id"]: r
        for r in days.values("terminal_id").annotate(
            s=Sum("online_seconds"), tx=Sum("transactions"), ids=Sum("id_reads")
        )
    }
    today_rows = {
        r["terminal_id"]: r
        for r in TerminalDay.objects.filter(terminal_id__in=ids, day=today).values(
            "terminal_id", "transactions", "id_reads"
        )
    }
    hall_ids = {t.hall_id for t in terms if t.hall_id}
    profiles = {p.hall_id: p for p in HallProfile.objects.filter(hall_id__in=hall_ids)}
    closures: dict[int, set[date]] = {}
    for hid, d in HallClosure.objects.filter(hall_id__in=hall_ids, day__range=(first, last)).values_list(
        "hall_id", "day"
    ):
        closures.setdefault(hid, set()).add(d)
    tasks: dict[int, int] = {}
    for tid in MaintenanceTask.objects.filter(terminal_id__in=ids, status=TaskStatus.OPEN).values_list(
        "terminal_id", flat=True
    ):
        tasks[tid] = tasks.get(tid, 0) + 1
    opening_cache: dict[int, int] = {}
    rows = []
    for t in terms:
        state = t.state if _has_state(t) else None
        m = month_sums.get(t.pk, {})
        d = today_rows.get(t.pk, {})
        online_seconds = m.get("s") or 0
        minutes = None
        if t.hall_id:
            if t.hall_id not in opening_cache:
                p = profiles.get(t.hall_id) or HallProfile()
                opening = Opening(
                    p.opens_at, p.closes_at, p.open_weekdays, frozenset(closures.get(t.hall_id, ()))
                )
                opening_cache[t.hall_id] = opening_minutes_until(opening, first, last, now)
            minutes = opening_cache[t.hall_id]
        rows.append(
            MonitorRow(
                terminal=t,
                online=state is not None and not is_offline(state.last_heartbeat_at, now),
                last_heartbeat_at=state.last_heartbeat_at if state else None,
                cash_box_percent=state.cash_box_percent if state else None,
                alerts=alerts_of(state, now),
                transactions_today=d.get("transactions") or 0,
                transactions_month=m.get("tx") or 0,
                id_reads_today=d.get("id_reads") or 0,
                id_reads_month=m.get("ids") or 0,
                online_minutes_month=online_seconds // 60,
                opening_minutes_month=minutes,
                availability=availability_percent(online_seconds, minutes) if minutes is not None else None,
                open_tasks=tasks.get(t.pk, 0),
            )
        )
    return rows


def _has_state(terminal: Terminal) -> bool:
    try:
        terminal.state  # noqa: B018  (the reverse one-to-one, loaded by select_related)
    except TerminalState.DoesNotExist:
        return False
    return True


def terminal_availability(terminal: Terminal, *, first: date, last: date, now: datetime | None = None):
    """(online seconds, opening minutes, availability %) of a terminal over [first, last] (cut at `now`)."""
    seconds = (
        TerminalDay.objects.filter(terminal=terminal, day__range=(first, last)).aggregate(
            s=Sum("online_seconds")
        )["s"]
        or 0
    )
    opening = hall_opening(terminal.hall, first, last)
    if opening is None:
        return seconds, None, None
    minutes = opening_minutes_until(opening, first, last, now)
    return seconds, minutes, availability_percent(seconds, minutes)
