"""Import of historical outages from CSV: `gridcare import outages FILE.csv` (docs/import-outages.md).

Each row is one finished outage: it becomes an `OutageEvent` (number = the file's outage id, status restored,
source import, title from kind + cause), its `OutageScope` rows, and is frozen with `freeze.freeze` (areas,
interruption groups with their ends, affected accounts). Same contract as the other imports: every bad cell is
reported as (row, column, reason) — `第 N 行，列 X：原因` — and only a file without errors is written, in one
transaction. A historical import sends no notices and skips the notice rule.

Past topology is not recorded: the accounts are frozen from TODAY's topology (the areas' feeders as they are
now, the accounts of each area in service on the outage's start date by their opening/closing dates).
"""

import csv
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, visible_unit_ids
from gridcare.customers.importer import ImportFileError, RowError, _norm_header, decode, map_header
from gridcare.customers.models import Feeder, TransformerArea

from . import freeze as freezer
from .choices import CauseCategory, OutageKind, OutageSource, OutageStatus
from .models import OutageArea, OutageEvent, OutageScope

__all__ = ["ImportFileError", "PermissionDenied", "RowError", "outages_import", "precheck", "read_rows"]

CHINA = freezer.CHINA
COLUMNS: dict[str, tuple[str, ...]] = {
    "outage_id": ("停电编号",),
    "kind": ("停电类型",),
    "cause_category": ("原因分类",),
    "feeder_codes": ("线路编号",),
    "area_codes": ("台区编号",),
    "start": ("停电开始", "停电开始时间"),
    "end": ("恢复送电", "恢复送电时间"),
    "area_ends": ("分台区恢复",),
}
REQUIRED = ("outage_id", "kind", "start", "end")
_DATETIME_RE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
NUMBER_MAX = OutageEvent._meta.get_field("number").max_length


def _aliases() -> dict[str, str]:
    return {_norm_header(n): key for key, names in COLUMNS.items() for n in (key, *names)}


def _choice_map(choices) -> dict[str, str]:
    """A TextChoices value by its code, Chinese label or English label (lower-cased)."""
    out = {str(v).lower(): str(v) for v in choices.values}
    for lang in ("zh-hans", "en"):
        with translation.override(lang):
            out.update({str(label).lower(): str(value) for value, label in choices.choices})
    return out


def parse_time(value: str) -> datetime | None:
    """`YYYY-MM-DD HH:MM[:SS]` in China time, or ISO 8601 (with an offset; without one it is China time)."""
    m = _DATETIME_RE.fullmatch(value)
    try:
        if m:
            y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
            return datetime(y, mo, d, h, mi, s, tzinfo=CHINA)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=CHINA)


def read_rows(data: bytes) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """The file's non-blank data rows as (row number, {header cell: value}) and the header's errors."""
    records = csv.reader(io.StringIO(decode(data), newline=""))
    try:
        header = [h.replace("\ufeff", "").strip() for h in next(records)]
    except StopIteration:
        raise ImportFileError(_("文件为空：第 1 行应为表头。")) from None
    except csv.Error as e:
        raise ImportFileError(_("CSV 格式错误：%(err)s") % {"err": e}) from None
    _index, errors = _header(header)
    rows = []
    try:
        for line, cells in enumerate(records, start=2):
            if any(c.strip() for c in cells):
                rows.append((line, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header)}))
    except csv.Error as e:
        raise ImportFileError(
            _("CSV 格式错误（第 %(row)d 行附近）：%(err)s") % {"row": records.line_num, "err": e}
        ) from None
    if not errors and not rows:
        raise ImportFileError(_("文件中没有数据行：表头之后至少需要一行。"))
    return rows, errors


def _header(header: list[str]) -> tuple[dict[str, int], list[RowError]]:
    index, errors = map_header(header, _aliases())
    for key in REQUIRED:
        if key not in index:
            errors.append(
                RowError(
                    1,
                    key,
                    _("缺少必填列（表头可写 %(key)s 或 %(label)s）") % {"key": key, "label": COLUMNS[key][0]},
                )
            )
    if "feeder_codes" not in index and "area_codes" not in index:
        errors.append(
            RowError(1, "feeder_codes", _("须有线路编号（feeder_codes）或台区编号（area_codes）列"))
        )
    return index, errors


