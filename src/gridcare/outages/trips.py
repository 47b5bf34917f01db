"""Trip remediation (故障跳闸专项治理, issue 14 §4): feeders ranked by fault trips, with remediation actions and
before/after trip counts.

- A trip is a `fault` event (not cancelled, really started) counted once per feeder it touched: the feeders of
  its frozen areas (`OutageArea.feeder`), so an event over two areas of one feeder is one trip of that feeder and
  an event over two feeders is one trip of each.
- Days are China days of `actual_start`. "The last 12 months" up to `today` = the days after the same date a
  year before, through `today` (365 or 366 days; 29 February steps back to 28 February).
- Ranking: trips descending, ties by feeder code; feeders with no trip are listed only when they carry an
  action (a remediated feeder at 0 is the point of the exercise).
- Before/after of a done action: `before` = trips in the 12 months before `done_on` (done_on excluded),
  `after` = trips from `done_on` through `today`, shown with the whole months and days elapsed (the after
  count is not prorated: a reader compares it with the months)."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record, diff, snapshot
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, require_object, visible_unit_ids
from gridcare.customers.models import Feeder
from gridcare.org.models import SupplyUnit, User

from .choices import ActionStatus, OutageKind, OutageStatus
from .models import OutageArea, TripAction
from .voltage import CHINA

ACTION_MAX = 2000


def year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end` (0 when end is before start's next monthly anniversary)."""
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    return max(months, 0)


def _at(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA)


def _trips(*, feeder_ids: list[int] | None, first: date, last: date) -> dict[int, list[date]]:
    """Per feeder, the China days of its fault trips with actual_start in [first, last] (one per event)."""
    qs = OutageArea.objects.filter(
        event__kind=OutageKind.FAULT,
        event__actual_start__gte=_at(first),
        event__actual_start__lt=_at(last + timedelta(days=1)),
    ).exclude(event__status=OutageStatus.CANCELLED)
    if feeder_ids is not None:
        qs = qs.filter(feeder_id__in=feeder_ids)
    out: dict[int, list[date]] = defaultdict(list)
    for feeder_id, _event_id, start in (
        qs.order_by().values_list("feeder_id", "event_id", "event__actual_start").distinct()
    ):
        out[feeder_id].append(start.astimezone(CHINA).date())
    return out


def _subtree(user, unit_id: int) -> list[int]:
    if not has_perm(user, Perm.RELIABILITY_VIEW) or unit_id not in visible_unit_ids(user):
        raise Http404
    unit = SupplyUnit.objects.only("path").get(pk=unit_id)
    return list(SupplyUnit.objects.filter(path__startswith=unit.path).values_list("id", flat=True))


def action_effect(days: list[date], *, done_on: date | None, today: date) -> dict:
    """Before/after trip counts of an action from its feeder's trip days (pure)."""
    if done_on is None:
        return {"before": None, "after": None, "months_elapsed": None, "days_elapsed": None}
    start = year_before(done_on)
    return {
        "before": sum(1 for d in days if start <= d < done_on),
        "after": sum(1 for d in days if done_on <= d <= today),
        "months_elapsed": months_between(done_on, today),
        "days_elapsed": max((today - done_on).days, 0),
    }


def _action_out(a: TripAction, days: list[date], today: date) -> dict:
    return {
        "id": a.pk,
        "action": a.action,
        "status": a.status,
        "owner": a.owner.username if a.owner_id else None,
        "done_on": a.done_on,
        "created_at": a.created_at,
        **action_effect(days, done_on=a.done_on, today=today),
    }


def trip_ranking(user, *, unit_id: int, today: date) -> list[dict]:
    """Feeders of the unit (with its descendants) by fault trips in the 12 months up to `today`, with actions."""
    units = _subtree(user, unit_id)
    feeders = {f.pk: f for f in Feeder.objects.filter(unit_id__in=units).select_related("unit")}
    first = year_before(today) + timedelta(days=1)
    counts = {
        fid: len(days)
        for fid, days in _trips(feeder_ids=list(feeders), first=first, last=today).items()
        if fid in feeders
    }
    actions: dict[int, list[TripAction]] = defaultdict(list)
    for a in (
        TripAction.objects.filter(feeder_id__in=list(feeders))
        .select_related("owner")
        .order_by("created_at", "pk")
    ):
        actions[a.feeder_id].append(a)
    done = [a.done_on for acts in actions.values() for a in acts if a.done_on]
    history = _trips(feeder_ids=sorted(actions), first=year_before(min(done)), last=today) if done else {}
    out = []
    for fid in set(counts) | set(actions):
        f = feeders[fid]
        out.append(
            {
                "feeder_id": fid,
                "feeder_code": f.code,
                "feeder_name": f.name,
                "unit_id": f.unit_id,
                "unit_name": f.unit.name,
                "trips": counts.get(fid, 0),
                "actions": [_action_out(a, history.get(fid, []), today) for a in actions.get(fid, [])],
            }
        )
    out.sort(key=lambda r: (-r["trips"], r["feeder_code"]))
    return out


