"""Import of hourly voltage readings (台区电压) from CSV: `gridcare import voltage FILE.csv` (docs/import-voltage.md).

Columns (English or Chinese header): `area_code` 台区编号, `meter_asset_number` 表号 (optional: empty = the area's
own monitoring point), `hour` 时间 (`YYYY-MM-DD HH:MM`, China time, on the hour), `nominal_v` 标称电压 and
`voltage_v` 电压 (volts, at most one decimal place).

Same contract as the other imports: every bad cell is collected and reported as (row as in the file with the
header as row 1, column as headed in the file, reason) — `第 N 行，列 X：原因`; only a file without a single error
is written, in one transaction with bulk inserts, which also refreshes `VoltageMonthly` for the months and areas
it touched. A dry run checks everything (the database duplicates too) and writes nothing. Audited
(`import.voltage`). Areas, meters and existing readings are looked up set-based."""

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, visible_unit_ids
from gridcare.customers.importer import ImportFileError, RowError, _lookup, decode, format_error, map_header
from gridcare.customers.models import Meter, TransformerArea

from .models import VoltageReading
from .voltage import CHINA, month_start, voltage_monthly_refresh

__all__ = ["ImportFileError", "RowError", "format_error", "precheck", "voltage_import", "voltage_import_file"]

BATCH_SIZE = 5000
# Who may import voltage readings: they come from the metering data system (用电信息采集), like meter reads.
IMPORT_PERM = Perm.METER_EDIT
COLUMNS: dict[str, tuple[str, ...]] = {
    "area_code": ("台区编号", "台区编码", "台区"),
    "meter_asset_number": ("表号", "电能表资产编号", "资产编号"),
    "hour": ("时间", "采集时间", "整点时间"),
    "nominal_v": ("标称电压", "额定电压"),
    "voltage_v": ("电压", "电压值", "实测电压"),
}
REQUIRED = ("area_code", "hour", "nominal_v", "voltage_v")
VOLT_MAX = Decimal("99999999.9")  # the column: 9 digits, 1 decimal place
_HOUR_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")


def _aliases() -> dict[str, str]:
    from gridcare.customers.importer import _norm_header

    return {_norm_header(n): key for key, names in COLUMNS.items() for n in (key, *names)}


def parse_hour(value: str) -> tuple[datetime | None, str | None]:
    """(aware instant, None) for `YYYY-MM-DD HH:MM[:SS]` in China time on the hour; (None, reason) otherwise."""
    m = _HOUR_RE.fullmatch(value)
    if not m:
        return None, _("时间格式应为 YYYY-MM-DD HH:MM（北京时间），例如 2025-07-01 20:00")
    y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    try:
        at = datetime(y, mo, d, h, mi, s, tzinfo=CHINA)
    except ValueError:
        return None, _("时间无效：%(v)s 不是有效的日期时间") % {"v": value}
    if mi or s:
        return None, _("时间须为整点（分钟和秒为 00）：%(v)s") % {"v": value}
    if not (2000 <= y <= 2100):
        return None, _("时间超出范围（2000–2100年）")
    return at, None


def parse_volts(value: str) -> tuple[Decimal | None, str | None]:
    """(volts, None) for a positive number with at most one decimal place; (None, reason) otherwise."""
    try:
        v = Decimal(value)
    except (InvalidOperation, ValueError):
        return None, _("应为数值（伏），例如 220 或 231.5")
    if not v.is_finite():
        return None, _("应为数值（伏），例如 220 或 231.5")
    if v <= 0:
        return None, _("电压须大于 0")
    if v > VOLT_MAX:
        return None, _("电压过大（最大 %(m)s 伏）") % {"m": VOLT_MAX}
    if v != v.quantize(Decimal("0.1")):
        return None, _("电压最多保留一位小数")
    return v.quantize(Decimal("0.1")), None


