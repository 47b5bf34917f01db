"""Bank withholding (银行代扣, issue 4 §2): agreements, debit files for what is owed, the bank's result files.

Agreements (代扣协议): one active agreement per account. The bank account number is personal data: stored in
full (the bank needs it), shown masked (`6222****1234`) unless the viewer has customer.view_pii (each such
view is audited, `customer.view_pii`, one row per request). The debit file carries it whole only for a role
with payment.batch_send (the billing clerk) or a job, and that download is audited; others get it masked. It must be
12–19 digits; for the national banks in `BANKS` (their UnionPay debit card numbers, 16–19 digits) the last
digit must pass the Luhn check; rural credit cooperatives (402) use passbook account numbers without a
check digit, so only the length and digits are checked for them. The holder name must be writable in GBK
(the file encoding) and contain no comma or quote.

Debit file (扣款文件), GBK, CRLF line ends, no quoting:

    <batch_no>,<count>,<total>                      header: batch number, number of items, total yuan
    <serial>,<户号>,<bank account>,<holder>,<amount>  one line per item, serial 1..count, amount 0.00

The batch number is ``WH`` + bank code + the export's day in Beijing + a sequence of that bank and day from
0001 (`WH105202612060001`), allocated inside the export's transaction: two exports never share one, however
close together (a concurrent export that took the number first makes the other take the next).

The amount of an item is what the account's statement shows as due on the batch's `as_of` date: every
open bill's outstanding principal plus its late fee (charged and unpaid, plus accrued up to `as_of`,
`latefee.accrued_fee`). Accounts already in an unfinished batch (an item still pending) are skipped.

Result file (回盘文件) from the bank, GBK or UTF-8, same header (an optional 4th field is the debit date
YYYY-MM-DD, default the batch's `as_of`), then one line per item:

    <serial>,<户号>,<amount>,<result code>[,<message>]    code 0000 = debited; any other 4 digits = failed

The whole file is checked first (batch number, count and total, each row's serial, 户号, amount and code);
any broken row refuses the file with every bad row listed and nothing written. Debited items become
payments through `services.payment_record(channel="bank", channel_txn_id=f"{batch_no}-{serial}")`, so an
item is paid exactly once whatever happens; failed items keep the bank's code and message. Importing the
same file again changes nothing and says so; an item cannot get a different result once settled.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record, pii_view_record
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_bank_account, mask_name
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import (
    PermissionDenied,
    may_act_on_unit,
    require_object,
    require_unit,
    visible_unit_ids,
)
from gridcare.customers.importer import ImportFileError, decode
from gridcare.customers.models import Account
from gridcare.org.models import SupplyUnit
from gridcare.payments.choices import BatchStatus, ItemStatus, PaymentChannel
from gridcare.payments.ledger.services import ZERO, clean_amount, payment_record
from gridcare.payments.ledger.statement import amounts_due  # noqa: F401 — also used as withholding.amounts_due
from gridcare.payments.models import WithholdingAgreement, WithholdingBatch, WithholdingItem
from gridcare.payments.states import check_transition

BEIJING = ZoneInfo("Asia/Shanghai")
DEBITED = "0000"

# Bank code (CNAPS bank class code) → (name, Luhn check on the account number)
BANKS: dict[str, tuple[str, bool]] = {
    "102": ("中国工商银行", True),
    "103": ("中国农业银行", True),
    "104": ("中国银行", True),
    "105": ("中国建设银行", True),
    "301": ("交通银行", True),
    "403": ("中国邮政储蓄银行", True),
    "402": ("农村信用社", False),
}


def bank_choices() -> list[tuple[str, str]]:
    return [(code, f"{code} {name}") for code, (name, _luhn) in BANKS.items()]


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def shown_bank_account(user, number: str) -> str:
    return number if has_perm(user, Perm.CUSTOMER_VIEW_PII) else mask_bank_account(number)


def shown_holder(user, name: str) -> str:
    """The account holder's name is personal data too: 张* unless the user may see it."""
    return name if has_perm(user, Perm.CUSTOMER_VIEW_PII) else mask_name(name)


def agreements_view_record(*, actor: Actor, agreements, source: str) -> None:
    """Agreements shown with full bank accounts (a customer.view_pii role): one audit row for the request."""
    if not has_perm(actor.user, Perm.CUSTOMER_VIEW_PII):
        return
    pii_view_record(
        actor=actor,
        source=source,
        object_type="payments.withholdingagreement",
        object_ids=[a.pk for a in agreements],
        customer_ids=[a.account.customer_id for a in agreements],
    )


