"""Reliability indices on stored data (issue 14 §3): the same `reliability.compute` as the calculate endpoint, fed
with per-day aggregates read in a few GROUP BY queries, never row by row.

What is read, for a unit's subtree (unit path prefix), a period and the 1,826 days of MED history before it:
- `Interruption` grouped by (day, kind, momentary[, area_type]) summing customers (LV) or `mv_users` (MV) and
  customers × duration_s. Open interruptions (end null) count up to `as_of` (default now), read separately
  (few), and those beginning in the period are reported as `open_interruptions`; ones starting after `as_of`
  are left out.
- Daily customer counts N(d) by cumulative sums of GROUP BY `opened_on` / `closed_on` counts of the accounts
  (by `Account.unit` subtree; for an area group by the premise's transformer area's `area_type`). An account is
  in service on d when `opened_on ≤ d` and (`closed_on` null or `closed_on > d`). N_T = mean N(d) over the period
  (time-weighted: account-days ÷ days); the daily SAIDI of each day uses that day's own N(d) (a day with N(d) = 0
  falls back to N_T).
- MV basis (DL/T 836 10 kV users): N(d) = public transformer areas having a non-dedicated account in service +
  dedicated accounts in service on d (dedicated: a service point at 10 kV/35 kV/110 kV). Approximation: an
  area counts from the first opening of a non-dedicated account to the last closing when all of them are
  closed (a gap with no account in between is not seen). Interruption counts come from `Interruption.mv_users`.
- CEMIₙ = share of customers with more than n sustained interruptions beginning in the period (denominator N_T).
  LV: `AffectedAccount` rows joined to their sustained interruption, counted per account in SQL. MV
  (approximation): per transformer area, k = the events with a sustained interruption of the area in the
  period, its users = the largest Σ `mv_users` of the area in one of those events; every user of an area with
  k > n counts.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

from gridcare.core.permissions import Perm
from gridcare.core.scoping import may_act_on_unit
from gridcare.customers.models import Account, ServicePoint
from gridcare.org.models import SupplyUnit

from .choices import AREA_GROUP_TYPES, AreaGroup, Basis
from .freeze import MV_LEVELS
from .models import AffectedAccount, Interruption, ReliabilityTarget
from .reliability import CHINA, HISTORY_DAYS, Event, compute

AREA_TYPES = ("centre", "urban", "rural", "remote")
CEMI_N = (1, 2, 3, 4, 5)
# SPEC C5 (seed 000): city centre SAIDI < 1 h/yr, all customers < 15.6 h/yr; urban RS-1 ≥ 99.9 %, rural ≥ 99.8 %.
SPEC_TARGETS = {
    AreaGroup.ALL: {"saidi_hours_max": "15.6"},
    AreaGroup.CENTRE: {"saidi_hours_max": "1"},
    AreaGroup.URBAN: {"rs1_percent_min": "99.9"},
    AreaGroup.RURAL: {"rs1_percent_min": "99.8"},
}


def momentary_max_minutes() -> float:
    return float(getattr(settings, "GRIDCARE", {}).get("OUTAGES", {}).get("MOMENTARY_MAX_MINUTES", 5))


def china_today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(CHINA).date()


def visible_unit(user, unit_id) -> SupplyUnit:
    """The unit, when the user may view reliability on it; else 404 (missing and forbidden answer the same)."""
    if not may_act_on_unit(user, unit_id, Perm.RELIABILITY_VIEW):
        raise Http404
    return SupplyUnit.objects.get(pk=unit_id)


def subtree_ids(unit: SupplyUnit) -> list[int]:
    return list(SupplyUnit.objects.filter(path__startswith=unit.path).values_list("id", flat=True))


# ---------------------------------------------------------------- loading (few GROUP BY queries)


@dataclass
class _Data:
    """Aggregates of one unit subtree over `first`..`last`, per area type (key None when not split by type)."""

    first: date
    last: date
    momentary_s: float
    # (day, kind, momentary, area_type, customers, customer_seconds)
    rows: list[tuple] = field(default_factory=list)
    # (day, area_type) of open interruptions counted up to as_of
    open_rows: list[tuple] = field(default_factory=list)
    # area_type → N(d) for d = first + i
    counts: dict[str | None, list[int]] = field(default_factory=dict)

    def view(self, area_group: str, split: bool) -> _View:
        types = AREA_GROUP_TYPES[area_group]
        keep = (lambda t: True) if (types is None or not split) else (lambda t: t in types)
        n = [0] * ((self.last - self.first).days + 1)
        for t, arr in self.counts.items():
            if keep(t):
                n = [a + b for a, b in zip(n, arr, strict=True)]
        events = [
            Event(
                f"{day}/{kind}/{int(mom)}/{t}",
                datetime.combine(day, time(), CHINA),
                datetime.combine(day, time(), CHINA),
                int(c),
                kind,
                customer_seconds=float(cs),
                momentary=mom,
            )
            for day, kind, mom, t, c, cs in self.rows
            if keep(t) and (c or cs)
        ]
        opened = [d for d, t in self.open_rows if keep(t)]
        return _View(self, n, events, opened)


@dataclass
class _View:
    data: _Data
    n: list[int]
    events: list[Event]
    open_days: list[date]

    def n_t(self, start: date, end: date) -> float:
        i, j = (start - self.data.first).days, (end - self.data.first).days
        return sum(self.n[i : j + 1]) / (j - i + 1)

    def customers_used(self, start: date, end: date) -> dict:
        i, j = (start - self.data.first).days, (end - self.data.first).days
        part = self.n[i : j + 1]
        return {"mean": sum(part) / len(part), "min": min(part), "max": max(part)}

    def compute(self, start: date, end: date, **kw) -> dict:
        n_t = self.n_t(start, end)
        hours = ((end - start).days + 1) * 24
        if n_t <= 0:  # no customers at all: nothing can be interrupted
            zero = {
                "saifi": 0.0,
                "saidi_hours": 0.0,
                "caidi_hours": None,
                "asai_percent": 100.0,
                "maifi": 0.0,
                "rs2_percent": 100.0,
                "rs3_percent": 100.0,
            }
            t_med = kw.get("t_med_minutes")
            return {
                "customers_served": 0.0,
                "period_hours": hours,
                "t_med_minutes": t_med if isinstance(t_med, float) else None,
                "major_event_days": [],
                "all": dict(zero),
                "excluding_med": dict(zero),
            }
        first = self.data.first

        def on(d: date) -> float:
            i = (d - first).days
            v = self.n[i] if 0 <= i < len(self.n) else 0
            return v if v > 0 else n_t

        return compute(
            customers_served=n_t,
            start=start,
            end=end,
            events=self.events,
            momentary_max_minutes=self.data.momentary_s / 60,
            customers_on=on,
            **kw,
        )


def _counts(days: int, first: date, base: dict, deltas: dict) -> dict[str | None, list[int]]:
    out: dict[str | None, list[int]] = {}
    for t in set(base) | set(deltas):
        arr = [0] * days
        run = base.get(t, 0)
        d = deltas.get(t, {})
        for i in range(days):
            run += d.get(i, 0)
            arr[i] = run
        out[t] = arr
    return out


def _add(first: date, base: dict, deltas: dict, t, day: date | None, n: int) -> None:
    """+n accounts in service from `day` on (−n for a closing)."""
    if day is None:
        return
    i = (day - first).days
    if i <= 0:
        base[t] = base.get(t, 0) + n
    else:
        deltas.setdefault(t, {})
        deltas[t][i] = deltas[t].get(i, 0) + n


def _load(unit_ids, first: date, last: date, basis: str, types, split: bool, as_of: datetime) -> _Data:
    ms = 60 * momentary_max_minutes()
    data = _Data(first=first, last=last, momentary_s=ms)
    measure = "mv_users" if basis == Basis.MV else "customers"
    base = Interruption.objects.filter(unit_id__in=unit_ids, day__gte=first, day__lte=last)
    if types:
        base = base.filter(area_type__in=types)
    keys = ["day", "kind", "mom"] + (["area_type"] if split else [])
    agg = (
        base.filter(end__isnull=False, duration_s__isnull=False)
        .annotate(
            mom=Case(
                When(duration_s__lte=ms, then=Value(True)), default=Value(False), output_field=BooleanField()
            )
        )
        .values(*keys)
        .annotate(
            c=Sum(measure),
            cs=Sum(
                ExpressionWrapper(
                    Cast(measure, BigIntegerField()) * Cast("duration_s", BigIntegerField()),
                    output_field=BigIntegerField(),
                )
            ),
        )
        .order_by()
    )
    for r in agg:
        data.rows.append((r["day"], r["kind"], bool(r["mom"]), r.get("area_type"), r["c"] or 0, r["cs"] or 0))
    irregular = base.filter(Q(end__isnull=True) | Q(duration_s__isnull=True), start__lte=as_of).values_list(
        "day", "kind", "area_type", "start", "end", measure
    )
    for day, kind, t, start, end, c in irregular:
        t = t if split else None
        secs = ((end or as_of) - start).total_seconds()
        data.rows.append((day, kind, secs <= ms, t, c, c * secs))
        if end is None:
            data.open_rows.append((day, t))

    days = (last - first).days + 1
    accts = Account.objects.filter(unit_id__in=unit_ids, opened_on__lte=last).filter(
        Q(closed_on__isnull=True) | Q(closed_on__gte=F("opened_on"))
    )
    tkey = "premise__transformer_area__area_type"
    if types:
        accts = accts.filter(**{f"{tkey}__in": types})
    typ = [tkey] if split else []
    start_n: dict = {}
    deltas: dict = {}
    if basis == Basis.MV:
        dedicated = Exists(
            ServicePoint.objects.filter(account_id=OuterRef("pk"), voltage_level__in=MV_LEVELS)
        )
        areas = (
            accts.filter(~dedicated)
            .values("premise__transformer_area_id", *typ)
            .annotate(
                first=Min("opened_on"),
                still=Count("id", filter=Q(closed_on__isnull=True)),
                last=Max("closed_on"),
            )
            .order_by()
        )
        for a in areas:
            t = a.get(tkey)
            _add(first, start_n, deltas, t, a["first"], 1)
            if not a["still"]:
                _add(first, start_n, deltas, t, a["last"], -1)
        accts = accts.filter(dedicated)
    for r in accts.values("opened_on", *typ).annotate(n=Count("id")).order_by():
        _add(first, start_n, deltas, r.get(tkey), r["opened_on"], r["n"])
    for r in accts.filter(closed_on__lte=last).values("closed_on", *typ).annotate(n=Count("id")).order_by():
        _add(first, start_n, deltas, r.get(tkey), r["closed_on"], -r["n"])
    data.counts = _counts(days, first, start_n, deltas) or {None: [0] * days}
    return data


# ---------------------------------------------------------------- CEMI


def _cemi(unit_ids, start, end, basis, types, as_of, ms, meds: list[str], n_t: float) -> dict:
    if basis == Basis.MV:
        return _cemi_mv(unit_ids, start, end, types, as_of, ms, meds, n_t)
    aa = AffectedAccount.objects.filter(
        interruption__unit_id__in=unit_ids, interruption__day__gte=start, interruption__day__lte=end
    ).filter(
        Q(interruption__duration_s__gt=ms)
        | Q(interruption__end__isnull=True, interruption__start__lt=as_of - timedelta(seconds=ms))
    )
    if types:
        aa = aa.filter(interruption__area_type__in=types)

    # One pass over the accounts' interruptions: per account its count, and its count off the MEDs.
    med_days = [date.fromisoformat(d) for d in meds]
    counts = {"k": Count("id")}
    if med_days:
        counts["kx"] = Count("id", filter=~Q(interruption__day__in=med_days))
    per = aa.values("account_id").annotate(**counts).order_by()
    got = per.aggregate(
        **{f"{key}{n}": Count("account_id", filter=Q(**{f"{key}__gt": n})) for key in counts for n in CEMI_N}
    )

    def shares(key: str) -> dict[str, float]:
        return {str(n): (got[f"{key}{n}"] or 0) / n_t if n_t else 0.0 for n in CEMI_N}

    every = shares("k")
    return {"all": every, "excluding_med": shares("kx") if med_days else dict(every)}


def _cemi_mv(unit_ids, start, end, types, as_of, ms, meds, n_t) -> dict:
    qs = Interruption.objects.filter(unit_id__in=unit_ids, day__gte=start, day__lte=end).filter(
        Q(duration_s__gt=ms) | Q(end__isnull=True, start__lt=as_of - timedelta(seconds=ms))
    )
    if types:
        qs = qs.filter(area_type__in=types)
    rows = list(
        qs.values("area__transformer_area_id", "event_id", "day").annotate(u=Sum("mv_users")).order_by()
    )
    med_days = {date.fromisoformat(d) for d in meds}

    def shares(skip: set) -> dict[str, float]:
        k: dict[int, int] = {}
        users: dict[int, int] = {}
        for r in rows:
            if r["day"] in skip:
                continue
            a = r["area__transformer_area_id"]
            k[a] = k.get(a, 0) + 1
            users[a] = max(users.get(a, 0), r["u"] or 0)
        return {str(n): sum(users[a] for a in k if k[a] > n) / n_t if n_t else 0.0 for n in CEMI_N}

    return {"all": shares(set()), "excluding_med": shares(med_days)}


# ---------------------------------------------------------------- public selectors


def _check(basis: str, area_group: str) -> None:
    from django.core.exceptions import ValidationError

    errs = {}
    if basis not in Basis.values:
        errs["basis"] = [f"应为 {' / '.join(Basis.values)}"]
    if area_group not in AREA_GROUP_TYPES:
        errs["area_group"] = [f"应为 {' / '.join(AREA_GROUP_TYPES)}"]
    if errs:
        raise ValidationError(errs)


def reliability_indices(
    *,
    user,
    unit_id: int,
    start: date,
    end: date,
    basis: str = Basis.LV,
    area_group: str = AreaGroup.ALL,
    as_of: datetime | None = None,
) -> dict:
    """The calculate shape plus `unit`, `basis`, `area_group`, `cemi`, `customers_used`, `open_interruptions`."""
    _check(basis, area_group)
    unit = visible_unit(user, unit_id)
    return unit_indices(unit, start=start, end=end, basis=basis, area_group=area_group, as_of=as_of)


def unit_indices(
    unit: SupplyUnit,
    *,
    start: date,
    end: date,
    basis: str = Basis.LV,
    area_group: str = AreaGroup.ALL,
    as_of: datetime | None = None,
    cemi: bool = True,
) -> dict:
    """`reliability_indices` without the caller's scope check (the CLI, the benchmark, jobs); `cemi=False`
    leaves CEMI out."""
    _check(basis, area_group)
    as_of = as_of or timezone.now()
    ids = subtree_ids(unit)
    types = AREA_GROUP_TYPES[area_group]
    first = start - timedelta(days=HISTORY_DAYS)
    data = _load(ids, first, end, basis, types, False, as_of)
    view = data.view(area_group, split=False)
    out = view.compute(start, end)
    out.update(
        unit={"id": unit.pk, "code": unit.code, "name": unit.name},
        basis=str(basis),
        area_group=str(area_group),
        customers_used=view.customers_used(start, end),
        open_interruptions=sum(1 for d in view.open_days if start <= d <= end),
    )
    if cemi:
        meds, n_t = out["major_event_days"], out["customers_served"]
        out["cemi"] = _cemi(ids, start, end, basis, types, as_of, data.momentary_s, meds, n_t)
    return out


def _month_figures(res: dict) -> dict:
    pick = ("saifi", "saidi_hours", "asai_percent")
    return {k: {p: res[k][p] for p in pick} for k in ("all", "excluding_med")}


def _light(ytd: float | None, projected: float | None, limit, higher_is_better: bool = False) -> str | None:
    """green: the projection meets the target; amber: misses it by ≤ 10 %; red: worse, or YTD already beyond."""
    if limit is None or projected is None:
        return None
    limit = float(limit)
    if higher_is_better:  # RS-1: judged on the unavailability 100 − RS-1 against 100 − target
        allowed, value, done = 100 - limit, 100 - projected, None
    else:
        allowed, value, done = limit, projected, ytd
    if done is not None and done > allowed:
        return "red"
    if value <= allowed:
        return "green"
    if value <= allowed * 1.1:
        return "amber"
    return "red"


def targets_for(unit: SupplyUnit, year: int, basis: str) -> dict[str, dict]:
    """The stored targets of the unit, year and basis per area group, SPEC C5 defaults where none is stored."""
    from decimal import Decimal

    out = {}
    stored = {t.area_group: t for t in ReliabilityTarget.objects.filter(unit=unit, year=year, basis=basis)}
    for g in AreaGroup.values:
        t = stored.get(g)
        if t is not None:
            out[g] = {
                "saidi_hours_max": t.saidi_hours_max,
                "rs1_percent_min": t.rs1_percent_min,
                "saifi_max": t.saifi_max,
                "default": False,
            }
        else:
            d = SPEC_TARGETS.get(g, {}) if basis == Basis.LV else {}
            out[g] = {
                "saidi_hours_max": Decimal(d["saidi_hours_max"]) if "saidi_hours_max" in d else None,
                "rs1_percent_min": Decimal(d["rs1_percent_min"]) if "rs1_percent_min" in d else None,
                "saifi_max": None,
                "default": True,
            }
    return out


def reliability_monthly(
    *,
    user,
    unit_id: int,
    year: int,
    basis: str = Basis.LV,
    area_group: str = AreaGroup.ALL,
    today: date,
    as_of: datetime | None = None,
) -> dict:
    """12 months (SAIFI, SAIDI, RS-1, all and excluding MED; months after `today` None), YTD, the projected
    year-end SAIDI (= YTD SAIDI × days in year ÷ days elapsed) and the targets with a traffic light per area group.
    T_MED is the year's (from the 1,826 days before 1 January), read in one pass with the year."""
    _check(basis, area_group)
    unit = visible_unit(user, unit_id)
    as_of = as_of or datetime.combine(today + timedelta(days=1), time(), CHINA)
    jan1, dec31 = date(year, 1, 1), date(year, 12, 31)
    year_days = (dec31 - jan1).days + 1
    upto = min(today, dec31)
    ids = subtree_ids(unit)
    months: list[dict] = []
    result = {
        "unit": {"id": unit.pk, "code": unit.code, "name": unit.name},
        "year": year,
        "basis": str(basis),
        "area_group": str(area_group),
        "today": today.isoformat(),
        "months": months,
        "ytd": None,
        "t_med_minutes": None,
        "major_event_days": [],
        "days_elapsed": 0,
        "projected_saidi_hours": None,
        "targets": {},
    }
    if upto < jan1:
        for m in range(1, 13):
            months.append({"month": m, "all": None, "excluding_med": None})
        return result
    data = _load(ids, jan1 - timedelta(days=HISTORY_DAYS), upto, basis, None, True, as_of)
    elapsed = (upto - jan1).days + 1
    result["days_elapsed"] = elapsed
    ytd_by_group = {}
    for g in AreaGroup.values:
        view = data.view(g, split=True)
        ytd = view.compute(jan1, upto)
        ytd_by_group[g] = (view, ytd)
    view, ytd = ytd_by_group[area_group]
    result["ytd"] = _month_figures(ytd) | {"customers_served": ytd["customers_served"]}
    result["t_med_minutes"] = ytd["t_med_minutes"]
    result["major_event_days"] = ytd["major_event_days"]
    result["projected_saidi_hours"] = ytd["all"]["saidi_hours"] * year_days / elapsed
    for m in range(1, 13):
        m_start = date(year, m, 1)
        m_end = min(date(year, m, calendar.monthrange(year, m)[1]), upto)
        if m_start > upto:
            months.append({"month": m, "all": None, "excluding_med": None})
            continue
        res = view.compute(m_start, m_end, t_med_minutes=ytd["t_med_minutes"])
        months.append({"month": m, "partial": m_end < date(year, m, calendar.monthrange(year, m)[1])})
        months[-1].update(_month_figures(res))
    for g, tgt in targets_for(unit, year, basis).items():
        _v, y = ytd_by_group[g]
        saidi = y["all"]["saidi_hours"]
        saifi = y["all"]["saifi"]
        proj_saidi = saidi * year_days / elapsed
        proj_saifi = saifi * year_days / elapsed
        proj_rs1 = (1 - proj_saidi / (year_days * 24)) * 100
        lights = {
            "saidi_hours": _light(saidi, proj_saidi, tgt["saidi_hours_max"]),
            "rs1_percent": _light(None, proj_rs1, tgt["rs1_percent_min"], higher_is_better=True),
            "saifi": _light(saifi, proj_saifi, tgt["saifi_max"]),
        }
        if tgt["rs1_percent_min"] is not None:
            # RS-1 already below the year's floor: the SAIDI it allows over the whole year is spent
            allowed_h = (100 - float(tgt["rs1_percent_min"])) / 100 * year_days * 24
            if saidi > allowed_h:
                lights["rs1_percent"] = "red"
        order = {"green": 0, "amber": 1, "red": 2}
        set_lights = [v for v in lights.values() if v]
        result["targets"][g] = {
            "target": {k: (str(v) if v is not None else None) for k, v in tgt.items() if k != "default"},
            "default": tgt["default"],
            "ytd": {"saidi_hours": saidi, "saifi": saifi, "asai_percent": y["all"]["asai_percent"]},
            "projected": {"saidi_hours": proj_saidi, "saifi": proj_saifi, "asai_percent": proj_rs1},
            "lights": lights,
            "light": max(set_lights, key=order.__getitem__) if set_lights else None,
        }
    return result
