"""Refunds of an Alipay or WeChat payment to the channel it came from (原路退回, issue 13 §3).

The flow, top to bottom:

1. `payment_refund_request`: a cashier or billing clerk of the unit (who may ask for refunds today) asks to
   refund part or all of ONE posted payment that paid an online order through alipay or wechat, with a reason.
   The amount is at most the payment less its earlier refunds (`refunds.payment_refunded_of`: pending,
   approved and channel-side refunds to the channel, and credit refunds that took its credit). The refund
   number (`refund_no`, "RF" + Beijing yyyymmddHHMMSS + 8 random digits) is fixed here: it is the channel's
   idempotency key, sent unchanged on every retry.
2. A manager approves it (`refund_decide_and_send`; never the requester): `refunds.refund_decide` marks it
   approved with channel_status "processing" and commits; then, outside the transaction, `refund_send` calls
   the channel (`providers.get(channel).refund`). Done → `refund_settle`. Accepted but not done → processing
   (the channel's notification or `refunds_retry` settles it). Channel down or garbage (`ChannelError`) →
   processing, logged, retried. Refused by the channel (`ChannelRefused`) → channel_status "failed", audited,
   no money moved.
3. `refund_settle` moves the money, once: under the account lock (like every payment), the amount is taken
   back from the payment — its credit (`unallocated`) first, then its allocations newest first (within one,
   principal before late fee: the reverse of how it was paid). Each allocation taken back re-opens its bill as
   `payment_reverse` does, but partly and with the late fee accruing again from the refund date: the fee
   accrued up to that date on what was already open is charged first, then `fee_through` moves to the refund
   date, so the re-opened principal owes no fee for the days it stood paid. An allocation taken back in part
   is marked reversed and its remainder written as a new allocation (same date), so allocations stay
   append-only. A `RefundPart` (the payment, the amount) and a REFUND ledger entry of +amount dated the refund
   date record it; the customer gets the 退费 notice.
4. `channel_refund_notified`: a refund the channel reports (WeChat REFUND.SUCCESS; Alipay's notifications with
   `refund_fee`) settles ours, or — made on the channel's side — is recorded without approval, audited with
   the channel as actor, and settled.

Credit never sits beside open debt (payments, bill issues and reversals apply credit at once). The refund
takes the payment's own credit first, so when it re-opens a bill this payment has no credit left; the
account's OTHER payments' credit (which, by the same rule, can only exist when nothing was open) then pays the
re-opened bills at once, as after a reversal — so the balance rises by exactly the refund and the rule holds.
A bill re-opened after its due date and paid again that way on the refund date is charged the late fee's
1.00 minimum shortfall, as any payment paying off an overdue bill is (`latefee.payment_apply`).
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.core.money import fen
from gridcare.payments.channels import providers
from gridcare.payments.choices import (
    EntryKind,
    PaymentChannel,
    PaymentStatus,
    RefundChannelStatus,
    RefundMethod,
    RefundOrigin,
    RefundStatus,
)
from gridcare.payments.models import (
    Allocation,
    LedgerEntry,
    Payment,
    PaymentOrder,
    Receivable,
    Refund,
    RefundPart,
)
from gridcare.payments.notices import refund_enqueue

from . import refunds
from .latefee import fee_charge, fee_state, fee_terms
from .services import _apply_credit, _fee_entries, _lock_account, _set_state, clean_amount

logger = logging.getLogger("gridcare.payments")

ONLINE_REFUND_CHANNELS = (PaymentChannel.ALIPAY, PaymentChannel.WECHAT)
BEIJING = ZoneInfo("Asia/Shanghai")
ZERO = Decimal("0.00")
CHANNEL_REASON = "渠道侧退款"  # stored, like every refund reason, as written
RETRY_AFTER = timedelta(minutes=2)
RETRY_BATCH = 500
DEV_NOTIFY_BASE = "http://127.0.0.1:8000"


# ---------------------------------------------------------------- helpers


def online_notify_url(channel: str) -> str:
    """Where `channel` (alipay or wechat) posts its notifications: settings.GRIDCARE["PAY"]["NOTIFY_BASE_URL"]
    + "/api/v1/pay/<channel>/notify". A blank base is http://127.0.0.1:8000 with DEBUG only; in production it
    is refused (ImproperlyConfigured) — a channel cannot call back a request's origin outside a request."""
    if channel not in ONLINE_REFUND_CHANNELS:
        raise ValueError(f"no notification endpoint for channel {channel!r}")
    base = str((settings.GRIDCARE.get("PAY") or {}).get("NOTIFY_BASE_URL") or "").strip().rstrip("/")
    if not base:
        if not settings.DEBUG:
            raise ImproperlyConfigured(
                "GRIDCARE_PAY_NOTIFY_BASE_URL is not set: the channels' notify_url cannot be built"
            )
        base = DEV_NOTIFY_BASE
    return f"{base}/api/v1/pay/{channel}/notify"


