"""Bulk import of meter reads (AMI files) from CSV: `gridcare import readings FILE.csv`.

Same contract as the customer import (docs/import-readings.md): every bad cell is reported as (row, column,
reason); only a file without errors is written, in one transaction with bulk inserts. VEE runs on every read:
a read breaking a rule is written with status `flagged` (that is not an error). Reads are looked up
set-based: the meters, the last read of each meter and each account's recent history in a few queries.
"""

import csv
import hashlib
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, visible_unit_ids
from gridcare.customers.importer import (
    ImportFileError,
    RowError,
    _lookup,
    _norm_header,
    decode,
    format_error,
    map_header,
    read_path,
    read_upload,
)
from gridcare.customers.models import Meter

from . import vee
from .choices import TRUSTED_STATUSES, ReadSource, ReadStatus
from .models import MeterRead
from .services import clean_registers

__all__ = ["ImportFileError", "PermissionDenied", "RowError", "format_error", "read_path", "read_upload"]

BATCH_SIZE = 1000
PROGRESS_EVERY = 500  # rows checked between two progress reports
COLUMNS: dict[str, tuple[str, ...]] = {
    "account_number": ("户号", "用户编号"),
    "meter_asset_number": ("电能表资产编号", "资产编号", "表号"),
    "read_at": ("抄表时间", "采集时间", "抄表日期"),
    "total": ("总", "总示数", "正向有功总"),
    "sharp": ("尖", "尖示数"),
    "peak": ("峰", "峰示数"),
    "flat": ("平", "平示数"),
    "valley": ("谷", "谷示数"),
    "reactive": ("无功", "无功示数", "无功总示数"),
    "max_demand": ("最大需量", "需量示数"),
    "source": ("来源",),
}
IMPORT_SOURCES = {ReadSource.AMI, ReadSource.MANUAL, ReadSource.EXCHANGE_FINAL, ReadSource.EXCHANGE_INITIAL}
_DATETIME_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")


@dataclass
class ReadingsResult:
    """What a run found or did. `errors` non-empty means nothing was written."""

    rows: int = 0
    flagged: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_read_at(value: str) -> datetime | None:
    """`YYYY-MM-DD HH:MM[:SS]` (Beijing time) or ISO 8601 with an offset."""
    m = _DATETIME_RE.fullmatch(value)
    try:
        if m:
            y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
            return timezone.make_aware(datetime(y, mo, d, h, mi, s))  # noqa: DTZ001 - made aware here
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _read_rows(text: str) -> tuple[dict[str, int], list[str], list[tuple[int, list[str]]], list[RowError]]:
    records = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.replace("\ufeff", "").strip() for h in next(records)]
    except StopIteration:
        raise ImportFileError(_("文件为空：第 1 行应为表头。")) from None
    except csv.Error as e:
        raise ImportFileError(_("CSV 格式错误：%(err)s") % {"err": e}) from None
    aliases = {_norm_header(n): key for key, names in COLUMNS.items() for n in (key, *names)}
    index, errors = map_header(header, aliases)
    for key in ("read_at", "total"):
        if key not in index:
            errors.append(RowError(1, key, _("缺少必填列 %(key)s") % {"key": key}))
    if "account_number" not in index and "meter_asset_number" not in index:
        errors.append(
            RowError(
                1, "account_number", _("须有户号（account_number）或电能表资产编号（meter_asset_number）列")
            )
        )
    rows: list[tuple[int, list[str]]] = []
    try:
        for line, cells in enumerate(records, start=2):
            if any(c.strip() for c in cells):
                rows.append((line, cells))
    except csv.Error as e:
        raise ImportFileError(
            _("CSV 格式错误（第 %(row)d 行附近）：%(err)s") % {"row": records.line_num, "err": e}
        ) from None
    if not errors and not rows:
        raise ImportFileError(_("文件中没有数据行：表头之后至少需要一行。"))
    return index, header, rows, errors


@dataclass
class _Parsed:
    line: int
    meter: Meter
    read_at: datetime
    registers: dict[str, Decimal | None]
    source: str


def _meters(raws: list[dict[str, str]]) -> tuple[dict[str, Meter], dict[str, list[Meter]]]:
    """Meters by asset number, and in-service meters by account number, in two set-based queries."""
    base = Meter.objects.select_related("service_point__account").filter(service_point__isnull=False)
    by_asset = {
        m.asset_number: m
        for m in _lookup(
            base, "asset_number", {r["meter_asset_number"] for r in raws if r.get("meter_asset_number")}
        )
    }
    by_account: dict[str, list[Meter]] = defaultdict(list)
    for m in _lookup(
        base.filter(removed_on__isnull=True),
        "service_point__account__account_number",
        {r["account_number"] for r in raws if r.get("account_number")},
    ):
        by_account[m.service_point.account.account_number].append(m)
    return by_asset, by_account


