"""Online payment: orders the customer starts, and the channels' notifications that pay them.

A `PaymentOrder` says what a channel's notification must match (order number, channel, amount) before
`services.payment_record` records anything. `notify_paid` is the one write behind every channel: it locks
the order row, so the same notification delivered ten times at once is applied once and the others find the
payment already made and give the same answer.

The channel adapters verify the channel's own scheme before reading anything else (issue 4 §2):

- `alipay_notification`: RSA2 over the sorted parameters with Alipay's public key (python-alipay-sdk), then
  `app_id` and, when ``SELLER_ID`` is configured, `seller_id` (the merchant's PID). Answers exactly ``success``
  when the notification is verified and handled (a repeat included), ``failure`` otherwise, which makes Alipay
  deliver it again later. A refund made on Alipay's side (`refund_fee` on a paid order: TRADE_CLOSED, or a
  partial refund's TRADE_SUCCESS with `gmt_refund`) goes to `alipay_refund_notified`.
- `sandbox_notification`: the local sandbox gateway (`sandbox.py`, for the portal's online payment offline)
  signs exactly as Alipay does with its own key pair (`sandbox_keys`), and its notification goes through
  the same verification as Alipay's (`_rsa2_notification`) with the sandbox public key, on channel portal.
- `wechat_notification`: ``Wechatpay-Signature`` over ``timestamp\\nnonce\\nbody\\n`` with the platform
  key its ``Wechatpay-Serial`` names (`wechat_keys.platform_key`, never fetched here), within 5 minutes (a
  stale timestamp is logged as clock skew), the ``resource`` decrypted with the APIv3 key (AEAD_AES_256_GCM),
  then mchid/appid; a refund notification (REFUND.*, no appid) goes to `wechat_refund_notified`. Answers 204
  when handled; 401 for a bad signature or resource, or an unknown serial, 400 for a business refusal, 404
  微信支付渠道未启用 when our own keys are not configured or do not load (logged as an error, with what is
  wrong) — each with ``{"code": "FAIL", "message": ...}``.

A refused notification writes nothing (no payment, no order change, no audit row); it is logged on the
``gridcare.payments`` logger with the order number when there is one.
"""

import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.customers.models import Account
from gridcare.payments.choices import ExceptionStatus, OrderStatus, PaymentChannel, ReconKind
from gridcare.payments.ledger.services import (
    CENT,
    Recorded,
    _lock_account,
    clean_amount,
    clean_txn_id,
    payment_write,
)
from gridcare.payments.models import Payment, PaymentOrder, ReconciliationException
from gridcare.payments.states import check_transition

from . import notify_pg, signatures, wechat_keys

logger = logging.getLogger("gridcare.payments")

ONLINE_CHANNELS = (PaymentChannel.PORTAL, PaymentChannel.ALIPAY, PaymentChannel.WECHAT)
REAL_CHANNELS = (
    PaymentChannel.ALIPAY,
    PaymentChannel.WECHAT,
)  # money moves (the portal's sandbox moves none)
ORDER_CREATED, ORDER_PAID, ORDER_CLOSED = OrderStatus.CREATED, OrderStatus.PAID, OrderStatus.CLOSED
BEIJING = ZoneInfo("Asia/Shanghai")

ALIPAY_SUCCESS, ALIPAY_FAILURE = "success", "failure"
ALIPAY_PAID_STATES = ("TRADE_SUCCESS", "TRADE_FINISHED")
WECHAT_PAID_STATE = "SUCCESS"
WECHAT_REFUND_EVENTS = {"REFUND.SUCCESS": "SUCCESS", "REFUND.ABNORMAL": "ABNORMAL", "REFUND.CLOSED": "CLOSED"}
WECHAT_REPLAY_WINDOW = 300  # seconds between the notification's timestamp and our clock (WeChat: 5 minutes)


def _channel_actor(ip: str | None) -> Actor:
    # A channel's server, not a person: the audit row names the API door and the caller's address.
    return Actor(user=None, channel=Channel.API, ip=ip)


# ---------------------------------------------------------------- orders


def _order_no(now: datetime) -> str:
    """The order number: GC, Beijing yyyymmddHHMMSS, 8 random digits (24 characters; channels allow 32)."""
    return f"GC{timezone.localtime(now, BEIJING):%Y%m%d%H%M%S}{secrets.randbelow(10**8):08d}"