def trip_action_get(user, *, action_id: int) -> TripAction:
    a = TripAction.objects.filter(pk=action_id).first()
    if a is None or not has_perm(user, Perm.RELIABILITY_VIEW) or a.unit_id not in visible_unit_ids(user):
        raise Http404
    return a


def _check_text(text: str, errors: dict) -> str:
    text = (text or "").strip()
    if not text:
        errors["action"] = [_("请填写治理措施")]
    elif len(text) > ACTION_MAX or "\x00" in text:
        errors["action"] = [_("治理措施最多 %(n)s 个字符，且不能包含空字符") % {"n": ACTION_MAX}]
    return text


def _check_owner(owner: User | None, errors: dict) -> None:
    if owner is not None and (not owner.is_active or not has_perm(owner, Perm.RELIABILITY_VIEW)):
        errors["owner"] = [_("责任人须为在职员工")]


def trip_action_create(
    *, actor: Actor, feeder_code: str, action: str, owner: User | None = None
) -> TripAction:
    """A remediation action on a feeder (outage.draft on the feeder's unit; an unknown feeder and one outside the
    actor's units answer the same 422 on `feeder_code`)."""
    if actor.user is not None and not has_perm(actor.user, Perm.OUTAGE_DRAFT):
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    code = (feeder_code or "").strip()
    feeder = Feeder.objects.filter(code=code).first() if code and "\x00" not in code else None
    if feeder is None or (actor.user is not None and feeder.unit_id not in visible_unit_ids(actor.user)):
        errors["feeder_code"] = [_("线路 %(c)s 不存在或不在您的管辖范围内") % {"c": code[:32]}]
    text = _check_text(action, errors)
    _check_owner(owner, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row = TripAction.objects.create(feeder=feeder, unit_id=feeder.unit_id, action=text, owner=owner)
        audit_record(
            actor=actor,
            action="outage.trip_action",
            obj=row,
            unit_id=row.unit_id,
            changes={"created": snapshot(row, ["feeder_id", "action", "status", "owner_id"])},
        )
    return row


def trip_action_update(
    *,
    actor: Actor,
    action: TripAction,
    status: str,
    done_on: date | None = None,
    text: str | None = None,
    owner: User | None = None,
    today: date | None = None,
) -> TripAction:
    """Move an action on (status; `done_on` required for done, not after `today`, cleared otherwise), optionally
    with new text and owner. outage.draft on the action's unit."""
    require_object(actor, action, Perm.OUTAGE_DRAFT)
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    if status not in ActionStatus.values:
        errors["status"] = [_("状态应为 %(v)s") % {"v": " / ".join(ActionStatus.values)}]
    elif status == ActionStatus.DONE:
        if done_on is None:
            errors["done_on"] = [_("已完成的治理措施须填写完成日期")]
        elif done_on > today:
            errors["done_on"] = [_("完成日期不能晚于今天（%(d)s）") % {"d": today.isoformat()}]
    new_text = _check_text(text, errors) if text is not None else None
    _check_owner(owner, errors)
    if errors:
        raise ValidationError(errors)
    fields = ["action", "status", "owner_id", "done_on"]
    with transaction.atomic():
        row = TripAction.objects.select_for_update().get(pk=action.pk)
        before = snapshot(row, fields)
        row.status = status
        row.done_on = done_on if status == ActionStatus.DONE else None
        if new_text is not None:
            row.action = new_text
        if owner is not None:
            row.owner = owner
        row.save(update_fields=["action", "status", "owner", "done_on"])
        audit_record(
            actor=actor,
            action="outage.trip_action",
            obj=row,
            unit_id=row.unit_id,
            changes=diff(before, snapshot(row, fields)),
        )
    return row