def batch_view_record(*, actor: Actor, batch: WithholdingBatch, items, source: str) -> None:
    """A batch's items shown with full bank accounts (a customer.view_pii role): one audit row for the request."""
    if not items or not has_perm(actor.user, Perm.CUSTOMER_VIEW_PII):
        return
    pii_view_record(
        actor=actor,
        source=source,
        object_type="payments.withholdingbatch",
        object_ids=[batch.batch_no],
        customer_ids=[it.account.customer_id for it in items],
        unit_id=batch.unit_id,
    )


# ---------------------------------------------------------------- agreements


def _clean_agreement(
    bank_code: str, bank_account: str, holder_name: str, signed_on: Any
) -> dict[str, list[str]]:
    errs: dict[str, list[str]] = {}
    if bank_code not in BANKS:
        errs["bank_code"] = [_("未知的银行代码：%(c)s") % {"c": str(bank_code)[:8]}]
    if not re.fullmatch(r"\d{12,19}", bank_account):
        errs["bank_account"] = [_("银行账号应为 12–19 位数字")]
    elif bank_code in BANKS and BANKS[bank_code][1] and (len(bank_account) < 16 or not luhn_ok(bank_account)):
        errs["bank_account"] = [_("银行卡号校验失败（应为 16–19 位且通过 Luhn 校验），请核对")]
    if not holder_name or len(holder_name) > 40 or re.search(r"[,\"'\x00\r\n]", holder_name):
        errs["holder_name"] = [_("账户名必填，最多40个字符，不能含逗号或引号")]
    else:
        try:
            holder_name.encode("gbk")
        except UnicodeEncodeError:
            errs["holder_name"] = [_("账户名含有银行文件（GBK 编码）无法表示的字符")]
    if not isinstance(signed_on, date):
        errs["signed_on"] = [_("签约日期格式应为 YYYY-MM-DD")]
    return errs


@transaction.atomic
def agreement_create(
    *, actor: Actor, account_number: str, bank_code: str, bank_account: str, holder_name: str, signed_on: date
) -> WithholdingAgreement:
    """Sign a withholding agreement for an account (one active agreement per account)."""
    account = Account.objects.filter(account_number=str(account_number or "").strip()).first()
    if account is None:
        raise ValidationError(
            {"account_number": [_("户号不存在：%(n)s") % {"n": str(account_number or "")[:20]}]}
        )
    require_object(actor, account, Perm.PAYMENT_BATCH)
    bank_code, bank_account = str(bank_code or "").strip(), re.sub(r"\s", "", str(bank_account or ""))
    holder_name = str(holder_name or "").strip()
    errs = _clean_agreement(bank_code, bank_account, holder_name, signed_on)
    if errs:
        raise ValidationError(errs)
    Account.objects.select_for_update().filter(pk=account.pk).first()
    if WithholdingAgreement.objects.filter(account=account, active=True).exists():
        raise ValidationError({"account_number": [_("该户号已有有效的代扣协议，请先解约")]})
    a = WithholdingAgreement.objects.create(
        account=account,
        unit_id=account.unit_id,
        bank_code=bank_code,
        bank_name=BANKS[bank_code][0],
        bank_account=bank_account,
        holder_name=holder_name,
        signed_on=signed_on,
        created_at=timezone.now(),
        created_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="withholding_agreement.create",
        obj=a,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={
            "account_number": account.account_number,
            "bank_code": bank_code,
            "bank_account": mask_bank_account(bank_account),
            "signed_on": signed_on.isoformat(),
        },
    )
    return a


@transaction.atomic
def agreement_deactivate(*, actor: Actor, agreement: WithholdingAgreement) -> WithholdingAgreement:
    """End an agreement (解约). Items already exported stay as they are; later batches skip the account."""
    require_object(actor, agreement, Perm.PAYMENT_BATCH)
    a = WithholdingAgreement.objects.select_for_update().get(pk=agreement.pk)
    if not a.active:
        raise ValidationError({"__all__": [_("该代扣协议已解约")]})
    a.active, a.deactivated_at = False, timezone.now()
    a.save(update_fields=["active", "deactivated_at"])
    audit_record(
        actor=actor,
        action="withholding_agreement.deactivate",
        obj=a,
        unit_id=a.unit_id,
        changes={"active": [True, False]},
    )
    return a