def order_create(
    *,
    actor: Actor,
    account: Account,
    amount: Any,
    channel: str,
    public_token_hash: str | None = None,
    expires_at: datetime | None = None,
    wallet: str = "",
) -> PaymentOrder:
    """An online payment order of `amount` yuan on `account` through `channel` (portal, alipay or wechat).

    Who may start one (the customer bound to the account, or staff of its unit, or anyone who knows the 户号
    in `public_pay`) is the caller's decision, and so is the limit on the amount. `public_token_hash`,
    `expires_at` and `wallet` are stored as given (orders started without logging in)."""
    errs: dict[str, list[str]] = {}
    if channel not in ONLINE_CHANNELS:
        errs["channel"] = [_("在线支付渠道只能是门户、支付宝或微信支付")]
    try:
        value = clean_amount(amount)
    except ValidationError as exc:
        errs.update(exc.message_dict)
    if errs:
        raise ValidationError(errs)
    now = timezone.now()
    for attempt in range(5):
        try:
            with transaction.atomic():
                order = PaymentOrder.objects.create(
                    order_no=_order_no(now),
                    account=account,
                    channel=channel,
                    amount=value,
                    created_by=actor.user if actor.user is not None and actor.user.is_authenticated else None,
                    created_at=now,
                    public_token_hash=public_token_hash,
                    expires_at=expires_at,
                    wallet=wallet,
                )
                audit_record(
                    actor=actor,
                    action="payment_order.create",
                    obj=order,
                    customer_id=account.customer_id,
                    unit_id=account.unit_id,
                    changes={
                        "order_no": order.order_no,
                        "channel": channel,
                        "amount": str(value),
                        "account_number": account.account_number,
                        **({"public": True, "wallet": wallet} if public_token_hash else {}),
                        **({"expires_at": expires_at.isoformat()} if expires_at else {}),
                    },
                )
                return order
        except IntegrityError:
            # 10⁸ numbers per second: a collision is rare enough that a fresh draw always settles it.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- the one write behind every channel


def notify_paid(
    *,
    channel: str,
    order_no: str,
    channel_txn_id: str,
    amount: Decimal,
    paid_at: datetime | None,
    actor: Actor | None = None,
    fast: bool | None = None,
) -> Recorded:
    """Pay order `order_no` of `channel` with the channel's transaction: record the payment (allocated to the
    account's debts) and mark the order paid, in one transaction.

    Refused (ValidationError, nothing written): no such order for the channel, an amount that is not exactly
    the order's, a closed order, an order already paid by another transaction, or a transaction id already
    used for another payment or order. A repeat of the same transaction answers the payment already made
    (created=False) and leaves the order as it is.

    On PostgreSQL (or with `fast=True`) the same rules and rows go through `notify_pg`, the hot path of a
    channel's notification in five statements; `fast=False` forces the portable ORM path (the tests compare
    the two)."""
    actor = actor or _channel_actor(None)
    order_no = str(order_no or "").strip()
    txn_errs: dict[str, list[str]] = {}
    txn = clean_txn_id(channel_txn_id, txn_errs)
    fast = connection.vendor == "postgresql" if fast is None else fast
    args = dict(
        actor=actor,
        channel=channel,
        order_no=order_no,
        txn=txn,
        txn_errs=txn_errs,
        amount=amount,
        paid_at=paid_at,
    )
    with transaction.atomic():
        if fast:  # the same rules and rows in five statements of constant text (`notify_pg`)
            rec = notify_pg.notify_paid_pg(**args)
            if rec is not None:
                return rec
            # The transaction id is taken by a payment not of this order (nothing was written).
            order = PaymentOrder.objects.select_related("account").get(order_no=order_no, channel=channel)
            return _paid_by_taken_txn(actor, order, channel=channel, txn=txn, amount=order.amount)
        return _notify_paid_orm(**args)


def _notify_paid_orm(
    *, actor: Actor, channel: str, order_no: str, txn: str, txn_errs: dict, amount, paid_at: datetime | None
) -> Recorded:
    """`notify_paid` after its argument checks, inside its transaction, through the ORM (any database)."""
    # One statement locks the order and its account (of=: never the nullable payment side): simultaneous
    # duplicates of one notification wait for each other, and two payments of one account are applied one
    # after the other. A repeat answers from this row alone (its payment is joined).
    order = (
        PaymentOrder.objects.select_for_update(of=("self", "account"))
        .select_related("account", "payment")
        .filter(order_no=order_no, channel=channel)
        .first()
        if order_no and len(order_no) <= 32
        else None
    )
    if order is None:
        raise ValidationError({"order_no": [_("订单不存在：%(o)s") % {"o": order_no[:32]}]})
    if not isinstance(amount, Decimal):
        amount = clean_amount(amount)
    repeat = notify_pg.order_check(
        order_no=order.order_no,
        order_amount=order.amount,
        status=order.status,
        paid=order.payment,
        payment_id=order.payment_id,
        amount=amount,
        txn=txn,
        txn_errs=txn_errs,
    )
    if repeat is not None:
        return Recorded(repeat, False)
    check_transition(PaymentOrder, order.status, ORDER_PAID)
    account = order.account
    payment = payment_write(
        actor=actor,
        account=account,
        channel=channel,
        txn=txn,
        amount=amount,
        paid_at=paid_at or timezone.now(),
        order_id=order.pk,
        more_rows=lambda p: [_order_paid_audit(actor, order, p, save=False)],
    )
    if payment is None:
        return _paid_by_taken_txn(actor, order, channel=channel, txn=txn, amount=amount)
    return Recorded(payment, True)