def precheck(data: bytes) -> int:
    """Whole-file checks before anything is queued (encoding, CSV syntax, header, a data row); the row count."""
    rows, errors = read_rows(data)
    if errors:
        raise ImportFileError(
            "\n".join([_("表头有误，未写入任何数据："), *(f"{e.column}：{e.message}" for e in errors)])
        )
    return len(rows)


@dataclass
class _Planned:
    line: int
    number: str
    kind: str
    cause: str
    feeders: list[Feeder]
    areas: list[TransformerArea]  # every covered area (feeders' areas and the listed ones)
    start: datetime
    end: datetime
    area_ends: dict[int, datetime]
    column: str  # where a duplicate is reported: area_codes, else feeder_codes
    unit_id: int  # the first feeder's unit
    customers: int = 0
    customer_hours: Decimal = Decimal("0")


def _codes(value: str) -> list[str]:
    return list(dict.fromkeys(c.strip() for c in value.split(";") if c.strip()))


def _stored_events(
    area_ids: set[int], kinds: set[str]
) -> list[tuple[str, str, datetime, datetime, set[int]]]:
    """Non-cancelled stored events of these kinds touching these areas: (number, kind, start, end, area ids).
    Frozen events by their frozen areas; the others (drafts, submitted) by their scope."""
    if not area_ids:
        return []
    live = Q(kind__in=kinds) & ~Q(status__in=[OutageStatus.CANCELLED, OutageStatus.REJECTED])
    frozen_rows = OutageArea.objects.filter(
        transformer_area_id__in=area_ids,
        event__frozen_at__isnull=False,
        event__in=OutageEvent.objects.filter(live),
    )
    by_event: dict[int, set[int]] = defaultdict(set)
    for event_id, area_id in frozen_rows.values_list("event_id", "transformer_area_id"):
        by_event[event_id].add(area_id)
    feeder_of = dict(TransformerArea.objects.filter(pk__in=area_ids).values_list("pk", "feeder_id"))
    scoped = OutageScope.objects.filter(
        Q(transformer_area_id__in=area_ids) | Q(feeder_id__in=set(feeder_of.values())),
        event__frozen_at__isnull=True,
        event__in=OutageEvent.objects.filter(live),
    ).values_list("event_id", "feeder_id", "transformer_area_id")
    for event_id, feeder_id, area_id in scoped:
        if area_id:
            by_event[event_id].add(area_id)
        else:
            by_event[event_id].update(a for a, f in feeder_of.items() if f == feeder_id)
    out = []
    for e in OutageEvent.objects.filter(pk__in=by_event):
        start = e.actual_start or e.planned_start
        end = e.actual_end or e.planned_end
        out.append((e.number, e.kind, start, end, by_event[e.pk]))
    return out