# ---------------------------------------------------------------- export


BATCH_NO_TRIES = 5


def next_batch_no(bank_code: str, day: date) -> str:
    """The next number of the bank's batches of `day` (Beijing): ``WH`` + bank code + ``YYYYMMDD`` + a
    sequence from ``0001`` (``WH10520261206`` ``0001``, ``…0002``). Read inside the export's transaction;
    an export of another unit that took the same number meanwhile is caught by the unique index and the
    caller takes the next one."""
    prefix = f"WH{bank_code}{day:%Y%m%d}"
    taken = WithholdingBatch.objects.filter(batch_no__startswith=prefix).values_list("batch_no", flat=True)
    last = max((int(n[len(prefix) :]) for n in taken if n[len(prefix) :].isdigit()), default=0)
    return f"{prefix}{last + 1:04d}"


def _create_batch(*, bank_code: str, now: datetime, **fields) -> WithholdingBatch:
    """The batch row under the next free number of its bank and day. Each try is a savepoint, so a number
    taken by a concurrent export (unique violation) is retried with the next one instead of failing."""
    day = timezone.localdate(now, BEIJING)
    for _try in range(BATCH_NO_TRIES):
        try:
            with transaction.atomic():
                return WithholdingBatch.objects.create(
                    batch_no=next_batch_no(bank_code, day), bank_code=bank_code, created_at=now, **fields
                )
        except IntegrityError:
            continue
    raise ValidationError({"__all__": [_("其他代扣批次正在生成，请稍后重试")]})


def _scope_unit_ids(actor: Actor, unit: SupplyUnit | None) -> tuple[SupplyUnit, list[int]]:
    """The batch's unit (the actor's home unit, or `unit` for jobs) and the unit ids it covers."""
    if actor.user is not None:
        if not has_perm(actor.user, Perm.PAYMENT_BATCH):
            raise PermissionDenied
        home = SupplyUnit.objects.get(pk=actor.user.unit_id)
        if unit is not None:
            require_unit(actor, unit.pk, Perm.PAYMENT_BATCH)
            home = unit
    else:
        home = unit or SupplyUnit.objects.filter(parent__isnull=True).order_by("pk").first()
        if home is None:
            raise ValidationError({"unit": [_("系统中还没有供电单位")]})
    ids = list(SupplyUnit.objects.filter(path__startswith=home.path).values_list("pk", flat=True))
    if actor.user is not None:
        ids = sorted(set(ids) & set(visible_unit_ids(actor.user)))
    return home, ids


@transaction.atomic
def withholding_export(
    *, actor: Actor, bank_code: str, as_of: date, unit: SupplyUnit | None = None, now: datetime | None = None
) -> WithholdingBatch:
    """A debit batch of one bank: every account of the unit with an active agreement of that bank and an
    amount due as of `as_of`, not already in an unfinished batch. Refused when nothing is due."""
    if bank_code not in BANKS:
        raise ValidationError({"bank_code": [_("未知的银行代码：%(c)s") % {"c": str(bank_code)[:8]}]})
    if not isinstance(as_of, date):
        raise ValidationError({"as_of": [_("日期格式应为 YYYY-MM-DD")]})
    home, unit_ids = _scope_unit_ids(actor, unit)
    now = now or timezone.now()
    # Locking the agreements makes a second export of the same bank wait, then skip what this one took.
    agreements = list(
        WithholdingAgreement.objects.select_for_update()
        .filter(bank_code=bank_code, active=True, unit_id__in=unit_ids)
        .select_related("account")
        .order_by("account__account_number")
    )
    busy = set(
        WithholdingItem.objects.filter(
            status="pending", batch__status="exported", account_id__in=[a.account_id for a in agreements]
        ).values_list("account_id", flat=True)
    )
    agreements = [a for a in agreements if a.account_id not in busy]
    due = amounts_due([a.account_id for a in agreements], as_of)
    picked = [
        (a, due[a.account_id].quantize(Decimal("0.01")))
        for a in agreements
        if due.get(a.account_id, ZERO) > 0
    ]
    if not picked:
        raise ValidationError({"__all__": [_("没有需要代扣的欠费户（或已在未回盘的批次中）")]})
    batch = _create_batch(
        bank_code=bank_code,
        now=now,
        unit=home,
        as_of=as_of,
        item_count=len(picked),
        total=sum((amt for _a, amt in picked), ZERO),
        created_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
    )
    WithholdingItem.objects.bulk_create(
        [
            WithholdingItem(
                batch=batch,
                serial=i,
                account_id=a.account_id,
                unit_id=a.unit_id,
                agreement=a,
                bank_account=a.bank_account,
                holder_name=a.holder_name,
                amount=amt,
            )
            for i, (a, amt) in enumerate(picked, start=1)
        ],
        batch_size=2000,
    )
    audit_record(
        actor=actor,
        action="withholding_batch.export",
        obj=batch,
        unit_id=home.pk,
        changes={
            "batch_no": batch.batch_no,
            "bank_code": bank_code,
            "as_of": as_of.isoformat(),
            "count": batch.item_count,
            "total": str(batch.total),
        },
    )
    return batch


