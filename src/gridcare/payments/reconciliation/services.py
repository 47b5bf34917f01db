"""Reconciliation of a channel's daily statement (渠道对账, issue 4 §7).

Statement files: CSV, UTF-8 (with or without BOM) tried first, then GBK. Lines starting with ``#`` (the
summary lines Alipay puts above and below its bill) and blank lines are skipped; the first other line is
the header. Cell values are trimmed, and the backtick WeChat puts before numbers is dropped. Columns by
channel (header names as the channels' own bills write them; the first of the names found is used):

- alipay: 支付宝交易号 (our `channel_txn_id`, Alipay's ``trade_no``), 商户订单号 (our order number,
  ``out_trade_no``), 金额 / 订单金额(元) / 实收金额(元), 交易时间 / 完成时间 / 付款时间
- wechat: 微信支付单号 / 微信订单号 (our `channel_txn_id`, WeChat's ``transaction_id``), 商户订单号,
  金额 / 订单金额 / 应结订单金额, 交易时间
- portal (the sandbox gateway): 交易号 / 渠道流水号 (``trade_no``), 商户订单号, 金额, 交易时间
- collection_point, phone_bank (a collection agent's settlement file, `agents`; the agent is named with the
  import): agent_txn_id / 代收流水号 (the agent's transaction id: our `channel_txn_id` is "<agent
  code>:<it>"), account_number / 户号, amount / 金额, paid_at / 缴费时间

The transaction id, amount and time columns are required, and the 户号 in an agent's file; 商户订单号 is
optional (without it, 补录 cannot be offered). Each row: a transaction id (≤ 64 characters, unique in the
file; an agent's: 1–40 letters, digits, ``.``, ``_``, ``-``), a 户号 of 10 digits, an amount in yuan with at
most two decimals, and a time ``YYYY-MM-DD HH:MM:SS`` (Beijing time) on the statement date. A header-only
file is a valid statement of a day without transactions. Any broken row refuses the file, every bad row
listed (row number, column, why), nothing written.

Matching, within the importing user's supply unit and its subtree (an agent's file: the agent's unit and its
subtree, imported by a user whose units include the agent's): our payments of the channel (of that agent)
whose ``paid_at`` falls on the statement date (Asia/Shanghai), by transaction id, then amount. Exceptions:

- ``ours_only``: a posted payment of ours the statement does not show;
- ``theirs_only``: a statement row we have no payment for (its 商户订单号 is linked to our order when it
  matches one; rows whose order or payment belongs to an account of another unit are left to that unit);
- ``amount_differs``: both have it, with different amounts;
- ``reversed_paid``: we reversed the payment but the channel shows it paid;
- ``account_differs`` (agents' files): both have it, for different 户号 — the money went to another account.

Re-importing the same file (same channel, date, unit — or agent — and SHA-256) changes nothing and says so.
A different file for the same channel (agent) and date is a corrected statement: it replaces the previous
import, whose open exceptions become ``superseded`` (resolved ones stay with their notes), and is matched
afresh.

A cashier resolves each exception with a note (audited). A ``theirs_only`` exception linked to one of our
orders can be settled by 补录: the payment is recorded through `gateways.notify_paid` (→
`services.payment_record`), which pays the order exactly once however often it is asked. In an agent's file
the row names the 户号: when it is one of ours within the agent's units, 补录 records the agent's payment
(`services.payment_record`, the statement's amount and time) exactly once.

At the same moment (issue 11 §4): imports of one statement (channel, date, unit or agent) take a lock named
after it (`core.locks`: a PostgreSQL advisory transaction lock). An import that finds another in flight waits
for it, then is answered with it when it is the same file, or refused with `Conflict` (409) naming who
imported which file when it is another. An exception handled by someone else first — a second cashier waits
on its row lock — is a `Conflict` naming who handled it and when.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from gridcare.core.audit import Actor, audit_record
from gridcare.core.locks import Conflict, person, serialise, try_serialise, when
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, require_object, restrict
from gridcare.core.validators import ACCOUNT_NUMBER_RE
from gridcare.customers.models import Account
from gridcare.org.models import SupplyUnit
from gridcare.payments.channels.agents import settlement_agent
from gridcare.payments.channels.signed_requests import TXN_RE
from gridcare.payments.channels.withholding import RowError, _scope_unit_ids, csv_rows, refuse
from gridcare.payments.choices import (
    AGENT_CHANNELS,
    ExceptionStatus,
    PaymentChannel,
    PaymentStatus,
    ReconKind,
    StatementStatus,
)
from gridcare.payments.ledger.services import ZERO, clean_amount, payment_record
from gridcare.payments.models import Payment, PaymentOrder, ReconciliationException, StatementImport
from gridcare.payments.states import check_transition

BEIJING = ZoneInfo("Asia/Shanghai")
OPEN, RESOLVED, SUPERSEDED = ExceptionStatus.OPEN, ExceptionStatus.RESOLVED, ExceptionStatus.SUPERSEDED

AMOUNT_NAMES = ["金额", "金额(元)", "订单金额", "订单金额(元)", "实收金额(元)", "应结订单金额"]
COLUMNS: dict[str, dict[str, list[str]]] = {
    PaymentChannel.ALIPAY: {
        "txn": ["支付宝交易号"],
        "order": ["商户订单号"],
        "amount": AMOUNT_NAMES,
        "time": ["交易时间", "完成时间", "付款时间"],
        "kind": ["业务类型"],  # optional: 交易 or 退款 (Alipay's bill lists refunds as rows of their own)
    },
    PaymentChannel.WECHAT: {
        "txn": ["微信支付单号", "微信订单号"],
        "order": ["商户订单号"],
        "amount": AMOUNT_NAMES,
        "time": ["交易时间"],
        "kind": ["交易状态"],  # optional: SUCCESS or REFUND (WeChat's tradebill lists refunds as rows)
    },
    PaymentChannel.PORTAL: {
        "txn": ["交易号", "渠道流水号"],
        "order": ["商户订单号"],
        "amount": AMOUNT_NAMES,
        "time": ["交易时间"],
    },
}
AGENT_COLUMNS = {
    "txn": ["agent_txn_id", "代收流水号"],
    "account": ["account_number", "户号"],
    "amount": ["amount", "金额"],
    "time": ["paid_at", "缴费时间"],
}
COLUMNS.update(dict.fromkeys(AGENT_CHANNELS, AGENT_COLUMNS))
OPTIONAL_COLUMNS = ("order", "kind")
SUMMARY_HEADS = ("总交易单数",)
REFUND_KINDS = ("退款", "REFUND")
COLUMN_LABELS = {
    "txn": _l("交易号"),
    "order": _l("商户订单号"),
    "account": _l("户号"),
    "amount": _l("金额"),
    "time": _l("交易时间"),
    "kind": _l("业务类型"),
}


def channel_choices() -> list[tuple[str, str]]:
    """(value, Chinese label) of the channels a statement can be imported for."""
    return [(c, str(PaymentChannel(c).label)) for c in COLUMNS]


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text.replace("\ufeff", "")))


def _cell(text: str) -> str:
    return text.strip().lstrip("`").strip()


@dataclass(frozen=True)
class Line:
    row: int
    txn: str
    order_no: str
    amount: Decimal
    at: datetime
    account_number: str = ""


def parse_statement(channel: str, statement_date: date, data: bytes) -> list[Line]:
    """The rows of a statement file, or ValidationError listing every broken row (see the module docstring)."""
    if channel not in COLUMNS:
        raise ValidationError(
            {
                "channel": [
                    _("不支持的对账渠道：%(c)s（可选 %(all)s）")
                    % {"c": str(channel)[:16], "all": "、".join(COLUMNS)}
                ]
            }
        )
    rows = [
        (n, r) for n, r in enumerate(csv_rows(data), start=1) if any(r) and not r[0].lstrip().startswith("#")
    ]
    if not rows:
        raise refuse([RowError(1, _("表头"), _("文件为空，缺少表头"))])
    head_row, header = rows[0]
    names = [_norm(h) for h in header]
    where: dict[str, int] = {}
    errors: list[RowError] = []
    for key, options in COLUMNS[channel].items():
        found = next((names.index(_norm(o)) for o in options if _norm(o) in names), None)
        if found is not None:
            where[key] = found
        elif key not in OPTIONAL_COLUMNS:  # every other column is required
            errors.append(
                RowError(head_row, str(COLUMN_LABELS[key]), _("缺少列：%(o)s") % {"o": " / ".join(options)})
            )
    if errors:
        raise refuse(errors)
    lines: list[Line] = []
    seen: dict[str, int] = {}
    for n, row in rows[1:]:
        if (
            _norm(row[0]).lstrip("`") in SUMMARY_HEADS
        ):  # WeChat's summary (总交易单数, …) ends the detail rows
            break
        if "kind" in where and len(row) == len(header) and _cell(row[where["kind"]]) in REFUND_KINDS:
            continue  # a refund row: refunds are reconciled with their refunds, not with payments
        if len(row) != len(header):
            errors.append(
                RowError(n, _("列数"), _("应为 %(h)d 列，实为 %(c)d 列") % {"h": len(header), "c": len(row)})
            )
            continue
        txn = _cell(row[where["txn"]])
        order_no = _cell(row[where["order"]]) if "order" in where else ""
        account_number = _cell(row[where["account"]]) if "account" in where else ""
        bad = False
        if not txn or len(txn) > 64 or "\x00" in txn:
            errors.append(RowError(n, str(COLUMN_LABELS["txn"]), _("交易号必填，最多64个字符")))
            bad = True
        elif "account" in where and not TXN_RE.fullmatch(txn):
            errors.append(RowError(n, str(COLUMN_LABELS["txn"]), _("代收流水号应为1–40位字母、数字或 . _ -")))
            bad = True
        elif txn in seen:
            errors.append(RowError(n, str(COLUMN_LABELS["txn"]), _("与第 %(r)d 行重复") % {"r": seen[txn]}))
            bad = True
        else:
            seen[txn] = n
        if len(order_no) > 64 or "\x00" in order_no:
            errors.append(RowError(n, str(COLUMN_LABELS["order"]), _("最多64个字符")))
            bad = True
        if "account" in where and not ACCOUNT_NUMBER_RE.fullmatch(account_number):
            errors.append(
                RowError(
                    n,
                    str(COLUMN_LABELS["account"]),
                    _("户号应为10位数字：%(v)s") % {"v": account_number[:20]},
                )
            )
            bad = True
        raw_amount = _cell(row[where["amount"]]).replace("¥", "").replace(",", "")
        try:
            amount = clean_amount(raw_amount)
        except ValidationError as exc:
            errors.append(RowError(n, str(COLUMN_LABELS["amount"]), "；".join(exc.messages)))
            bad = True
        raw_time = _cell(row[where["time"]]).replace("/", "-")
        try:
            at = datetime.strptime(raw_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
            if at.date() != statement_date:
                errors.append(
                    RowError(
                        n,
                        str(COLUMN_LABELS["time"]),
                        _("%(t)s 不在对账日期 %(d)s") % {"t": raw_time, "d": statement_date.isoformat()},
                    )
                )
                bad = True
        except ValueError:
            errors.append(
                RowError(
                    n,
                    str(COLUMN_LABELS["time"]),
                    _("时间格式应为 YYYY-MM-DD HH:MM:SS：%(t)s") % {"t": raw_time[:30]},
                )
            )
            bad = True
        if not bad:
            lines.append(Line(n, txn, order_no, amount, at, account_number))
    if errors:
        raise refuse(errors)
    return lines


@dataclass(frozen=True)
class ReconResult:
    statement: StatementImport
    created: bool
    replaced: StatementImport | None = None


def _day_bounds(d: date) -> tuple[datetime, datetime]:
    start = datetime(d.year, d.month, d.day, tzinfo=BEIJING)
    return start, start + timedelta(days=1)


def reconcile_import(
    *,
    actor: Actor,
    channel: str,
    statement_date: date,
    data: bytes,
    file_name: str = "",
    unit: SupplyUnit | None = None,
    agent: str = "",
    now: datetime | None = None,
) -> ReconResult:
    """Import a statement and list its exceptions (rules in the module docstring). `agent`: the code of the
    collection agent whose settlement file it is (agent channels only)."""
    if not isinstance(statement_date, date):
        raise ValidationError({"statement_date": [_("日期格式应为 YYYY-MM-DD")]})
    if actor.user is not None and not has_perm(actor.user, Perm.PAYMENT_BATCH):
        raise PermissionDenied  # before anything is said about agents
    the_agent = settlement_agent(actor, channel, agent)
    if the_agent is not None and unit is not None and unit.pk != the_agent.unit_id:
        raise ValidationError({"unit": [_("代收机构的对账按其所属单位进行，不能另选单位")]})
    home, unit_ids = _scope_unit_ids(actor, the_agent.unit if the_agent else unit)
    lines = parse_statement(channel, statement_date, data)
    if the_agent is not None:
        # Our transaction id of an agent's payment is "<agent code>:<its id>" (`agents`).
        lines = [replace(ln, txn=f"{the_agent.code}:{ln.txn}") for ln in lines]
    digest = hashlib.sha256(data).hexdigest()
    key = {"channel": channel, "statement_date": statement_date, "unit": home, "agent": the_agent}
    name = f"statement:{channel}:{statement_date.isoformat()}:{home.pk}:{the_agent.pk if the_agent else ''}"
    try:
        with transaction.atomic():
            # One import of a statement at a time. Whoever finds another in flight waits for it, then is
            # answered with it (the same file) or refused naming it (another file: a Conflict, 409).
            waited, current_before = False, None
            if not try_serialise(name):
                waited = True
                current_before = _current(key)
                serialise(name)
            return _import(
                actor,
                key,
                lines,
                digest,
                file_name[:200],
                unit_ids,
                now or timezone.now(),
                waited_for=current_before if waited else False,
            )
    except IntegrityError:
        # The same file imported at the same moment: the other import won; answer with it.
        same = StatementImport.objects.filter(**key, file_hash=digest).first()
        if same is None:
            raise ValidationError({"__all__": [_("同一天的另一份对账单正在导入，请稍后重试")]}) from None
        return ReconResult(same, False)


def _ours(key: dict, unit_ids: list[int]) -> dict[str, Payment]:
    """Our payments of the statement's channel (and agent) paid on its day, by transaction id."""
    start, end = _day_bounds(key["statement_date"])
    qs = Payment.objects.filter(
        channel=key["channel"], paid_at__gte=start, paid_at__lt=end, unit_id__in=unit_ids
    )
    agent = key["agent"]
    if agent is None:
        return {p.channel_txn_id: p for p in qs}
    prefix = f"{agent.code}:"
    # startswith is case-insensitive on SQLite: the exact prefix is checked here
    return {
        p.channel_txn_id: p
        for p in qs.filter(channel_txn_id__startswith=prefix)
        if p.channel_txn_id.startswith(prefix)
    }