def channel_actor(ip: str | None = None) -> Actor:
    """A channel's server, not a person: the audit row names the API door and the caller's address."""
    return Actor(user=None, channel=Channel.API, ip=ip)


def _refund_no(now: datetime) -> str:
    """RF, Beijing yyyymmddHHMMSS, 8 random digits (24 characters; Alipay and WeChat allow 64)."""
    return f"RF{timezone.localtime(now, BEIJING):%Y%m%d%H%M%S}{secrets.randbelow(10**8):08d}"


def _order_of(payment_id: int) -> PaymentOrder | None:
    return PaymentOrder.objects.filter(payment_id=payment_id).first()


def refundable_of(payment: Payment) -> Decimal:
    """What may still be asked for to the original channel: the payment less its earlier refunds (0.00 for a
    reversed payment)."""
    if payment.status != PaymentStatus.POSTED:
        return ZERO
    return max(ZERO, payment.amount - refunds.payment_refunded_of(payment.pk))


@dataclass(frozen=True)
class PaymentRefundInfo:
    """What the ledger page shows and offers for one payment."""

    eligible: bool  # an online Alipay/WeChat payment, posted, with something left to refund
    refundable: Decimal
    refunded: Decimal  # settled to the original channel (money returned)


def refund_info(payments: list[Payment]) -> dict[int, PaymentRefundInfo]:
    """`PaymentRefundInfo` of each payment: no query when none is an Alipay or WeChat payment, else three
    whatever their number."""
    ids = [p.pk for p in payments if p.channel in ONLINE_REFUND_CHANNELS]
    if not ids:
        return {p.pk: PaymentRefundInfo(eligible=False, refundable=ZERO, refunded=ZERO) for p in payments}
    with_order = set(PaymentOrder.objects.filter(payment_id__in=ids).values_list("payment_id", flat=True))
    held: dict[int, Decimal] = {}
    refunded: dict[int, Decimal] = {}
    for pid, amount, settled in (
        Refund.objects.filter(payment_id__in=ids, method=RefundMethod.ORIGINAL)
        .exclude(status=RefundStatus.REJECTED)
        .exclude(channel_status=RefundChannelStatus.FAILED)
        .values_list("payment_id", "amount", "refunded_at")
    ):
        held[pid] = held.get(pid, ZERO) + amount
        if settled is not None:
            refunded[pid] = refunded.get(pid, ZERO) + amount
    for pid, amount in (
        RefundPart.objects.filter(
            payment_id__in=ids, refund__status=RefundStatus.APPROVED, refund__payment__isnull=True
        )
        .values("payment_id")
        .annotate(s=Sum("amount"))
        .values_list("payment_id", "s")
    ):
        held[pid] = held.get(pid, ZERO) + amount
    out = {}
    for p in payments:
        left = max(ZERO, p.amount - held.get(p.pk, ZERO)) if p.status == PaymentStatus.POSTED else ZERO
        eligible = p.channel in ONLINE_REFUND_CHANNELS and p.pk in with_order and left > 0
        out[p.pk] = PaymentRefundInfo(eligible=eligible, refundable=left, refunded=fen(refunded.get(p.pk)))
    return out


# ---------------------------------------------------------------- 1. the request