def _paid_by_taken_txn(
    actor: Actor, order: PaymentOrder, *, channel: str, txn: str, amount: Decimal
) -> Recorded:
    """The transaction id is taken by a payment not of this order (ours is locked and unpaid). Recorded before
    by another door (a counter or an import of the same trade) for the same account and amount, and paying no
    order: the order is paid by it, as the payment made. Anything else is refused (nothing written)."""
    taken = Payment.objects.filter(channel=channel, channel_txn_id=txn).first()
    if taken is None or taken.account_id != order.account_id or taken.amount != amount:
        raise ValidationError(
            {"channel_txn_id": [_("渠道流水号 %(t)s 已用于另一笔缴费（户号或金额不同）") % {"t": txn}]}
        )
    if PaymentOrder.objects.filter(payment=taken).exists():
        raise ValidationError({"channel_txn_id": [_("渠道流水号 %(t)s 已用于另一订单") % {"t": txn}]})
    check_transition(PaymentOrder, order.status, ORDER_PAID)
    PaymentOrder.objects.filter(pk=order.pk).update(status=ORDER_PAID, payment=taken, paid_at=taken.paid_at)
    _order_paid_audit(actor, order, taken, save=True)
    return Recorded(taken, False)


def _order_paid_audit(actor: Actor, order: PaymentOrder, payment: Payment, *, save: bool):
    return audit_record(
        actor=actor,
        action="payment_order.paid",
        obj=order,
        customer_id=order.account.customer_id,
        unit_id=order.account.unit_id,
        changes={
            "status": [ORDER_CREATED, ORDER_PAID],
            "payment_id": payment.pk,
            "channel_txn_id": payment.channel_txn_id,
        },
        save=save,
    )


# ---------------------------------------------------------------- a paid that cannot pay its order


def _codes(exc: ValidationError) -> set[str]:
    if not hasattr(exc, "error_dict"):
        return set()
    return {e.code for errors in exc.error_dict.values() for e in errors if e.code}


def settle_paid(
    *,
    channel: str,
    order_no: str,
    txn_id: str,
    amount: Decimal,
    paid_at: datetime | None,
    actor: Actor,
    source: str = "notification",
) -> Recorded:
    """A channel says `order_no` is paid by `txn_id` with `amount`: pay the order (`gateways.notify_paid`), or,
    when the order was closed or the amount is not the order's, record the payment anyway on the order's
    account and raise a reconciliation exception (once per transaction). Anything else `notify_paid` refuses
    (unknown order, a transaction id taken by another account …) is refused here too (ValidationError)."""
    try:
        return notify_paid(
            channel=channel,
            order_no=order_no,
            channel_txn_id=txn_id,
            amount=amount,
            paid_at=paid_at,
            actor=actor,
        )
    except ValidationError as exc:
        codes = _codes(exc)
        # The local sandbox gateway (channel portal) moves no real money: its refusals stand.
        if channel not in REAL_CHANNELS or not codes & {notify_pg.AMOUNT_DIFFERS, notify_pg.ORDER_CLOSED}:
            raise
        kind = ReconKind.AMOUNT_DIFFERS if notify_pg.AMOUNT_DIFFERS in codes else ReconKind.PAID_CLOSED
        return _paid_exception(
            channel=channel,
            order_no=order_no,
            txn_id=txn_id,
            amount=amount,
            paid_at=paid_at,
            actor=actor,
            kind=kind,
            source=source,
        )


@transaction.atomic
def _paid_exception(
    *,
    channel: str,
    order_no: str,
    txn_id: str,
    amount: Decimal,
    paid_at: datetime | None,
    actor: Actor,
    kind: str,
    source: str,
) -> Recorded:
    order = PaymentOrder.objects.select_related("account").get(order_no=order_no, channel=channel)
    account = _lock_account(order.account_id)
    order = PaymentOrder.objects.select_for_update(of=("self",)).select_related("payment").get(pk=order.pk)
    taken = Payment.objects.filter(channel=channel, channel_txn_id=txn_id).first()
    if taken is not None:
        if taken.account_id == order.account_id and taken.amount == amount:
            return Recorded(
                taken, False
            )  # the same trade again (a repeat, or the query after the notification)
        raise ValidationError({"channel_txn_id": [_("渠道流水号 %(t)s 已用于另一笔缴费") % {"t": txn_id}]})
    payment = payment_write(
        actor=actor,
        account=account,
        channel=channel,
        txn=txn_id,
        amount=amount,
        paid_at=paid_at or timezone.now(),
    )
    if payment is None:  # taken at this very moment by a simultaneous copy: answer with it
        taken = Payment.objects.get(channel=channel, channel_txn_id=txn_id)
        return Recorded(taken, False)
    changes: dict[str, Any] = {"payment_id": payment.pk, "channel_txn_id": txn_id, "exception": kind}
    if order.payment_id is None:
        updates: dict[str, Any] = {"payment": payment, "paid_at": payment.paid_at}
        if order.status == OrderStatus.CREATED:  # the amount differs: paid all the same
            updates["status"] = OrderStatus.PAID
            changes["status"] = [OrderStatus.CREATED, OrderStatus.PAID]
        PaymentOrder.objects.filter(pk=order.pk).update(**updates)
    exception = ReconciliationException.objects.create(
        statement=None,
        source=source,
        unit_id=account.unit_id,
        kind=kind,
        channel_txn_id=txn_id,
        order_no=order.order_no,
        order=order,
        payment=payment,
        our_amount=order.amount,
        their_amount=amount,
        their_time=payment.paid_at,
        account_number=account.account_number,
        account=account,
        status=ExceptionStatus.OPEN,
    )
    audit_record(
        actor=actor,
        action="payment_order.paid_exception",
        obj=order,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={
            **changes,
            "reconciliation_exception": exception.pk,
            "order_amount": str(order.amount),
            "paid_amount": str(amount),
        },
    )
    logger.warning(
        "%s paid order %s (%s) with %s by %s: recorded as payment %s, reconciliation exception %s (%s)",
        channel,
        order.order_no,
        order.status,
        amount,
        txn_id,
        payment.pk,
        exception.pk,
        kind,
    )
    return Recorded(payment, True)


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {m}" for k, ms in exc.message_dict.items() for m in ms)
    return "; ".join(exc.messages)