def withholding_file(batch: WithholdingBatch, *, full: bool = False) -> bytes:
    """The debit file of a batch (layout in the module docstring), GBK. Bank accounts and holder names are
    masked (6222****1234, 张*) unless `full`: only the file sent to the bank carries them whole."""
    lines = [f"{batch.batch_no},{batch.item_count},{batch.total}"]
    for serial, number, bank_account, holder, amount in batch.items.order_by("serial").values_list(
        "serial", "account__account_number", "bank_account", "holder_name", "amount"
    ):
        if not full:
            bank_account, holder = mask_bank_account(bank_account), mask_name(holder)
        lines.append(f"{serial},{number},{bank_account},{holder},{amount}")
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def may_send_batch(actor: Actor) -> bool:
    """Who gets the debit file whole: a role holding payment.batch_send (the billing clerk), or a job run by
    the operator (`gridcare withholding_export` without --user); never a request without a user."""
    if actor.user is None:
        return actor.channel in (Channel.JOB, Channel.IMPORT, Channel.SYSTEM)
    return has_perm(actor.user, Perm.PAYMENT_BATCH_SEND)


def withholding_download(*, actor: Actor, batch: WithholdingBatch) -> bytes:
    """The debit file as `actor` may have it: whole for `may_send_batch` (the full download is an unmasked
    view of the batch's bank accounts and leaves one customer.view_pii row), masked for everyone else."""
    full = may_send_batch(actor)
    data = withholding_file(batch, full=full)
    if full:
        pii_view_record(
            actor=actor,
            source="withholding.file",
            object_type="payments.withholdingbatch",
            object_ids=[batch.batch_no],
            customer_ids=batch.items.values_list("account__customer_id", flat=True),
            unit_id=batch.unit_id,
        )
    return data


def withholding_file_name(batch: WithholdingBatch) -> str:
    return f"{batch.batch_no}.csv"


# ---------------------------------------------------------------- bank result import


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return _("第 %(r)d 行「%(f)s」：%(m)s") % {"r": self.row, "f": self.field, "m": self.message}


def refuse(errors: list[RowError]) -> ValidationError:
    """Every bad row in one ValidationError: key `row<N>.<field>`, message naming the row and field."""
    out: dict[str, list[str]] = {}
    for e in errors:
        out.setdefault(f"row{e.row}.{e.field}", []).append(str(e))
    return ValidationError(out)


def csv_rows(data: bytes) -> list[list[str]]:
    """Decoded CSV rows (UTF-8 with or without BOM first, then GBK), trailing blank lines dropped."""
    try:
        text = decode(data)
    except ImportFileError as exc:
        raise ValidationError({"file": [str(exc)]}) from None
    try:
        rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:  # e.g. a field over the csv module's limit: the file is refused, not a 500
        raise ValidationError({"file": [_("文件不是有效的 CSV：%(e)s") % {"e": exc}]}) from None
    while rows and not any(rows[-1]):
        rows.pop()
    return rows


@dataclass(frozen=True)
class ImportResult:
    batch: WithholdingBatch
    debited: int
    failed: int
    unchanged: int

    @property
    def changed(self) -> bool:
        return bool(self.debited or self.failed)