def _current(key: dict) -> int | None:
    return StatementImport.objects.filter(**key, status="current").values_list("pk", flat=True).first()


def _import(actor, key, lines, digest, file_name, unit_ids, now, waited_for=False) -> ReconResult:
    """`waited_for`: False, or the current import (its id or None) seen before waiting for another import
    of this statement in flight."""
    channel, statement_date, home, agent = key["channel"], key["statement_date"], key["unit"], key["agent"]
    same = StatementImport.objects.select_for_update().filter(**key, file_hash=digest).first()
    if same is not None and same.status == "current":
        return ReconResult(same, False)
    if waited_for is not False:
        other = StatementImport.objects.filter(**key, status="current").select_related("imported_by").first()
        if other is not None and other.pk != waited_for:  # imported while we waited: another file
            raise Conflict(
                _("%(d)s 的对账单刚由%(who)s导入了另一份文件“%(f)s”（%(t)s），本次文件未导入；请核对后再导入")
                % {
                    "d": statement_date.isoformat(),
                    "who": person(other.imported_by),
                    "f": other.file_name or "—",
                    "t": when(other.created_at),
                },
                holder=other,
            )
    previous = StatementImport.objects.select_for_update().filter(**key, status="current").first()
    if previous is not None:
        check_transition(StatementImport, previous.status, StatementStatus.SUPERSEDED)
        previous.status = StatementStatus.SUPERSEDED
        previous.save(update_fields=["status"])
        check_transition(ReconciliationException, OPEN, SUPERSEDED)
        ReconciliationException.objects.filter(statement=previous, status=OPEN).update(status=SUPERSEDED)
    ours = _ours(key, unit_ids)
    theirs = {ln.txn: ln for ln in lines}
    # Statement rows we did not find on that day in our units: paid elsewhere (another unit), or an order of ours?
    missing = [t for t in theirs if t not in ours]
    elsewhere = dict(
        Payment.objects.filter(channel=channel, channel_txn_id__in=missing).values_list(
            "channel_txn_id", "unit_id"
        )
    )
    orders = {
        o.order_no: o
        for o in PaymentOrder.objects.filter(
            channel=channel, order_no__in=[theirs[t].order_no for t in missing if theirs[t].order_no]
        ).select_related("account")
    }
    # An agent's rows name the 户号: ours within the agent's units can be settled by 补录.
    accounts = {
        a.account_number: a
        for a in Account.objects.filter(
            account_number__in=[theirs[t].account_number for t in missing if theirs[t].account_number],
            unit_id__in=unit_ids,
        )
    }
    if same is not None:
        # This file was replaced by a "corrected" one and comes back: it is the statement again. Its matching
        # is done afresh against today's payments; its old unresolved exceptions (never acted on) go, resolved
        # ones keep their notes.
        ReconciliationException.objects.filter(statement=same, status=SUPERSEDED).delete()
        check_transition(StatementImport, same.status, StatementStatus.CURRENT)
        same.status = StatementStatus.CURRENT
        same.save(update_fields=["status"])
        stmt = same
    else:
        stmt = None
    stmt = stmt or StatementImport.objects.create(
        **key,
        file_hash=digest,
        file_name=file_name,
        row_count=len(lines),
        total=sum((ln.amount for ln in lines), ZERO),
        created_at=now,
        imported_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
    )
    exceptions, matched = [], 0
    # A reinstated statement keeps its resolved exceptions: the same finding is not listed a second time.
    settled = set(stmt.exceptions.values_list("kind", "channel_txn_id")) if same is not None else set()

    def exc(kind, unit_id, txn, **kw):
        if (kind, txn) in settled:
            return
        exceptions.append(
            ReconciliationException(statement=stmt, unit_id=unit_id, kind=kind, channel_txn_id=txn, **kw)
        )

    numbers = (
        dict(
            Account.objects.filter(pk__in={p.account_id for p in ours.values()}).values_list(
                "pk", "account_number"
            )
        )
        if agent is not None
        else {}
    )
    for txn, p in ours.items():
        ln = theirs.get(txn)
        if ln is None:
            if p.status == PaymentStatus.POSTED:
                exc(
                    ReconKind.OURS_ONLY,
                    p.unit_id,
                    txn,
                    payment=p,
                    our_amount=p.amount,
                    account_number=numbers.get(p.account_id, ""),
                )
            continue
        common = {
            "payment": p,
            "our_amount": p.amount,
            "their_amount": ln.amount,
            "their_time": ln.at,
            "order_no": ln.order_no,
            "row_number": ln.row,
            "account_number": ln.account_number,
        }
        if p.status == PaymentStatus.REVERSED:
            exc(ReconKind.REVERSED_PAID, p.unit_id, txn, **common)
        elif agent is not None and numbers.get(p.account_id) != ln.account_number:
            exc(ReconKind.ACCOUNT_DIFFERS, p.unit_id, txn, **common)
        elif p.amount != ln.amount:
            exc(ReconKind.AMOUNT_DIFFERS, p.unit_id, txn, **common)
        else:
            matched += 1
    for txn in missing:
        ln = theirs[txn]
        if txn in elsewhere and elsewhere[txn] not in unit_ids:
            continue  # another unit's payment
        order = orders.get(ln.order_no)
        if order is not None and order.account.unit_id not in unit_ids:
            continue  # another unit's order
        account = accounts.get(ln.account_number)
        exc(
            ReconKind.THEIRS_ONLY,
            order.account.unit_id if order else (account.unit_id if account else home.pk),
            txn,
            order=order,
            order_no=ln.order_no,
            account=account,
            account_number=ln.account_number,
            their_amount=ln.amount,
            their_time=ln.at,
            row_number=ln.row,
        )
    exceptions.sort(key=lambda e: (e.row_number or 10**9, e.channel_txn_id))
    ReconciliationException.objects.bulk_create(exceptions, batch_size=2000)
    stmt.matched_count = matched
    stmt.save(update_fields=["matched_count"])
    audit_record(
        actor=actor,
        action="reconciliation.import",
        obj=stmt,
        unit_id=home.pk,
        changes={
            "channel": channel,
            "agent": agent.code if agent else None,
            "statement_date": statement_date.isoformat(),
            "rows": len(lines),
            "matched": matched,
            "exceptions": len(exceptions),
            "replaced": previous.pk if previous else None,
        },
    )
    return ReconResult(stmt, True, previous)


