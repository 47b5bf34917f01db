"""Bulk import of customers with their accounts (户号), premises, service points and meters from CSV.

Two phases. Validation reads the whole file, looks up every referenced unit, area, feeder, account,
meter and customer in a few set-based queries, and reports each bad cell as (row as in the file with the
header as row 1, column as headed in the file, reason). Only a file without a single error is written:
in one transaction, with bulk inserts, so a run writes every row or none. Column layout: docs/import-customers.md.
"""

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record, snapshot
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, may_act_on_unit, visible_unit_ids
from gridcare.core.validators import validate_account_number
from gridcare.org.models import SupplyUnit

from .choices import AccountStatus, CustomerClass, CustomerKind, HoldingReason, Segment, VoltageLevel
from .models import Account, AccountHolding, Customer, Feeder, Meter, Premise, ServicePoint, TransformerArea
from .services import CUSTOMER_FIELDS, _clean_meter, _decimal, clean_customer_data

BATCH_SIZE = 1000
PROGRESS_EVERY = 500  # rows validated between two progress reports
# Bound `IN (...)` lists so SQLite builds limited to 999 variables cope as well as PostgreSQL.
LOOKUP_CHUNK = 900
CAPACITY_MAX = Decimal("1e9")  # ServicePoint.contract_capacity_kva: 10 digits, 1 decimal place


@dataclass(frozen=True)
class Column:
    """One column of the import layout: its key, the Chinese header we print, other accepted headers."""

    key: str
    label: str
    required: bool
    aliases: tuple[str, ...] = ()


COLUMNS: tuple[Column, ...] = (
    Column("account_number", "户号", True, ("用户编号",)),
    Column("customer_name", "客户名称", True, ("户名", "客户姓名", "姓名")),
    Column("customer_kind", "客户类型", True),
    Column("customer_class", "用电类别", True),
    Column("segment", "客户分群", True),
    Column("id_number", "证件号码", True, ("身份证号", "身份证号码", "统一社会信用代码")),
    Column("phone", "联系电话", True, ("手机号", "手机号码", "电话")),
    Column("phone2", "备用电话", False),
    Column("email", "电子邮箱", False, ("邮箱",)),
    Column("unit_code", "供电单位编码", True, ("供电单位", "单位编码")),
    Column("address", "用电地址", True, ("地址",)),
    Column("transformer_area_code", "台区编号", True, ("台区编码", "台区")),
    Column("feeder_code", "线路编号", False, ("线路编码", "线路")),
    Column("voltage_level", "电压等级", True),
    Column("contract_capacity_kva", "合同容量(kVA)", True, ("合同容量",)),
    Column("tariff_code", "电价代码", False),
    Column("meter_asset_number", "电能表资产编号", True, ("资产编号", "表号")),
    Column("meter_digits", "表位数", False),
    Column("meter_multiplier", "倍率", False, ("综合倍率",)),
    Column("meter_tou", "分时计量", False, ("是否分时",)),
    Column("opened_on", "立户日期", False),
)
COLUMN_KEYS = [c.key for c in COLUMNS]

# clean_customer_data() reports by model field; the file names them by column.
_CUSTOMER_FIELD_COLUMN = {
    "kind": "customer_kind",
    "name": "customer_name",
    "customer_class": "customer_class",
    "segment": "segment",
    "id_number": "id_number",
    "phone": "phone",
    "phone2": "phone2",
    "email": "email",
}
_METER_FIELD_COLUMN = {
    "asset_number": "meter_asset_number",
    "digits": "meter_digits",
    "multiplier": "meter_multiplier",
}
# Free text keeps its characters; every other column holds codes, numbers or choices, where full-width
# digits and letters typed with a Chinese IME are folded to ASCII (NFKC).
_TEXT_COLUMNS = frozenset({"customer_name", "address"})
_VOLTAGE_EXTRA = {"0.22kv": VoltageLevel.V220, "0.4kv": VoltageLevel.V380}
_TRUE = frozenset({"1", "是", "y", "yes", "true", "t", "√"})
_FALSE = frozenset({"", "0", "否", "n", "no", "false", "f", "×"})
_DATE_RE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")
_DATE_COMPACT_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")
# Excel shows long digit strings as 1.10105E+17 and saves them that way unless the column is text.
_SCIENTIFIC_RE = re.compile(r"\d+(?:\.\d+)?E\+\d+", re.IGNORECASE)


