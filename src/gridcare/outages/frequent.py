"""Frequent outages (频繁停电, issue 14 §4): accounts with K or more sustained interruptions within any W days.

Per account, its sustained interruptions — every kind, planned ones included, Major Event Days included (the
customer's experience), momentary ones (ended within `MOMENTARY_MAX_MINUTES`, default 5: `duration_s` ≤ 300)
left out, an interruption still open counting as sustained — are taken by their China start day
(`Interruption.day`) d₁ ≤ d₂ ≤ …; the account qualifies when some `d_{i+K−1} − d_i ≤ W − 1` days. K = 3 and
W = 61 by default (`GRIDCARE["OUTAGES"]["FREQUENT"] = {"count": 3, "days": 61}`). Only events that really
started (`actual_start` set) and were not cancelled count.

Example: 2025-01-01, 02-01, 03-02 → 60 days from first to third → listed; a third on 03-03 → 61 days → not.

Listed on `today`: the account's latest qualifying streak ends within the last W days (its last interruption
on or after `today − (W − 1)`), so an account drops off the list W days after its last qualifying trip. Each
entry shows the interruptions of the W-day window ending on that last one (`count` ≥ K, `dates`).

Reading is one sorted query (affected account × interruption day) over the 2(W − 1) days before `today`, and a
sliding window in Python per account. `frequent_cases_open` (job `outages.frequent`, daily) opens one
`FrequentOutageCase` per newly listed account: an open case is kept (its `last_day`/`count` refreshed), a closed
one that already covers the streak's last day stops a new case, one per account open at a time."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record, diff, snapshot
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import require_object, visible_unit_ids
from gridcare.customers.models import Account
from gridcare.org.models import SupplyUnit, User

from .choices import OPEN_ACTION, ActionStatus, OutageStatus
from .models import AffectedAccount, FrequentOutageCase

ACTION_MAX = 2000


def rule() -> tuple[int, int]:
    """(K, W): interruptions and days."""
    conf = (getattr(settings, "GRIDCARE", {}).get("OUTAGES", {}) or {}).get("FREQUENT") or {}
    return int(conf.get("count", 3)), int(conf.get("days", 61))


def momentary_seconds() -> int:
    conf = getattr(settings, "GRIDCARE", {}).get("OUTAGES", {}) or {}
    return int(float(conf.get("MOMENTARY_MAX_MINUTES", 5)) * 60)


def qualifying_streak(days: list[date], *, today: date, count: int, window: int) -> list[date] | None:
    """The dates of the W-day window ending on the account's latest qualifying interruption (sorted days), when
    that one lies within the last W days up to `today`; None when the account is not listed. Pure."""
    days = [d for d in days if d <= today]
    latest = None
    for j in range(count - 1, len(days)):
        if (days[j] - days[j - count + 1]).days <= window - 1:
            latest = j
    if latest is None or days[latest] < today - timedelta(days=window - 1):
        return None
    last = days[latest]
    return [d for d in days[: latest + 1] if (last - d).days <= window - 1]


@dataclass
class Listed:
    account_id: int
    dates: list[date] = field(default_factory=list)

    @property
    def first_day(self) -> date:
        return self.dates[0]

    @property
    def last_day(self) -> date:
        return self.dates[-1]

    @property
    def count(self) -> int:
        return len(self.dates)


def _listed(*, today: date, unit_ids: list[int] | None) -> list[Listed]:
    count, window = rule()
    since = today - timedelta(days=2 * (window - 1))
    qs = AffectedAccount.objects.filter(
        interruption__day__gte=since,
        interruption__day__lte=today,
        event__actual_start__isnull=False,
    ).exclude(event__status=OutageStatus.CANCELLED)
    qs = qs.filter(Q(interruption__end__isnull=True) | Q(interruption__duration_s__gt=momentary_seconds()))
    if unit_ids is not None:
        qs = qs.filter(account__unit_id__in=unit_ids)
    by_account: dict[int, list[date]] = defaultdict(list)
    for account_id, day in qs.order_by("account_id", "interruption__day").values_list(
        "account_id", "interruption__day"
    ):
        by_account[account_id].append(day)
    out = []
    for account_id, days in by_account.items():
        streak = qualifying_streak(days, today=today, count=count, window=window)
        if streak:
            out.append(Listed(account_id, streak))
    return out


def _subtree(user, unit_id: int) -> list[int]:
    if not has_perm(user, Perm.RELIABILITY_VIEW) or unit_id not in visible_unit_ids(user):
        raise Http404
    unit = SupplyUnit.objects.only("path").get(pk=unit_id)
    return list(SupplyUnit.objects.filter(path__startswith=unit.path).values_list("id", flat=True))


def _case_out(case: FrequentOutageCase | None) -> dict | None:
    if case is None:
        return None
    return {
        "id": case.pk,
        "first_day": case.first_day,
        "last_day": case.last_day,
        "count": case.count,
        "action": case.action,
        "status": case.status,
        "owner": case.owner.username if case.owner_id else None,
        "closed_at": case.closed_at,
    }


def frequent_outage_list(user, *, unit_id: int, today: date) -> list[dict]:
    """The accounts of the unit (with its descendants) on the frequent-outage list on `today`: account number,
    area, count, dates and the open case (if any), most interruptions first, then latest, then account number."""
    listed = _listed(today=today, unit_ids=_subtree(user, unit_id))
    ids = [x.account_id for x in listed]
    accounts = {
        a.pk: a
        for a in Account.objects.filter(pk__in=ids).select_related("premise__transformer_area", "unit")
    }
    cases = {
        c.account_id: c
        for c in FrequentOutageCase.objects.filter(account_id__in=ids, status__in=OPEN_ACTION).select_related(
            "owner"
        )
    }
    out = []
    for x in listed:
        a = accounts[x.account_id]
        area = a.premise.transformer_area
        out.append(
            {
                "account_id": a.pk,
                "account_number": a.account_number,
                "unit_id": a.unit_id,
                "unit_name": a.unit.name,
                "area_code": area.code,
                "area_name": area.name,
                "count": x.count,
                "first_day": x.first_day,
                "last_day": x.last_day,
                "dates": x.dates,
                "case": _case_out(cases.get(a.pk)),
            }
        )
    out.sort(key=lambda r: (-r["count"], -r["last_day"].toordinal(), r["account_number"]))
    return out


def frequent_cases_open(*, today: date, actor: Actor | None = None) -> int:
    """Open one case per account newly on the list (all units); keep an account's open case up to date; returns
    the number of cases opened. Idempotent: running it again the same day opens nothing."""
    actor = actor or Actor()
    listed = _listed(today=today, unit_ids=None)
    if not listed:
        return 0
    ids = [x.account_id for x in listed]
    units = dict(Account.objects.filter(pk__in=ids).values_list("pk", "unit_id"))
    with transaction.atomic():
        cases = list(FrequentOutageCase.objects.select_for_update().filter(account_id__in=ids))
        open_case = {c.account_id: c for c in cases if c.status in OPEN_ACTION}
        closed_until: dict[int, date] = {}
        taken: set[tuple[int, date]] = set()
        for c in cases:
            taken.add((c.account_id, c.first_day))
            if c.status not in OPEN_ACTION:
                closed_until[c.account_id] = max(c.last_day, closed_until.get(c.account_id, c.last_day))
        new, refreshed = [], []
        for x in listed:
            c = open_case.get(x.account_id)
            if c is not None:
                if (c.last_day, c.count) != (x.last_day, x.count) and x.last_day >= c.last_day:
                    c.last_day, c.count = x.last_day, max(c.count, x.count)
                    refreshed.append(c)
                continue
            done = closed_until.get(x.account_id)
            dates = x.dates if done is None else [d for d in x.dates if d > done]
            if not dates or (x.account_id, dates[0]) in taken:
                continue  # a closed case already covers this streak
            new.append(
                FrequentOutageCase(
                    account_id=x.account_id,
                    unit_id=units[x.account_id],
                    first_day=dates[0],
                    last_day=x.last_day,
                    count=x.count,
                )
            )
        FrequentOutageCase.objects.bulk_create(new)
        FrequentOutageCase.objects.bulk_update(refreshed, ["last_day", "count"])
        if new or refreshed:
            audit_record(
                actor=actor,
                action="outage.frequent_open",
                object_type="frequent_outage",
                object_id=today.isoformat(),
                changes={"date": today.isoformat(), "opened": len(new), "refreshed": len(refreshed)},
            )
    return len(new)


def frequent_case_get(user, *, case_id: int) -> FrequentOutageCase:
    case = FrequentOutageCase.objects.filter(pk=case_id).first()
    if (
        case is None
        or not has_perm(user, Perm.RELIABILITY_VIEW)
        or case.unit_id not in visible_unit_ids(user)
    ):
        raise Http404
    return case


def frequent_case_update(
    *, actor: Actor, case: FrequentOutageCase, action: str, status: str, owner: User | None = None
) -> FrequentOutageCase:
    """Record the action taken on a case, its status and owner (outage.draft on the case's unit). Closing it
    (done / dropped) stamps `closed_at`; reopening is refused while the account has another open case."""
    require_object(actor, case, Perm.OUTAGE_DRAFT)
    errors: dict[str, list[str]] = {}
    action = (action or "").strip()
    if len(action) > ACTION_MAX:
        errors["action"] = [_("整改措施最多 %(n)s 个字符") % {"n": ACTION_MAX}]
    if "\x00" in action:
        errors["action"] = [_("不能包含空字符（NUL）")]
    if status not in ActionStatus.values:
        errors["status"] = [_("状态应为 %(v)s") % {"v": " / ".join(ActionStatus.values)}]
    elif status in (ActionStatus.IN_PROGRESS, ActionStatus.DONE) and not action:
        errors["action"] = [_("处理中或已完成的案例须填写整改措施")]
    if owner is not None and (not owner.is_active or not has_perm(owner, Perm.RELIABILITY_VIEW)):
        errors["owner"] = [_("责任人须为在职员工")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        case = FrequentOutageCase.objects.select_for_update().get(pk=case.pk)
        before = snapshot(case, ["action", "status", "owner_id", "closed_at"])
        if status in OPEN_ACTION and case.status not in OPEN_ACTION:
            other = (
                FrequentOutageCase.objects.filter(account_id=case.account_id, status__in=OPEN_ACTION)
                .exclude(pk=case.pk)
                .exists()
            )
            if other:
                raise ValidationError({"status": [_("该户号已有未关闭的频繁停电案例，不能重新打开")]})
        case.action = action
        case.status = status
        case.owner = owner
        case.closed_at = None if status in OPEN_ACTION else (case.closed_at or timezone.now())
        case.save(update_fields=["action", "status", "owner", "closed_at"])
        changes = diff(before, snapshot(case, ["action", "status", "owner_id", "closed_at"]))
        audit_record(
            actor=actor,
            action="outage.frequent_case",
            obj=case,
            unit_id=case.unit_id,
            changes=changes,
        )
    return case