def _recent_reads(
    meter_ids: set[int], account_ids: set[int], depth: int
) -> tuple[dict[int, MeterRead], dict[int, list[MeterRead]]]:
    """Last read per meter, and each account's last `depth` reads (newest first), with window queries."""
    last: dict[int, MeterRead] = {}
    history: dict[int, list[MeterRead]] = defaultdict(list)
    ranked_meter = MeterRead.objects.annotate(
        rn=Window(RowNumber(), partition_by=[F("meter_id")], order_by=F("read_at").desc())
    ).filter(rn=1)
    for chunk_ids in _chunks(meter_ids):
        for r in ranked_meter.filter(meter_id__in=chunk_ids):
            last[r.meter_id] = r
    ranked_account = MeterRead.objects.annotate(
        rn=Window(RowNumber(), partition_by=[F("account_id")], order_by=F("read_at").desc())
    ).filter(rn__lte=depth)
    for chunk_ids in _chunks(account_ids):
        for r in ranked_account.filter(account_id__in=chunk_ids).order_by("account_id", "-read_at"):
            history[r.account_id].append(r)
    return last, history


def _chunks(ids: set[int], size: int = 900):
    items = sorted(ids)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _trusted_kwh(read: MeterRead) -> bool:
    return (
        read.status in TRUSTED_STATUSES
        and read.consumption is not None
        and read.source not in (ReadSource.EXCHANGE_INITIAL, ReadSource.EXCHANGE_FINAL)
    )


def precheck(data: bytes) -> int:
    """The whole-file checks, before anything is queued: size, encoding, CSV syntax, header, at least one row.

    Returns the number of data rows; raises ImportFileError (header problems listed one per line)."""
    _index, _header, rows, header_errors = _read_rows(decode(data))
    if header_errors:
        raise ImportFileError(
            "\n".join([_("表头有误，未写入任何数据："), *(format_error(e) for e in header_errors)])
        )
    return len(rows)