def _short(value: object, limit: int = 64) -> str:
    # Values from the internet go into log lines: bounded and repr-quoted by the callers.
    return str(value)[:limit]


# ---------------------------------------------------------------- Alipay


def _alipay_time(raw: str | None) -> datetime | None:
    """`gmt_payment`: Beijing wall time "YYYY-MM-DD HH:MM:SS" → an aware datetime (ValueError if malformed)."""
    if not raw:
        return None
    return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


def alipay_notification(params: dict[str, str], *, ip: str | None = None) -> str:
    """Handle Alipay's asynchronous notification (form parameters, already URL-decoded).

    Answers "success" when verified and handled — a paid trade recorded or found recorded, or a state that
    records nothing (WAIT_BUYER_PAY, TRADE_CLOSED) — and "failure" for anything refused."""
    conf = settings.GRIDCARE["ALIPAY"]
    return _rsa2_notification(
        params,
        ip=ip,
        label="alipay",
        channel=PaymentChannel.ALIPAY,
        app_id=conf.get("APP_ID", ""),
        public_key=conf.get("PUBLIC_KEY", ""),
        seller_id=conf.get("SELLER_ID", ""),
    )


def _rsa2_notification(
    params: dict[str, str],
    *,
    ip: str | None,
    label: str,
    channel: str,
    app_id: str,
    public_key: str,
    seller_id: str = "",
) -> str:
    """Alipay's scheme, for Alipay itself and for the sandbox that imitates it: RSA2 over the sorted
    parameters with `public_key`, then `app_id` and `seller_id` (when given: a missing or different one is
    refused), then the order is paid through `notify_paid` on `channel`; a refund made on the channel's side
    goes to `alipay_refund_notified`."""
    order_no = _short(params.get("out_trade_no", ""))
    if not public_key or not app_id:
        logger.error("%s notification refused: APP_ID/PUBLIC_KEY not configured (order %r)", label, order_no)
        return ALIPAY_FAILURE
    try:
        verified = signatures.alipay_verify(params, public_key)
    except signatures.SignatureError as exc:
        logger.error(
            "%s notification refused: cannot load the PUBLIC_KEY: %s (order %r)", label, exc, order_no
        )
        return ALIPAY_FAILURE
    if not verified:
        logger.warning(
            "%s notification refused: bad signature, order %r, trade %r, from %s",
            label,
            order_no,
            _short(params.get("trade_no", "")),
            ip,
        )
        return ALIPAY_FAILURE
    if params.get("app_id") != app_id:
        logger.warning(
            "%s notification refused: app_id %r is not ours, order %r",
            label,
            _short(params.get("app_id", "")),
            order_no,
        )
        return ALIPAY_FAILURE
    if seller_id and params.get("seller_id") != seller_id:
        logger.warning(
            "%s notification refused: seller_id %r is not ours, order %r",
            label,
            _short(params.get("seller_id", "")),
            order_no,
        )
        return ALIPAY_FAILURE
    status = params.get("trade_status", "")
    refund = _alipay_reports_refund(params)
    if refund and (status not in ALIPAY_PAID_STATES or _order_paid(channel, params.get("out_trade_no"))):
        return _alipay_refund_answer(params, ip=ip, label=label, channel=channel)
    if status not in ALIPAY_PAID_STATES:
        logger.info(
            "%s notification acknowledged without a payment: order %r, trade_status %r",
            label,
            order_no,
            _short(status),
        )
        return ALIPAY_SUCCESS
    try:
        paid_at = _alipay_time(params.get("gmt_payment"))
        amount = clean_amount(params.get("total_amount", ""), field="total_amount")
        rec = settle_paid(
            channel=channel,
            order_no=params.get("out_trade_no", ""),
            txn_id=params.get("trade_no", ""),
            amount=amount,
            paid_at=paid_at,
            actor=_channel_actor(ip),
        )
    except ValueError as exc:  # ValidationError is not a ValueError; a malformed gmt_payment is
        logger.warning("%s notification refused: order %r: bad gmt_payment: %s", label, order_no, exc)
        return ALIPAY_FAILURE
    except ValidationError as exc:
        logger.warning(
            "%s notification refused: order %r, trade %r: %s",
            label,
            order_no,
            _short(params.get("trade_no", "")),
            _messages(exc),
        )
        return ALIPAY_FAILURE
    logger.info(
        "%s notification %s: order %r, payment %s",
        label,
        "recorded" if rec.created else "repeated",
        order_no,
        rec.payment.pk,
    )
    if refund:  # paid and partly refunded before we heard of the payment: both are recorded
        return _alipay_refund_answer(params, ip=ip, label=label, channel=channel)
    return ALIPAY_SUCCESS


