"""Five years of demo outages on the demo topology (`gridcare demo_outages`), so that the reliability indices,
the Major Event Days, the frequent-outage list and the planned-outage budget mean something.

`demo_outages(today=, years=5, seed=42)` — deterministic for the same topology, `today` and seed
(`random.Random(seed)`). From `years` back to yesterday:
- about 0.5 sustained interruptions per account-year, as area faults (~70 % of the events), feeder-wide faults
  (~5 %), planned outages (~20 %, published 7–14 days ahead, approved and published by the demo manager),
  temporary maintenance (published 1–3 days ahead), a few external-cause outages and curtailment (限电) days;
- two typhoon days (an August day of two different years): ~30 % of one bureau's feeders out 6–20 h, each area
  back at its own time (cause typhoon), so that Major Event Days appear;
- ~3 % momentary faults (≤ 5 min);
- two small areas with 3 faults within 2 months (the frequent-outage list; one cluster in the last months);
- partial restorations: multi-area events have per-area ends, some single-area faults split their customers.
Every past event is `restored` with closed interruptions. For the browser walk-through: one `submitted` planned
outage starting in 10 days (for the manager to approve) and one `published` planned outage starting in 8 days
(frozen with `freeze(..., actual=False)`; no notices are queued). `PlannedBudget` rows per bureau and year,
sized so this year's budget is ~70 % used (planned + temporary, as the budget check counts them).

Written set-based: the topology and the accounts are read once, the events, scopes, frozen areas, interruption
groups and affected accounts are bulk-inserted. Idempotent: the previous demo events (source `demo`) are deleted
first, so a second run replaces them instead of doubling them.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from django.db import transaction
from django.utils import timezone

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.core.clock import demo_clock
from gridcare.core.permissions import Role
from gridcare.customers.choices import Segment
from gridcare.customers.models import Account, Feeder, ServicePoint, TransformerArea
from gridcare.notify.outbox import notices_muted
from gridcare.org.models import SupplyUnit, User

from . import freeze as freezer
from .choices import PREARRANGED, CauseCategory, OutageKind, OutageSource, OutageStatus
from .models import (
    AffectedAccount,
    ImportantContact,
    Interruption,
    OutageArea,
    OutageEvent,
    OutageScope,
    PlannedBudget,
)

CHINA = freezer.CHINA
RATE = 0.5  # sustained interruptions per account-year (typhoons come on top)
BUDGET_USED_THIS_YEAR = 0.7
FAULT_CAUSES = (
    (CauseCategory.EQUIPMENT, 30),
    (CauseCategory.TREE, 15),
    (CauseCategory.LIGHTNING, 12),
    (CauseCategory.WEATHER, 10),
    (CauseCategory.ANIMAL, 8),
    (CauseCategory.THIRD_PARTY, 10),
    (CauseCategory.CUSTOMER, 10),
    (CauseCategory.OTHER, 5),
)
TITLES = {
    OutageKind.PLANNED: ("线路检修", "设备消缺", "配变增容改造", "线路改造施工", "柱上开关更换"),
    OutageKind.TEMPORARY: ("临时消缺", "紧急更换避雷器", "临时处理线路缺陷"),
    OutageKind.FAULT: None,
    OutageKind.EXTERNAL: ("外力破坏：车辆撞杆", "施工挖断电缆", "异物短路"),
    OutageKind.SHORTAGE: ("迎峰度夏有序用电", "电源不足错峰限电"),
}
CAUSE_TITLE = {
    CauseCategory.EQUIPMENT: "设备故障跳闸",
    CauseCategory.TREE: "树障放电跳闸",
    CauseCategory.LIGHTNING: "雷击跳闸",
    CauseCategory.WEATHER: "大风天气故障",
    CauseCategory.ANIMAL: "小动物短路",
    CauseCategory.THIRD_PARTY: "外力破坏",
    CauseCategory.CUSTOMER: "用户故障出门",
    CauseCategory.OTHER: "故障停电",
    CauseCategory.TYPHOON: "台风灾害停电",
}


@dataclass
class _Area:
    id: int
    code: str
    name: str
    feeder_id: int
    unit_id: int
    area_type: str
    accounts: list[tuple[int, date, date | None, bool, bool]] = field(default_factory=list)
    # (account id, opened_on, closed_on, dedicated, important)

    def in_service(self, day: date) -> list[tuple[int, date, date | None, bool, bool]]:
        return [a for a in self.accounts if a[1] <= day and (a[2] is None or a[2] > day)]


@dataclass
class _Event:
    kind: str
    cause: str
    title: str
    start: datetime
    end: datetime  # the last area's end
    areas: list[_Area]
    area_ends: dict[int, datetime]
    feeder_scope: list[int]  # feeder ids chosen as scope (else the areas are)
    unit_id: int
    planned_end: datetime
    split: float | None = None  # single-area partial restoration: share of accounts back at `split_end`
    split_end: datetime | None = None
    published_at: datetime | None = None


def years_back(today: date, years: int) -> date:
    """The same day `years` years before `today` (29 February → 28 February)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def delete_demo_outages() -> int:
    """Delete every demo event and what was frozen for it; the number of events deleted."""
    demo = OutageEvent.objects.filter(source=OutageSource.DEMO)
    ids = list(demo.values_list("pk", flat=True))
    for model in (AffectedAccount, ImportantContact, Interruption, OutageArea, OutageScope):
        model.objects.filter(event_id__in=ids)._raw_delete(model.objects.db)
    OutageEvent.objects.filter(pk__in=ids)._raw_delete(OutageEvent.objects.db)
    return len(ids)