def statement_label(s: StatementImport) -> str:
    """The channel in Chinese, with the agent's name for a collection agent's file."""
    label = s.get_channel_display()
    return f"{label}（{s.agent.name}）" if s.agent_id else label


def import_message(result: ReconResult) -> str:
    s = result.statement
    if not result.created:
        return _("该对账单（%(c)s %(d)s）已导入过，未做任何更改") % {
            "c": statement_label(s),
            "d": s.statement_date,
        }
    msg = _("对账单 %(c)s %(d)s：%(n)d 笔，对平 %(m)d 笔，差错 %(e)d 笔") % {
        "c": statement_label(s),
        "d": s.statement_date,
        "n": s.row_count,
        "m": s.matched_count,
        "e": s.exceptions.count(),
    }
    if result.replaced is not None:
        msg += _("（已替换此前导入的对账单，其未处理差错作废）")
    return msg


# ---------------------------------------------------------------- resolving exceptions


def _clean_note(note: str, required: bool = True) -> str:
    note = (note or "").strip()
    if (required and not note) or len(note) > 500 or "\x00" in note:
        raise ValidationError({"note": [_("请填写处理说明（最多500字）")]})
    return note


def _lock_open(actor: Actor, exception: ReconciliationException) -> ReconciliationException:
    require_object(actor, exception, Perm.PAYMENT_BATCH)
    e = (
        ReconciliationException.objects.select_for_update(of=("self",))
        .select_related("statement")
        .get(pk=exception.pk)
    )
    if e.status == RESOLVED:  # by someone else first (a second one at the same moment waits on the row lock)
        raise Conflict(
            _("该差错已由%(who)s于%(t)s处理，不能重复处理")
            % {"who": person(e.resolved_by), "t": when(e.resolved_at)},
            holder=e,
        )
    if e.status != OPEN:
        raise ValidationError({"__all__": [_("该差错已处理或已被新的对账单替换")]})
    return e