def payment_refund_request(
    *, actor: Actor, payment: Payment, amount: Any, reason: str, now: datetime | None = None
) -> Refund:
    """Ask to refund `amount` of `payment` to its original channel (method "original"), pending a manager's
    approval; its refund number is assigned here.

    PermissionDenied for staff who may not ask for refunds on the payment's unit. Refused (ValidationError,
    nothing written): an amount that is not positive or exceeds the payment less its earlier refunds, a missing
    reason, a payment that is not an Alipay or WeChat payment of an online order, or a reversed one."""
    refunds._may_request(actor, payment.unit_id)
    errs: dict[str, list[str]] = {}
    try:
        value = clean_amount(amount)
    except ValidationError as exc:
        errs.update(exc.message_dict)
        value = None
    reason = (reason or "").strip()
    if not reason or len(reason) > 500 or "\x00" in reason:
        errs["reason"] = [_("请填写退款原因（最多500字）")]
    if payment.channel not in ONLINE_REFUND_CHANNELS:
        errs["payment"] = [_("只有支付宝、微信支付的缴费可以原路退回")]
    elif _order_of(payment.pk) is None:
        errs["payment"] = [_("该笔缴费没有在线支付订单，不能原路退回")]
    if errs or value is None:
        raise ValidationError(errs)
    now = now or timezone.now()
    for attempt in range(5):
        try:
            with transaction.atomic():
                return _request_write(actor, payment, value, reason, now)
        except IntegrityError:
            # Another refund drew the same number in the same second (1 in 10⁸): draw again.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _request_write(actor: Actor, payment: Payment, value: Decimal, reason: str, now: datetime) -> Refund:
    account = _lock_account(payment.account_id)  # one account's refunds are checked one at a time
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != PaymentStatus.POSTED:
        raise ValidationError({"payment": [_("该笔缴费已冲正，不能退款")]})
    left = payment.amount - refunds.payment_refunded_of(payment.pk)
    if value > left:
        raise ValidationError(
            {
                "amount": [
                    _("退款金额 %(a)s 元超过该笔缴费可退金额 %(c)s 元") % {"a": value, "c": max(left, ZERO)}
                ]
            }
        )
    user = actor.user if getattr(actor.user, "is_authenticated", False) else None
    refund = Refund.objects.create(
        account_id=account.pk,
        unit_id=account.unit_id,
        payment=payment,
        amount=value,
        reason=reason,
        method=RefundMethod.ORIGINAL,
        requested_by=user,
        requested_at=now,
        refund_no=_refund_no(now),
        origin=RefundOrigin.STAFF,
    )
    audit_record(
        actor=actor,
        action="refund.request",
        obj=refund,
        unit_id=account.unit_id,
        customer_id=account.customer_id,
        changes={
            "account_number": account.account_number,
            "amount": str(value),
            "reason": reason,
            "method": RefundMethod.ORIGINAL.value,
            "payment": payment.pk,
            "channel_txn_id": payment.channel_txn_id,
            "refund_no": refund.refund_no,
        },
    )
    return refund


# ---------------------------------------------------------------- 2. approval and the channel call


@dataclass(frozen=True)
class Sent:
    """What happened when a refund went to its channel: `outcome` is one of settled (the money left and is
    recorded), processing (accepted; a notification or the retry job will say), unreachable (channel down or
    garbage; the job retries), failed (the channel refused: nothing moved); `message` is for the approver."""

    refund: Refund
    outcome: str
    message: str


@dataclass(frozen=True)
class Decision:
    """A manager's decision and, for an approved refund to the original channel, what its channel said."""

    refund: Refund
    sent: Sent | None = None

    @property
    def message(self) -> str:
        if self.sent is not None:
            return self.sent.message
        if self.refund.status == RefundStatus.APPROVED:
            return _("已批准退费 %(a)s 元") % {"a": self.refund.amount}
        return _("已驳回退费申请（%(a)s 元）") % {"a": self.refund.amount}


def _check_channel(refund: Refund) -> None:
    """Before approving a refund to the original channel: the channel has an adapter that is configured, and
    the notify_url can be built. Refused (ValidationError) otherwise: nothing is approved that cannot be sent."""
    assert refund.payment_id is not None  # an original-channel refund always names its payment
    payment = Payment.objects.only("channel").get(pk=refund.payment_id)
    provider = providers.get(payment.channel)
    label = dict(PaymentChannel.choices).get(payment.channel, payment.channel)
    if provider is None or not provider.configured():
        raise ValidationError({"__all__": [_("%(c)s渠道未配置，无法原路退回") % {"c": label}]})
    try:
        online_notify_url(payment.channel)
    except ImproperlyConfigured:
        raise ValidationError(
            {"__all__": [_("未配置渠道回调地址（GRIDCARE_PAY_NOTIFY_BASE_URL），无法原路退回")]}
        ) from None