def _parse_result(actor: Actor, data: bytes, today: date):
    rows = csv_rows(data)
    errors: list[RowError] = []
    if not rows:
        raise refuse([RowError(1, _("批次号"), _("文件为空"))])
    head = rows[0]
    if len(head) not in (3, 4):
        raise refuse([RowError(1, _("批次号"), _("首行应为：批次号,笔数,总金额[,扣款日期]"))])
    batch = WithholdingBatch.objects.filter(batch_no=head[0]).first()
    if (
        batch is not None
        and actor.user is not None
        and not may_act_on_unit(actor.user, batch.unit_id, Perm.PAYMENT_BATCH)
    ):
        batch = None  # another unit's batch looks like a missing one
    if batch is None:
        raise refuse([RowError(1, _("批次号"), _("批次不存在：%(b)s") % {"b": head[0][:32]})])
    require_object(actor, batch, Perm.PAYMENT_BATCH)
    debit_on = batch.as_of
    if len(head) == 4:
        try:
            debit_on = date.fromisoformat(head[3])
        except ValueError:
            errors.append(RowError(1, _("扣款日期"), _("日期格式应为 YYYY-MM-DD")))
        else:
            if not batch.as_of <= debit_on <= today:
                errors.append(
                    RowError(
                        1,
                        _("扣款日期"),
                        _("扣款日期 %(d)s 应在批次计费日期 %(a)s 与今天之间")
                        % {"d": debit_on.isoformat(), "a": batch.as_of.isoformat()},
                    )
                )
    items = {it.serial: it for it in batch.items.select_related("account")}
    seen: set[int] = set()
    parsed: list[tuple[WithholdingItem, str, str]] = []
    total = ZERO
    for n, row in enumerate(rows[1:], start=2):
        if len(row) not in (4, 5):
            errors.append(
                RowError(
                    n,
                    _("列数"),
                    _("应为 4 或 5 列（序号,户号,金额,返回码[,返回信息]），实为 %(c)d 列") % {"c": len(row)},
                )
            )
            continue
        serial_raw, number, amount_raw, code = row[:4]
        message = row[4] if len(row) == 5 else ""
        item = None
        if not serial_raw.isdigit() or int(serial_raw) not in items:
            errors.append(RowError(n, _("序号"), _("批次中没有序号 %(s)s") % {"s": serial_raw[:10]}))
        elif int(serial_raw) in seen:
            errors.append(RowError(n, _("序号"), _("序号 %(s)s 重复") % {"s": serial_raw}))
        else:
            item = items[int(serial_raw)]
            seen.add(item.serial)
        if item is not None and number != item.account.account_number:
            errors.append(
                RowError(
                    n, _("户号"), _("与批次中该序号的户号 %(a)s 不符") % {"a": item.account.account_number}
                )
            )
        try:
            amount = clean_amount(amount_raw)
            total += amount
            if item is not None and amount != item.amount:
                errors.append(
                    RowError(
                        n, _("金额"), _("%(a)s 与批次中该笔金额 %(b)s 不符") % {"a": amount, "b": item.amount}
                    )
                )
        except ValidationError as exc:
            errors.append(RowError(n, _("金额"), "；".join(exc.messages)))
        if not re.fullmatch(r"\d{4}", code):
            errors.append(RowError(n, _("返回码"), _("返回码应为 4 位数字（0000 表示扣款成功）")))
        elif item is not None and item.status != "pending":
            now_ok = code == DEBITED
            if (item.status == "debited") != now_ok or (not now_ok and item.result_code != code):
                errors.append(
                    RowError(
                        n, _("返回码"), _("该笔已回盘（%(c)s），不能改为其他结果") % {"c": item.result_code}
                    )
                )
        if len(message) > 100 or "\x00" in message:
            errors.append(RowError(n, _("返回信息"), _("最多100个字符")))
        if item is not None:
            parsed.append((item, code, message))
    if not errors:
        if not head[1].isdigit() or int(head[1]) != len(rows) - 1:
            errors.append(
                RowError(
                    1,
                    _("笔数"),
                    _("首行笔数 %(h)s 与明细行数 %(n)d 不符") % {"h": head[1][:10], "n": len(rows) - 1},
                )
            )
        try:
            if clean_amount(head[2]) != total:
                errors.append(
                    RowError(
                        1,
                        _("总金额"),
                        _("首行总金额 %(h)s 与明细合计 %(t)s 不符") % {"h": head[2][:20], "t": total},
                    )
                )
        except ValidationError as exc:
            errors.append(RowError(1, _("总金额"), "；".join(exc.messages)))
    if len(rows) == 1:
        errors.append(RowError(1, _("明细"), _("文件没有明细行")))
    if errors:
        raise refuse(errors)
    return batch, debit_on, parsed


