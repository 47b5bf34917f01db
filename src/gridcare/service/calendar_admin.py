"""Administration of the working-day calendar and the time-limit policy table (issue 15 §3–4).

Calendar: the State Council publishes each year's holidays and 调休 working days in November, and the utility enters
them the same day — on the year page, through `PUT /api/v1/calendar/years/{year}`, or from a file
(`gridcare import calendar FILE --year 2027`, columns date, kind (休/班, off/work), name; CSV or .xlsx).
A save replaces the year's days as a whole, in one transaction: a date given twice or a date outside the year is
refused naming the row and the date, and nothing is written. When a loaded year's days change, or a year becomes
loaded (or unloaded), the job `service.recompute_provisional` recomputes the deadlines that count days of it
(`clock.deadlines_recompute`).

Policies: administrators edit the amount and unit of each `SlaPolicy` row; an order keeps the deadlines it was
created with (its rows store amount, unit and start), so a change applies to new orders only."""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.models import CalendarDay, CalendarYear
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.validators import DATE_MAX, DATE_MIN

from .choices import AreaKind, DeadlineName, DeadlineUnit, OrderType
from .models import SlaPolicy

log = logging.getLogger("gridcare.service")

YEAR_MIN, YEAR_MAX = DATE_MIN.year, DATE_MAX.year
NAME_MAX = 40  # CalendarDay.name
MAX_DAYS = 366
RECOMPUTE_KIND = "service.recompute_provisional"
# Upper bounds of a time limit per unit (a week in minutes or hours; a quarter in working days).
AMOUNT_MAX = {DeadlineUnit.MINUTES: 10080, DeadlineUnit.HOURS: 168, DeadlineUnit.WORKING_DAYS: 60}

WORKING_WORDS = {"班", "上班", "调休上班", "补班", "work", "working", "workday", "w", "1", "true", "是"}
OFF_WORDS = {"休", "假", "休息", "放假", "节假日", "off", "holiday", "rest", "o", "0", "false", "否"}
HEADERS = {
    "date": {"date", "日期"},
    "kind": {"kind", "type", "类型", "休/班", "休班", "working"},
    "name": {"name", "名称", "节日", "说明", "备注"},
}
_DATE_RE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_DATE_COMPACT_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")


# ---------------------------------------------------------------- reading (selectors)


def calendar_years():
    """Every year of the table, newest first, with its counts of holidays and adjusted working days (one query)."""
    return (
        CalendarYear.objects.annotate(
            holidays=Count("days", filter=Q(days__is_working=False)),
            working_days=Count("days", filter=Q(days__is_working=True)),
        )
        .select_related("updated_by")
        .order_by("-year")
    )


def calendar_year_get(year: int) -> tuple[CalendarYear | None, list[CalendarDay]]:
    """The year's row (None when the table does not hold it) and its entered days in date order."""
    row = CalendarYear.objects.filter(year=year).select_related("updated_by").first()
    days = list(CalendarDay.objects.filter(year=row).order_by("date")) if row is not None else []
    return row, days


def policies_list():
    return SlaPolicy.objects.select_related("updated_by").order_by("order_type", "sub_type", "area", "name")


def policy_label(p: SlaPolicy) -> str:
    """投诉 · 答复客户, 故障报修 · 城区 · 到达现场, 服务申请 · 复电 · 办结; 全部类型 · 回访."""
    parts = [str(OrderType(p.order_type).label) if p.order_type else _("全部类型")]
    if p.sub_type:
        parts.append(p.get_sub_type_display())
    if p.area:
        parts.append(str(AreaKind(p.area).label))
    parts.append(str(DeadlineName(p.name).label))
    return " · ".join(parts)


def limit_text(amount: int, unit: str) -> str:
    return f"{amount} {DeadlineUnit(unit).label}" if unit in DeadlineUnit.values else f"{amount} {unit}"


# ---------------------------------------------------------------- calendar: input


@dataclass(frozen=True)
class DayIn:
    """One entered day: its date (None when the text was not a date), off or working, name; `where` says which
    row of the caller's input it came from (第 3 行 / 第 3 条), `field` where the API reports an error."""

    date: date | None
    working: bool | None
    name: str
    where: str
    field: str = "days"
    raw: str = ""


@dataclass
class ParsedFile:
    days: list[DayIn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).strip()