def import_readings(
    *,
    data: bytes,
    actor: Actor,
    dry_run: bool = False,
    file_name: str = "",
    progress: Callable[[int], None] | None = None,
    then: Callable[[ReadingsResult], None] | None = None,
) -> ReadingsResult:
    """Validate `data` and, unless `dry_run` or any row is bad, write every read (VEE flags included).

    `actor.user` None is the system (the CLI); a user needs Perm.METER_EDIT and only meters of his units.
    `progress(rows_checked)` is called every PROGRESS_EVERY rows; `then(result)` runs inside the write's
    transaction (a job records there that the file is written, so a retry never repeats it).
    """
    if actor.user is not None and not has_perm(actor.user, Perm.METER_EDIT):
        raise PermissionDenied
    allowed = set(visible_unit_ids(actor.user)) if actor.user is not None else None
    text = decode(data)
    index, header, records, errors = _read_rows(text)
    result = ReadingsResult(rows=len(records), dry_run=dry_run)
    if errors:
        result.errors = errors
        return result
    label = {key: header[i] for key, i in index.items()}
    raws: list[tuple[int, dict[str, str]]] = []
    for line, cells in records:
        raw = {
            k: unicodedata.normalize("NFKC", cells[i] if i < len(cells) else "").strip()
            for k, i in index.items()
        }
        raws.append((line, raw))
    by_asset, by_account = _meters([r for _line, r in raws])

    def bad(line: int, key: str, message: str) -> None:
        errors.append(RowError(line, label.get(key, key), str(message)))

    parsed: list[_Parsed] = []
    seen: dict[tuple[int, datetime], int] = {}
    for n, (line, raw) in enumerate(raws, start=1):
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n)
        before = len(errors)
        meter = None
        asset, number = raw.get("meter_asset_number", ""), raw.get("account_number", "")
        if asset:
            meter = by_asset.get(asset)
            if meter is None:
                bad(line, "meter_asset_number", _("电能表 %(n)s 不存在或未装在计量点上") % {"n": asset})
            elif number and meter.service_point.account.account_number != number:
                bad(line, "account_number", _("电能表 %(m)s 不属于户号 %(n)s") % {"m": asset, "n": number})
                meter = None
        elif number:
            meters = by_account.get(number, [])
            if not meters:
                bad(line, "account_number", _("户号 %(n)s 不存在或没有在用的电能表") % {"n": number})
            elif len(meters) > 1:
                bad(
                    line,
                    "account_number",
                    _("户号 %(n)s 有多块在用电能表：请填写电能表资产编号") % {"n": number},
                )
            else:
                meter = meters[0]
        else:
            bad(line, "account_number", _("户号和电能表资产编号至少填写一个"))
        if meter is not None and allowed is not None and meter.unit_id not in allowed:
            bad(line, "meter_asset_number" if asset else "account_number", _("该表不在您的管辖范围内"))
            meter = None
        read_at = parse_read_at(raw.get("read_at", ""))
        if read_at is None:
            bad(line, "read_at", _("抄表时间无效：应为 YYYY-MM-DD HH:MM 或 ISO 8601，例如 2025-03-01 08:30"))
        elif read_at > timezone.now():
            bad(line, "read_at", _("抄表时间不能晚于当前时间"))
        source = (raw.get("source") or ReadSource.AMI).lower()
        if source not in IMPORT_SOURCES:
            bad(line, "source", _("来源无效：应为 %(v)s") % {"v": "/".join(sorted(IMPORT_SOURCES))})
        reg_errors: dict[str, list[str]] = {}
        registers = clean_registers(
            {k: raw.get(k) for k in vee.REGISTERS}, digits=meter.digits if meter else 14, errors=reg_errors
        )
        for key, messages in reg_errors.items():
            for m in messages:
                bad(line, key, m)
        if meter is not None and read_at is not None:
            first = seen.setdefault((meter.pk, read_at), line)
            if first != line:
                bad(
                    line,
                    "read_at",
                    _("同一电能表同一时间的示数在文件中重复：已出现在第 %(row)d 行") % {"row": first},
                )
        if len(errors) == before:
            parsed.append(_Parsed(line, meter, read_at, registers, source))

    t = vee.thresholds()
    depth = max(t.spike_window, t.zero_periods)
    last, history = _recent_reads(
        {p.meter.pk for p in parsed}, {p.meter.service_point.account_id for p in parsed}, depth
    )
    plan: list[MeterRead] = []
    now = timezone.now()
    user = actor.user if actor.user is not None and actor.user.is_authenticated else None
    # Chains per meter in time order; each account's history is extended as its reads are planned.
    account_kwh: dict[int, list[Decimal]] = {
        a: [r.consumption for r in reversed(reads) if _trusted_kwh(r)] for a, reads in history.items()
    }
    previous: dict[int, tuple[datetime, dict]] = {
        m: (r.read_at, {k: getattr(r, k) for k in vee.REGISTERS}) for m, r in last.items()
    }
    for p in sorted(parsed, key=lambda p: (p.read_at, p.line)):
        meter = p.meter
        prev = previous.get(meter.pk)
        if prev is not None and p.read_at <= prev[0]:
            in_db = meter.pk in last and last[meter.pk].read_at >= p.read_at
            bad(
                p.line,
                "read_at",
                _("抄表时间不晚于该表已有的最近示数（%(last)s）：不能导入更早或重复的示数")
                % {
                    "last": timezone.localtime(last[meter.pk].read_at if in_db else prev[0]).strftime(
                        "%Y-%m-%d %H:%M"
                    )
                },
            )
            continue
        account_id = meter.service_point.account_id
        kwh_history = account_kwh.setdefault(account_id, [])
        kwh, extra, flags = vee.evaluate_read(
            previous=prev[1] if prev else None,
            registers=p.registers,
            source=p.source,
            digits=meter.digits,
            multiplier=meter.multiplier,
            history=kwh_history[-depth:],
            t=t,
        )
        read = MeterRead(
            meter=meter,
            account_id=account_id,
            unit_id=meter.service_point.account.unit_id,
            read_at=p.read_at,
            consumption=kwh,
            source=p.source,
            status=ReadStatus.FLAGGED if flags else ReadStatus.VALID,
            flags=flags,
            created_at=now,
            entered_by=user,
            **p.registers,
            **extra,
        )
        plan.append(read)
        previous[meter.pk] = (p.read_at, p.registers)
        if (
            not flags
            and kwh is not None
            and p.source not in (ReadSource.EXCHANGE_INITIAL, ReadSource.EXCHANGE_FINAL)
        ):
            kwh_history.append(kwh)
    errors.sort(key=lambda e: e.row)
    result.errors = errors
    result.flagged = 0 if errors else sum(1 for r in plan if r.status == ReadStatus.FLAGGED)
    if errors or dry_run:
        return result
    digest = hashlib.sha256(data).hexdigest()
    try:
        with transaction.atomic():
            MeterRead.objects.bulk_create(plan, batch_size=BATCH_SIZE)
            audit_record(
                actor=actor,
                action="import.readings",
                object_type="import",
                object_id=digest,
                unit_id=getattr(actor.user, "unit_id", None),
                changes={"file": file_name, "sha256": digest, "rows": len(plan), "flagged": result.flagged},
            )
            result.written = True
            if then is not None:
                then(result)
    except IntegrityError:
        result.written = False
        raise ImportFileError(
            _(
                "写入时发现同一电能表同一时间的示数已存在（可能有人同时录入），本次未写入任何数据，请重新导入。"
            )
        ) from None
    return result


def dump_errors(errors: list[RowError]) -> list[str]:
    return [format_error(e) for e in errors]