def outages_import(
    *,
    rows: Iterable,
    actor: Actor,
    dry_run: bool = False,
    file_name: str = "",
    now: datetime | None = None,
    then: Callable[[dict], None] | None = None,
) -> dict:
    """Validate the rows and, unless `dry_run` or any row is bad, write every outage (see the module docstring).

    `rows`: the data rows as dicts keyed by the header cells (English or Chinese names), the first being row 2,
    or (row number, dict) pairs (what `read_rows` gives). `actor.user` None is the system (the CLI); a user needs
    Perm.OUTAGE_DRAFT and only feeders and areas of his units. Returns {"rows", "events", "areas",
    "customers", "customer_hours", "outages": [...], "errors": [RowError], "dry_run", "written"}; `then(result)`
    runs inside the write's transaction (a job records there that the file is written)."""
    if actor.user is not None and not has_perm(actor.user, Perm.OUTAGE_DRAFT):
        raise PermissionDenied
    allowed = set(visible_unit_ids(actor.user)) if actor.user is not None else None
    now = now or timezone.now()
    pairs = [r if isinstance(r, tuple) else (i, r) for i, r in enumerate(rows, start=2)]
    result: dict = {
        "rows": len(pairs),
        "events": 0,
        "areas": 0,
        "customers": 0,
        "customer_hours": "0.00",
        "outages": [],
        "errors": [],
        "dry_run": dry_run,
        "written": False,
    }
    header = list(pairs[0][1].keys()) if pairs else []
    index, errors = _header(header)
    if errors:
        result["errors"] = errors
        return result
    label = {key: header[i] for key, i in index.items()}
    raws = [
        (line, {k: unicodedata.normalize("NFKC", str(raw.get(label[k]) or "")).strip() for k in index})
        for line, raw in pairs
    ]

    def bad(line: int, key: str, message: str) -> None:
        errors.append(RowError(line, label.get(key, key), str(message)))

    feeder_codes = {c for _l, r in raws for c in _codes(r.get("feeder_codes", ""))}
    area_codes = {c for _l, r in raws for c in _codes(r.get("area_codes", ""))}
    area_codes |= {p.split(":", 1)[0].strip() for _l, r in raws for p in _codes(r.get("area_ends", ""))}
    feeders = {f.code: f for f in Feeder.objects.filter(code__in=feeder_codes)}
    areas_by_code = {
        a.code: a for a in TransformerArea.objects.filter(code__in=area_codes).select_related("feeder")
    }
    feeder_areas: dict[int, list[TransformerArea]] = defaultdict(list)
    for a in TransformerArea.objects.filter(feeder_id__in=[f.pk for f in feeders.values()]):
        feeder_areas[a.feeder_id].append(a)
    numbers = {r.get("outage_id", "") for _l, r in raws}
    taken = set(OutageEvent.objects.filter(number__in=numbers).values_list("number", flat=True))
    kinds, causes = _choice_map(OutageKind), _choice_map(CauseCategory)
    kind_help = (
        "/".join(OutageKind.values) + " " + _("或") + " " + "/".join(str(lbl) for lbl in OutageKind.labels)
    )

    planned: list[_Planned] = []
    first_line: dict[str, int] = {}
    for line, raw in raws:
        before = len(errors)
        number = raw.get("outage_id", "")
        if not number:
            bad(line, "outage_id", _("必填"))
        elif len(number) > NUMBER_MAX:
            bad(line, "outage_id", _("停电编号最长 %(n)d 个字符") % {"n": NUMBER_MAX})
        elif number in first_line:
            bad(
                line,
                "outage_id",
                _("停电编号在文件中重复：已出现在第 %(row)d 行") % {"row": first_line[number]},
            )
        elif number in taken:
            bad(line, "outage_id", _("停电编号 %(n)s 已存在") % {"n": number})
        if number:
            first_line.setdefault(number, line)
        kind = kinds.get(raw.get("kind", "").lower())
        if not raw.get("kind"):
            bad(line, "kind", _("必填"))
        elif kind is None:
            bad(line, "kind", _("停电类型无效：应为 %(v)s") % {"v": kind_help})
        cause = CauseCategory.OTHER.value
        if raw.get("cause_category"):
            cause = causes.get(raw["cause_category"].lower())
            if cause is None:
                bad(
                    line,
                    "cause_category",
                    _("原因分类无效：应为 %(v)s") % {"v": "/".join(CauseCategory.values)},
                )
        row_feeders, row_areas, covered = [], [], {}
        for key, codes, known in (
            ("feeder_codes", _codes(raw.get("feeder_codes", "")), feeders),
            ("area_codes", _codes(raw.get("area_codes", "")), areas_by_code),
        ):
            unknown = [c for c in codes if c not in known]
            if unknown:
                what = _("线路") if key == "feeder_codes" else _("台区")
                bad(
                    line,
                    key,
                    _("%(what)s编号不存在：%(codes)s") % {"what": what, "codes": "、".join(unknown)},
                )
            found = [known[c] for c in codes if c in known]
            outside = [x.code for x in found if allowed is not None and x.unit_id not in allowed]
            if outside:
                bad(line, key, _("不在您的管辖范围内：%(codes)s") % {"codes": "、".join(outside)})
            (row_feeders if key == "feeder_codes" else row_areas).extend(found)
        if not _codes(raw.get("feeder_codes", "")) and not _codes(raw.get("area_codes", "")):
            bad(
                line,
                "feeder_codes" if "feeder_codes" in index else "area_codes",
                _("线路编号和台区编号至少填写一个"),
            )
        for f in row_feeders:
            covered.update({a.pk: a for a in feeder_areas[f.pk]})
        covered.update({a.pk: a for a in row_areas})
        times = {}
        for key in ("start", "end"):
            value = raw.get(key, "")
            times[key] = parse_time(value) if value else None
            if not value:
                bad(line, key, _("必填"))
            elif times[key] is None:
                bad(
                    line,
                    key,
                    _(
                        "时间无效：应为 YYYY-MM-DD HH:MM[:SS]（北京时间）或带时区的 ISO 8601，例如 2025-03-01 08:30"
                    ),
                )
        start, end = times["start"], times["end"]
        if start and end:
            if end <= start:
                bad(line, "end", _("恢复送电时间须晚于停电开始时间"))
            elif end > now:
                bad(line, "end", _("恢复送电时间不能晚于当前时间：只能导入已送电的停电"))
        area_ends: dict[int, datetime] = {}
        for part in _codes(raw.get("area_ends", "")):
            code, _sep, value = part.partition(":")
            code, value = code.strip(), value.strip()
            at = parse_time(value)
            area = areas_by_code.get(code)
            if at is None:
                bad(
                    line, "area_ends", _("%(a)s 的恢复时间无效：应为 台区编号:YYYY-MM-DD HH:MM") % {"a": code}
                )
            elif area is None:
                bad(line, "area_ends", _("台区编号不存在：%(codes)s") % {"codes": code})
            elif area.pk not in covered:
                bad(line, "area_ends", _("台区 %(a)s 不在本次停电范围内") % {"a": code})
            elif area.pk in area_ends:
                bad(line, "area_ends", _("台区 %(a)s 重复填写") % {"a": code})
            elif start and end and not (start <= at <= end):
                bad(line, "area_ends", _("台区 %(a)s 的恢复时间须在停电开始与恢复送电之间") % {"a": code})
            else:
                area_ends[area.pk] = at
        if len(errors) == before:
            unit_feeder = row_feeders[0] if row_feeders else row_areas[0].feeder
            planned.append(
                _Planned(
                    line=line,
                    number=number,
                    kind=kind,
                    cause=cause,
                    feeders=row_feeders,
                    areas=sorted(covered.values(), key=lambda a: a.code),
                    start=start,
                    end=end,
                    area_ends=area_ends,
                    column=label["area_codes"] if row_areas else label["feeder_codes"],
                    unit_id=unit_feeder.unit_id,
                )
            )

    # Duplicates: same kind, overlapping area set, overlapping [start, end) — within the file, then the database.
    by_area: dict[int, list[_Planned]] = defaultdict(list)
    clean: list[_Planned] = []
    for p in planned:
        ids = {a.pk for a in p.areas}
        clash = next(
            (q for a in ids for q in by_area[a] if q.kind == p.kind and q.start < p.end and p.start < q.end),
            None,
        )
        if clash is not None:
            errors.append(
                RowError(
                    p.line,
                    p.column,
                    _("与第 %(row)d 行（停电编号 %(n)s）重复：停电类型相同、停电范围重叠且时间重叠")
                    % {"row": clash.line, "n": clash.number},
                )
            )
            continue
        for a in ids:
            by_area[a].append(p)
        clean.append(p)
    stored = _stored_events({a.pk for p in clean for a in p.areas}, {p.kind for p in clean})
    planned = []
    for p in clean:
        ids = {a.pk for a in p.areas}
        clash = next(
            (s for s in stored if s[1] == p.kind and s[4] & ids and s[2] < p.end and p.start < s[3]), None
        )
        if clash is not None:
            errors.append(
                RowError(
                    p.line,
                    p.column,
                    _("与已有停电事件 %(n)s 重复：停电类型相同、停电范围重叠且时间重叠") % {"n": clash[0]},
                )
            )
        else:
            planned.append(p)
    errors.sort(key=lambda e: e.row)
    result["errors"] = errors
    if errors:
        return result

    for p in planned:
        counts = dict(
            freezer.accounts_in_service([a.pk for a in p.areas], freezer.china_day(p.start))
            .values_list("premise__transformer_area_id")
            .annotate(n=Count("pk"))
        )
        p.customers = sum(counts.values())
        seconds = sum(n * (p.area_ends.get(a, p.end) - p.start).total_seconds() for a, n in counts.items())
        p.customer_hours = (Decimal(seconds) / 3600).quantize(Decimal("0.01"))
        result["outages"].append(
            {
                "outage_id": p.number,
                "kind": p.kind,
                "areas": len(p.areas),
                "customers": p.customers,
                "customer_hours": str(p.customer_hours),
            }
        )
    result["events"] = len(planned)
    result["areas"] = sum(len(p.areas) for p in planned)
    result["customers"] = sum(p.customers for p in planned)
    result["customer_hours"] = str(sum((p.customer_hours for p in planned), Decimal("0.00")))
    if dry_run:
        return result
    _write(planned, actor=actor, file_name=file_name, result=result, then=then)
    return result