def _alipay_reports_refund(params: dict[str, str]) -> bool:
    """A refund made on Alipay's side: TRADE_CLOSED with `refund_fee` > 0 (refunded in full), or TRADE_SUCCESS
    with `refund_fee` > 0 and `gmt_refund` (a partial refund)."""
    try:
        refunded = Decimal(params.get("refund_fee") or "0") > 0
    except ArithmeticError:  # decimal.InvalidOperation: not a number; alipay_refund_notified says so
        refunded = bool(params.get("refund_fee"))
    status = params.get("trade_status", "")
    return refunded and (
        status == "TRADE_CLOSED" or (status in ALIPAY_PAID_STATES and bool(params.get("gmt_refund")))
    )


def _order_paid(channel: str, order_no: object) -> bool:
    no = str(order_no or "")
    return bool(no) and PaymentOrder.objects.filter(order_no=no, channel=channel, status=ORDER_PAID).exists()


def _alipay_refund_answer(params: dict[str, str], *, ip: str | None, label: str, channel: str) -> str:
    try:
        refund = alipay_refund_notified(params, _channel_actor(ip), channel=channel)
    except ValidationError as exc:
        logger.warning(
            "%s refund notification refused: order %r, trade %r: %s",
            label,
            _short(params.get("out_trade_no", "")),
            _short(params.get("trade_no", "")),
            _messages(exc),
        )
        return ALIPAY_FAILURE
    logger.info(
        "%s refund notification accepted: order %r, refund %r, refund_fee %s",
        label,
        refund.order_no,
        refund.refund_no,
        refund.amount,
    )
    return ALIPAY_SUCCESS


# ---------------------------------------------------------------- the local sandbox gateway (模拟支付网关)

SANDBOX_APP_ID = "gridcare-sandbox"
_sandbox_key_cache: dict[str, str] = {}
_sandbox_key_lock = threading.Lock()


def sandbox_enabled() -> bool:
    return bool(settings.GRIDCARE.get("SANDBOX_PAY", {}).get("ENABLED"))


def sandbox_keys() -> tuple[str, str]:
    """The sandbox's (private, public) PEM pair: from settings when both are configured, otherwise an
    RSA-2048 pair generated once per process. The sandbox signs with the first; we verify with the second,
    exactly as we verify Alipay's notifications with Alipay's public key."""
    conf = settings.GRIDCARE.get("SANDBOX_PAY", {})
    private, public = conf.get("PRIVATE_KEY", ""), conf.get("PUBLIC_KEY", "")
    if private and public:
        return private, public
    if private or public:
        raise ImproperlyConfigured("GRIDCARE_SANDBOX_PRIVATE_KEY and _PUBLIC_KEY must be set together")
    with _sandbox_key_lock:
        if not _sandbox_key_cache:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _sandbox_key_cache["private"] = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode("ascii")
            _sandbox_key_cache["public"] = (
                key.public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                .decode("ascii")
            )
        return _sandbox_key_cache["private"], _sandbox_key_cache["public"]


def sandbox_notification(params: dict[str, str], *, ip: str | None = None) -> str:
    """Handle the sandbox gateway's notification for a portal order: Alipay's very scheme (RSA2 over the
    sorted parameters, verified with the SANDBOX public key, then app_id), paid on channel "portal".

    Answers "success" or "failure" like `alipay_notification`; refused when the sandbox is disabled."""
    if not sandbox_enabled():
        logger.warning(
            "sandbox notification refused: the sandbox is disabled (order %r)",
            _short(params.get("out_trade_no", "")),
        )
        return ALIPAY_FAILURE
    return _rsa2_notification(
        params,
        ip=ip,
        label="sandbox",
        channel=PaymentChannel.PORTAL,
        app_id=SANDBOX_APP_ID,
        public_key=sandbox_keys()[1],
    )


# ---------------------------------------------------------------- WeChat Pay v3


class _Refusal(Exception):
    """A notification we will not record: the HTTP status to answer and why; `problem` is our own
    configuration's fault (logged as an error, never shown to the caller); `detail`, when given, is what the
    log says instead of `message`."""

    def __init__(self, status: int, message: str, problem: str = "", detail: str = ""):
        super().__init__(status, message)
        self.status, self.message, self.problem, self.detail = status, message, problem, detail


def _channel_off(problem: str) -> "_Refusal":
    # Not configured (or misconfigured) is "this channel is not enabled here": 404, not a server error.
    return _Refusal(404, _("微信支付渠道未启用"), problem)


def _fail(status: int, message: str) -> tuple[int, dict]:
    return status, {"code": "FAIL", "message": message}


