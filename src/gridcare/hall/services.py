"""Writes of the hall queue (issue 16 §1–3): issue a ticket, check in, call next (or a given ticket), recall,
start, finish, transfer, no-show, cancel; open, pause, resume and close a counter.

Each runs in one transaction and writes a `TicketEvent` (who, when, which counter) — the ticket's own audit trail;
changes of a hall's set-up (profile, counters, devices) write `AuditEvent` rows (their own modules). Every function
takes `now` so tests inject the clock. Refusals raise `ValidationError` {field: [message]} (422 / a form error) or
`PermissionDenied` (answered like a missing object).

Two counters calling at once never get the same ticket: the claim is one conditional UPDATE
(`… WHERE id = %s AND status = 'waiting'`), which on PostgreSQL waits for a competing claim of the same row and then
finds it taken; the loser moves on to the next ticket in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm
from gridcare.core.scoping import require_unit
from gridcare.core.validators import MOBILE_RE, validate_id_number

from . import priority
from .choices import OPEN_TICKET, CounterState, PriorityReason, TicketSource, TicketStatus, TicketStep
from .models import (
    Category,
    CounterSession,
    CounterSetup,
    HallCategory,
    HallClosure,
    HallProfile,
    Ticket,
    TicketEvent,
    TicketSequence,
)
from .opening import CHINA, china_day, is_open_at

# How many tickets of each line's head a call reads; a call that loses every one of them to other counters
# reads again.
HEAD = 6


def _err(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _user(actor: Actor | None):
    user = getattr(actor, "user", None)
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _event(ticket: Ticket, kind: str, now: datetime, *, counter=None, actor=None, **detail) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket, kind=kind, at=now, counter=counter, actor=_user(actor), detail=detail
    )


# ---------------------------------------------------------------- profile, opening


def hall_profile(hall) -> HallProfile:
    """The hall's profile, created with the issue's defaults the first time it is asked for."""
    profile = getattr(hall, "_hall_profile", None)
    if profile is None:
        try:
            profile = hall.profile  # no query when the hall was read with select_related("profile")
        except HallProfile.DoesNotExist:
            profile, _created = HallProfile.objects.get_or_create(hall=hall)
        hall._hall_profile = profile
    return profile


def closed_days(hall, first: date, last: date) -> frozenset[date]:
    return frozenset(
        HallClosure.objects.filter(hall=hall, day__range=(first, last)).values_list("day", flat=True)
    )


def hall_is_open(hall, at: datetime) -> bool:
    p = hall_profile(hall)
    day = china_day(at)
    return is_open_at(
        opens_at=p.opens_at,
        closes_at=p.closes_at,
        open_weekdays=p.open_weekdays,
        closed_days=closed_days(hall, day, day),
        accepting=p.accepting,
        at=at,
    )


def offered_category(hall, code_or_category) -> Category:
    """The active category the hall offers (by code, or a Category); ValidationError on `category` otherwise."""
    if isinstance(code_or_category, Category):
        category = code_or_category
    else:
        category = Category.objects.filter(code=str(code_or_category or "")[:24], active=True).first()
    if (
        category is None
        or not category.active
        or not HallCategory.objects.filter(hall=hall, category=category).exists()
    ):
        raise _err("category", _("该营业厅没有此业务类别：%(c)s") % {"c": str(code_or_category or "")[:24]})
    return category


# ---------------------------------------------------------------- tickets


def birth_date_of(id_number: str) -> date:
    v = validate_id_number(id_number)
    return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def is_elderly(id_number: str, *, day: date, elderly_age: int) -> bool:
    """65 and over (the hall's configurable age) on `day`, by the birth date in a resident ID number."""
    try:
        born = birth_date_of(id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from None
    return age_on(born, day) >= elderly_age


def _next_seq(hall, category: Category, day: date) -> int:
    seq, _created = TicketSequence.objects.select_for_update().get_or_create(
        hall=hall, category=category, day=day
    )
    TicketSequence.objects.filter(pk=seq.pk).update(last=F("last") + 1)
    return TicketSequence.objects.values_list("last", flat=True).get(pk=seq.pk)


def mobile_of(user) -> str:
    """A portal customer's mobile number: their phone, else their login when it is one ('' when neither)."""
    for v in (getattr(user, "phone", "") or "", user.get_username() or ""):
        if MOBILE_RE.match(v.strip()):
            return v.strip()
    return ""


def ticket_number(letter: str, seq: int) -> str:
    """A001 … A999, then A1000 (four digits after 999)."""
    return f"{letter}{seq:03d}"


def ticket_issue(
    *,
    hall,
    category,
    source: str,
    actor: Actor | None = None,
    now: datetime | None = None,
    phone: str = "",
    priority_reason: str = "",
    id_number: str = "",
    account=None,
    portal_user=None,
) -> Ticket:
    """Issue a ticket for `category` (a code or a Category) at `hall`.

    - The hall must be open now and offer the category.
    - `priority_reason` is the greeter's flag (elderly, disabled, vip) or `appointment` (set by the appointment
      check-in); an `id_number` read or typed makes the ticket an elderly one when its holder is 65 or over (the
      hall's age) today. The ID number itself is not stored.
    - A portal (remote) ticket needs a mobile number, has one live ticket per phone, and is not checked in until
      the customer arrives."""
    now = now or timezone.now()
    if source not in TicketSource.values:
        raise _err("source", _("未知的取号渠道：%(s)s") % {"s": source})
    if priority_reason not in PriorityReason.values:
        raise _err("priority_reason", _("未知的优先原因：%(r)s") % {"r": priority_reason})
    if not hall_is_open(hall, now):
        raise _err("hall", _("营业厅当前不在营业时间，不能取号"))
    category = offered_category(hall, category)
    profile = hall_profile(hall)
    phone = (phone or "").strip()
    if phone and not MOBILE_RE.match(phone):
        raise _err("phone", _("手机号格式不正确"))
    if source == TicketSource.PORTAL and portal_user is not None:
        # A remote ticket goes to the customer's own mobile number (the one they log in with or gave), so one
        # account cannot hold places under other people's numbers nor send them SMS.
        own = mobile_of(portal_user)
        if phone and phone != own:
            raise _err("phone", _("远程取号只能使用您账户的手机号"))
        phone = own
    if source == TicketSource.PORTAL and not phone:
        raise _err("phone", _("远程取号须留手机号，到号前短信提醒"))
    if id_number and not priority_reason:
        if is_elderly(id_number, day=china_day(now), elderly_age=profile.elderly_age):
            priority_reason = PriorityReason.ELDERLY
    elif id_number:
        is_elderly(id_number, day=china_day(now), elderly_age=profile.elderly_age)  # still validated
    remote = source == TicketSource.PORTAL
    try:
        with transaction.atomic():
            live = Q(phone=phone)
            if portal_user is not None:
                live |= Q(portal_user=portal_user)
            if (
                remote
                and Ticket.objects.filter(live, source=TicketSource.PORTAL, status__in=OPEN_TICKET).exists()
            ):
                raise _err("phone", _("该手机号已有一张未办结的远程取号，请先办理或取消"))
            day = china_day(now)
            seq = _next_seq(hall, category, day)
            ticket = Ticket.objects.create(
                hall=hall,
                category=category,
                day=day,
                seq=seq,
                number=ticket_number(category.letter, seq),
                source=source,
                priority_reason=priority_reason,
                issued_at=now,
                queue_at=now,
                checked_in_at=None if remote else now,
                phone=phone,
                account=account,
                portal_user=portal_user,
            )
            _event(ticket, TicketStep.ISSUED, now, actor=actor, source=source, priority=priority_reason)
            if remote:
                from . import callahead

                callahead.after_issue(ticket=ticket, profile=profile, now=now)
    except IntegrityError:
        raise _err("phone", _("该手机号已有一张未办结的远程取号，请先办理或取消")) from None
    return ticket


def ticket_check_in(*, ticket: Ticket, actor: Actor | None = None, now: datetime | None = None) -> Ticket:
    """A remote ticket's holder arrives (kiosk or greeter): the ticket keeps its place and may now be called."""
    now = now or timezone.now()
    with transaction.atomic():
        t = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if t.status != TicketStatus.WAITING:
            raise _err(
                "ticket", _("号码 %(n)s 已%(s)s，不能签到") % {"n": t.number, "s": t.get_status_display()}
            )
        if t.checked_in_at is not None:
            raise _err("ticket", _("号码 %(n)s 已签到") % {"n": t.number})
        limit = timedelta(minutes=hall_profile(t.hall).remote_checkin_minutes)
        if t.remote_called_at is not None and now - t.remote_called_at > limit:
            raise _err("ticket", _("号码 %(n)s 到号后超过签到时限，已失效，请重新取号") % {"n": t.number})
        if not hall_is_open(t.hall, now):
            raise _err("hall", _("营业厅当前不在营业时间"))
        t.checked_in_at = now
        t.save(update_fields=["checked_in_at"])
        _event(t, TicketStep.CHECKED_IN, now, actor=actor)
    return t


def ticket_cancel(*, ticket: Ticket, actor: Actor | None = None, now: datetime | None = None) -> Ticket:
    """The holder gives up a waiting ticket (a remote ticket from the portal)."""
    now = now or timezone.now()
    with transaction.atomic():
        n = Ticket.objects.filter(pk=ticket.pk, status=TicketStatus.WAITING).update(
            status=TicketStatus.CANCELLED, closed_at=now
        )
        if not n:
            raise _err("ticket", _("只能取消等候中的号码"))
        t = Ticket.objects.get(pk=ticket.pk)
        _event(t, TicketStep.CANCELLED, now, actor=actor)
    return t


# ---------------------------------------------------------------- the line


def counter_line(hall_id: int, counter, day: date | None = None) -> QuerySet[Ticket]:
    """The waiting tickets `counter` may call: of a category it serves (not sent to another counter) or sent to it;
    a remote ticket told to come but not checked in is out of the line until it checks in."""
    served = CounterSetup.categories.through.objects.filter(countersetup_id=counter.pk).values("category_id")
    qs = Ticket.objects.filter(hall_id=hall_id, status=TicketStatus.WAITING)
    if day is not None:  # a ticket of a past day left open is never called (hall.close_past_days closes it)
        qs = qs.filter(day=day)
    return qs.filter(
        Q(target_counter__isnull=True, category_id__in=served) | Q(target_counter=counter)
    ).exclude(checked_in_at__isnull=True, remote_called_at__isnull=False)


def line_head(
    qs, *, n: int, now: datetime, guard: timedelta, absent: set[int] | None = None
) -> list[priority.QueueItem]:
    """The first `n` tickets of `qs` (waiting tickets) in call order: the rule applied to the heads of the two
    lines, which hold the merged order's first `n` (each line is already in the rule's order). `absent`, when
    given, receives the ids of the remote tickets among them not yet checked in."""
    fields = ("id", "issued_at", "queue_at", "priority_reason", "checked_in_at")
    prio = list(qs.exclude(priority_reason="").order_by("queue_at", "id").values_list(*fields)[:n])
    normal = list(qs.filter(priority_reason="").order_by("queue_at", "id").values_list(*fields)[:n])
    items = [
        priority.QueueItem(id=i, issued_at=iss, queue_at=q, priority=bool(r))
        for i, iss, q, r, _c in prio + normal
    ]
    if absent is not None:
        absent.update(i for i, _iss, _q, _r, c in prio + normal if c is None)
    return priority.queue_order(items, now=now, guard=guard)[:n]


def _setup(counter, *, lock: bool = True) -> CounterSetup:
    qs = CounterSetup.objects.select_related("counter__hall__profile")
    if lock:
        qs = qs.select_for_update(of=("self",))  # the profile is a nullable join
    setup = qs.filter(pk=counter.pk).first()
    if setup is None:
        raise _err("counter", _("该窗口尚未设置服务的业务类别"))
    return setup


def _require_counter(actor, counter) -> None:
    require_unit(actor, counter.hall.unit_id, Perm.HALL_OPERATE)


def _current(setup: CounterSetup) -> Ticket | None:
    if setup.current_id is None:
        return None
    t = Ticket.objects.select_for_update().filter(pk=setup.current_id).first()
    if t is None or t.status not in (TicketStatus.CALLED, TicketStatus.SERVING) or t.counter_id != setup.pk:
        return None
    return t


def _finish(t: Ticket, setup: CounterSetup, now: datetime, actor) -> None:
    if t.started_at is None:
        t.started_at = t.called_at
    t.status, t.finished_at = TicketStatus.DONE, now
    t.save(update_fields=["status", "finished_at", "started_at"])
    _event(t, TicketStep.FINISHED, now, counter=setup.counter, actor=actor)


@dataclass
class Called:
    ticket: Ticket | None
    finished: Ticket | None = None  # the ticket the call finished first
    remote_called: list[Ticket] | None = None  # remote tickets skipped and told to come


def _claim(
    ticket_id: int, setup: CounterSetup, now: datetime, actor, *, skip_locked: bool = False
) -> Ticket | None:
    if skip_locked and connection.features.has_select_for_update_skip_locked:
        # A ticket another counter is claiming right now is passed over at once instead of waited for.
        free = (
            Ticket.objects.select_for_update(skip_locked=True)
            .filter(pk=ticket_id, status=TicketStatus.WAITING)
            .values_list("id", flat=True)
        )
        if not list(free):
            return None
    n = Ticket.objects.filter(pk=ticket_id, status=TicketStatus.WAITING).update(
        status=TicketStatus.CALLED,
        counter_id=setup.pk,
        clerk=_user(actor) or setup.clerk,
        called_at=now,
        first_called_at=Coalesce(F("first_called_at"), now),
        recall_count=0,
        started_at=None,
        target_counter=None,
    )
    if not n:
        return None
    t = Ticket.objects.select_related("category").get(pk=ticket_id)
    setup.current = t
    setup.save(update_fields=["current"])
    _event(t, TicketStep.CALLED, now, counter=setup.counter, actor=actor)
    return t


def _mark_remote_called(ticket_id: int, now: datetime) -> Ticket | None:
    n = Ticket.objects.filter(
        pk=ticket_id, status=TicketStatus.WAITING, checked_in_at__isnull=True, remote_called_at__isnull=True
    ).update(remote_called_at=now)
    if not n:
        return None
    t = Ticket.objects.get(pk=ticket_id)
    _event(t, TicketStep.REMOTE_CALLED, now)
    return t


def _ready(setup: CounterSetup, now: datetime, actor) -> Ticket | None:
    """Check the counter may call; finish the ticket it is serving (Qmatic's "next" ends the transaction, started
    or not). A ticket that was recalled — its holder has not come — is not finished that way: it needs a no-show
    (or a start) first. Returns the finished ticket."""
    if setup.state != CounterState.OPEN:
        raise _err("counter", _("窗口未开启或已暂停，不能叫号"))
    current = _current(setup)
    if current is not None and current.status == TicketStatus.CALLED and current.recall_count > 0:
        raise _err("counter", _("当前号码 %(n)s 已重呼未到：请开始办理或标记过号") % {"n": current.number})
    if current is not None:
        _finish(current, setup, now, actor)
        return current
    return None


def ticket_call_next(*, counter, actor: Actor | None = None, now: datetime | None = None) -> Called:
    """Call the next ticket for `counter` by the priority rule (finishing the one it is serving first).

    A remote ticket not checked in whose turn comes is skipped and told to come (`remote_called_at`, an SMS);
    it keeps its place and is called once checked in, or expires. `Called.ticket` is None when nobody waits."""
    from . import callahead

    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        finished = _ready(setup, now, actor)
        profile = hall_profile(setup.counter.hall)
        guard = timedelta(minutes=profile.starvation_guard_minutes)
        qs = counter_line(setup.counter.hall_id, counter, china_day(now))
        remote_called: list[Ticket] = []
        marked = (
            0  # remote tickets looked at and passed over this call: at most HEAD are told to come per call
        )
        claimed = None
        for round_ in range(20):
            not_in: set[int] = set()
            # Tickets other counters hold are skipped: read further down the line each round.
            head = line_head(qs, n=HEAD * (round_ + 1), now=now, guard=guard, absent=not_in)
            if not head:
                break
            for item in head:
                if item.id in not_in:
                    marked += 1
                    if marked > HEAD:
                        break
                    t = _mark_remote_called(item.id, now)
                    if t is not None:
                        remote_called.append(t)
                    continue
                claimed = _claim(item.id, setup, now, actor, skip_locked=True)
                if claimed is not None:
                    break
            if claimed is not None or marked > HEAD or len(head) < HEAD * (round_ + 1):
                break
        if claimed is None:
            setup.current = None
            setup.save(update_fields=["current"])
        moved = {t.category_id for t in remote_called}
        if claimed is not None:
            moved.add(claimed.category_id)
        callahead.after_call(
            hall=setup.counter.hall, profile=profile, now=now, categories=moved, remote_called=remote_called
        )
    return Called(ticket=claimed, finished=finished, remote_called=remote_called)


def ticket_call(
    *, counter, ticket: Ticket, actor: Actor | None = None, now: datetime | None = None
) -> Called:
    """Call a given waiting ticket (the clerk picks it from the list): only one of a category the counter serves,
    or one transferred to this counter."""
    from . import callahead

    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        if ticket.hall_id != setup.counter.hall_id:
            raise _err("ticket", _("号码不属于本营业厅"))
        serves = setup.categories.filter(pk=ticket.category_id).exists()
        if ticket.target_counter_id is not None and ticket.target_counter_id != setup.pk:
            raise _err("ticket", _("号码 %(n)s 已转至其他窗口") % {"n": ticket.number})
        if ticket.target_counter_id is None and not serves:
            raise _err(
                "ticket",
                _("本窗口不办理“%(c)s”业务，不能呼叫 %(n)s")
                % {"c": ticket.category.name, "n": ticket.number},
            )
        if ticket.checked_in_at is None:
            raise _err("ticket", _("远程号 %(n)s 尚未到厅签到") % {"n": ticket.number})
        finished = _ready(setup, now, actor)
        claimed = _claim(ticket.pk, setup, now, actor)
        if claimed is None:
            raise _err("ticket", _("号码 %(n)s 已不在等候中") % {"n": ticket.number})
        callahead.after_call(
            hall=setup.counter.hall,
            profile=hall_profile(setup.counter.hall),
            now=now,
            categories={claimed.category_id},
        )
    return Called(ticket=claimed, finished=finished)


def _current_or_error(setup: CounterSetup, *allowed: str) -> Ticket:
    t = _current(setup)
    if t is None or t.status not in allowed:
        raise _err("counter", _("窗口当前没有可操作的号码"))
    return t


def ticket_recall(*, counter, actor: Actor | None = None, now: datetime | None = None) -> Ticket:
    """Call the current ticket again (重呼); after the hall's max recalls only a no-show is left."""
    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        t = _current_or_error(setup, TicketStatus.CALLED)
        limit = hall_profile(setup.counter.hall).max_recalls
        if t.recall_count >= limit:
            raise _err("counter", _("号码 %(n)s 已重呼 %(k)s 次，请标记过号") % {"n": t.number, "k": limit})
        t.recall_count += 1
        t.called_at = now
        t.save(update_fields=["recall_count", "called_at"])
        _event(t, TicketStep.RECALLED, now, counter=setup.counter, actor=actor, recall=t.recall_count)
    return t


def ticket_start(*, counter, actor: Actor | None = None, now: datetime | None = None) -> Ticket:
    """The customer has come to the counter: service starts (办理中)."""
    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        t = _current_or_error(setup, TicketStatus.CALLED)
        t.status, t.started_at = TicketStatus.SERVING, now
        t.save(update_fields=["status", "started_at"])
        _event(t, TicketStep.STARTED, now, counter=setup.counter, actor=actor)
    return t


def ticket_finish(*, counter, actor: Actor | None = None, now: datetime | None = None) -> Ticket:
    """The transaction is done (办结): the evaluation device of the counter then asks for a rating."""
    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        t = _current_or_error(setup, TicketStatus.CALLED, TicketStatus.SERVING)
        _finish(t, setup, now, actor)
        setup.current = None
        setup.save(update_fields=["current"])
    return t


def ticket_no_show(*, counter, actor: Actor | None = None, now: datetime | None = None) -> Ticket:
    """The customer did not come after the hall's max recalls (default 3): the ticket is closed as 过号."""
    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        t = _current_or_error(setup, TicketStatus.CALLED)
        limit = hall_profile(setup.counter.hall).max_recalls
        if t.recall_count < limit:
            raise _err(
                "counter",
                _("号码 %(n)s 还需重呼 %(k)s 次才能标记过号") % {"n": t.number, "k": limit - t.recall_count},
            )
        t.status, t.closed_at = TicketStatus.NO_SHOW, now
        t.save(update_fields=["status", "closed_at"])
        setup.current = None
        setup.save(update_fields=["current"])
        _event(t, TicketStep.NO_SHOW, now, counter=setup.counter, actor=actor, recalls=t.recall_count)
    return t


def ticket_transfer(
    *,
    counter,
    to_category=None,
    to_counter=None,
    note: str = "",
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Send the current ticket to another category or counter of the hall. It waits again keeping its place
    (`queue_at` and priority unchanged) and keeps its number."""
    now = now or timezone.now()
    _require_counter(actor, counter)
    if (to_category is None) == (to_counter is None):
        raise _err("to", _("请选择转往的业务类别或窗口（二选一）"))
    with transaction.atomic():
        setup = _setup(counter)
        t = _current_or_error(setup, TicketStatus.CALLED, TicketStatus.SERVING)
        hall = setup.counter.hall
        detail: dict = {"note": note[:200]}
        if to_category is not None:
            category = offered_category(hall, to_category)
            detail.update(from_category=t.category.code, to_category=category.code)
            t.category = category
            t.target_counter = None
        else:
            if to_counter.hall_id != hall.pk:
                raise _err("to_counter", _("只能转往本营业厅的窗口"))
            if to_counter.pk == setup.pk:
                raise _err("to_counter", _("不能转往本窗口"))
            detail.update(to_counter=to_counter.number)
            t.target_counter = to_counter
        t.status = TicketStatus.WAITING
        t.counter = None
        t.called_at = None
        t.started_at = None
        t.recall_count = 0
        t.transfers += 1
        t.save()
        setup.current = None
        setup.save(update_fields=["current"])
        _event(t, TicketStep.TRANSFERRED, now, counter=setup.counter, actor=actor, **detail)
    return t


# ---------------------------------------------------------------- counters


def _audit_counter(actor, counter, action: str, now: datetime) -> None:
    audit_record(
        actor=actor or Actor(),
        action=action,
        object_type="org.counter",
        object_id=counter.pk,
        unit_id=counter.hall.unit_id,
        changes={"hall": counter.hall.code, "counter": counter.number, "at": now.isoformat()},
    )


def counter_open(*, counter, actor: Actor, now: datetime | None = None) -> CounterSetup:
    """The clerk signs in at the counter (开窗): a new session."""
    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        if setup.state != CounterState.CLOSED:
            raise _err("counter", _("窗口已开启"))
        if not setup.categories.exists():
            raise _err("counter", _("该窗口尚未设置服务的业务类别"))
        setup.state, setup.state_since, setup.clerk = CounterState.OPEN, now, _user(actor)
        setup.save(update_fields=["state", "state_since", "clerk"])
        CounterSession.objects.create(counter=counter, clerk=_user(actor), opened_at=now)
        _audit_counter(actor, counter, "hall.counter_open", now)
    return setup


def _session(counter) -> CounterSession | None:
    return (
        CounterSession.objects.select_for_update()
        .filter(counter=counter, closed_at__isnull=True)
        .order_by("-opened_at")
        .first()
    )


def counter_pause(*, counter, actor: Actor, now: datetime | None = None) -> CounterSetup:
    """Pause the counter (暂停服务): it calls nobody until resumed; the ticket at it must be dealt with first."""
    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        if setup.state != CounterState.OPEN:
            raise _err("counter", _("只有服务中的窗口可以暂停"))
        if _current(setup) is not None:
            raise _err("counter", _("请先办结、转移或标记过号当前号码"))
        setup.state, setup.state_since = CounterState.PAUSED, now
        setup.save(update_fields=["state", "state_since"])
        session = _session(counter)
        if session is not None:
            session.paused_since = now
            session.save(update_fields=["paused_since"])
        _audit_counter(actor, counter, "hall.counter_pause", now)
    return setup


def _end_pause(session: CounterSession | None, now: datetime) -> None:
    if session is not None and session.paused_since is not None:
        session.paused_seconds += max(0, int((now - session.paused_since).total_seconds()))
        session.paused_since = None
        session.save(update_fields=["paused_seconds", "paused_since"])


def counter_resume(*, counter, actor: Actor, now: datetime | None = None) -> CounterSetup:
    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        if setup.state != CounterState.PAUSED:
            raise _err("counter", _("窗口未暂停"))
        setup.state, setup.state_since = CounterState.OPEN, now
        setup.save(update_fields=["state", "state_since"])
        _end_pause(_session(counter), now)
        _audit_counter(actor, counter, "hall.counter_resume", now)
    return setup


def counter_close(*, counter, actor: Actor, now: datetime | None = None) -> CounterSetup:
    """The clerk signs out (关窗); the ticket at the counter must be dealt with first."""
    now = now or timezone.now()
    _require_counter(actor, counter)
    with transaction.atomic():
        setup = _setup(counter)
        if setup.state == CounterState.CLOSED:
            raise _err("counter", _("窗口未开启"))
        if _current(setup) is not None:
            raise _err("counter", _("请先办结、转移或标记过号当前号码"))
        session = _session(counter)
        _end_pause(session, now)
        if session is not None:
            session.closed_at = now
            session.save(update_fields=["closed_at"])
        setup.state, setup.state_since, setup.clerk, setup.current = CounterState.CLOSED, now, None, None
        setup.save(update_fields=["state", "state_since", "clerk", "current"])
        _audit_counter(actor, counter, "hall.counter_close", now)
    return setup


__all__ = ["CHINA"]


# ---------------------------------------------------------------- set-up


DEFAULT_CATEGORIES = [
    # code, letter, name, self-service
    ("payment", "A", "交费", True),
    ("new_connection", "B", "业扩报装", False),
    ("change", "C", "变更用电", False),
    ("consult", "D", "咨询", True),
    ("invoice", "E", "发票", True),
    ("other", "F", "其他业务", False),
]


def hall_setup_defaults(hall, *, actor: Actor | None = None) -> bool:
    """Give a hall its queue set-up where it has none: the profile, every active category offered, every counter
    serving every category (the hall manager narrows them on the hall's set-up page). Idempotent; returns whether
    anything was created, and with an actor audits it (`hall.setup_defaults`)."""
    made: list[str] = []
    with transaction.atomic():
        _profile, created = HallProfile.objects.get_or_create(hall=hall)
        if created:
            made.append("profile")
        cats = list(Category.objects.filter(active=True))
        have = set(HallCategory.objects.filter(hall=hall).values_list("category_id", flat=True))
        if not have:
            HallCategory.objects.bulk_create(HallCategory(hall=hall, category=c) for c in cats)
            made.append("categories")
        for counter in hall.counters.all():
            setup, created = CounterSetup.objects.get_or_create(counter=counter)
            if created:
                setup.categories.set(cats)
                made.append(f"counter {counter.number}")
        if made and actor is not None:
            audit_record(
                actor=actor,
                action="hall.setup_defaults",
                obj=hall,
                unit_id=hall.unit_id,
                changes={"hall": hall.code, "added": made},
            )
    return bool(made)
