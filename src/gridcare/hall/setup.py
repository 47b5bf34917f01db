"""Writes of the hall's front desk and set-up.

Front desk (hall.operate): the greeter issues a ticket (and the triage is recorded), sends a simple case to
self-service (a triage row only), and checks in a remote ticket found by number and/or phone; the kiosk does the
same without a user. The queue steps are audited by the tickets' own `TicketEvent` trail.

Set-up (hall.manage, each write one `AuditEvent`): the hall profile (`hall.profile_update`), the categories the
hall offers (`hall.categories`), each counter's categories (`hall.counter_categories`), closure days
(`hall.closure_add`, `hall.closure_remove`). Devices are created and disabled by `devices.py` (audited there)."""

from __future__ import annotations

from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm
from gridcare.core.scoping import require_unit
from gridcare.core.validators import MOBILE_RE

from . import services
from .choices import OPEN_TICKET, TicketSource, TicketStatus, TriageOutcome
from .models import Category, CounterSetup, GreeterTriage, HallCategory, HallClosure, Ticket
from .opening import china_day


def _err(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _user(actor):
    user = getattr(actor, "user", None)
    return user if user is not None and getattr(user, "is_authenticated", False) else None


# ---------------------------------------------------------------- front desk


def greeter_issue(
    *,
    hall,
    category,
    actor: Actor,
    now: datetime | None = None,
    phone: str = "",
    priority_reason: str = "",
    id_number: str = "",
    note: str = "",
) -> Ticket:
    """The greeter's ticket (source greeter) and its triage row (outcome ticket), in one transaction."""
    require_unit(actor, hall.unit_id, Perm.HALL_OPERATE)
    with transaction.atomic():
        ticket = services.ticket_issue(
            hall=hall,
            category=category,
            source=TicketSource.GREETER,
            actor=actor,
            now=now,
            phone=phone,
            priority_reason=priority_reason,
            id_number=id_number,
        )
        GreeterTriage.objects.create(
            hall=hall,
            at=ticket.issued_at,
            actor=_user(actor),
            category=ticket.category,
            outcome=TriageOutcome.TICKET,
            ticket=ticket,
            note=note[:200],
        )
    return ticket


def greeter_self_service(
    *, hall, category, actor: Actor, now: datetime | None = None, note: str = ""
) -> GreeterTriage:
    """The greeter sends a simple case to the self-service terminals: only a category marked self-service."""
    require_unit(actor, hall.unit_id, Perm.HALL_OPERATE)
    now = now or timezone.now()
    category = services.offered_category(hall, category)
    if not category.self_service:
        raise _err("category", _("“%(c)s”业务不能自助办理，请取号") % {"c": category.name})
    return GreeterTriage.objects.create(
        hall=hall,
        at=now,
        actor=_user(actor),
        category=category,
        outcome=TriageOutcome.SELF_SERVICE,
        note=note[:200],
    )


def remote_ticket_find(*, hall, number: str = "", phone: str = "", now: datetime) -> Ticket:
    """Today's remote ticket of `hall` waiting for check-in, by its number and the holder's phone (the kiosk
    asks for both; the greeter may give either). ValidationError when none matches (the same answer whatever is
    wrong, so numbers cannot be probed for phones)."""
    number = (number or "").strip().upper()[:8]
    phone = (phone or "").strip()[:20]
    if not number and not phone:
        raise _err("number", _("请输入排队号码或手机号"))
    if phone and not MOBILE_RE.match(phone):
        raise _err("phone", _("手机号格式不正确"))
    qs = Ticket.objects.select_related("hall", "category").filter(
        hall=hall, source=TicketSource.PORTAL, status__in=OPEN_TICKET, day=china_day(now)
    )
    if number:
        qs = qs.filter(number=number)
    if phone:
        qs = qs.filter(phone=phone)
    ticket = qs.order_by("-issued_at").first()
    if ticket is None:
        raise _err("number", _("未找到待签到的远程取号，请核对号码和手机号"))
    return ticket


def remote_check_in(
    *, hall, number: str = "", phone: str = "", actor: Actor | None = None, now: datetime | None = None
) -> Ticket:
    now = now or timezone.now()
    if actor is not None and _user(actor) is not None:
        require_unit(actor, hall.unit_id, Perm.HALL_OPERATE)
    ticket = remote_ticket_find(hall=hall, number=number, phone=phone, now=now)
    return services.ticket_check_in(ticket=ticket, actor=actor, now=now)


# ---------------------------------------------------------------- set-up

PROFILE_FIELDS = (
    "opens_at",
    "closes_at",
    "open_weekdays",
    "accepting",
    "elderly_age",
    "starvation_guard_minutes",
    "max_recalls",
    "call_ahead_places",
    "remote_checkin_minutes",
    "appointment_grace_minutes",
    "slot_capacity",
    "wait_target_minutes",
    "min_ratings_to_rank",
)

# Each number's allowed range (inclusive).
PROFILE_RANGES = {
    "elderly_age": (50, 100),
    "starvation_guard_minutes": (1, 240),
    "max_recalls": (1, 10),
    "call_ahead_places": (0, 50),
    "remote_checkin_minutes": (5, 240),
    "appointment_grace_minutes": (0, 60),
    "slot_capacity": (1, 200),
    "wait_target_minutes": (1, 240),
    "min_ratings_to_rank": (1, 10_000),
}


def _plain(value):
    return value.strftime("%H:%M") if isinstance(value, time) else value


def profile_validate(values: dict) -> dict:
    """Check a profile's values; ValidationError naming every bad field. Returns the clean values."""
    errors: dict[str, list[str]] = {}
    out = dict(values)
    for field, (lo, hi) in PROFILE_RANGES.items():
        if field not in values:
            continue
        v = values[field]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            errors[field] = [_("须为 %(lo)s 至 %(hi)s 之间的整数") % {"lo": lo, "hi": hi}]
    if "open_weekdays" in values:
        days = str(values["open_weekdays"] or "")
        if not days or any(c not in "1234567" for c in days) or len(set(days)) != len(days):
            errors["open_weekdays"] = [_("营业日须为 1–7 中的若干天（1 为周一），不可重复")]
        else:
            out["open_weekdays"] = "".join(sorted(days))
    for f in ("opens_at", "closes_at"):
        if f in values and not isinstance(values[f], time):
            errors[f] = [_("请填写时间，如 08:30")]
    if (
        isinstance(values.get("opens_at"), time)
        and isinstance(values.get("closes_at"), time)
        and values["opens_at"] >= values["closes_at"]
    ):
        errors["closes_at"] = [_("关门时间须晚于开门时间")]
    if "accepting" in values and not isinstance(values["accepting"], bool):
        errors["accepting"] = [_("取值须为是或否")]
    if errors:
        raise ValidationError(errors)
    return out


def profile_update(*, hall, actor: Actor, values: dict):
    """Change the hall's profile numbers (only the fields given)."""
    require_unit(actor, hall.unit_id, Perm.HALL_MANAGE)
    unknown = set(values) - set(PROFILE_FIELDS)
    if unknown:
        raise _err("__all__", _("未知的设置项：%(f)s") % {"f": ", ".join(sorted(unknown))})
    merged = {f: getattr(services.hall_profile(hall), f) for f in PROFILE_FIELDS}
    merged.update(values)
    clean = profile_validate(merged)
    with transaction.atomic():
        profile = type(services.hall_profile(hall)).objects.select_for_update().get(pk=hall.pk)
        changes = {}
        for f in PROFILE_FIELDS:
            old, new = getattr(profile, f), clean[f]
            if old != new:
                changes[f] = [_plain(old), _plain(new)]
                setattr(profile, f, new)
        if changes:
            profile.save()
            audit_record(
                actor=actor, action="hall.profile_update", obj=profile, unit_id=hall.unit_id, changes=changes
            )
        hall._hall_profile = profile
    return profile


def _categories(ids) -> list[Category]:
    try:
        wanted = {int(i) for i in ids}
        if any(not 0 < i < 2**63 for i in wanted):
            raise ValueError
    except (TypeError, ValueError):
        raise _err("categories", _("业务类别不正确")) from None
    cats = list(Category.objects.filter(pk__in=wanted, active=True))
    if len(cats) != len(wanted):
        raise _err("categories", _("包含未知或已停用的业务类别"))
    return cats


def hall_categories_set(*, hall, actor: Actor, category_ids) -> list[Category]:
    """The categories the hall offers (at least one). A category dropped is also dropped from its counters;
    tickets already waiting for it stay in the queue and are served by transfer or by re-adding it."""
    require_unit(actor, hall.unit_id, Perm.HALL_MANAGE)
    cats = _categories(category_ids)
    if not cats:
        raise _err("categories", _("营业厅至少要提供一项业务"))
    with transaction.atomic():
        have = set(HallCategory.objects.filter(hall=hall).values_list("category_id", flat=True))
        want = {c.pk for c in cats}
        added, removed = want - have, have - want
        if not added and not removed:
            return cats
        HallCategory.objects.filter(hall=hall, category_id__in=removed).delete()
        HallCategory.objects.bulk_create(HallCategory(hall=hall, category_id=i) for i in sorted(added))
        CounterSetup.categories.through.objects.filter(
            countersetup__counter__hall=hall, category_id__in=removed
        ).delete()
        codes = dict(Category.objects.filter(pk__in=added | removed).values_list("pk", "code"))
        audit_record(
            actor=actor,
            action="hall.categories",
            obj=hall,
            unit_id=hall.unit_id,
            changes={
                "added": sorted(codes[i] for i in added),
                "removed": sorted(codes[i] for i in removed),
            },
        )
    return cats


def counter_categories_set(*, counter, actor: Actor, category_ids) -> CounterSetup:
    """The categories a counter serves: at least one, each offered by its hall."""
    hall = counter.hall
    require_unit(actor, hall.unit_id, Perm.HALL_MANAGE)
    cats = _categories(category_ids)
    if not cats:
        raise _err("categories", _("窗口至少要办理一项业务"))
    offered = set(HallCategory.objects.filter(hall=hall).values_list("category_id", flat=True))
    missing = [c.name for c in cats if c.pk not in offered]
    if missing:
        raise _err("categories", _("营业厅未提供：%(c)s") % {"c": "、".join(missing)})
    with transaction.atomic():
        setup, _created = CounterSetup.objects.select_for_update().get_or_create(counter=counter)
        before = sorted(setup.categories.values_list("code", flat=True))
        after = sorted(c.code for c in cats)
        if before != after:
            setup.categories.set(cats)
            audit_record(
                actor=actor,
                action="hall.counter_categories",
                obj=counter,
                unit_id=hall.unit_id,
                changes={"counter": counter.number, "categories": [before, after]},
            )
    return setup


def closure_add(*, hall, actor: Actor, day: date, reason: str = "") -> HallClosure:
    require_unit(actor, hall.unit_id, Perm.HALL_MANAGE)
    if not isinstance(day, date) or not date(2000, 1, 1) <= day <= date(2100, 12, 31):
        raise _err("day", _("请填写日期"))
    reason = (reason or "").strip()[:100]
    with transaction.atomic():
        if HallClosure.objects.filter(hall=hall, day=day).exists():
            raise _err("day", _("%(d)s 已是闭厅日") % {"d": day.isoformat()})
        closure = HallClosure.objects.create(hall=hall, day=day, reason=reason)
        audit_record(
            actor=actor,
            action="hall.closure_add",
            obj=closure,
            unit_id=hall.unit_id,
            changes={"hall": hall.code, "day": day.isoformat(), "reason": reason},
        )
    return closure


def closure_remove(*, closure: HallClosure, actor: Actor) -> None:
    hall = closure.hall
    require_unit(actor, hall.unit_id, Perm.HALL_MANAGE)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="hall.closure_remove",
            obj=closure,
            unit_id=hall.unit_id,
            changes={"hall": hall.code, "day": closure.day.isoformat(), "reason": closure.reason},
        )
        closure.delete()


__all__ = ["TicketStatus"]