@transaction.atomic
def _write(planned: list[_Planned], *, actor: Actor, file_name: str, result: dict, then) -> None:
    user = actor.user if actor.user is not None and actor.user.is_authenticated else None
    with translation.override("zh-hans"):
        kind_label = {str(v): str(lbl) for v, lbl in OutageKind.choices}
        cause_label = {str(v): str(lbl) for v, lbl in CauseCategory.choices}
    audits: list[AuditEvent] = []
    for p in planned:
        event = OutageEvent.objects.create(
            number=p.number,
            unit_id=p.unit_id,
            kind=p.kind,
            cause_category=p.cause,
            status=OutageStatus.RESTORED,
            title=f"{kind_label[p.kind]}（{cause_label[p.cause]}）"[:100],
            planned_start=p.start,
            planned_end=p.end,
            est_customer_hours=p.customer_hours,
            source=OutageSource.IMPORT,
            created_by=user,
        )
        OutageScope.objects.bulk_create(
            [OutageScope(event=event, feeder=f) for f in p.feeders]
            + [
                OutageScope(event=event, transformer_area=a)
                for a in p.areas
                if not any(f.pk == a.feeder_id for f in p.feeders)
            ]
        )
        freezer.freeze(event, start=p.start, end=p.end, area_ends=p.area_ends)
        audits.append(
            audit_record(
                actor=actor,
                action="import.outages",
                obj=event,
                unit_id=event.unit_id,
                changes={
                    "file": file_name,
                    "row": p.line,
                    "number": p.number,
                    "kind": p.kind,
                    "customers": event.customers,
                    "start": p.start.isoformat(),
                    "end": p.end.isoformat(),
                },
                save=False,
            )
        )
    AuditEvent.objects.bulk_create(audits)
    result["written"] = True
    if then is not None:
        then(result)


def import_outages_file(
    *,
    data: bytes,
    actor: Actor,
    dry_run: bool = False,
    file_name: str = "",
    now: datetime | None = None,
    then: Callable[[dict], None] | None = None,
) -> dict:
    """`outages_import` on a CSV file's bytes (the job's entry point)."""
    rows, errors = read_rows(data)
    if errors:
        return {"rows": len(rows), "events": 0, "errors": errors, "dry_run": dry_run, "written": False}
    return outages_import(rows=rows, actor=actor, dry_run=dry_run, file_name=file_name, now=now, then=then)