def _wechat_config() -> dict[str, str]:
    conf = settings.GRIDCARE["WECHAT"]
    missing = [k for k in ("MCHID", "APPID", "API_V3_KEY") if not conf.get(k)]
    if missing:
        raise _channel_off(f"WECHAT settings missing: {', '.join(missing)}")
    if bool(conf.get("PLATFORM_PUBLIC_KEY")) != bool(conf.get("PLATFORM_SERIAL")):
        raise _channel_off("WECHAT PLATFORM_PUBLIC_KEY and PLATFORM_SERIAL must be set together")
    if len(conf["API_V3_KEY"].encode("utf-8")) != signatures.WECHAT_API_V3_KEY_BYTES:
        raise _channel_off("WECHAT API_V3_KEY must be 32 bytes")
    return conf


def _wechat_transaction(headers, body: bytes, conf: dict[str, str], now: int | None) -> tuple[dict, dict]:
    """(the envelope, its decrypted resource) of a verified notification (raises _Refusal). The key is the
    one `Wechatpay-Serial` names (`wechat_keys.platform_key`: configured or stored, never fetched here)."""
    try:
        check = signatures.wechat_check(
            headers, body, wechat_keys.platform_key, now=now, max_skew=WECHAT_REPLAY_WINDOW
        )
    except signatures.SignatureError as exc:
        raise _channel_off(f"cannot load WECHAT PLATFORM_PUBLIC_KEY: {exc}") from exc
    if check.reason == "unknown serial":
        serial = _short(check.serial)
        raise _Refusal(
            401,
            f"未知的平台证书序列号 {serial}",
            detail=f"unknown platform serial {serial!r} (no configured or stored key valid now)",
        )
    if check.reason == "clock skew":
        raise _Refusal(
            401,
            "Wechatpay-Timestamp 与服务器时间相差超过 5 分钟",
            detail=f"clock skew of {check.skew:+d} s between Wechatpay-Timestamp and our clock "
            f"(allowed ±{WECHAT_REPLAY_WINDOW} s): check this server's clock, or a replay",
        )
    if not check.ok:
        raise _Refusal(401, "签名验证失败", detail=f"bad signature ({check.reason})")
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Refusal(400, "通知报文不是 JSON") from exc
    if not isinstance(envelope, dict):
        raise _Refusal(400, "通知报文不是 JSON 对象")
    try:
        return envelope, signatures.wechat_decrypt_resource(envelope.get("resource"), conf["API_V3_KEY"])
    except signatures.SignatureError as exc:
        raise _Refusal(401, f"resource 解密失败: {exc}") from exc


def _wechat_amount(trade: dict) -> Decimal:
    amount = trade.get("amount")
    total = amount.get("total") if isinstance(amount, dict) else None
    if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
        raise _Refusal(400, "amount.total 不是正整数（分）")
    if amount.get("currency", "CNY") != "CNY":
        raise _Refusal(400, "只接受人民币（CNY）")
    return (Decimal(total) / 100).quantize(CENT)


def _wechat_time(raw: object) -> datetime:
    try:
        when = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise _Refusal(400, "success_time 不是带时区的 ISO 8601 时间")
    return when


def wechat_notification(
    headers, body: bytes, *, ip: str | None = None, now: int | None = None
) -> tuple[int, dict | None]:
    """Handle a WeChat Pay v3 payment or refund notification: (HTTP status, JSON body or None for 204).

    `headers` is any mapping of the request headers (names matched case-insensitively); `body` the raw
    bytes exactly as received, which is what WeChat signed. `now` (Unix seconds) is for tests. A refund
    notification (REFUND.SUCCESS / ABNORMAL / CLOSED: its resource has no appid) is checked for our mchid and
    handed to `wechat_refund_notified`."""
    order_no = ""
    try:
        conf = _wechat_config()
        envelope, trade = _wechat_transaction(headers, body, conf, now)
        order_no = _short(trade.get("out_trade_no", ""))
        event = envelope.get("event_type")
        if event in WECHAT_REFUND_EVENTS:
            return _wechat_refund_answer(headers, envelope, trade, conf, ip=ip)
        if trade.get("mchid") != conf["MCHID"] or trade.get("appid") != conf["APPID"]:
            raise _Refusal(400, "商户号或应用 ID 不符")
        state = trade.get("trade_state")
        if state != WECHAT_PAID_STATE:
            logger.info(
                "wechat notification acknowledged without a payment: order %r, trade_state %r",
                order_no,
                _short(state),
            )
            return 204, None
        amount, paid_at = _wechat_amount(trade), _wechat_time(trade.get("success_time"))
        try:
            rec = settle_paid(
                channel=PaymentChannel.WECHAT,
                order_no=str(trade.get("out_trade_no") or ""),
                txn_id=str(trade.get("transaction_id") or ""),
                amount=amount,
                paid_at=paid_at,
                actor=_channel_actor(ip),
            )
        except ValidationError as exc:
            raise _Refusal(400, _messages(exc)) from exc
    except _Refusal as refusal:
        return _wechat_refused(refusal, headers, order_no, ip)
    logger.info(
        "wechat notification %s: order %r, payment %s",
        "recorded" if rec.created else "repeated",
        order_no,
        rec.payment.pk,
    )
    return 204, None