class ImportFileError(Exception):
    """The file as a whole cannot be read (too large, undecodable, empty) or could not be written."""


@dataclass(frozen=True)
class RowError:
    """One bad cell: row number as in the file (header = 1), column as headed in the file, reason."""

    row: int
    column: str
    message: str


@dataclass
class ImportResult:
    """What a run found or did. `errors` non-empty means nothing was written."""

    rows: int = 0
    customers_created: int = 0
    customers_attached: int = 0
    accounts_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Row:
    line: int
    account_number: str
    customer: dict[str, Any]
    unit: SupplyUnit
    area: TransformerArea
    address: str
    voltage_level: str
    capacity: Decimal
    tariff_code: str
    meter: dict[str, Any]
    opened_on: date
    customer_key: int | str = ""  # "new:<id_number>" for a customer this file creates, else an existing pk


@dataclass
class _Plan:
    rows: list[_Row] = field(default_factory=list)
    data_rows: int = 0
    new_customers: dict[str, _Row] = field(default_factory=dict)  # id_number -> first row naming it
    attached_customer_ids: set[int] = field(default_factory=set)
    errors: list[RowError] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# Reading the file


def max_bytes() -> int:
    return int(settings.GRIDCARE["IMPORT_MAX_BYTES"])


def _human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} B"


def check_size(size: int) -> None:
    """Refuse files above settings.GRIDCARE["IMPORT_MAX_BYTES"] before reading them."""
    limit = max_bytes()
    if size > limit:
        raise ImportFileError(
            _("文件过大：%(size)s，上限为 %(limit)s。请拆分成多个文件后分别导入。")
            % {"size": _human_size(size), "limit": _human_size(limit)}
        )


def read_upload(upload) -> bytes:
    """The bytes of an uploaded file (Django UploadedFile), refusing an oversized one first."""
    check_size(upload.size)
    data = b"".join(upload.chunks())
    check_size(len(data))
    return data


def read_path(path: str) -> bytes:
    """The bytes of a file on disk, refusing an oversized one before reading it."""
    try:
        with open(path, "rb") as fh:
            check_size(fh.seek(0, io.SEEK_END))
            fh.seek(0)
            data = fh.read(max_bytes() + 1)
    except OSError as e:
        raise ImportFileError(
            _("无法读取文件 %(path)s：%(err)s") % {"path": path, "err": e.strerror or e}
        ) from None
    check_size(len(data))
    return data


