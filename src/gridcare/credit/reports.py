"""Credit reports (issue 17 §5): selectors for the pages, the API and the Excel workbooks.

Every report reads the stored scores of the *monthly* runs that finished (`CreditRun` kind monthly, status done)
and is scoped by the score's `unit_id_at` (the customer's unit when rated) to the caller's unit subtree
(`credit.view`): a unit outside it answers the same 404 as a missing one.

- `grade_distribution`: grade counts of one month's run by unit (the direct child units of the chosen unit, plus
  the unit itself when customers are attached to it directly), by rated class (动力户 / 照明户), and the trend of
  each grade's share over a range of months;
- `movers`: customers whose grade rose or fell between two monthly runs (default the latest two), with the
  number of grades moved, largest move first;
- `d_list`: customers graded D in a monthly run (default the latest) with the measures the policy gives D and
  a summary of the score's reasons (its own, or those of the score it points at).

Bad filters raise `ValidationError({field: [message]})` (API 422 naming the field, pages 400).
Customer names are masked as everywhere else (`mask_customer_name`: a person's masked, an organisation's whole).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, Count, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Abs
from django.http import Http404
from django.utils.translation import gettext as _

from gridcare.core.masking import mask_customer_name
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import visible_unit_ids
from gridcare.core.spreadsheet import as_text_cell

from .choices import GRADE_ORDER, EventCode, Measure, RatedClass, RunKind, RunStatus
from .models import CreditRun, CreditScore
from .policy import current_policy, measures_for

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_TREND_MONTHS = 36
DIRECTIONS = ("up", "down")
PAGE_SIZE = 50


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Run:
    id: int
    period: str
    as_of: date


@dataclass(frozen=True)
class Unit:
    id: int
    name: str
    path: str
    parent_id: int | None


def monthly_runs() -> list[Run]:
    """Every finished monthly run, newest first (one query; one run a month, so a short list)."""
    rows = (
        CreditRun.objects.filter(kind=RunKind.MONTHLY, status=RunStatus.DONE)
        .order_by("-as_of", "-id")
        .values_list("id", "period", "as_of")
    )
    seen: set[str] = set()
    out = []
    for pk, period, as_of in rows:
        if period not in seen:  # one done monthly run per period (a constraint); defensive all the same
            seen.add(period)
            out.append(Run(pk, period, as_of))
    return out


def parse_month(raw: Any, field: str, errors: dict[str, list[str]]) -> str | None:
    """'YYYY-MM' (2000–2100) or None for an empty value; else an error on `field`."""
    if raw is None:
        return None
    value = str(raw).strip()
    if not value:
        return None
    m = MONTH_RE.match(value)
    if not m or not (2000 <= int(m.group(1)) <= 2100):
        errors.setdefault(field, []).append(_("月份格式应为 YYYY-MM，例如 2026-11"))
        return None
    return value


def parse_rated_class(raw: Any, errors: dict[str, list[str]]) -> str | None:
    value = str(raw or "").strip()
    if not value:
        return None
    if value not in RatedClass.values:
        errors.setdefault("rated_class", []).append(_("客户分类应为 power（动力户）或 lighting（照明户）"))
        return None
    return value


def parse_direction(raw: Any, errors: dict[str, list[str]]) -> str | None:
    value = str(raw or "").strip()
    if not value:
        return None
    if value not in DIRECTIONS:
        errors.setdefault("direction", []).append(_("方向应为 up（上升）或 down（下降）"))
        return None
    return value


def parse_unit_id(raw: Any, errors: dict[str, list[str]]) -> int | None:
    if raw is None:
        return None
    value = str(raw).strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        errors.setdefault("unit_id", []).append(_("供电单位 id 应为正整数"))
        return None
    return int(value)


def parse_page(raw: Any, errors: dict[str, list[str]]) -> int:
    value = str(raw or "").strip()
    if not value:
        return 1
    if not (value.isascii() and value.isdigit()) or len(value) > 7 or int(value) < 1:
        errors.setdefault("page", []).append(_("页码应为 1 至 1000000 的整数"))
        return 1
    return int(value)


def raise_errors(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _unit_tree(user, unit_id: int | None) -> tuple[Unit, list[Unit]]:
    """The chosen unit (default the user's own) and its whole subtree; a unit outside the user's subtree or
    missing: 404. Needs credit.view."""
    from gridcare.org.models import SupplyUnit

    if not has_perm(user, Perm.CREDIT_VIEW):
        raise Http404
    visible = visible_unit_ids(user)
    chosen_id = unit_id if unit_id is not None else getattr(user, "unit_id", None)
    if chosen_id is None or chosen_id not in visible:
        raise Http404
    chosen = SupplyUnit.objects.filter(pk=chosen_id).values_list("id", "name", "path", "parent_id").first()
    if chosen is None:
        raise Http404
    root = Unit(*chosen)
    rows = SupplyUnit.objects.filter(path__startswith=root.path).order_by("path")
    subtree = [Unit(*r) for r in rows.values_list("id", "name", "path", "parent_id")]
    return root, subtree


def _scope(qs: QuerySet, root: Unit, subtree: list[Unit]) -> QuerySet:
    """Scores of customers rated in the subtree (the whole company's unfiltered: the root sees everything)."""
    if root.parent_id is None:
        return qs
    return qs.filter(unit_id_at__any=[u.id for u in subtree])


def _run_of(runs: list[Run], period: str | None, field: str, errors: dict[str, list[str]]) -> Run | None:
    if period is None:
        return None
    run = next((r for r in runs if r.period == period), None)
    if run is None:
        errors.setdefault(field, []).append(_("%(m)s 没有已完成的月度评价") % {"m": period})
    return run


def _counts() -> dict[str, int]:
    return dict.fromkeys(GRADE_ORDER, 0)


def share(part: int, whole: int) -> Decimal | None:
    """Percentage rounded half-up to 0.1 (None of nothing)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def unit_out(u: Unit) -> dict:
    return {"id": u.id, "name": u.name}


# ---------------------------------------------------------------- grade distribution


def grade_distribution(
    *,
    user,
    unit_id: Any = None,
    rated_class: Any = None,
    month: Any = None,
    date_from: Any = None,
    date_to: Any = None,
) -> dict:
    """Grade counts of one month (default the latest finished monthly run) by direct child unit of the chosen unit
    (default the user's), by rated class, and each grade's share by month from `date_from` to `date_to` (default
    the twelve runs up to the chosen month). `rated_class` filters every part."""
    errors: dict[str, list[str]] = {}
    uid = parse_unit_id(unit_id, errors)
    klass = parse_rated_class(rated_class, errors)
    period = parse_month(month, "month", errors)
    first = parse_month(date_from, "from", errors)
    last = parse_month(date_to, "to", errors)
    if first and last and first > last:
        errors.setdefault("to", []).append(_("截止月份不能早于起始月份"))
    if first and last and _months_between(first, last) >= MAX_TREND_MONTHS:
        errors.setdefault("from", []).append(_("趋势最多统计 %(n)s 个月") % {"n": MAX_TREND_MONTHS})
    raise_errors(errors)
    root, subtree = _unit_tree(user, uid)
    runs = monthly_runs()
    run = _run_of(runs, period, "month", errors) if period else (runs[0] if runs else None)
    raise_errors(errors)
    doc: dict[str, Any] = {
        "unit": unit_out(root),
        "rated_class": klass,
        "grades": list(GRADE_ORDER),
        "months": [r.period for r in runs],
        "month": run.period if run else None,
        "as_of": run.as_of if run else None,
        "rows": [],
        "total": {"counts": _counts(), "total": 0},
        "by_class": [],
        "trend": [],
    }
    if run is None:  # no monthly run yet: empty rows, a total of nothing (its shares too)
        doc["total"]["shares"] = {g: share(0, 0) for g in GRADE_ORDER}
        return doc
    base = _scope(CreditScore.objects.all(), root, subtree)
    if klass:
        base = base.filter(rated_class=klass)

    # By unit: the direct children of the chosen unit (their subtrees), and the unit itself for customers
    # attached to it directly. A station (no children) is one row.
    children = [u for u in subtree if u.parent_id == root.id]
    bucket: dict[int, int] = {}
    for u in subtree:
        owner = next((c for c in children if u.path.startswith(c.path)), root)
        bucket[u.id] = owner.id
    rows: dict[int, dict] = {
        u.id: {"unit": unit_out(u), "counts": _counts(), "total": 0} for u in [root, *children]
    }
    total = doc["total"]
    for unit_at, grade, n in (
        base.filter(run_id=run.id).values("unit_id_at", "grade").annotate(n=Count("id")).order_by()
    ).values_list("unit_id_at", "grade", "n"):
        row = rows.get(bucket.get(unit_at, -1))
        if row is None or grade not in GRADE_ORDER:
            continue
        row["counts"][grade] += n
        row["total"] += n
        total["counts"][grade] += n
        total["total"] += n
    own = rows.pop(root.id)
    doc["rows"] = [rows[c.id] for c in children] + ([own] if own["total"] or not children else [])

    # By rated class.
    by_class = {
        c: {"rated_class": c, "label": str(RatedClass(c).label), "counts": _counts(), "total": 0}
        for c in RatedClass.values
        if not klass or c == klass
    }
    for c, grade, n in (
        base.filter(run_id=run.id).values("rated_class", "grade").annotate(n=Count("id")).order_by()
    ).values_list("rated_class", "grade", "n"):
        if c in by_class and grade in GRADE_ORDER:
            by_class[c]["counts"][grade] += n
            by_class[c]["total"] += n
    doc["by_class"] = list(by_class.values())

    # Trend: each grade's share by month.
    if first or last:
        chosen = [r for r in runs if (not first or r.period >= first) and (not last or r.period <= last)]
    else:
        chosen = [r for r in runs if r.as_of <= run.as_of][:12]
    chosen = sorted(chosen, key=lambda r: r.as_of)[-MAX_TREND_MONTHS:]
    per_run = {r.id: _counts() for r in chosen}
    if chosen:
        for run_id, grade, n in (
            base.filter(run_id__any=[r.id for r in chosen])
            .values("run_id", "grade")
            .annotate(n=Count("id"))
            .order_by()
        ).values_list("run_id", "grade", "n"):
            if grade in GRADE_ORDER:
                per_run[run_id][grade] += n
    for r in chosen:
        counts = per_run[r.id]
        whole = sum(counts.values())
        doc["trend"].append(
            {
                "month": r.period,
                "as_of": r.as_of,
                "counts": counts,
                "total": whole,
                "shares": {g: share(counts[g], whole) for g in GRADE_ORDER},
            }
        )
    for row in [*doc["rows"], doc["total"], *doc["by_class"]]:
        row["shares"] = {g: share(row["counts"][g], row["total"]) for g in GRADE_ORDER}
    return doc


def _months_between(first: str, last: str) -> int:
    y1, m1 = map(int, first.split("-"))
    y2, m2 = map(int, last.split("-"))
    return (y2 - y1) * 12 + (m2 - m1)


def grades_chart(doc: dict) -> dict:
    """ECharts data: stacked bars per unit (counts by grade) and a line per grade of its share by month."""
    return {
        "grades": doc["grades"],
        "units": [r["unit"]["name"] for r in doc["rows"]],
        "stacks": {g: [r["counts"][g] for r in doc["rows"]] for g in doc["grades"]},
        "months": [t["month"] for t in doc["trend"]],
        "shares": {
            g: [float(t["shares"][g]) if t["shares"][g] is not None else None for t in doc["trend"]]
            for g in doc["grades"]
        },
        "names": {"count": _("客户数"), "share": _("占比(%)")},
    }


# ---------------------------------------------------------------- movers

_RANK = Case(*[When(grade=g, then=Value(i)) for i, g in enumerate(GRADE_ORDER)], output_field=IntegerField())


def _rank_of(field: str) -> Case:
    return Case(
        *[When(**{field: g}, then=Value(i)) for i, g in enumerate(GRADE_ORDER)], output_field=IntegerField()
    )


@dataclass
class MoversResult:
    unit: Unit
    runs: list[Run]
    before: Run | None
    after: Run | None
    rated_class: str | None
    direction: str | None
    rows: QuerySet  # CreditScore of `after`, annotated before_grade, steps (>0 fell), moved (abs)
    units: dict[int, str]  # the subtree's unit names


def movers(
    *,
    user,
    unit_id: Any = None,
    rated_class: Any = None,
    date_from: Any = None,
    date_to: Any = None,
    direction: Any = None,
) -> MoversResult:
    """Customers whose grade differs between the monthly runs of `date_from` and `date_to` (default the latest
    two), in the chosen unit's subtree (by the later score's unit), largest move first. `steps` > 0: fell."""
    errors: dict[str, list[str]] = {}
    uid = parse_unit_id(unit_id, errors)
    klass = parse_rated_class(rated_class, errors)
    first = parse_month(date_from, "from", errors)
    last = parse_month(date_to, "to", errors)
    way = parse_direction(direction, errors)
    if first and last and first >= last:
        errors.setdefault("from", []).append(_("起始月份须早于截止月份"))
    raise_errors(errors)
    root, subtree = _unit_tree(user, uid)
    runs = monthly_runs()
    after = _run_of(runs, last, "to", errors) if last else None
    before = _run_of(runs, first, "from", errors) if first else None
    raise_errors(errors)
    if after is None:
        after = next((r for r in runs if before is None or r.as_of > before.as_of), None)
    if before is None and after is not None:
        before = next((r for r in runs if r.as_of < after.as_of), None)
    if after is not None and before is not None and before.as_of >= after.as_of:
        raise ValidationError({"from": [_("起始月份须早于截止月份")]})
    result = MoversResult(
        root, runs, before, after, klass, way, CreditScore.objects.none(), {u.id: u.name for u in subtree}
    )
    if before is None or after is None:
        return result
    prior = CreditScore.objects.filter(
        run_id=before.id, customer_id=OuterRef("customer_id"), as_of=before.as_of
    ).values("grade")[:1]
    qs = _scope(CreditScore.objects.filter(run_id=after.id), root, subtree)
    if klass:
        qs = qs.filter(rated_class=klass)
    qs = (
        qs.annotate(before_grade=Subquery(prior))
        .filter(before_grade__isnull=False)
        .exclude(grade=F("before_grade"))
        .annotate(steps=_RANK - _rank_of("before_grade"))
        .annotate(moved=Abs("steps"))
    )
    if way == "up":
        qs = qs.filter(steps__lt=0)
    elif way == "down":
        qs = qs.filter(steps__gt=0)
    result.rows = qs.select_related("customer").order_by("-moved", "-steps", "customer_id")
    return result


def mover_row(s: CreditScore, units: dict[int, str]) -> dict:
    return {
        "customer_id": s.customer_id,
        "customer_name": mask_customer_name(s.customer.name, s.customer.kind),
        "unit_id": s.unit_id_at,
        "unit_name": units.get(s.unit_id_at, ""),
        "rated_class": s.rated_class,
        "before": s.before_grade,
        "after": s.grade,
        "direction": "down" if s.steps > 0 else "up",
        "steps": s.moved,
        "total": s.total,
    }


# ---------------------------------------------------------------- the D list


@dataclass
class DListResult:
    unit: Unit
    runs: list[Run]
    run: Run | None
    rated_class: str | None
    measures: list[str]
    rows: QuerySet  # CreditScore graded D in `run`
    units: dict[int, str]  # the subtree's unit names


def d_list(*, user, unit_id: Any = None, rated_class: Any = None, month: Any = None) -> DListResult:
    """Customers graded D in the monthly run of `month` (default the latest), lowest total first, with the
    measures the current policy gives D."""
    errors: dict[str, list[str]] = {}
    uid = parse_unit_id(unit_id, errors)
    klass = parse_rated_class(rated_class, errors)
    period = parse_month(month, "month", errors)
    raise_errors(errors)
    root, subtree = _unit_tree(user, uid)
    runs = monthly_runs()
    run = _run_of(runs, period, "month", errors) if period else (runs[0] if runs else None)
    raise_errors(errors)
    measures = measures_for("D", current_policy())
    result = DListResult(
        root, runs, run, klass, measures, CreditScore.objects.none(), {u.id: u.name for u in subtree}
    )
    if run is None:
        return result
    qs = _scope(CreditScore.objects.filter(run_id=run.id, grade="D"), root, subtree)
    if klass:
        qs = qs.filter(rated_class=klass)
    result.rows = qs.select_related("customer").order_by("total", "customer_id")
    return result


def reason_items(reasons: Any) -> list[dict]:
    """The reasons of a stored score as a flat list of {code, date, points, dimension}: whatever the nesting
    (a list of dimensions each with its `reasons`, a mapping dimension → reasons, or a flat list)."""
    out: list[dict] = []

    def walk(node: Any, dimension: str | None) -> None:
        if isinstance(node, dict):
            if "code" in node and isinstance(node.get("code"), str):
                out.append(
                    {
                        "code": node["code"],
                        "date": node.get("date"),
                        "points": node.get("points"),
                        "dimension": node.get("dimension") or dimension,
                    }
                )
                return
            name = node.get("name") if isinstance(node.get("name"), str) else dimension
            for key, value in node.items():
                if isinstance(value, list | dict):
                    walk(value, name if key == "reasons" else (key if name is None else name))
        elif isinstance(node, list):
            for item in node:
                walk(item, dimension)

    walk(reasons, None)
    return out


def _points(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except Exception:  # noqa: BLE001 - a stored value of an unexpected type: shown without points
        return None


def reasons_summary(reasons: Any, limit: int = 5) -> str:
    """The reasons that cost points, largest loss first ("窃电 2026-06-01 −30；…"); a facility damage (points
    null) comes first; bonuses are left out. Empty when nothing cost points."""
    labels = dict(EventCode.choices)
    items = []
    for r in reason_items(reasons):
        pts = _points(r["points"])
        if r["code"] == EventCode.FACILITY_DAMAGE:
            items.append((Decimal("-1000"), r, _("该项清零")))
        elif pts is not None and pts < 0:
            items.append((pts, r, f"{pts.normalize():f}".replace("-", "−")))
    items.sort(key=lambda t: t[0])
    parts = []
    for _pts, r, shown in items[:limit]:
        label = str(labels.get(r["code"], r["code"]))
        parts.append(" ".join(p for p in (label, str(r["date"] or ""), shown) if p))
    more = len(items) - limit
    text = "；".join(parts)
    if more > 0:
        text += _("；另 %(n)s 项") % {"n": more}
    return text


def reasons_for(scores: list[CreditScore]) -> dict[int, Any]:
    """score id → its reasons: its own, or those of the score it points at (one query for the pointed ones)."""
    out = {s.pk: s.reasons for s in scores if s.reasons is not None}
    pointed = {s.reasons_from_id for s in scores if s.reasons is None and s.reasons_from_id}
    if pointed:
        stored = dict(CreditScore.objects.filter(pk__any=list(pointed)).values_list("pk", "reasons"))
        for s in scores:
            if s.reasons is None and s.reasons_from_id:
                out[s.pk] = stored.get(s.reasons_from_id)
    return out


def d_row(s: CreditScore, units: dict[int, str], reasons: dict[int, Any], measures: list[str]) -> dict:
    labels = dict(Measure.choices)
    return {
        "customer_id": s.customer_id,
        "customer_name": mask_customer_name(s.customer.name, s.customer.kind),
        "unit_id": s.unit_id_at,
        "unit_name": units.get(s.unit_id_at, ""),
        "rated_class": s.rated_class,
        "total": s.total,
        "payment": s.payment,
        "legal": s.legal,
        "measures": list(measures),
        "measure_labels": [str(labels.get(m, m)) for m in measures],
        "reasons": reasons_summary(reasons.get(s.pk)),
    }


def unit_names(ids) -> dict[int, str]:
    from gridcare.org.models import SupplyUnit

    ids = list(set(ids))
    return dict(SupplyUnit.objects.filter(pk__in=ids).values_list("id", "name")) if ids else {}


def page_of(qs: QuerySet, page: int, size: int = PAGE_SIZE) -> tuple[int, list]:
    """One COUNT and one slice."""
    count = qs.count()
    start = (page - 1) * size
    return count, list(qs[start : start + size]) if start < count else []


def mover_rows(items: list[CreditScore], units: dict[int, str] | None = None) -> list[dict]:
    units = units if units is not None else unit_names(s.unit_id_at for s in items)
    return [mover_row(s, units) for s in items]


def d_rows(items: list[CreditScore], measures: list[str], units: dict[int, str] | None = None) -> list[dict]:
    units = units if units is not None else unit_names(s.unit_id_at for s in items)
    reasons = reasons_for(items)
    return [d_row(s, units, reasons, measures) for s in items]


# ---------------------------------------------------------------- Excel

EXPORT_CHUNK = 2000
# An export answers within the request: past this many rows the sheet ends with a note to narrow the filters
# (by unit or class) instead of keeping the request open for minutes.
EXPORT_MAX_ROWS = 100_000


def _workbook():
    from openpyxl import Workbook

    return Workbook(write_only=True)


def _save(wb) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cells(row: list) -> list:
    return [as_text_cell(float(v) if isinstance(v, Decimal) else v) for v in row]


def grades_xlsx(doc: dict) -> bytes:
    wb = _workbook()
    grades = doc["grades"]
    klass = dict(RatedClass.choices).get(doc["rated_class"] or "", _("全部"))
    ws = wb.create_sheet(_("按单位"))
    ws.append(_cells([_("信用等级分布"), doc["unit"]["name"], doc["month"] or "", str(klass)]))
    ws.append(_cells([_("供电单位"), *grades, _("合计")]))
    for r in [*doc["rows"]]:
        ws.append(_cells([r["unit"]["name"], *[r["counts"][g] for g in grades], r["total"]]))
    ws.append(_cells([_("合计"), *[doc["total"]["counts"][g] for g in grades], doc["total"]["total"]]))
    ws = wb.create_sheet(_("按客户分类"))
    ws.append(_cells([_("客户分类"), *grades, _("合计")]))
    for r in doc["by_class"]:
        ws.append(_cells([r["label"], *[r["counts"][g] for g in grades], r["total"]]))
    ws = wb.create_sheet(_("按月趋势"))
    ws.append(_cells([_("月份"), *grades, _("合计"), *[f"{g} {_('占比(%)')}" for g in grades]]))
    for t in doc["trend"]:
        ws.append(
            _cells(
                [t["month"], *[t["counts"][g] for g in grades], t["total"], *[t["shares"][g] for g in grades]]
            )
        )
    return _save(wb)


def _class_label(value: str) -> str:
    return str(dict(RatedClass.choices).get(value, value))


def movers_xlsx_rows(result: MoversResult):
    """The header and then every row (chunked reads: a large month streams, it is never one list)."""
    yield [
        _("客户编号"),
        _("客户名称"),
        _("供电单位"),
        _("客户分类"),
        _("原等级"),
        _("现等级"),
        _("方向"),
        _("变动级数"),
        _("总分"),
    ]
    qs = result.rows
    total = qs.count() if result.after else 0
    for start in range(0, min(total, EXPORT_MAX_ROWS), EXPORT_CHUNK):
        for r in mover_rows(list(qs[start : start + EXPORT_CHUNK]), result.units):
            yield [
                r["customer_id"],
                r["customer_name"],
                r["unit_name"],
                _class_label(r["rated_class"]),
                r["before"],
                r["after"],
                _("下降") if r["direction"] == "down" else _("上升"),
                r["steps"],
                r["total"],
            ]
    if total > EXPORT_MAX_ROWS:
        yield [_too_many(total)]


def d_list_xlsx_rows(result: DListResult):
    yield [
        _("客户编号"),
        _("客户名称"),
        _("供电单位"),
        _("客户分类"),
        _("总分"),
        _("付款记录"),
        _("法律信用"),
        _("风险措施"),
        _("扣分原因"),
    ]
    qs = result.rows
    total = qs.count() if result.run else 0
    for start in range(0, min(total, EXPORT_MAX_ROWS), EXPORT_CHUNK):
        for r in d_rows(list(qs[start : start + EXPORT_CHUNK]), result.measures, result.units):
            yield [
                r["customer_id"],
                r["customer_name"],
                r["unit_name"],
                _class_label(r["rated_class"]),
                r["total"],
                r["payment"],
                r["legal"],
                "、".join(r["measure_labels"]),
                r["reasons"],
            ]
    if total > EXPORT_MAX_ROWS:
        yield [_too_many(total)]


def _too_many(total: int) -> str:
    return _("共 %(n)s 行，仅导出前 %(m)s 行；请按供电单位或客户分类缩小范围后再导出") % {
        "n": total,
        "m": EXPORT_MAX_ROWS,
    }


def rows_xlsx(title: str, head: list, rows) -> bytes:
    """A one-sheet workbook (write-only: rows go straight to the file, memory stays flat)."""
    wb = _workbook()
    ws = wb.create_sheet(title)
    ws.append(_cells(head))
    for row in rows:
        ws.append(_cells(row))
    return _save(wb)