class _Builder:
    def __init__(self, *, today: date, years: int, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.today, self.now = today, now
        self.first = years_back(today, years)
        self.days = (today - self.first).days  # event days: first .. today − 1
        self.events: list[_Event] = []
        self.busy: dict[int, list[tuple[str, datetime, datetime]]] = defaultdict(list)
        self._load()

    # ------------------------------------------------------------------------------------- topology
    def _load(self) -> None:
        self.areas: dict[int, _Area] = {
            a.pk: _Area(a.pk, a.code, a.name, a.feeder_id, a.unit_id, a.area_type)
            for a in TransformerArea.objects.order_by("code")
        }
        dedicated = set(
            ServicePoint.objects.filter(
                voltage_level__in=freezer.MV_LEVELS, account__isnull=False
            ).values_list("account_id", flat=True)
        )
        for pk, area_id, opened, closed, segment in (
            Account.objects.filter(premise__transformer_area__isnull=False)
            .order_by("pk")
            .values_list("pk", "premise__transformer_area_id", "opened_on", "closed_on", "customer__segment")
        ):
            self.areas[area_id].accounts.append(
                (pk, opened, closed, pk in dedicated, segment == Segment.IMPORTANT)
            )
        self.feeders: dict[int, Feeder] = {f.pk: f for f in Feeder.objects.order_by("code")}
        self.feeder_areas: dict[int, list[_Area]] = defaultdict(list)
        for a in self.areas.values():
            self.feeder_areas[a.feeder_id].append(a)
        units = dict(SupplyUnit.objects.values_list("pk", "parent_id"))
        self.bureau_of = {f.pk: units.get(f.unit_id) or f.unit_id for f in self.feeders.values()}
        self.bureau_feeders: dict[int, list[int]] = defaultdict(list)
        for fid in sorted(self.feeders, key=lambda f: self.feeders[f].code):
            if self.feeder_areas[fid]:
                self.bureau_feeders[self.bureau_of[fid]].append(fid)
        self.area_list = [a for a in self.areas.values() if a.accounts]
        self.feeder_list = [f for f in self.feeders if any(a.accounts for a in self.feeder_areas[f])]
        self.n_accounts = sum(len(a.accounts) for a in self.areas.values())

    # -------------------------------------------------------------------------------------- helpers
    def _day(self, lo: int = 0, hi: int | None = None) -> date:
        return self.first + timedelta(days=self.rng.randrange(lo, hi if hi is not None else self.days))

    @staticmethod
    def _at(day: date, minutes: float) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=CHINA) + timedelta(minutes=round(minutes))

    def _free(self, kind: str, areas: list[_Area], start: datetime, end: datetime) -> bool:
        """No stored event of the same kind overlaps on these areas (the duplicate rule) — and no two demo events
        on one area overlap at all, so every account's history reads plainly."""
        return not any(s < end and start < e for a in areas for _k, s, e in self.busy[a.id])

    def _add(self, ev: _Event) -> bool:
        if ev.end >= self.now or not ev.areas or not self._free(ev.kind, ev.areas, ev.start, ev.end):
            return False
        for a in ev.areas:
            self.busy[a.id].append((ev.kind, ev.start, ev.end))
        self.events.append(ev)
        return True

    def _ends(
        self, areas: list[_Area], start: datetime, minutes: float, spread: float
    ) -> dict[int, datetime]:
        """Per-area ends: the last area back after `minutes`, the others earlier by up to `spread` of it."""
        ends = {
            a.id: start + timedelta(minutes=round(minutes * (1 - spread * self.rng.random()))) for a in areas
        }
        last = max(areas, key=lambda a: ends[a.id])
        ends[last.id] = start + timedelta(minutes=round(minutes))
        return ends

    def _cause(self) -> str:
        causes, weights = zip(*FAULT_CAUSES, strict=True)
        return self.rng.choices(causes, weights)[0]

    def _customers(self, ev: _Event) -> int:
        return sum(len(a.in_service(ev.start.astimezone(CHINA).date())) for a in ev.areas)

    def _feeder_event(self, kind, cause, title, fid, start, minutes, spread=0.5, planned_end=None) -> _Event:
        areas = [a for a in self.feeder_areas[fid] if a.accounts]
        ends = self._ends(areas, start, minutes, spread)
        end = max(ends.values())
        return _Event(
            kind, cause, title, start, end, areas, ends, [fid], self.feeders[fid].unit_id, planned_end or end
        )

    def _area_event(self, kind, cause, title, areas, start, minutes, planned_end=None) -> _Event:
        ends = (
            self._ends(areas, start, minutes, 0.4)
            if len(areas) > 1
            else {areas[0].id: start + timedelta(minutes=round(minutes))}
        )
        end = max(ends.values())
        unit = self.feeders[areas[0].feeder_id].unit_id
        return _Event(kind, cause, title, start, end, areas, ends, [], unit, planned_end or end)

    def _fault_minutes(self, median: float) -> float:
        return min(max(self.rng.lognormvariate(math.log(median), 0.6), 20), 8 * 60)

    def _fault_start(self, day: date) -> datetime:
        return self._at(day, self.rng.triangular(0, 24 * 60, 15 * 60))

    # ------------------------------------------------------------------------------------- the story
    def build(self) -> None:
        if not self.area_list:
            return
        self._typhoons()
        self._shortage_days()
        self._frequent_clusters()
        target = RATE * self.n_accounts * self.days / 365.25
        done = sum(self._customers(e) for e in self.events if e.cause != CauseCategory.TYPHOON)
        kinds = ("area_fault", "feeder_fault", "planned", "temporary", "external")
        weights = (70, 5, 20, 3, 2)
        tries = 0
        while done < target and tries < 100_000:
            tries += 1
            ev = getattr(self, f"_{self.rng.choices(kinds, weights)[0]}")()
            if ev is not None and self._add(ev):
                done += self._customers(ev)
        sustained = len(self.events)
        for _i in range(max(2, round(sustained * 0.03))):
            for _try in range(50):
                area = self.rng.choice(self.area_list)
                start = self._fault_start(self._day())
                ev = self._area_event(
                    OutageKind.FAULT,
                    CauseCategory.LIGHTNING,
                    "瞬时故障重合成功",
                    [area],
                    start,
                    self.rng.uniform(1, 5),
                )
                if self._add(ev):
                    break

    def _area_fault(self) -> _Event:
        area = self.rng.choice(self.area_list)
        cause = self._cause()
        ev = self._area_event(
            OutageKind.FAULT,
            cause,
            CAUSE_TITLE[cause],
            [area],
            self._fault_start(self._day()),
            self._fault_minutes(90),
        )
        if self.rng.random() < 0.15 and len(area.accounts) > 1:  # partial restoration inside the area
            ev.split = self.rng.uniform(0.3, 0.7)
            ev.split_end = ev.start + (ev.end - ev.start) * self.rng.uniform(0.3, 0.7)
        return ev

    def _feeder_fault(self) -> _Event:
        cause = self._cause()
        fid = self.rng.choice(self.feeder_list)
        return self._feeder_event(
            OutageKind.FAULT,
            cause,
            CAUSE_TITLE[cause],
            fid,
            self._fault_start(self._day()),
            self._fault_minutes(120),
        )

    def _planned(self, kind: str = OutageKind.PLANNED) -> _Event | None:
        day = self._day()
        while day.weekday() >= 5:
            day += timedelta(days=1)
        hours = self.rng.randint(4, 9) if kind == OutageKind.PLANNED else self.rng.randint(2, 4)
        start = self._at(day, self.rng.choice((7 * 60 + 30, 8 * 60, 8 * 60 + 30, 9 * 60)))
        planned_end = start + timedelta(hours=hours)
        minutes = hours * 60 + self.rng.choice((-30, -20, 0, 0, 0, 15, 40))
        title = self.rng.choice(TITLES[kind])
        cause = CauseCategory.MAINTENANCE if self.rng.random() < 0.7 else CauseCategory.CONSTRUCTION
        if kind == OutageKind.PLANNED and self.rng.random() < 0.35:
            ev = self._feeder_event(
                kind, cause, title, self.rng.choice(self.feeder_list), start, minutes, 0.3, planned_end
            )
        else:
            first = self.rng.choice(self.area_list)
            siblings = [a for a in self.feeder_areas[first.feeder_id] if a.accounts and a is not first]
            areas = [first, *self.rng.sample(siblings, min(len(siblings), self.rng.randint(0, 1)))]
            ev = self._area_event(kind, cause, title, areas, start, minutes, planned_end)
        ahead = timedelta(days=7 + self.rng.randint(0, 7), hours=self.rng.randint(1, 8))
        if kind == OutageKind.TEMPORARY:
            ahead = timedelta(days=1 + self.rng.randint(0, 2), hours=self.rng.randint(1, 8))
        ev.published_at = start - ahead
        return ev

    def _temporary(self) -> _Event | None:
        return self._planned(OutageKind.TEMPORARY)

    def _external(self) -> _Event:
        title = self.rng.choice(TITLES[OutageKind.EXTERNAL])
        start = self._fault_start(self._day())
        if self.rng.random() < 0.5:
            return self._feeder_event(
                OutageKind.EXTERNAL,
                CauseCategory.THIRD_PARTY,
                title,
                self.rng.choice(self.feeder_list),
                start,
                self._fault_minutes(150),
            )
        area = self.rng.choice(self.area_list)
        return self._area_event(
            OutageKind.EXTERNAL,
            CauseCategory.UPSTREAM,
            "上级电网故障",
            [area],
            start,
            self._fault_minutes(100),
        )

    def _summer_days(self) -> list[date]:
        return [d for k in range(self.days) if (d := self.first + timedelta(days=k)).month in (7, 8)]

    def _typhoons(self) -> None:
        """Two August days of two different years: ~30 % of one bureau's feeders out 6–20 h."""
        augusts = sorted(
            {
                d.year
                for k in range(self.days)
                if (d := self.first + timedelta(days=k)).month == 8 and d.day == 20
            }
        )
        bureaus = sorted(
            self.bureau_feeders,
            key=lambda b: -sum(len(a.accounts) for f in self.bureau_feeders[b] for a in self.feeder_areas[f]),
        )
        if not bureaus:
            return
        # Not the first August: the MED threshold of a typhoon's year needs some history before it.
        pool = augusts[1:] if len(augusts) >= 3 else augusts
        for k, year in enumerate(sorted(self.rng.sample(pool, min(2, len(pool))))):
            day = date(year, 8, self.rng.randint(5, 25))
            bureau = bureaus[min(k, len(bureaus) - 1) if self.rng.random() < 0.5 else 0]
            feeders = self.bureau_feeders[bureau]
            for fid in self.rng.sample(feeders, max(1, math.ceil(0.3 * len(feeders)))):
                start = self._at(day, self.rng.uniform(2 * 60, 8 * 60))
                areas = [a for a in self.feeder_areas[fid] if a.accounts]
                ends = {
                    a.id: start + timedelta(minutes=round(self.rng.uniform(6 * 60, 20 * 60))) for a in areas
                }
                end = max(ends.values())
                self._add(
                    _Event(
                        OutageKind.FAULT,
                        CauseCategory.TYPHOON,
                        CAUSE_TITLE[CauseCategory.TYPHOON],
                        start,
                        end,
                        areas,
                        ends,
                        [fid],
                        self.feeders[fid].unit_id,
                        end,
                    )
                )

    def _shortage_days(self) -> None:
        """A few summer afternoons of curtailment (限电), 1–3 feeders each, fed back one by one."""
        summer = self._summer_days()
        for day in sorted(self.rng.sample(summer, min(3, len(summer)))):
            for fid in self.rng.sample(self.feeder_list, min(len(self.feeder_list), self.rng.randint(1, 3))):
                start = self._at(day, self.rng.choice((13 * 60 + 30, 14 * 60, 15 * 60)))
                self._add(
                    self._feeder_event(
                        OutageKind.SHORTAGE,
                        CauseCategory.GENERATION,
                        self.rng.choice(TITLES[OutageKind.SHORTAGE]),
                        fid,
                        start,
                        self.rng.uniform(120, 240),
                        0.5,
                    )
                )

    def _frequent_clusters(self) -> None:
        """Two small areas with 3 faults within 2 months: one cluster in the last months, one earlier."""
        small = sorted(self.area_list, key=lambda a: (len(a.accounts), a.code))[:2]
        windows = [(max(0, self.days - 150), max(1, self.days - 70)), (0, max(1, self.days - 400))]
        for area, (lo, hi) in zip(small, windows, strict=False):
            for _try in range(20):
                d0 = self.rng.randrange(lo, hi)
                offsets = [0, self.rng.randint(10, 25), self.rng.randint(35, 55)]
                cands = []
                for off in offsets:
                    cause = self._cause()
                    day = self.first + timedelta(days=min(d0 + off, self.days - 1))
                    cands.append(
                        self._area_event(
                            OutageKind.FAULT,
                            cause,
                            CAUSE_TITLE[cause],
                            [area],
                            self._fault_start(day),
                            self._fault_minutes(80),
                        )
                    )
                if all(self._free(c.kind, c.areas, c.start, c.end) and c.end < self.now for c in cands):
                    for c in cands:
                        self._add(c)
                    break