def decode(data: bytes) -> str:
    """Text of a CSV saved by Excel or an editor: UTF-8 with or without BOM, or GBK/GB18030."""
    check_size(len(data))
    if data.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            _("这是 Excel 工作簿（.xlsx），不是 CSV 文件：请在 Excel 中“另存为”CSV 后再导入。")
        )
    if b"\x00" in data:
        raise ImportFileError(
            _("文件编码无法识别（疑似 UTF-16 或二进制文件）：请另存为 UTF-8 或 GBK 编码的 CSV。")
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK (Excel's "CSV" on Chinese Windows) and covers rare name characters.
        return data.decode("gb18030")
    except UnicodeDecodeError as e:
        raise ImportFileError(
            _(
                "文件编码无法识别（第 %(pos)d 个字节处既不是 UTF-8 也不是 GBK）：请另存为 UTF-8 或 GBK 编码的 CSV。"
            )
            % {"pos": e.start + 1}
        ) from None


def _norm_header(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.replace("\ufeff", ""))
    return re.sub(r"\s+", "", text).strip("*").lower()


def map_header(header: list[str], aliases: dict[str, str]) -> tuple[dict[str, int], list[RowError]]:
    """Column index per known key from a header row; unknown and repeated columns are row-1 errors."""
    index: dict[str, int] = {}
    errors: list[RowError] = []
    for i, cell in enumerate(header):
        if not cell:
            continue
        key = aliases.get(_norm_header(cell))
        if key is None:
            errors.append(RowError(1, cell, _("无法识别的列名：请使用导入说明中的列名")))
        elif key in index:
            errors.append(RowError(1, cell, _("与列“%(other)s”重复") % {"other": header[index[key]]}))
        else:
            index[key] = i
    return index, errors


def _header_aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for col in COLUMNS:
        for name in (col.key, col.label, *col.aliases):
            out[_norm_header(name)] = col.key
    return out


def _choice_aliases(choices: type, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Accepted spellings of a TextChoices value: the value itself and its Chinese and English labels."""
    out = {str(v).lower(): str(v) for v in choices.values}
    for lang in ("zh-hans", "en"):
        with translation.override(lang):
            out.update({str(label).lower(): str(value) for value, label in choices.choices})
    out.update(extra or {})
    return out


def template_csv() -> bytes:
    """An empty import file with the Chinese header row, UTF-8 with BOM so Excel opens it correctly."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([c.label for c in COLUMNS])
    return buf.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------------------------------------------------
# Validation


def _chunked(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(values))
    for i in range(0, len(items), LOOKUP_CHUNK):
        yield items[i : i + LOOKUP_CHUNK]


def _lookup(qs: QuerySet, field_name: str, values: Iterable[str]) -> Iterator[Any]:
    for chunk in _chunked(values):
        yield from qs.filter(**{f"{field_name}__in": chunk})


def _parse_date(value: str) -> date | None:
    m = _DATE_RE.fullmatch(value) or _DATE_COMPACT_RE.fullmatch(value)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _read_table(
    text: str, default_unit: bool
) -> tuple[dict[str, int], list[str], list[tuple[int, list[str]]], list[RowError]]:
    """Header mapping (key -> cell index), header texts, non-blank data rows, and header errors."""
    records = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(records)
    except StopIteration:
        raise ImportFileError(_("文件为空：第 1 行应为表头。")) from None
    except csv.Error as e:
        raise ImportFileError(_("CSV 格式错误：%(err)s") % {"err": e}) from None
    header = [h.replace("\ufeff", "").strip() for h in header]
    index, errors = map_header(header, _header_aliases())
    for col in COLUMNS:
        if col.required and col.key not in index and not (col.key == "unit_code" and default_unit):
            errors.append(
                RowError(
                    1,
                    col.key,
                    _("缺少必填列（表头可写 %(key)s 或 %(label)s）") % {"key": col.key, "label": col.label},
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


class _Validator:
    """Checks every row against the rules and the database; collects errors instead of stopping."""

    def __init__(
        self, *, actor: Actor, default_unit: SupplyUnit | None, progress: Callable[[int], None] | None = None
    ):
        self.actor = actor
        self.progress = progress
        self.default_unit = default_unit
        self.today = timezone.localdate()
        self.kinds = _choice_aliases(CustomerKind)
        self.classes = _choice_aliases(CustomerClass)
        self.segments = _choice_aliases(Segment)
        self.voltages = _choice_aliases(VoltageLevel, _VOLTAGE_EXTRA)
        allowed: set[int] | None = None
        if actor.user is not None:
            allowed = set(visible_unit_ids(actor.user))
        if default_unit is not None:
            subtree = set(
                SupplyUnit.objects.filter(path__startswith=default_unit.path).values_list("id", flat=True)
            )
            allowed = subtree if allowed is None else allowed & subtree
        self.allowed_unit_ids = allowed
        self.label: dict[str, str] = {}  # column key -> header text as written in the file

    def run(self, text: str) -> _Plan:
        plan = _Plan()
        index, header, records, header_errors = _read_table(text, default_unit=self.default_unit is not None)
        plan.data_rows = len(records)
        if header_errors:
            plan.errors = header_errors
            return plan
        self.label = {key: header[i] for key, i in index.items()}
        raw_rows = []
        for line, cells in records:
            raw = {key: (cells[i] if i < len(cells) else "") for key, i in index.items()}
            raw = {
                k: (v if k in _TEXT_COLUMNS else unicodedata.normalize("NFKC", v)).strip()
                for k, v in raw.items()
            }
            if self.default_unit is not None and not raw.get("unit_code"):
                raw["unit_code"] = self.default_unit.code
            for i, cell in enumerate(cells):
                if cell.strip() and (i >= len(header) or not header[i]):
                    plan.errors.append(RowError(line, _("第 %(n)d 列") % {"n": i + 1}, _("该列没有表头")))
            raw_rows.append((line, raw))
        self._load(raw_rows)
        for n, (line, raw) in enumerate(raw_rows, start=1):
            row = self._row(line, raw, plan.errors)
            if row is not None:
                plan.rows.append(row)
            if self.progress is not None and n % PROGRESS_EVERY == 0:
                self.progress(n)
        self._cross_rows(plan)
        order = {key: i for i, key in enumerate(COLUMN_KEYS)}
        inverse = {v: k for k, v in self.label.items()}
        plan.errors.sort(key=lambda e: (e.row, order.get(inverse.get(e.column, e.column), len(order))))
        return plan

    def _load(self, raw_rows: list[tuple[int, dict[str, str]]]) -> None:
        """Every referenced row of the database, in a handful of set-based queries."""

        def values(key: str, normalise=lambda v: v) -> set[str]:
            return {normalise(r[key]) for _line, r in raw_rows if r.get(key)}

        self.units = {u.code: u for u in _lookup(SupplyUnit.objects.all(), "code", values("unit_code"))}
        self.areas = {
            a.code: a
            for a in _lookup(
                TransformerArea.objects.select_related("feeder", "unit"),
                "code",
                values("transformer_area_code"),
            )
        }
        self.feeders = set(
            _lookup(Feeder.objects.values_list("code", flat=True), "code", values("feeder_code"))
        )
        self.existing_accounts = set(
            _lookup(
                Account.objects.values_list("account_number", flat=True),
                "account_number",
                values("account_number"),
            )
        )
        self.existing_meters = set(
            _lookup(
                Meter.objects.values_list("asset_number", flat=True),
                "asset_number",
                values("meter_asset_number"),
            )
        )
        # The first row naming each 户号 / meter, so every later one is reported as a duplicate.
        self.first_line: dict[str, dict[str, int]] = {"account_number": {}, "meter_asset_number": {}}
        for line, r in raw_rows:
            for key, first in self.first_line.items():
                first.setdefault(r.get(key, ""), line)
        self.existing_customers: dict[str, list[dict[str, Any]]] = {}
        customers = Customer.objects.order_by("id").values("id", "id_number", "name", "unit_id")
        for c in _lookup(customers, "id_number", values("id_number", str.upper)):
            self.existing_customers.setdefault(c["id_number"], []).append(c)

    def _row(self, line: int, raw: dict[str, str], errors: list[RowError]) -> _Row | None:
        bad_before = len(errors)

        def bad(key: str, message: str) -> None:
            if _SCIENTIFIC_RE.fullmatch(raw.get(key, "")):
                message = _("%(msg)s（该值被 Excel 转成了科学计数法：请把该列设为“文本”格式后重新保存）") % {
                    "msg": message
                }
            errors.append(RowError(line, self.label.get(key, key), str(message)))

        def required(key: str) -> str:
            value = raw.get(key, "")
            if not value:
                bad(key, _("必填，不能为空"))
            return value

        # Customer: the same rules as the console form, from services.clean_customer_data().
        customer_errors: dict[str, list[str]] = {}
        customer = clean_customer_data(
            {
                "kind": self.kinds.get(raw["customer_kind"].lower(), raw["customer_kind"]),
                "name": raw["customer_name"],
                "customer_class": self.classes.get(raw["customer_class"].lower(), raw["customer_class"]),
                "segment": self.segments.get(raw["segment"].lower(), raw["segment"]),
                "id_number": raw["id_number"],
                "phone": raw["phone"],
                "phone2": raw.get("phone2", ""),
                "email": raw.get("email", ""),
            },
            errors=customer_errors,
        )
        for fld, messages in customer_errors.items():
            for m in messages:
                bad(_CUSTOMER_FIELD_COLUMN[fld], m)

        account_number = required("account_number")
        if account_number:
            try:
                account_number = validate_account_number(account_number)
            except ValidationError as e:
                bad("account_number", e.messages[0])
            else:
                if account_number in self.existing_accounts:
                    bad("account_number", _("户号 %(n)s 已存在") % {"n": account_number})
                elif (first := self.first_line["account_number"][account_number]) != line:
                    bad(
                        "account_number",
                        _("户号 %(n)s 在文件中重复：已出现在第 %(row)d 行")
                        % {"n": account_number, "row": first},
                    )

        unit = None
        unit_code = required("unit_code")
        if unit_code:
            unit = self.units.get(unit_code)
            if unit is None:
                bad("unit_code", _("供电单位编码 %(c)s 不存在") % {"c": unit_code})
            elif self.allowed_unit_ids is not None and unit.pk not in self.allowed_unit_ids:
                bad("unit_code", _("供电单位不在您的管辖范围内"))
                unit = None

        area = None
        area_code = required("transformer_area_code")
        if area_code:
            area = self.areas.get(area_code)
            if area is None:
                bad("transformer_area_code", _("台区 %(c)s 不存在") % {"c": area_code})
            elif unit is not None and not area.unit.path.startswith(unit.path):
                bad(
                    "transformer_area_code",
                    _("台区 %(c)s 不属于供电单位 %(u)s") % {"c": area_code, "u": unit.code},
                )
                area = None
        feeder_code = raw.get("feeder_code", "")
        if feeder_code:
            if feeder_code not in self.feeders:
                bad("feeder_code", _("线路 %(c)s 不存在") % {"c": feeder_code})
            elif area is not None and area.feeder.code != feeder_code:
                bad(
                    "feeder_code",
                    _("台区 %(a)s 属于线路 %(f)s，与本列不一致") % {"a": area.code, "f": area.feeder.code},
                )

        address = required("address")
        if len(address) > 200:
            bad("address", _("用电地址不能超过200个字符"))

        voltage = required("voltage_level")
        if voltage:
            voltage = self.voltages.get(voltage.lower(), "")
            if not voltage:
                bad("voltage_level", _("电压等级无效：应为 %(v)s") % {"v": "/".join(VoltageLevel.values)})

        capacity = None
        if required("contract_capacity_kva"):
            capacity_errors: dict[str, list[str]] = {}
            capacity = _decimal(raw["contract_capacity_kva"], "contract_capacity_kva", capacity_errors)
            for m in capacity_errors.get("contract_capacity_kva", []):
                bad("contract_capacity_kva", _("合同容量%(msg)s") % {"msg": m})
            if capacity is not None and (
                capacity >= CAPACITY_MAX or capacity != capacity.quantize(Decimal("0.1"))
            ):
                bad("contract_capacity_kva", _("合同容量须小于 10 亿 kVA，且最多1位小数"))
                capacity = None

        tariff_code = raw.get("tariff_code", "")
        if len(tariff_code) > 32:
            bad("tariff_code", _("电价代码不能超过32个字符"))

        meter_errors: dict[str, list[str]] = {}
        meter = _clean_meter(
            {
                "asset_number": required("meter_asset_number"),
                "digits": raw.get("meter_digits") or None,
                "multiplier": raw.get("meter_multiplier") or None,
            },
            meter_errors,
        )
        for fld, messages in meter_errors.items():
            if fld == "asset_number" and not meter["asset_number"]:
                continue  # already reported as missing
            for m in messages:
                bad(_METER_FIELD_COLUMN[fld], m)
        asset = meter["asset_number"]
        if asset and asset in self.existing_meters:
            bad("meter_asset_number", _("资产编号 %(n)s 已存在") % {"n": asset})
        elif asset and (first := self.first_line["meter_asset_number"][asset]) != line:
            bad(
                "meter_asset_number",
                _("资产编号 %(n)s 在文件中重复：已出现在第 %(row)d 行") % {"n": asset, "row": first},
            )
        tou = raw.get("meter_tou", "").lower()
        if tou in _TRUE:
            meter["has_tou"] = True
        elif tou in _FALSE:
            meter["has_tou"] = False
        else:
            bad("meter_tou", _("分时计量应为 1/0 或 是/否"))

        opened_on = self.today
        if raw.get("opened_on"):
            parsed = _parse_date(raw["opened_on"])
            if parsed is None:
                bad("opened_on", _("日期无效：应为 YYYY-MM-DD，例如 2024-03-05"))
            elif parsed > self.today:
                bad("opened_on", _("立户日期不能晚于今天"))
            else:
                opened_on = parsed

        if len(errors) > bad_before:
            return None
        return _Row(
            line=line,
            account_number=account_number,
            customer=customer,
            unit=unit,
            area=area,
            address=address,
            voltage_level=voltage,
            capacity=capacity.quantize(Decimal("0.1")),
            tariff_code=tariff_code,
            meter=meter,
            opened_on=opened_on,
        )

    def _cross_rows(self, plan: _Plan) -> None:
        """Which customer each account belongs to: one per ID number in the file, or the one already on file."""
        kept: list[_Row] = []
        for row in plan.rows:
            error = self._assign_customer(row, plan)
            if error is None:
                kept.append(row)
            else:
                plan.errors.append(RowError(row.line, self.label.get(error[0], error[0]), error[1]))
        plan.rows = kept
        plan.attached_customer_ids = {r.customer_key for r in kept if isinstance(r.customer_key, int)}

    def _assign_customer(self, row: _Row, plan: _Plan) -> tuple[str, str] | None:
        """Set `row.customer_key`; or (column, reason) when the ID number belongs to someone else."""
        id_number, name = row.customer["id_number"], row.customer["name"]
        first = plan.new_customers.get(id_number)
        if first is not None:
            if first.customer["name"] != name:
                return "customer_name", _("与第 %(row)d 行证件号码相同，但客户名称不一致") % {
                    "row": first.line
                }
            row.customer_key = f"new:{id_number}"
            return None
        existing = self.existing_customers.get(id_number)
        if not existing:
            plan.new_customers[id_number] = row
            row.customer_key = f"new:{id_number}"
            return None
        allowed = self.allowed_unit_ids
        reachable = [c for c in existing if allowed is None or c["unit_id"] in allowed]
        if not reachable:
            return "id_number", _("证件号码已登记在您管辖范围以外的客户名下")
        match = next((c for c in reachable if c["name"] == name), None)
        if match is None:
            return "customer_name", _("证件号码已登记在系统中另一名称的客户名下，请核对客户名称")
        row.customer_key = match["id"]
        return None


# ---------------------------------------------------------------------------------------------------------
# Writing


def _audit_event(
    actor: Actor, now, *, obj, customer_id: int, unit_id: int, changes: dict[str, Any]
) -> AuditEvent:
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    return AuditEvent(
        created_at=now,
        actor=user,
        actor_label=actor.label,
        channel=actor.channel,
        action="customer.import",
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        customer_id=customer_id,
        unit_id=unit_id,
        changes=changes,
        ip=actor.ip,
    )


@transaction.atomic
def _write(
    plan: _Plan, *, actor: Actor, file_name: str, digest: str, then: Callable[[], None] | None = None
) -> None:
    now = timezone.now()
    customers: dict[str, Customer] = {}
    for id_number, row in plan.new_customers.items():
        c = row.customer
        customers[f"new:{id_number}"] = Customer(
            kind=c["kind"],
            name=c["name"],
            customer_class=c["customer_class"],
            segment=c["segment"],
            id_number=c["id_number"],
            phone=c["phone"],
            phone2=c["phone2"],
            email=c["email"],
            unit_id=row.unit.pk,
            created_at=now,
            updated_at=now,
        )
    Customer.objects.bulk_create(customers.values(), batch_size=BATCH_SIZE)

    def customer_id(row: _Row) -> int:
        return row.customer_key if isinstance(row.customer_key, int) else customers[row.customer_key].pk

    rows = plan.rows
    premises = [
        Premise(address=r.address, unit_id=r.area.unit_id, transformer_area_id=r.area.pk) for r in rows
    ]
    Premise.objects.bulk_create(premises, batch_size=BATCH_SIZE)
    accounts = [
        Account(
            account_number=r.account_number,
            customer_id=customer_id(r),
            premise_id=p.pk,
            unit_id=r.area.unit_id,
            status=AccountStatus.ACTIVE,
            opened_on=r.opened_on,
        )
        for r, p in zip(rows, premises, strict=True)
    ]
    Account.objects.bulk_create(accounts, batch_size=BATCH_SIZE)
    AccountHolding.objects.bulk_create(
        [
            AccountHolding(
                account_id=a.pk,
                customer_id=a.customer_id,
                valid_from=a.opened_on,
                reason=HoldingReason.MOVE_IN,
            )
            for a in accounts
        ],
        batch_size=BATCH_SIZE,
    )
    service_points = [
        ServicePoint(
            premise_id=a.premise_id,
            account_id=a.pk,
            unit_id=a.unit_id,
            transformer_area_id=r.area.pk,
            voltage_level=r.voltage_level,
            contract_capacity_kva=r.capacity,
            tariff_code=r.tariff_code,
        )
        for r, a in zip(rows, accounts, strict=True)
    ]
    ServicePoint.objects.bulk_create(service_points, batch_size=BATCH_SIZE)
    Meter.objects.bulk_create(
        [
            Meter(
                asset_number=r.meter["asset_number"],
                service_point_id=sp.pk,
                unit_id=sp.unit_id,
                digits=r.meter["digits"],
                multiplier=r.meter["multiplier"],
                has_tou=r.meter["has_tou"],
                installed_on=r.opened_on,
            )
            for r, sp in zip(rows, service_points, strict=True)
        ],
        batch_size=BATCH_SIZE,
    )

    # One event per account; the row that created a customer also carries that customer's snapshot, so the
    # customer's timeline starts with it without a second 10,000 rows of audit.
    created_on_line = {row.line: customers[f"new:{idn}"] for idn, row in plan.new_customers.items()}
    events = []
    for r, a, sp in zip(rows, accounts, service_points, strict=True):
        after = {
            "account_number": a.account_number, "address": r.address, "opened_on": a.opened_on.isoformat(),
            "transformer_area": r.area.pk, "service_point": sp.pk, "meter": r.meter["asset_number"], "row": r.line,
        }  # fmt: skip
        changes: dict[str, Any] = {"after": after}
        if r.line in created_on_line:
            changes["customer_created"] = snapshot(created_on_line[r.line], CUSTOMER_FIELDS)
        events.append(
            _audit_event(actor, now, obj=a, customer_id=a.customer_id, unit_id=a.unit_id, changes=changes)
        )
    AuditEvent.objects.bulk_create(events, batch_size=BATCH_SIZE)
    audit_record(
        actor=actor,
        action="import.customers",
        object_type="import",
        object_id=digest,
        unit_id=getattr(actor.user, "unit_id", None),
        changes={
            "file": file_name,
            "sha256": digest,
            "rows": len(rows),
            "customers_created": len(customers),
            "customers_attached": len(plan.attached_customer_ids),
            "accounts_created": len(accounts),
        },
    )
    if then is not None:
        then()  # in the same transaction: e.g. the job row records that this file is written


# ---------------------------------------------------------------------------------------------------------
# Entry point for the CLI and the console page


def resolve_unit(actor: Actor, unit_code: str | None) -> SupplyUnit | None:
    """The unit of `--unit CODE`, which must exist and lie in the actor's units; None without a code."""
    if not unit_code:
        return None
    unit = SupplyUnit.objects.filter(code=unit_code).first()
    allowed = actor.user is None or (
        unit is not None and may_act_on_unit(actor.user, unit.pk, Perm.CUSTOMER_IMPORT)
    )
    if unit is None or not allowed:
        raise ImportFileError(_("供电单位编码 %(c)s 不存在或不在您的管辖范围内") % {"c": unit_code})
    return unit


def precheck(data: bytes, *, unit_code: str | None = None) -> int:
    """The whole-file checks, before anything is queued: size, encoding, CSV syntax, header, at least one row.

    Returns the number of data rows; raises ImportFileError (header problems listed one per line)."""
    _index, _header, rows, header_errors = _read_table(decode(data), default_unit=bool(unit_code))
    if header_errors:
        raise ImportFileError(
            "\n".join([_("表头有误，未写入任何数据："), *(format_error(e) for e in header_errors)])
        )
    return len(rows)


def import_customers(
    *,
    data: bytes,
    actor: Actor,
    dry_run: bool = False,
    file_name: str = "",
    unit_code: str | None = None,
    progress: Callable[[int], None] | None = None,
    then: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Validate `data` (a CSV file's bytes) and, unless `dry_run` or any row is bad, write all of it.

    `actor.user` None is the system (the CLI): every unit may be imported. A user must hold
    Perm.CUSTOMER_IMPORT and may import only rows of units in the subtree of his home unit.
    `unit_code` narrows the import to that unit's subtree and fills an empty or missing 供电单位编码.
    `progress(rows_validated)` is called every PROGRESS_EVERY rows; `then(result)` runs inside the write's
    transaction, after the last row (a job records there that the file is written, so a retry never repeats it).
    Raises ImportFileError when the file as a whole is unusable, PermissionDenied for a user without the permission.
    """
    if actor.user is not None and not has_perm(actor.user, Perm.CUSTOMER_IMPORT):
        raise PermissionDenied
    default_unit = resolve_unit(actor, unit_code)
    text = decode(data)
    plan = _Validator(actor=actor, default_unit=default_unit, progress=progress).run(text)
    result = ImportResult(
        rows=plan.data_rows,
        errors=plan.errors,
        dry_run=dry_run,
        customers_created=0 if plan.errors else len(plan.new_customers),
        customers_attached=0 if plan.errors else len(plan.attached_customer_ids),
        accounts_created=0 if plan.errors else len(plan.rows),
    )
    if plan.errors or dry_run:
        return result

    def written() -> None:
        result.written = True
        if then is not None:
            then(result)

    try:
        _write(plan, actor=actor, file_name=file_name, digest=hashlib.sha256(data).hexdigest(), then=written)
    except IntegrityError:
        result.written = False
        raise ImportFileError(
            _(
                "写入时发现户号或电能表资产编号已被占用（可能有人同时录入了相同数据），本次未写入任何数据，请重新导入。"
            )
        ) from None
    return result


def format_error(error: RowError) -> str:
    return _("第 %(row)d 行，列 %(column)s：%(message)s") % {
        "row": error.row,
        "column": error.column,
        "message": error.message,
    }