def _split(
    rows: Iterable[Sequence[str]],
) -> tuple[dict[str, int], list[str], list[tuple[int, list[str]]], list]:
    it = iter(rows)
    try:
        header = [str(h).replace("\ufeff", "").strip() for h in next(it)]
    except StopIteration:
        raise ImportFileError(_("文件为空：第 1 行应为表头。")) from None
    index, errors = map_header(header, _aliases())
    for key in REQUIRED:
        if key not in index:
            names = " / ".join((key, *COLUMNS[key]))
            errors.append(RowError(1, key, _("缺少必填列（表头可写 %(n)s）") % {"n": names}))
    body = [
        (line, list(cells)) for line, cells in enumerate(it, start=2) if any(str(c).strip() for c in cells)
    ]
    if not errors and not body:
        raise ImportFileError(_("文件中没有数据行：表头之后至少需要一行。"))
    return index, header, body, errors


def _csv_rows(data: bytes) -> list[list[str]]:
    text = decode(data)
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise ImportFileError(_("CSV 格式错误：%(err)s") % {"err": e}) from None


def precheck(data: bytes) -> int:
    """Whole-file checks before a job is queued (encoding, CSV syntax, header, at least one row): the row count."""
    _index, _header, body, errors = _split(_csv_rows(data))
    if errors:
        raise ImportFileError(
            "\n".join([_("表头有误，未写入任何数据："), *(format_error(e) for e in errors)])
        )
    return len(body)


def voltage_import(
    *,
    rows: Iterable[Sequence[str]],
    actor: Actor,
    dry_run: bool = False,
    file_name: str = "",
    digest: str = "",
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    then: Callable[[dict], None] | None = None,
) -> dict:
    """Check the CSV `rows` (the header first) and, unless `dry_run` or any row is bad, write every reading and
    refresh the monthly rates of the touched months. Returns {rows, readings, months, dry_run, written, errors:
    [{row, column, message}], errors_total}. `actor.user` None is the system (the CLI without --user); a user
    needs Perm.METER_EDIT and may import only areas of his units. `then(result)` runs inside the write's
    transaction (the job records there that the file is in)."""
    if actor.user is not None and not has_perm(actor.user, IMPORT_PERM):
        raise PermissionDenied
    allowed = set(visible_unit_ids(actor.user)) if actor.user is not None else None
    now = now or timezone.now()
    index, header, body, errors = _split(rows)
    result: dict = {"rows": len(body), "readings": 0, "months": [], "dry_run": dry_run, "written": False}
    if errors:
        return _finish(result, errors)
    label = {key: header[i] for key, i in index.items()}
    raws = [
        (
            line,
            {
                k: unicodedata.normalize("NFKC", str(cells[i]) if i < len(cells) else "").strip()
                for k, i in index.items()
            },
        )
        for line, cells in body
    ]
    areas = {
        a.code: a for a in _lookup(TransformerArea.objects.all(), "code", {r["area_code"] for _l, r in raws})
    }
    meters = {
        m.asset_number: m
        for m in _lookup(
            Meter.objects.select_related("service_point"),
            "asset_number",
            {r.get("meter_asset_number") for _l, r in raws if r.get("meter_asset_number")},
        )
    }

    def bad(line: int, key: str, message: str) -> None:
        errors.append(RowError(line, label.get(key, key), str(message)))

    plan: list[tuple[int, VoltageReading]] = []
    seen: dict[tuple[int, int | None, datetime], int] = {}
    for n, (line, raw) in enumerate(raws, start=1):
        if progress is not None and n % 1000 == 0:
            progress(n)
        before = len(errors)
        code = raw["area_code"]
        area = areas.get(code)
        if not code:
            bad(line, "area_code", _("台区编号不能为空"))
        elif area is None:
            bad(line, "area_code", _("台区 %(c)s 不存在") % {"c": code})
        elif allowed is not None and area.unit_id not in allowed:
            bad(line, "area_code", _("台区 %(c)s 不在您的管辖范围内") % {"c": code})
            area = None
        meter = None
        asset = raw.get("meter_asset_number", "")
        if asset:
            meter = meters.get(asset)
            if meter is None:
                bad(line, "meter_asset_number", _("电能表 %(m)s 不存在") % {"m": asset})
            elif area is not None and (
                meter.service_point is None or meter.service_point.transformer_area_id != area.pk
            ):
                bad(line, "meter_asset_number", _("电能表 %(m)s 不在台区 %(c)s") % {"m": asset, "c": code})
        hour, why = parse_hour(raw["hour"])
        if why:
            bad(line, "hour", why)
        elif hour > now:
            bad(line, "hour", _("时间不能晚于当前时间"))
        nominal, why = parse_volts(raw["nominal_v"])
        if why:
            bad(line, "nominal_v", why)
        volts, why = parse_volts(raw["voltage_v"])
        if why:
            bad(line, "voltage_v", why)
        if area is not None and hour is not None and (not asset or meter is not None):
            key = (area.pk, meter.pk if meter else None, hour)
            first = seen.setdefault(key, line)
            if first != line:
                bad(
                    line,
                    "hour",
                    _("同一台区（或电能表）同一时间的电压在文件中重复：已出现在第 %(r)d 行") % {"r": first},
                )
        if len(errors) == before:
            plan.append(
                (
                    line,
                    VoltageReading(
                        transformer_area=area, meter=meter, hour=hour, nominal_v=nominal, voltage_v=volts
                    ),
                )
            )
    _check_database(plan, bad)
    if errors:
        return _finish(result, errors)
    readings = [r for _line, r in plan]
    months = sorted({month_start(r.hour.astimezone(CHINA).date()) for r in readings})
    result.update(readings=len(readings), months=[m.isoformat() for m in months])
    if dry_run:
        return _finish(result, errors)
    try:
        with transaction.atomic():
            VoltageReading.objects.bulk_create(readings, batch_size=BATCH_SIZE)
            voltage_monthly_refresh(months=months, area_ids={r.transformer_area_id for r in readings})
            audit_record(
                actor=actor,
                action="import.voltage",
                object_type="import",
                object_id=digest or None,
                unit_id=getattr(actor.user, "unit_id", None),
                changes={
                    "file": file_name,
                    "sha256": digest,
                    "readings": len(readings),
                    "months": result["months"],
                },
            )
            result["written"] = True
            if then is not None:
                then(_finish(dict(result), []))
    except IntegrityError:
        raise ImportFileError(
            _(
                "写入时发现同一台区（或电能表）同一时间的电压已存在（可能有人同时导入），本次未写入任何数据，请重新导入。"
            )
        ) from None
    return _finish(result, errors)