def _users() -> tuple[User | None, User | None]:
    staff = User.objects.filter(is_active=True)
    dispatcher = (
        staff.filter(username="dispatcher").first()
        or staff.filter(role=Role.DISPATCHER).order_by("pk").first()
    )
    manager = (
        staff.filter(username="manager").first() or staff.filter(role=Role.MANAGER).order_by("pk").first()
    )
    return dispatcher, manager


def _write(b: _Builder, dispatcher: User | None, manager: User | None) -> dict:
    """Bulk-insert the built events and everything frozen for them."""
    evs = sorted(b.events, key=lambda e: (e.start, e.areas[0].code))
    seq: dict[date, int] = defaultdict(int)
    rows = []
    for ev in evs:
        day = ev.start.astimezone(CHINA).date()
        seq[day] += 1
        prearranged = ev.kind in PREARRANGED
        customers = b._customers(ev)
        hours = Decimal((ev.planned_end - ev.start).total_seconds()) / 3600
        rows.append(
            OutageEvent(
                number=f"TD{day:%Y%m%d}{seq[day]:05d}",
                unit_id=ev.unit_id,
                kind=ev.kind,
                cause_category=ev.cause,
                status=OutageStatus.RESTORED,
                title=ev.title,
                work_content=ev.title if prearranged else "",
                planned_start=ev.start,
                planned_end=ev.planned_end,
                actual_start=ev.start,
                actual_end=ev.end,
                frozen_at=ev.published_at if prearranged else ev.start + timedelta(minutes=5),
                est_customer_hours=(customers * hours).quantize(Decimal("0.01")),
                source=OutageSource.DEMO,
                created_by=dispatcher,
                submitted_by=dispatcher if prearranged else None,
                approved_by=manager if prearranged else None,
                published_by=manager if prearranged else None,
                submitted_at=ev.published_at - timedelta(days=2) if prearranged else None,
                approved_at=ev.published_at - timedelta(hours=1) if prearranged else None,
                published_at=ev.published_at,
            )
        )
    OutageEvent.objects.bulk_create(rows, batch_size=500)
    scopes, areas = [], []
    for row, ev in zip(rows, evs, strict=True):
        if ev.feeder_scope:
            scopes += [OutageScope(event=row, feeder_id=f) for f in ev.feeder_scope]
        else:
            scopes += [OutageScope(event=row, transformer_area_id=a.id) for a in ev.areas]
        for a in ev.areas:
            accts = a.in_service(ev.start.astimezone(CHINA).date())
            areas.append(
                OutageArea(
                    event=row,
                    transformer_area_id=a.id,
                    feeder_id=a.feeder_id,
                    unit_id=a.unit_id,
                    area_type=a.area_type,
                    area_name=a.name,
                    customers=len(accts),
                    dedicated=sum(1 for x in accts if x[3]),
                    est_restoration=ev.planned_end,
                    actual_end=ev.area_ends[a.id],
                )
            )
    OutageScope.objects.bulk_create(scopes, batch_size=1000)
    OutageArea.objects.bulk_create(areas, batch_size=1000)
    groups: list[tuple[Interruption, list]] = []
    by_event = iter(areas)
    for row, ev in zip(rows, evs, strict=True):
        day = ev.start.astimezone(CHINA).date()
        for a in ev.areas:
            oa = next(by_event)
            accts = a.in_service(day)
            end = ev.area_ends[a.id]
            parts = [(accts, end)]
            if ev.split is not None and len(accts) > 1:
                k = max(1, min(len(accts) - 1, round(len(accts) * ev.split)))
                parts = [(accts[:k], ev.split_end), (accts[k:], end)]
            public_group = max(
                (i for i, (p, _e) in enumerate(parts) if any(not x[3] for x in p)), default=None
            )
            for i, (part, stop) in enumerate(parts):
                g = Interruption(
                    event=row,
                    area=oa,
                    unit_id=oa.unit_id,
                    area_type=oa.area_type,
                    kind=ev.kind,
                    start=ev.start,
                    end=stop,
                    day=day,
                    duration_s=int((stop - ev.start).total_seconds()),
                    customers=len(part),
                    mv_users=(1 if i == public_group else 0) + sum(1 for x in part if x[3]),
                )
                groups.append((g, part))
    Interruption.objects.bulk_create([g for g, _p in groups], batch_size=1000)
    affected = [
        AffectedAccount(event_id=g.event_id, account_id=x[0], interruption=g, dedicated=x[3], important=x[4])
        for g, part in groups
        for x in part
    ]
    AffectedAccount.objects.bulk_create(affected, batch_size=2000)
    totals: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for g, _p in groups:
        c, m = totals[g.event_id]
        totals[g.event_id] = (c + g.customers, m + g.mv_users)
    for row in rows:
        row.customers, row.mv_users = totals[row.pk]
    OutageEvent.objects.bulk_update(rows, ["customers", "mv_users"], batch_size=500)
    return {
        "events": len(rows),
        "interruptions": len(groups),
        "affected_accounts": len(affected),
        "typhoon_events": sum(1 for e in evs if e.cause == CauseCategory.TYPHOON),
        "momentary": sum(1 for e in evs if (e.end - e.start) <= timedelta(minutes=5)),
    }