def withholding_import(*, actor: Actor, data: bytes, now: datetime | None = None) -> ImportResult:
    """Apply a bank's result file (layout and rules in the module docstring)."""
    now = now or timezone.now()
    batch, debit_on, parsed = _parse_result(actor, data, timezone.localdate(now, BEIJING))
    paid_at = datetime.combine(debit_on, time(12, 0), tzinfo=BEIJING)
    with transaction.atomic():
        # One import of a batch at a time: a concurrent copy waits here and then finds the items settled.
        batch = WithholdingBatch.objects.select_for_update().get(pk=batch.pk)
        current = {
            it.pk: it for it in batch.items.select_related("account").filter(pk__in=[p[0].pk for p in parsed])
        }
        debited = failed = unchanged = 0
        changed: list[WithholdingItem] = []
        # Accounts are locked in id order, as billing and the dunning run lock them: no deadlock between them.
        for old, code, message in sorted(parsed, key=lambda p: (p[0].account_id, p[0].pk)):
            item = current[old.pk]
            if item.status != "pending":
                if (item.status == "debited") != (code == DEBITED):
                    raise ValidationError(
                        {"__all__": [_("序号 %(s)d 已回盘为其他结果") % {"s": item.serial}]}
                    )
                unchanged += 1
                continue
            if code == DEBITED:
                rec = payment_record(
                    actor=actor,
                    channel=PaymentChannel.BANK,
                    channel_txn_id=f"{batch.batch_no}-{item.serial}",
                    account_number=item.account.account_number,
                    amount=item.amount,
                    paid_at=paid_at,
                )
                check_transition(WithholdingItem, item.status, ItemStatus.DEBITED)
                item.status, item.payment = ItemStatus.DEBITED, rec.payment
                debited += 1
            else:
                check_transition(WithholdingItem, item.status, ItemStatus.FAILED)
                item.status = ItemStatus.FAILED
                failed += 1
            item.result_code, item.result_message, item.settled_at = code, message, now
            changed.append(item)
        WithholdingItem.objects.bulk_update(
            changed, ["status", "payment", "result_code", "result_message", "settled_at"]
        )
        if changed and not batch.items.filter(status="pending").exists():
            check_transition(WithholdingBatch, batch.status, BatchStatus.SETTLED)
            batch.status, batch.settled_at = BatchStatus.SETTLED, now
            batch.save(update_fields=["status", "settled_at"])
        if changed:
            audit_record(
                actor=actor,
                action="withholding_batch.import",
                obj=batch,
                unit_id=batch.unit_id,
                changes={
                    "batch_no": batch.batch_no,
                    "debited": debited,
                    "failed": failed,
                    "unchanged": unchanged,
                    "status": batch.status,
                },
            )
    return ImportResult(batch=batch, debited=debited, failed=failed, unchanged=unchanged)


def import_message(result: ImportResult) -> str:
    if not result.changed:
        return _("批次 %(b)s 的回盘文件已导入过，未做任何更改（%(n)d 笔）") % {
            "b": result.batch.batch_no,
            "n": result.unchanged,
        }
    return _("批次 %(b)s：扣款成功 %(d)d 笔，失败 %(f)d 笔，此前已处理 %(u)d 笔") % {
        "b": result.batch.batch_no,
        "d": result.debited,
        "f": result.failed,
        "u": result.unchanged,
    }


# ---------------------------------------------------------------- reads


def agreements_visible(user):
    from gridcare.core.scoping import restrict

    return restrict(WithholdingAgreement.objects.select_related("account"), user, Perm.PAYMENT_BATCH)


def batches_visible(user):
    from gridcare.core.scoping import restrict

    return restrict(WithholdingBatch.objects.all(), user, Perm.PAYMENT_BATCH)


def read_file(upload=None, path: str | None = None) -> bytes:
    """Bytes of an uploaded file or a file on disk (size-checked); ValidationError on `file` otherwise."""
    from gridcare.customers.importer import read_path, read_upload

    try:
        if path is not None:
            return read_path(path)
        if upload is None:
            raise ValidationError({"file": [_("请选择文件")]})
        return read_upload(upload)
    except ImportFileError as exc:
        raise ValidationError({"file": [str(exc)]}) from None