def refund_decide_and_send(
    *, actor: Actor, refund: Refund, approve: bool, note: str = "", now: datetime | None = None
) -> Decision:
    """A manager's decision on any refund (`refunds.refund_decide`: permissions, four eyes, Conflict); an
    approved refund to the original channel is then sent to its channel (`refund_send`), after the approval
    has committed. What the approver is told is `Decision.message`."""
    if approve and refund.method == RefundMethod.ORIGINAL and refund.status == RefundStatus.PENDING:
        _check_channel(refund)
    decided = refunds.refund_decide(actor=actor, refund=refund, approve=approve, note=note, now=now)
    if not (approve and decided.method == RefundMethod.ORIGINAL):
        return Decision(decided)
    return Decision(decided, refund_send(decided, actor=actor))


def refund_send(refund: Refund, *, actor: Actor | None = None) -> Sent:
    """Send an approved refund to its payment's channel with its refund number (the same on every retry: the
    channel does it once) and act on the answer (module docstring, step 2). Call it outside any transaction:
    the channel is not waited for while rows are locked. Never raises for the channel's sake."""
    actor = actor or Actor()
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    payment = refund.payment
    if refund.refunded_at is not None:
        return Sent(refund, "settled", _("退款已完成，无需重复提交"))
    if payment is None or refund.status != RefundStatus.APPROVED or refund.method != RefundMethod.ORIGINAL:
        raise ValueError(f"refund {refund.pk} is not an approved refund to the original channel")
    order = _order_of(payment.pk)
    provider = providers.get(payment.channel)
    try:
        if provider is None or order is None:
            raise ImproperlyConfigured(f"no adapter or order for payment {payment.pk} ({payment.channel})")
        answer = provider.refund(
            order_no=order.order_no,
            txn_id=payment.channel_txn_id,
            refund_no=str(refund.refund_no),
            amount=refund.amount,
            total=payment.amount,
            reason=refund.reason,
            notify_url=online_notify_url(payment.channel),
        )
    except providers.ChannelRefused as exc:
        return _refused(refund, exc, actor)
    except providers.ChannelError as exc:
        logger.warning("refund %s (%s) not sent, will retry: %s", refund.pk, refund.refund_no, exc.detail)
        return Sent(refund, "unreachable", _("已提交，渠道暂时无法连接，系统将自动重试"))
    except Exception:  # a bug or a missing setting must not undo a committed approval: the job retries
        logger.exception("refund %s (%s) not sent, will retry", refund.pk, refund.refund_no)
        return Sent(refund, "unreachable", _("已提交，渠道暂时无法连接，系统将自动重试"))
    if not answer.done:
        return Sent(refund, "processing", _("已提交渠道退款，渠道处理中，到账后自动入账"))
    try:
        settled = refund_settle(
            refund,
            channel_refund_id=answer.channel_refund_id,
            at=answer.finished_at or timezone.now(),
            actor=actor,
        )
    except (
        ValidationError
    ) as exc:  # the money left at the channel but cannot be taken back here: say so loudly
        logger.error("refund %s done at the channel but not settled: %s", refund.pk, "; ".join(exc.messages))
        return Sent(refund, "processing", _("渠道已退款，但入账失败：%(e)s") % {"e": "；".join(exc.messages)})
    return Sent(
        settled.refund or refund,
        "settled",
        _("已原路退回 %(a)s 元（退款单号 %(n)s）") % {"a": refund.amount, "n": refund.refund_no},
    )


def _refused(refund: Refund, exc: "providers.ChannelRefused", actor: Actor) -> Sent:
    """The channel said no: channel_status failed (only while processing and unsettled), audited; no money."""
    message = (exc.message or exc.code)[:200]
    with transaction.atomic():
        changed = Refund.objects.filter(
            pk=refund.pk, channel_status=RefundChannelStatus.PROCESSING, refunded_at__isnull=True
        ).update(channel_status=RefundChannelStatus.FAILED)
        if changed:
            audit_record(
                actor=actor,
                action="refund.fail",
                obj=refund,
                unit_id=refund.unit_id,
                changes={
                    "refund_no": refund.refund_no,
                    "amount": str(refund.amount),
                    "channel_status": [
                        RefundChannelStatus.PROCESSING.value,
                        RefundChannelStatus.FAILED.value,
                    ],
                    "code": exc.code[:64],
                    "message": message,
                },
            )
    refund.refresh_from_db()
    logger.warning(
        "refund %s (%s) refused by the channel: %s %s", refund.pk, refund.refund_no, exc.code, message
    )
    return Sent(refund, "failed", _("渠道拒绝退款：%(m)s") % {"m": message})