def _walk_through(
    b: _Builder, dispatcher: User | None, manager: User | None
) -> list[tuple[OutageEvent, int]]:
    """One submitted planned outage starting in 10 days and one published one starting in 8 days, in the
    dispatcher's bureau (else the first bureau), on two different feeders."""
    bureau = None
    if dispatcher is not None and dispatcher.unit_id in b.bureau_feeders:
        bureau = dispatcher.unit_id
    feeders = b.bureau_feeders.get(bureau) or next((f for _b, f in sorted(b.bureau_feeders.items())), [])
    feeders = [f for f in feeders if f in b.feeder_list]
    if not feeders:
        return []
    made = []
    specs = [
        (10, OutageStatus.SUBMITTED, "柱上开关更换", "更换柱上开关两台，消除绝缘子缺陷", 8),
        (8, OutageStatus.PUBLISHED, "线路检修", "线路消缺、树障清理、避雷器更换", 9),
    ]
    for k, (days, status, title, work, hours) in enumerate(specs):
        fid = feeders[k % len(feeders)] if len(feeders) > 1 else feeders[0]
        feeder = b.feeders[fid]
        day = b.today + timedelta(days=days)
        start = _Builder._at(day, 8 * 60)
        end = start + timedelta(hours=hours)
        day_seq = OutageEvent.objects.filter(number__startswith=f"TD{day:%Y%m%d}").count() + 1
        areas = [a for a in b.feeder_areas[fid] if a.accounts]
        if status == OutageStatus.SUBMITTED:
            areas = areas[:2]
        customers = sum(len(a.in_service(day)) for a in areas)
        event = OutageEvent.objects.create(
            number=f"TD{day:%Y%m%d}{day_seq:05d}",
            unit_id=feeder.unit_id,
            kind=OutageKind.PLANNED,
            cause_category=CauseCategory.MAINTENANCE,
            status=status,
            title=f"{feeder.name}{title}"[:100],
            work_content=work,
            planned_start=start,
            planned_end=end,
            est_customer_hours=Decimal(customers * hours).quantize(Decimal("0.01")),
            source=OutageSource.DEMO,
            created_by=dispatcher,
            submitted_by=dispatcher,
            submitted_at=b.now - timedelta(hours=3),
            approved_by=manager if status == OutageStatus.PUBLISHED else None,
            approved_at=b.now - timedelta(hours=2) if status == OutageStatus.PUBLISHED else None,
            published_by=manager if status == OutageStatus.PUBLISHED else None,
            published_at=b.now - timedelta(hours=1) if status == OutageStatus.PUBLISHED else None,
        )
        if status == OutageStatus.SUBMITTED:
            OutageScope.objects.bulk_create(
                [OutageScope(event=event, transformer_area_id=a.id) for a in areas]
            )
        else:
            OutageScope.objects.create(event=event, feeder_id=fid)
            freezer.freeze(event, start=start, actual=False)
            OutageEvent.objects.filter(pk=event.pk).update(frozen_at=event.published_at)
        made.append((event, fid))
    return made