def _wechat_refused(refusal: _Refusal, headers, order_no: str, ip: str | None) -> tuple[int, dict]:
    log = logger.error if refusal.problem or refusal.status >= 500 else logger.warning
    log(
        "wechat notification refused (%s): %s; order %r, serial %r, from %s",
        refusal.status,
        refusal.problem or refusal.detail or refusal.message,
        order_no,
        _short(_header(headers, "wechatpay-serial")),
        ip,
    )
    return _fail(refusal.status, refusal.message)


def _wechat_refund_answer(headers, envelope: dict, refund: dict, conf: dict, *, ip: str | None):
    """A verified, decrypted refund notification: our mchid, the event matching the refund's status, then
    `wechat_refund_notified`; 204, or a 400 saying what is malformed (nothing written)."""
    order_no = _short(refund.get("out_trade_no", ""))
    try:
        resource = envelope.get("resource") or {}
        if resource.get("original_type", "refund") != "refund":
            raise _Refusal(400, "退款通知的 resource.original_type 不是 refund")
        if refund.get("mchid") != conf["MCHID"]:
            raise _Refusal(400, "商户号不符")
        expected = WECHAT_REFUND_EVENTS[envelope["event_type"]]
        if refund.get("refund_status") != expected:
            raise _Refusal(
                400,
                f"event_type {envelope['event_type']} 与 refund_status {_short(refund.get('refund_status'))} 不符",
            )
        try:
            parsed = wechat_refund_notified(refund, _channel_actor(ip))
        except ValidationError as exc:
            raise _Refusal(400, _messages(exc)) from exc
    except _Refusal as refusal:
        return _wechat_refused(refusal, headers, order_no, ip)
    logger.info(
        "wechat refund notification accepted: order %r, refund %r, status %s, amount %s",
        parsed.order_no,
        parsed.refund_no,
        parsed.status,
        parsed.amount,
    )
    return 204, None


def _header(headers, name: str) -> str:
    for key, value in headers.items():
        if str(key).lower() == name:
            return value
    return ""


# ---------------------------------------------------------------- refunds made on the channel's side


@dataclass(frozen=True)
class ChannelRefund:
    """A refund a channel told us about, checked and parsed. `amount` is in yuan: this refund's for WeChat;
    for Alipay the trade's total refunded so far (`refund_fee` is cumulative), and `cumulative` says so."""

    channel: str
    order_no: str
    channel_txn_id: str
    refund_no: str  # ours (WeChat out_refund_no, Alipay out_biz_no), or "" when the channel names none
    channel_refund_id: str  # the channel's (WeChat refund_id); "" for Alipay
    status: str  # SUCCESS, CLOSED or ABNORMAL (Alipay: SUCCESS)
    amount: Decimal
    total: Decimal | None
    refunded_at: datetime | None
    cumulative: bool = False
    raw: dict = field(default_factory=dict, repr=False)


def _log_refund(refund: ChannelRefund, actor: Actor) -> None:
    logger.info(
        "refund notified by %s: order %r, refund %r, %s %s",
        refund.channel,
        refund.order_no,
        refund.refund_no or refund.channel_refund_id,
        refund.status,
        refund.amount,
    )


def _record_refund(refund: ChannelRefund, actor: Actor) -> None:
    """A successful refund reaches the ledger (`payment_refunds.channel_refund_notified`): ours settles, one
    made on the channel's side is recorded with the channel as actor (no approval); a repeat changes nothing.
    A refund the channel closed or could not make (WeChat REFUND.CLOSED / ABNORMAL) is logged: the retry job
    sends ours again with the same refund number and records the channel's refusal."""
    from gridcare.payments.ledger.payment_refunds import channel_refund_notified

    _log_refund(refund, actor)
    if refund.status != "SUCCESS":
        return
    channel_refund_notified(
        refund.channel,
        order_no=refund.order_no,
        txn_id=refund.channel_txn_id,
        refund_no=refund.refund_no,
        channel_refund_id=refund.channel_refund_id,
        amount=None if refund.cumulative else refund.amount,
        refunded_total=refund.amount if refund.cumulative else None,
        at=refund.refunded_at,
        actor=actor,
    )


# Where a checked refund notification goes (issue 13 §3): the refund ledger. Tests replace it to see what
# arrives.
_refund_hook = _record_refund


def _text_field(data: dict, name: str, errs: dict, limit: int = 64) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        errs[name] = [_("缺少或格式不正确（至多 %(n)s 个字符）") % {"n": limit}]
        return ""
    return value.strip()


def _fen(amount: dict, name: str, errs: dict) -> int:
    value = amount.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errs[f"amount.{name}"] = [_("不是非负整数（分）")]
        return 0
    return value