def _check_database(plan: list[tuple[int, VoltageReading]], bad) -> None:
    """Readings already stored for the same area monitoring point or meter and hour (set-based, per area)."""
    if not plan:
        return
    by_area: dict[int, list[tuple[int, VoltageReading]]] = {}
    for line, r in plan:
        by_area.setdefault(r.transformer_area_id, []).append((line, r))
    hours = [r.hour for _l, r in plan]
    lo, hi = min(hours), max(hours)
    meter_ids = sorted({r.meter_id for _l, r in plan if r.meter_id})
    existing: set[tuple[int | None, int | None, datetime]] = set()
    area_ids = sorted(by_area)
    for i in range(0, len(area_ids), 900):
        q = Q(transformer_area_id__in=area_ids[i : i + 900], meter__isnull=True)
        for a, h in VoltageReading.objects.filter(q, hour__gte=lo, hour__lte=hi).values_list(
            "transformer_area_id", "hour"
        ):
            existing.add((a, None, h))
    for i in range(0, len(meter_ids), 900):
        for m, h in VoltageReading.objects.filter(
            meter_id__in=meter_ids[i : i + 900], hour__gte=lo, hour__lte=hi
        ).values_list("meter_id", "hour"):
            existing.add((None, m, h))
    for line, r in plan:
        key = (None, r.meter_id, r.hour) if r.meter_id else (r.transformer_area_id, None, r.hour)
        if key in existing:
            bad(line, "hour", _("该台区（或电能表）此时间的电压已导入过"))


def _finish(result: dict, errors: list[RowError]) -> dict:
    errors.sort(key=lambda e: e.row)
    result["errors"] = [{"row": e.row, "column": e.column, "message": e.message} for e in errors]
    result["errors_total"] = len(errors)
    return result


def voltage_import_file(
    *,
    data: bytes,
    actor: Actor,
    dry_run: bool = False,
    file_name: str = "",
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    then: Callable[[dict], None] | None = None,
) -> dict:
    """`voltage_import` on a file's bytes (UTF-8 with or without BOM, or GBK)."""
    return voltage_import(
        rows=_csv_rows(data),
        actor=actor,
        dry_run=dry_run,
        file_name=file_name,
        digest=hashlib.sha256(data).hexdigest(),
        now=now,
        progress=progress,
        then=then,
    )