@transaction.atomic
def reconcile_resolve(
    *, actor: Actor, exception: ReconciliationException, note: str
) -> ReconciliationException:
    """Close an exception with the cashier's note (e.g. "渠道次日到账", "已联系渠道更正")."""
    note = _clean_note(note)
    e = _lock_open(actor, exception)
    check_transition(ReconciliationException, e.status, RESOLVED)
    e.status, e.note, e.resolved_at = RESOLVED, note, timezone.now()
    e.resolved_by = actor.user if getattr(actor.user, "is_authenticated", False) else None
    e.save(update_fields=["status", "note", "resolved_at", "resolved_by"])
    audit_record(
        actor=actor,
        action="reconciliation.resolve",
        obj=e,
        unit_id=e.unit_id,
        changes={"kind": e.kind, "channel_txn_id": e.channel_txn_id, "note": note},
    )
    return e


@transaction.atomic
def reconcile_backfill(
    *, actor: Actor, exception: ReconciliationException, note: str = ""
) -> ReconciliationException:
    """补录: record the channel's payment we missed for one of our orders (a "theirs only" exception whose
    商户订单号 is ours), through `notify_paid` → `payment_record`, exactly once; then close the exception."""
    from gridcare.payments.channels.gateways import notify_paid

    note = _clean_note(note, required=False)
    e = _lock_open(actor, exception)
    if not e.can_backfill:
        raise ValidationError(
            {
                "__all__": [
                    _("只有“渠道有、我方无”且商户订单号属于我方订单（或户号属于代收机构辖区）的差错可以补录")
                ]
            }
        )
    if e.order_id is not None:
        rec = notify_paid(
            channel=e.statement.channel,
            order_no=e.order_no,
            channel_txn_id=e.channel_txn_id,
            amount=e.their_amount,
            paid_at=e.their_time,
            actor=actor,
        )
    else:  # a collection agent's payment, for the 户号 its file names
        rec = payment_record(
            actor=actor,
            channel=e.statement.channel,
            channel_txn_id=e.channel_txn_id,
            account_number=e.account.account_number,
            amount=e.their_amount,
            paid_at=e.their_time,
        )
    check_transition(ReconciliationException, e.status, RESOLVED)
    e.status, e.backfill_payment, e.resolved_at = RESOLVED, rec.payment, timezone.now()
    e.note = note or _("补录缴费 %(t)s") % {"t": e.channel_txn_id}
    e.resolved_by = actor.user if getattr(actor.user, "is_authenticated", False) else None
    e.save(update_fields=["status", "backfill_payment", "resolved_at", "note", "resolved_by"])
    audit_record(
        actor=actor,
        action="reconciliation.backfill",
        obj=e,
        unit_id=e.unit_id,
        changes={
            "channel_txn_id": e.channel_txn_id,
            "order_no": e.order_no,
            "account_number": e.account_number,
            "amount": str(e.their_amount),
            "payment_id": rec.payment.pk,
            "created": rec.created,
        },
    )
    return e


# ---------------------------------------------------------------- reads


def statements_visible(user):
    return restrict(StatementImport.objects.select_related("agent"), user, Perm.PAYMENT_BATCH)


def exceptions_visible(user):
    return restrict(
        ReconciliationException.objects.select_related("statement", "account"), user, Perm.PAYMENT_BATCH
    )