def wechat_refund_notified(trade: dict, actor: Actor) -> ChannelRefund:
    """A WeChat Pay refund notification's decrypted resource (original_type "refund": mchid, out_trade_no,
    transaction_id, out_refund_no, refund_id, refund_status, success_time, amount{total, refund, payer_total,
    payer_refund}; no appid), already verified and checked for our mchid by `wechat_notification`.

    Checks the fields (ValidationError naming each malformed one: the notification answers 400 and nothing is
    written) and hands the parsed refund to `_refund_hook`. For now the hook only logs: the refund ledger will
    be wired in later by its own change, which is where the refund is recorded and audited."""
    errs: dict[str, list[str]] = {}
    order_no = _text_field(trade, "out_trade_no", errs, 32)
    txn = _text_field(trade, "transaction_id", errs)
    refund_no = _text_field(trade, "out_refund_no", errs)
    refund_id = _text_field(trade, "refund_id", errs)
    status = trade.get("refund_status")
    if status not in WECHAT_REFUND_EVENTS.values():
        errs["refund_status"] = [_("应为 SUCCESS、CLOSED 或 ABNORMAL")]
    refunded_at = None
    if status == "SUCCESS" or trade.get("success_time") is not None:
        try:
            refunded_at = _wechat_time(trade.get("success_time"))
        except _Refusal:
            errs["success_time"] = [_("不是带时区的 ISO 8601 时间")]
    amount = trade.get("amount")
    if not isinstance(amount, dict):
        errs["amount"] = [_("缺少金额对象")]
        amount = {}
    total, refund = _fen(amount, "total", errs), _fen(amount, "refund", errs)
    payer_total, payer_refund = _fen(amount, "payer_total", errs), _fen(amount, "payer_refund", errs)
    if "amount.refund" not in errs and not 0 < refund <= total:
        errs["amount.refund"] = [_("退款金额应大于 0 且不超过订单金额")]
    if "amount.payer_refund" not in errs and payer_refund > payer_total:
        errs["amount.payer_refund"] = [_("用户退款金额不能超过用户支付金额")]
    if errs:
        raise ValidationError(errs)
    parsed = ChannelRefund(
        channel=PaymentChannel.WECHAT,
        order_no=order_no,
        channel_txn_id=txn,
        refund_no=refund_no,
        channel_refund_id=refund_id,
        status=status,
        amount=(Decimal(refund) / 100).quantize(CENT),
        total=(Decimal(total) / 100).quantize(CENT),
        refunded_at=refunded_at,
        raw=dict(trade),
    )
    _refund_hook(parsed, actor)
    return parsed


def _alipay_refund_time(raw: str | None) -> datetime | None:
    """`gmt_refund`: Beijing wall time, "YYYY-MM-DD HH:MM:SS" with optional milliseconds (ValueError)."""
    if not raw:
        return None
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in raw else "%Y-%m-%d %H:%M:%S"
    return datetime.strptime(raw, fmt).replace(tzinfo=BEIJING)


def alipay_refund_notified(
    params: dict[str, str], actor: Actor, *, channel: str = PaymentChannel.ALIPAY
) -> ChannelRefund:
    """An Alipay notification (already verified, app_id and seller_id checked) reporting a refund made on
    Alipay's side: TRADE_CLOSED with `refund_fee`, or a partial refund's TRADE_SUCCESS with `gmt_refund`.

    The order must be paid here by the same trade (`trade_no`), and `refund_fee` (the trade's cumulative
    refunded amount, yuan) positive and at most what was paid; otherwise ValidationError (the notification
    answers ``failure`` and nothing is written). Hands the parsed refund to `_refund_hook`, which for now only
    logs: the refund ledger will be wired in later by its own change."""
    errs: dict[str, list[str]] = {}
    order_no = str(params.get("out_trade_no") or "").strip()
    txn = str(params.get("trade_no") or "").strip()
    order = (
        PaymentOrder.objects.select_related("payment")
        .filter(order_no=order_no, channel=channel, status=ORDER_PAID)
        .first()
        if order_no and len(order_no) <= 32
        else None
    )
    if order is None:
        raise ValidationError({"out_trade_no": [_("没有已缴费的订单：%(o)s") % {"o": order_no[:32]}]})
    if order.payment is None or order.payment.channel_txn_id != txn:
        errs["trade_no"] = [_("与订单的支付流水号不符")]
    try:
        amount = clean_amount(params.get("refund_fee", ""), field="refund_fee")
    except ValidationError as exc:
        errs.update(exc.message_dict)
        amount = None
    if amount is not None and amount > order.amount:
        errs["refund_fee"] = [_("退款金额超过订单金额 %(a)s") % {"a": order.amount}]
    try:
        refunded_at = _alipay_refund_time(params.get("gmt_refund"))
    except ValueError:
        errs["gmt_refund"] = [_("时间格式应为 YYYY-MM-DD HH:MM:SS")]
        refunded_at = None
    if errs:
        raise ValidationError(errs)
    parsed = ChannelRefund(
        channel=channel,
        order_no=order.order_no,
        channel_txn_id=txn,
        refund_no=str(params.get("out_biz_no") or ""),
        channel_refund_id="",
        status="SUCCESS",
        amount=amount,
        total=order.amount,
        refunded_at=refunded_at,
        cumulative=True,
        raw=dict(params),
    )
    _refund_hook(parsed, actor)
    return parsed