def refunds_retry(
    *, now: datetime | None = None, actor: Actor | None = None, limit: int = RETRY_BATCH
) -> dict:
    """The scheduled retry (job `refunds.retry`, every 10 minutes): approved refunds to the original channel
    still processing two minutes after approval are sent again with the same refund number. Returns how many
    ended in each outcome."""
    now = now or timezone.now()
    due = (
        Refund.objects.filter(
            method=RefundMethod.ORIGINAL,
            status=RefundStatus.APPROVED,
            channel_status=RefundChannelStatus.PROCESSING,
            refunded_at__isnull=True,
            decided_at__lte=now - RETRY_AFTER,
        )
        .order_by("decided_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"settled": 0, "processing": 0, "unreachable": 0, "failed": 0}
    for pk in list(due):
        sent = refund_send(Refund(pk=pk), actor=actor)
        counts[sent.outcome] += 1
    return counts


# ---------------------------------------------------------------- 3. the money


@dataclass(frozen=True)
class Settled:
    """`created` False: the refund was already settled (or, for a repeated channel notification, there was
    nothing new), and nothing was written."""

    refund: Refund | None
    created: bool


def refund_settle(
    refund: Refund, *, channel_refund_id: str = "", at: datetime | None = None, actor: Actor | None = None
) -> Settled:
    """The refund's money left through the channel at `at`: take it back from the payment (module docstring,
    step 3), once. A refund already settled changes nothing (Settled.created False). Refused: a refund that is
    not an approved refund to the original channel (ValueError); a reversed payment, or one with less left than
    the amount (ValidationError) — nothing written."""
    actor = actor or Actor()
    at = at or timezone.now()
    on = timezone.localdate(at)
    with transaction.atomic():
        account_id = Refund.objects.values_list("account_id", flat=True).get(pk=refund.pk)
        account = _lock_account(account_id)  # the account first, like every payment
        refund = Refund.objects.select_for_update(of=("self",)).get(pk=refund.pk)
        if refund.refunded_at is not None:
            return Settled(refund, False)
        if (
            refund.status != RefundStatus.APPROVED
            or refund.method != RefundMethod.ORIGINAL
            or not refund.payment_id
        ):
            raise ValueError(f"refund {refund.pk} is not an approved refund to the original channel")
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        if payment.status != PaymentStatus.POSTED:
            raise ValidationError({"__all__": [_("该笔缴费已冲正，不能退款入账")]})
        now = timezone.now()
        taken = _take_back(payment, refund.amount, on=on, now=now)
        RefundPart.objects.create(refund=refund, payment=payment, amount=refund.amount)
        LedgerEntry.objects.create(
            account_id=account.pk,
            unit_id=refund.unit_id,
            kind=EntryKind.REFUND,
            amount=refund.amount,
            payment=payment,
            occurred_on=on,
            note=(_("原路退回：%(r)s") % {"r": refund.reason})[:200],
            created_at=now,
        )
        # The account's other credit pays the re-opened bills at once, as after a reversal (module docstring).
        _apply_credit(account, on=on)
        before = refund.channel_status
        refund.channel_status = RefundChannelStatus.SUCCESS
        refund.channel_refund_id = str(channel_refund_id or "")[:64]
        refund.refunded_at = at
        refund.save(update_fields=["channel_status", "channel_refund_id", "refunded_at"])
        audit_record(
            actor=actor,
            action="refund.settle",
            obj=refund,
            unit_id=refund.unit_id,
            customer_id=account.customer_id,
            changes={
                "amount": str(refund.amount),
                "payment": payment.pk,
                "refund_no": refund.refund_no,
                "channel_refund_id": refund.channel_refund_id,
                "channel_status": [before, RefundChannelStatus.SUCCESS.value],
                "refunded_at": at.isoformat(),
                "from_credit": str(taken.credit),
                "reopened": taken.reopened,
            },
        )
        refund_enqueue(refund=refund, customer_id=account.customer_id)  # 退费通知, commits with it
    return Settled(refund, True)


@dataclass(frozen=True)
class _Taken:
    credit: Decimal
    reopened: list[dict]  # per allocation taken back: the bill's period, principal and late fee re-opened


def _take_back(payment: Payment, amount: Decimal, *, on, now: datetime) -> _Taken:
    """Take `amount` back from a LOCKED payment: its credit first, then its allocations newest first (principal
    before late fee), re-opening their bills with the late fee accruing again from `on`."""
    from_credit = min(payment.unallocated, amount)
    left = amount - from_credit
    if from_credit:
        Payment.objects.filter(pk=payment.pk).update(unallocated=F("unallocated") - from_credit)
    reopened: list[dict] = []
    allocations = payment.allocations.filter(reversed=False).order_by("-created_at", "-id")
    for alloc in allocations if left > 0 else ():
        principal = min(alloc.principal, left)
        late_fee = min(alloc.late_fee, left - principal)
        left -= principal + late_fee
        if not principal and not late_fee:
            continue
        r = Receivable.objects.select_for_update().get(pk=alloc.receivable_id)
        # The fee on what was already open is charged up to the refund date (as a payment would); from then on
        # the fee runs on the re-opened principal too — never for the days it stood paid.
        charge = fee_charge(fee_terms(r), fee_state(r), on)
        LedgerEntry.objects.bulk_create(_fee_entries(r, charge.amount, on, now))
        _set_state(r, charge.state)
        r.principal_paid -= principal
        r.fee_paid -= late_fee
        r.fee_through = max(r.fee_through, on) if r.fee_through else on
        r.save(update_fields=["principal_paid", "fee_paid", "fee_charged", "fee_through"])
        alloc.reversed = True
        alloc.save(update_fields=["reversed"])
        if alloc.principal - principal or alloc.late_fee - late_fee:
            Allocation.objects.create(
                payment=payment,
                receivable=r,
                principal=alloc.principal - principal,
                late_fee=alloc.late_fee - late_fee,
                created_at=alloc.created_at,  # keeps its place in "newest first"
            )
        reopened.append({"period": r.period, "principal": str(principal), "late_fee": str(late_fee)})
        if left == 0:
            break
    if left > 0:
        raise ValidationError({"amount": [_("该笔缴费可退回的金额不足：还差 %(a)s 元") % {"a": left}]})
    return _Taken(from_credit, reopened)


# ---------------------------------------------------------------- 4. refunds the channel reports


def channel_refund_notified(
    channel: str,
    *,
    order_no: str = "",
    txn_id: str = "",
    refund_no: str = "",
    channel_refund_id: str = "",
    amount: Decimal | None = None,
    refunded_total: Decimal | None = None,
    at: datetime | None = None,
    actor: Actor | None = None,
) -> Settled:
    """A refund the channel reports as done (for the notification endpoints, after they verified it).

    - `refund_no` names one of ours → it is settled (`refund_settle`; a repeat changes nothing).
    - Otherwise it was made on the channel's side: recorded as a refund (origin "channel", method original,
      approved with no approver, reason 渠道侧退款) of the payment of order `order_no` (or of transaction
      `txn_id`) of `channel`, audited (`refund.channel`) with `actor` (the channel), and settled.
    - WeChat gives this refund's `amount`. Alipay gives the trade's refunded total (`refund_fee`): pass
      `amount=None, refunded_total=…`; only what exceeds the payment's refunds already recorded (settled or in
      flight) is recorded — nothing when it does not (a repeat) — under Alipay's `out_biz_no` as `refund_no`
      when given, else "AL<trade_no>-<total in fen>", so a repeated notification finds it.

    Refused (ValidationError, nothing written): an unknown channel, order or transaction, a reversed payment,
    an amount missing, not positive or above what the payment has left to refund, or a `refund_no` of another
    payment. Returns Settled(refund, created)."""
    actor = actor or channel_actor()
    at = at or timezone.now()
    if channel not in ONLINE_REFUND_CHANNELS:
        raise ValidationError({"channel": [_("未知的退款渠道：%(c)s") % {"c": str(channel)[:20]}]})
    refund_no = str(refund_no or "").strip()[:64]
    payment = _payment_of(channel, str(order_no or "").strip(), str(txn_id or "").strip())
    ours = Refund.objects.filter(refund_no=refund_no).first() if refund_no else None
    if ours is not None:
        if ours.payment_id != payment.pk:
            raise ValidationError({"refund_no": [_("退款单号 %(n)s 属于另一笔缴费") % {"n": refund_no}]})
        if amount is not None and fen(amount) != ours.amount:
            raise ValidationError(
                {
                    "amount": [
                        _("退款金额 %(a)s 元与退款单 %(n)s 的 %(b)s 元不符")
                        % {"a": amount, "n": refund_no, "b": ours.amount}
                    ]
                }
            )
        if ours.status != RefundStatus.APPROVED:
            raise ValidationError({"refund_no": [_("退款单 %(n)s 未获批准") % {"n": refund_no}]})
        return refund_settle(
            ours, channel_refund_id=channel_refund_id or ours.channel_refund_id, at=at, actor=actor
        )
    with transaction.atomic():
        account = _lock_account(
            payment.account_id
        )  # a repeated notification waits here, then finds the first
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != PaymentStatus.POSTED:
            raise ValidationError({"order_no": [_("该笔缴费已冲正，不能记录退款")]})
        if amount is None:
            if refunded_total is None:
                raise ValidationError({"amount": [_("缺少退款金额")]})
            total = fen(refunded_total)
            recorded = _recorded_at_channel(payment.pk)
            if total <= recorded:
                return Settled(None, False)  # a repeat: everything it reports is recorded already
            value = total - recorded
            refund_no = refund_no or f"AL{payment.channel_txn_id}-{int(total * 100)}"[:64]
            if Refund.objects.filter(refund_no=refund_no).exists():
                return Settled(None, False)
        else:
            value = fen(amount)
            if not refund_no:
                raise ValidationError({"refund_no": [_("缺少退款单号")]})
        if value <= 0:
            raise ValidationError({"amount": [_("退款金额必须大于 0")]})
        # Requests still pending are not money moved: the channel's refund is recorded before them (their
        # approval checks again what is left).
        left = payment.amount - refunds.payment_refunded_of(payment.pk, pending=False)
        if value > left:
            raise ValidationError(
                {
                    "amount": [
                        _("退款金额 %(a)s 元超过该笔缴费可退金额 %(c)s 元")
                        % {"a": value, "c": max(left, ZERO)}
                    ]
                }
            )
        now = timezone.now()
        refund = Refund.objects.create(
            account_id=account.pk,
            unit_id=account.unit_id,
            payment=payment,
            amount=value,
            reason=CHANNEL_REASON,
            method=RefundMethod.ORIGINAL,
            status=RefundStatus.APPROVED,
            requested_by=None,
            decided_by=None,
            requested_at=now,
            decided_at=now,
            refund_no=refund_no,
            channel_status=RefundChannelStatus.PROCESSING,
            origin=RefundOrigin.CHANNEL,
        )
        audit_record(
            actor=actor,
            action="refund.channel",
            obj=refund,
            unit_id=account.unit_id,
            customer_id=account.customer_id,
            changes={
                "account_number": account.account_number,
                "amount": str(value),
                "payment": payment.pk,
                "channel_txn_id": payment.channel_txn_id,
                "refund_no": refund_no,
                "channel": channel,
                **({"refunded_total": str(fen(refunded_total))} if refunded_total is not None else {}),
            },
        )
        return refund_settle(refund, channel_refund_id=channel_refund_id, at=at, actor=actor)


def _payment_of(channel: str, order_no: str, txn_id: str) -> Payment:
    """The payment of `channel` that paid order `order_no` (or, without one, of transaction `txn_id`)."""
    payment = None
    if order_no:
        order = (
            PaymentOrder.objects.filter(order_no=order_no, channel=channel).select_related("payment").first()
        )
        payment = order.payment if order is not None else None
        if payment is not None and txn_id and payment.channel_txn_id != txn_id:
            raise ValidationError(
                {"txn_id": [_("交易号 %(t)s 与订单 %(o)s 的缴费不符") % {"t": txn_id, "o": order_no}]}
            )
    elif txn_id:
        payment = Payment.objects.filter(channel=channel, channel_txn_id=txn_id).first()
    if payment is None:
        raise ValidationError(
            {"order_no": [_("未找到已支付的订单或交易：%(o)s") % {"o": (order_no or txn_id)[:64] or "—"}]}
        )
    return payment


def _recorded_at_channel(payment_id: int) -> Decimal:
    """The payment's refunds to the original channel that went (or are going) through the channel: approved,
    not refused by it — what Alipay's refunded total already covers."""
    return fen(
        Refund.objects.filter(
            payment_id=payment_id, method=RefundMethod.ORIGINAL, status=RefundStatus.APPROVED
        )
        .exclude(channel_status=RefundChannelStatus.FAILED)
        .aggregate(s=Sum("amount"))["s"]
    )