def _budgets(b: _Builder, walk: list[tuple[OutageEvent, int]]) -> int:
    """PlannedBudget per bureau and year: past years a little above what was used, this year ~70 % used."""
    used: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for ev in b.events:
        if ev.kind in PREARRANGED:
            day = ev.start.astimezone(CHINA).date()
            seconds = sum(
                len(a.in_service(day)) * (ev.area_ends[a.id] - ev.start).total_seconds() for a in ev.areas
            )
            used[(b.bureau_of[ev.areas[0].feeder_id], day.year)] += Decimal(seconds) / 3600
    for e, fid in walk:
        used[(b.bureau_of[fid], timezone.localtime(e.planned_start, CHINA).year)] += e.est_customer_hours
    years = range(b.first.year, max([b.today.year, *(y for _b, y in used)]) + 1)
    ten = Decimal("10")
    n = 0
    for bureau in sorted(b.bureau_feeders):
        fallback = max([v for (bb, _y), v in used.items() if bb == bureau] or [Decimal("100")])
        for year in years:
            u = used.get((bureau, year), Decimal("0"))
            share = (
                Decimal(str(BUDGET_USED_THIS_YEAR))
                if year == b.today.year
                else Decimal(str(round(b.rng.uniform(0.8, 0.95), 2)))
            )
            amount = u / share if u > 0 else fallback / Decimal("0.8")
            amount = (amount / ten).to_integral_value(ROUND_CEILING) * ten
            PlannedBudget.objects.update_or_create(
                unit_id=bureau, year=year, defaults={"customer_hours": amount}
            )
            n += 1
    return n


def demo_outages(*, today: date, years: int = 5, seed: int = 42, now: datetime | None = None) -> dict:
    """Build the demo outage history as of `today` (see the module docstring); counts and the seconds taken."""
    t0 = time.monotonic()
    now = now or demo_clock(today)[1]
    with transaction.atomic(), notices_muted():
        deleted = delete_demo_outages()
        b = _Builder(today=today, years=years, seed=seed, now=now)
        b.build()
        dispatcher, manager = _users()
        counts = _write(b, dispatcher, manager) if b.events else {"events": 0}
        walk = _walk_through(b, dispatcher, manager)
        counts["walk_through"] = [e.number for e, _f in walk]
        counts["budgets"] = _budgets(b, walk)
        counts["replaced"] = deleted
        counts["accounts"] = b.n_accounts
        audit_record(
            actor=Actor(channel=Channel.JOB),
            action="demo.outages",
            object_type="demo",
            object_id=str(seed),
            changes={
                "today": today.isoformat(),
                "years": years,
                "seed": seed,
                **{k: v for k, v in counts.items() if k != "walk_through"},
            },
        )
    counts["seconds"] = round(time.monotonic() - t0, 2)
    return counts