def parse_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _norm(value)
    m = _DATE_RE.fullmatch(text) or _DATE_COMPACT_RE.fullmatch(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_kind(value) -> bool | None:
    """True for a working day (班 / work), False for a day off (休 / off), None when unreadable."""
    text = _norm(value).lower()
    if text in WORKING_WORDS:
        return True
    if text in OFF_WORDS:
        return False
    return None


def _is_header(cells: list[str]) -> bool:
    first = _norm(cells[0]).lower() if cells else ""
    return first in HEADERS["date"]


def _rows_to_days(rows: list[tuple[int, list]], label: str) -> ParsedFile:
    """Rows (number as the source counts them, cells) → days; unreadable cells become errors naming the row."""
    out = ParsedFile()
    index = {"date": 0, "kind": 1, "name": 2}
    if rows and _is_header([str(c) if c is not None else "" for c in rows[0][1]]):
        header = [_norm(c).lower() if c is not None else "" for c in rows[0][1]]
        index = {}
        for key, names in HEADERS.items():
            for i, h in enumerate(header):
                if h in names:
                    index[key] = i
                    break
        missing = [k for k in ("date", "kind") if k not in index]
        if missing:
            out.errors.append(
                _("第 1 行（表头）缺少列：%(cols)s（应为 date/日期、kind/类型、name/名称）")
                % {"cols": "、".join(missing)}
            )
            return out
        rows = rows[1:]
    for number, cells in rows:
        cells = list(cells)
        if not any(_norm(c) for c in cells if c is not None):
            continue
        where = label % {"n": number}

        def cell(key: str, cells=cells):
            i = index.get(key)
            return cells[i] if i is not None and i < len(cells) and cells[i] is not None else ""

        raw_date, raw_kind, name = cell("date"), cell("kind"), _norm(cell("name"))
        day = parse_date(raw_date)
        working = parse_kind(raw_kind)
        if day is None:
            out.errors.append(
                _("%(where)s：日期“%(v)s”无法识别（应为 YYYY-MM-DD）")
                % {"where": where, "v": _norm(raw_date)}
            )
        if working is None:
            out.errors.append(
                _("%(where)s：类型“%(v)s”无法识别（应为 休/班 或 off/work）")
                % {"where": where, "v": _norm(raw_kind)}
            )
        out.days.append(DayIn(date=day, working=working, name=name, where=where, field="file"))
    return out


def parse_text(text: str, label: str | None = None) -> ParsedFile:
    """Lines typed on the year page or read from a CSV file: `date,kind,name` (a header line is optional;
    commas, tabs or spaces between the cells)."""
    label = label or _("第 %(n)s 行")
    rows: list[tuple[int, list]] = []
    sample = text[:2048]
    delimiter = "\t" if "\t" in sample and "," not in sample else ","
    if delimiter == "," and "," not in sample:
        # Typed with spaces: 2027-10-01 休 国庆节
        for number, line in enumerate(text.splitlines(), start=1):
            rows.append((number, line.split(None, 2)))
        return _rows_to_days(rows, label)
    try:
        for number, cells in enumerate(
            csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1
        ):
            rows.append((number, cells))
    except csv.Error as e:
        return ParsedFile(errors=[_("CSV 格式错误：%(err)s") % {"err": e}])
    return _rows_to_days(rows, label)


def parse_file(data: bytes) -> ParsedFile:
    """A calendar file: CSV (UTF-8 or GBK, as `customers.importer.decode` reads it) or an Excel workbook (.xlsx,
    its first sheet)."""
    from gridcare.customers import importer

    importer.check_size(len(data))
    if data.startswith(b"PK\x03\x04"):
        return _parse_xlsx(data)
    try:
        text = importer.decode(data)
    except importer.ImportFileError as e:
        return ParsedFile(errors=[str(e)])
    return parse_text(text)


def _parse_xlsx(data: bytes) -> ParsedFile:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # a damaged or foreign zip: the file as a whole is unusable
        return ParsedFile(errors=[_("无法读取 Excel 工作簿：%(err)s") % {"err": type(e).__name__}])
    try:
        ws = wb.worksheets[0]
        rows = []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if number > MAX_DAYS + 50:
                return ParsedFile(errors=[_("行数过多：一年最多 %(n)s 天") % {"n": MAX_DAYS}])
            rows.append((number, ["" if v is None else v for v in values[:3]]))
    finally:
        wb.close()
    return _rows_to_days(rows, _("第 %(n)s 行"))


def days_from_api(items: list[dict]) -> list[DayIn]:
    """API items {date, working, name} → days; rows are counted from 1 (第 n 条), fields as days.<i>.date."""
    return [
        DayIn(
            date=it["date"],
            working=it["working"],
            name=(it.get("name") or "").strip(),
            where=_("第 %(n)s 条") % {"n": i + 1},
            field=f"days.{i}.date",
        )
        for i, it in enumerate(items)
    ]


# ---------------------------------------------------------------- calendar: writes


@dataclass
class CalendarSaved:
    year: CalendarYear
    changed: bool
    holidays: int
    working_days: int
    recompute: bool  # the deadlines counting days of this year need recomputing
    job: object | None = None  # the recompute job row, when one was started
    job_error: str = ""


def _check_year(year: int) -> None:
    if not isinstance(year, int) or isinstance(year, bool) or not YEAR_MIN <= year <= YEAR_MAX:
        raise ValidationError(
            {"year": [_("年份须在 %(lo)s 至 %(hi)s 之间") % {"lo": YEAR_MIN, "hi": YEAR_MAX}]}
        )


def validate_days(year: int, days: list[DayIn]) -> dict[date, tuple[bool, str]]:
    """The days as {date: (is_working, name)}, or ValidationError listing every bad row (a date twice, a date
    outside the year, an unreadable cell, a name too long)."""
    _check_year(year)
    errors: dict[str, list[str]] = {}
    seen: dict[date, str] = {}
    out: dict[date, tuple[bool, str]] = {}
    if len(days) > MAX_DAYS:
        raise ValidationError({"days": [_("一年最多 %(n)s 天") % {"n": MAX_DAYS}]})
    for d in days:
        if d.date is None or d.working is None:
            continue  # already reported by the parser
        if d.date.year != year:
            errors.setdefault(d.field, []).append(
                _("%(where)s：日期 %(d)s 不在 %(y)s 年内")
                % {"where": d.where, "d": d.date.isoformat(), "y": year}
            )
            continue
        if d.date in seen:
            errors.setdefault(d.field, []).append(
                _("%(where)s：日期 %(d)s 重复（%(first)s已填写）")
                % {"where": d.where, "d": d.date.isoformat(), "first": seen[d.date]}
            )
            continue
        if len(d.name) > NAME_MAX:
            errors.setdefault(d.field.replace(".date", ".name"), []).append(
                _("%(where)s：名称最多 %(n)s 个字") % {"where": d.where, "n": NAME_MAX}
            )
            continue
        seen[d.date] = d.where
        out[d.date] = (bool(d.working), d.name)
    if errors:
        raise ValidationError(errors)
    return out


def _require_admin(actor: Actor) -> None:
    if actor.user is not None and not has_perm(actor.user, Perm.SERVICE_ADMIN):
        raise PermissionDenied()


def calendar_year_save(
    *,
    actor: Actor,
    year: int,
    loaded: bool,
    days: list[DayIn],
    source: str = "manual",
    file_name: str = "",
    start_job: bool = True,
) -> CalendarSaved:
    """Replace the year's entered days and its loaded flag, atomically (service.admin). Nothing changes when the
    input equals what is stored. When the deadlines depend on the change (the year became loaded or unloaded, or
    a loaded year's days changed), the recompute job is started after the write (`start_job`; the CLI runs it
    itself) — a broker that is down leaves the job failed (retry it on the jobs page), never the save."""
    _require_admin(actor)
    wanted = validate_days(year, days)
    now = timezone.now()
    with transaction.atomic():
        row = CalendarYear.objects.select_for_update().filter(year=year).first()
        created = row is None
        if created:
            row = CalendarYear.objects.create(year=year, loaded=False, source=source)
        stored = {
            d: (w, n)
            for d, w, n in CalendarDay.objects.filter(year=row).values_list("date", "is_working", "name")
        }
        changed_days = sorted(d for d in set(stored) | set(wanted) if stored.get(d) != wanted.get(d))
        was_loaded = row.loaded
        holidays = sum(1 for w, _n in wanted.values() if not w)
        working = len(wanted) - holidays
        if not created and not changed_days and was_loaded == loaded:
            return CalendarSaved(row, False, holidays, working, recompute=False)
        if changed_days:
            CalendarDay.objects.filter(year=row).delete()
            CalendarDay.objects.bulk_create(
                [CalendarDay(year=row, date=d, is_working=w, name=n) for d, (w, n) in sorted(wanted.items())]
            )
        row.loaded = loaded
        row.source = source
        row.updated_at = now
        row.updated_by = actor.user if actor.user is not None and actor.user.is_authenticated else None
        row.save()
        changes: dict = {
            "year": year,
            "loaded": [was_loaded, loaded] if was_loaded != loaded else loaded,
            "holidays": holidays,
            "adjusted_working_days": working,
            "days_changed": len(changed_days),
        }
        if file_name:
            changes["file"] = file_name[:200]
        audit_record(
            actor=actor,
            action="calendar.import" if source == "import" else "calendar.update",
            obj=row,
            changes=changes,
        )
    recompute = was_loaded != loaded or (loaded and bool(changed_days))
    saved = CalendarSaved(row, True, holidays, working, recompute=recompute)
    if recompute and start_job:
        saved.job, saved.job_error = recompute_start(actor=actor, years=[year])
    return saved


def recompute_start(*, actor: Actor, years: list[int]):
    """Start `service.recompute_provisional` for `years`: (job, "") or (failed job or None, why)."""
    from gridcare.jobs import services as job_services

    try:
        job = job_services.start(RECOMPUTE_KIND, {"years": years}, actor=actor)
    except job_services.BrokerUnavailable:
        log.warning("calendar %s saved; recompute job not started: broker unavailable", years)
        return None, _("后台任务服务不可用，重算任务未能启动：请在“后台任务”页重试")
    return job, ""


# ---------------------------------------------------------------- policies


@dataclass(frozen=True)
class PolicyChange:
    id: int
    amount: int
    unit: str
    field: str  # where an error is reported (policies.<i> in the API, p<id> on the page)


def policies_update(*, actor: Actor, changes: list[PolicyChange]) -> list[SlaPolicy]:
    """Change the amount and unit of policy rows (service.admin), audited per changed row. Existing orders keep
    their deadlines; new orders get the new limits. Every row is checked first: one bad row writes nothing."""
    _require_admin(actor)
    rows = {p.pk: p for p in SlaPolicy.objects.filter(pk__in=[c.id for c in changes])}
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    for c in changes:
        if c.id not in rows:
            errors.setdefault(f"{c.field}.id", []).append(_("时限规则不存在：%(id)s") % {"id": c.id})
            continue
        if c.id in seen:
            errors.setdefault(f"{c.field}.id", []).append(_("同一条规则填写了两次：%(id)s") % {"id": c.id})
            continue
        seen.add(c.id)
        if c.unit not in DeadlineUnit.values:
            errors.setdefault(f"{c.field}.unit", []).append(
                _("未知的时限单位：%(u)s（minutes、hours、working_days）") % {"u": c.unit}
            )
            continue
        top = AMOUNT_MAX[DeadlineUnit(c.unit)]
        if not 1 <= c.amount <= top:
            errors.setdefault(f"{c.field}.amount", []).append(
                _("%(rule)s：时限须在 1 至 %(top)s %(unit)s之间")
                % {"rule": policy_label(rows[c.id]), "top": top, "unit": DeadlineUnit(c.unit).label}
            )
            continue
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    user = actor.user if actor.user is not None and actor.user.is_authenticated else None
    changed: list[SlaPolicy] = []
    with transaction.atomic():
        locked = {p.pk: p for p in SlaPolicy.objects.select_for_update().filter(pk__in=list(seen))}
        for c in changes:
            p = locked[c.id]
            if (p.amount, p.unit) == (c.amount, c.unit):
                continue
            before = limit_text(p.amount, p.unit)
            p.amount, p.unit, p.updated_at, p.updated_by = c.amount, c.unit, now, user
            changed.append(p)
            audit_record(
                actor=actor,
                action="service.policy_update",
                obj=p,
                changes={"policy": policy_label(p), "time_limit": [before, limit_text(c.amount, c.unit)]},
            )
        if changed:
            SlaPolicy.objects.bulk_update(changed, ["amount", "unit", "updated_at", "updated_by"])
    return changed
