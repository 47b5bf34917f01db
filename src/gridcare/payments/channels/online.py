"""Orders with the real channels (issue 13): place them, settle them from queries, close them when they expire,
and never drop a payment.

- `place` opens an order (`gateways.order_create`) and asks the channel for how to pay it (`providers`):
  a QR code (Alipay 当面付 precreate, WeChat Native), a cashier URL (Alipay wap/page pay, WeChat H5), or the
  signed `wx.requestPayment` parameters (WeChat JSAPI, with the payer's openid). Each order carries the notify
  URL, an expiry (`PAY.ORDER_MINUTES`, default 15) and the amount in the channel's format, up to
  `PAY.ORDER_MAX` per order. The bills it names are for display: payments allocate oldest debt first.
  A channel that is down or answers garbage leaves the order payable (`place_again` retries the same order
  number, which the channels accept as the same trade) and the payer is told to try again; a channel's
  business refusal closes the order with its reason.
- `gateways.settle_paid` is what every "paid" from a channel goes through (notifications and query answers): the one
  write `gateways.notify_paid`, and when that refuses because the order was closed or the amount is not the
  order's, the payment is recorded anyway and a reconciliation exception is raised for staff to refund or keep
  (`ReconKind.PAID_CLOSED`, `AMOUNT_DIFFERS`, source notification or query). A notification and a query answer
  for one trade settle it once (the transaction id is unique per channel).
- `sweep` is the scheduled job (every minute): orders neither paid nor notified `PAY.QUERY_AFTER_MINUTES`
  (5) after they were placed are queried and settled from the answer; expired ones are closed with the channel
  first ("trade does not exist" counts as closed) and only then marked closed here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.customers.models import Account
from gridcare.payments.choices import ExceptionStatus, OrderStatus, PaymentChannel
from gridcare.payments.ledger.services import clean_amount
from gridcare.payments.models import PaymentOrder, ReconciliationException

from . import gateways, providers
from .providers import base

logger = logging.getLogger("gridcare.payments")
REAL_CHANNELS = gateways.REAL_CHANNELS
NOTIFY_PATHS = {
    PaymentChannel.ALIPAY: "/api/v1/pay/alipay/notify",
    PaymentChannel.WECHAT: "/api/v1/pay/wechat/notify",
}
SYSTEM = Actor(user=None, channel=Channel.SYSTEM, ip=None)


def pay_conf() -> dict[str, Any]:
    return settings.GRIDCARE.get("PAY", {})


def order_minutes() -> int:
    return max(1, int(pay_conf().get("ORDER_MINUTES") or 15))


def order_max() -> Decimal:
    return clean_amount(pay_conf().get("ORDER_MAX") or "50000.00", "ORDER_MAX")


def enabled(channel: str) -> bool:
    """The channel is configured (keys, ids, gateway): orders can be placed with it."""
    p = providers.get(channel)
    return p is not None and p.configured()


def scenes(channel: str) -> tuple[str, ...]:
    p = providers.get(channel)
    return p.scenes if p is not None and p.configured() else ()


def notify_url(channel: str, origin: str = "") -> str:
    """Where the channel calls back: `PAY.NOTIFY_BASE_URL` (the public https origin) + the channel's path; the
    request's own origin when that is blank (a development machine, the simulator)."""
    base_url = (pay_conf().get("NOTIFY_BASE_URL") or origin or "").rstrip("/")
    if not base_url:
        raise ValidationError({"channel": [_("未配置支付结果通知地址（GRIDCARE_PAY_NOTIFY_BASE_URL）")]})
    return base_url + NOTIFY_PATHS[channel]


@dataclass
class Placed:
    order: PaymentOrder
    placement: base.Placement | None  # None: the channel could not be reached; the order stays payable
    error: str = ""  # what the payer is told when there is no placement


def _subject(account: Account, bill_periods: list[str]) -> str:
    text = _("电费 户号%(n)s") % {"n": account.account_number}
    if bill_periods:
        text += " " + "、".join(bill_periods[:6])
    return text[:128]


def place(
    *,
    actor: Actor,
    account: Account,
    amount: Any,
    channel: str,
    scene: str,
    origin: str = "",
    return_url: str = "",
    openid: str = "",
    client_ip: str = "",
    public_token_hash: str | None = None,
    wallet: str = "",
    bill_ids: list[int] | None = None,
    bill_periods: list[str] | None = None,
) -> Placed:
    """Open an order of `amount` on `account` with `channel` for `scene` and ask the channel how to pay it.

    Refused (ValidationError, nothing written): a channel that is not configured or has no such scene, an
    amount that is not a positive amount of yuan or is above `PAY.ORDER_MAX`, JSAPI without an openid."""
    provider = providers.get(channel)
    errs: dict[str, list[str]] = {}
    if provider is None or channel not in REAL_CHANNELS:
        errs["channel"] = [_("在线支付渠道只能是支付宝或微信支付")]
    elif not provider.configured():
        errs["channel"] = [_("%(c)s 暂未开通") % {"c": PaymentChannel(channel).label}]
    elif scene not in provider.scenes:
        errs["scene"] = [
            _("%(c)s 不支持该支付方式：%(s)s") % {"c": PaymentChannel(channel).label, "s": scene[:8]}
        ]
    if scene == base.JSAPI and not openid:
        errs["openid"] = [_("公众号支付需要先获取微信用户标识（openid）")]
    try:
        value = clean_amount(amount)
        if value > order_max():
            errs["amount"] = [_("单笔在线支付不能超过 %(m)s 元") % {"m": order_max()}]
    except ValidationError as exc:
        errs.update(exc.message_dict)
    if errs:
        raise ValidationError(errs)
    url = notify_url(channel, origin)
    now = timezone.now()
    order = gateways.order_create(
        actor=actor,
        account=account,
        amount=value,
        channel=channel,
        public_token_hash=public_token_hash,
        expires_at=now + timedelta(minutes=order_minutes()),
        wallet=wallet,
    )
    PaymentOrder.objects.filter(pk=order.pk).update(
        expires_at=order.created_at + timedelta(minutes=order_minutes()),  # exactly the minutes from creation
        scene=scene,
        openid=openid[:64],
        subject=_subject(account, bill_periods or []),
        bill_ids=list(bill_ids or []),
    )
    order.refresh_from_db()
    return _ask(order, notify=url, return_url=return_url, client_ip=client_ip)


def place_again(
    order: PaymentOrder, *, origin: str = "", return_url: str = "", client_ip: str = ""
) -> Placed:
    """Ask the channel again for an order still waiting (the first attempt found it down, or a JSAPI page needs
    fresh parameters). The same order number: the channels treat it as the same trade."""
    if order.status != OrderStatus.CREATED:
        raise ValidationError({"order_no": [_("订单 %(o)s 已支付或已关闭") % {"o": order.order_no}]})
    if order.expires_at is not None and order.expires_at <= timezone.now():
        raise ValidationError({"order_no": [_("订单已过期，请重新下单")]})
    return _ask(order, notify=notify_url(order.channel, origin), return_url=return_url, client_ip=client_ip)


def _ask(order: PaymentOrder, *, notify: str, return_url: str, client_ip: str) -> Placed:
    provider = providers.get(order.channel)
    assert provider is not None
    req = base.OrderRequest(
        order_no=order.order_no,
        amount=order.amount,
        subject=order.subject or _("电费"),
        notify_url=notify,
        expires_at=order.expires_at or (order.created_at + timedelta(minutes=order_minutes())),
        scene=order.scene,
        return_url=return_url.replace("{order_no}", order.order_no),  # the payer's way back names the order
        openid=order.openid,
        client_ip=client_ip,
    )
    try:
        placement = provider.place(req)
    except base.ChannelError as exc:
        logger.warning(
            "order %s: %s channel unreachable when placing: %s", order.order_no, order.channel, exc.detail
        )
        return Placed(order, None, exc.user_message)
    except base.ChannelRefused as exc:
        logger.warning("order %s: %s refused the order: %s", order.order_no, order.channel, exc)
        _close_here(order, SYSTEM, reason=f"refused:{exc.code}"[:24])
        order.refresh_from_db()
        return Placed(order, None, _("支付渠道拒绝了该订单：%(m)s") % {"m": exc.message or exc.code})
    PaymentOrder.objects.filter(pk=order.pk).update(pay_url=placement.url, prepay_id=placement.prepay_id)
    order.pay_url, order.prepay_id = placement.url, placement.prepay_id
    return Placed(order, placement)


# ---------------------------------------------------------------- settling


def _close_here(order: PaymentOrder, actor: Actor, *, reason: str) -> bool:
    """Mark a waiting order closed (after the channel closed it, or refused it). False: it was not waiting."""
    with transaction.atomic():
        now = timezone.now()
        n = PaymentOrder.objects.filter(pk=order.pk, status=OrderStatus.CREATED).update(
            status=OrderStatus.CLOSED, closed_at=now, channel_state=reason[:24]
        )
        if n:
            audit_record(
                actor=actor,
                action="payment_order.close",
                obj=order,
                customer_id=order.account.customer_id,
                unit_id=order.account.unit_id,
                changes={"status": [OrderStatus.CREATED, OrderStatus.CLOSED], "reason": reason},
            )
        return bool(n)


@dataclass
class SweepResult:
    queried: int = 0
    paid: int = 0
    closed: int = 0
    errors: int = 0
    exceptions: int = 0
    notes: list[str] = field(default_factory=list)


def settle_order(
    order: PaymentOrder, *, now: datetime | None = None, result: SweepResult | None = None
) -> str:
    """Query one waiting order and act on the answer: paid → settle; closed by the channel → closed here;
    expired and not paid → close with the channel, then here. Returns what happened (paid, closed, waiting,
    error)."""
    now = now or timezone.now()
    result = result or SweepResult()
    provider = providers.get(order.channel)
    if provider is None or not provider.configured():
        return "waiting"
    result.queried += 1
    try:
        trade = provider.query(order.order_no)
    except (base.ChannelError, base.ChannelRefused) as exc:
        result.errors += 1
        result.notes.append(f"{order.order_no}: {exc}")
        PaymentOrder.objects.filter(pk=order.pk).update(queried_at=now, query_count=order.query_count + 1)
        return "error"
    PaymentOrder.objects.filter(pk=order.pk).update(
        queried_at=now, query_count=order.query_count + 1, channel_state=trade.raw_state[:24]
    )
    if trade.state == base.PAID:
        if not trade.txn_id or trade.amount is None:
            result.errors += 1
            result.notes.append(f"{order.order_no}: paid without a transaction id or amount")
            return "error"
        try:
            rec = gateways.settle_paid(
                channel=order.channel,
                order_no=order.order_no,
                txn_id=trade.txn_id,
                amount=trade.amount,
                paid_at=trade.paid_at,
                actor=SYSTEM,
                source="query",
            )
        except ValidationError as exc:
            result.errors += 1
            result.notes.append(f"{order.order_no}: {'; '.join(exc.messages)}")
            return "error"
        if rec.created:
            result.paid += 1
        return "paid"
    expired = order.expires_at is not None and order.expires_at <= now
    if trade.state == base.CLOSED:
        if _close_here(order, SYSTEM, reason=trade.raw_state or "CLOSED"):
            result.closed += 1
        return "closed"
    if not expired:
        return "waiting"
    try:
        provider.close(order.order_no)
    except base.ChannelRefused as exc:
        # Paid between the query and the close (Alipay ACQ.TRADE_STATUS_ERROR, WeChat ORDERPAID): the next
        # query settles it.
        result.notes.append(f"{order.order_no}: close refused: {exc.code}")
        return "waiting"
    except base.ChannelError as exc:
        result.errors += 1
        result.notes.append(f"{order.order_no}: close: {exc.detail}")
        return "error"
    if _close_here(order, SYSTEM, reason="expired"):
        result.closed += 1
    return "closed"


def due_orders(now: datetime, limit: int):
    """Waiting orders with a real channel placed at least `QUERY_AFTER_MINUTES` ago, or expired: oldest first."""
    after = timedelta(minutes=max(0, int(pay_conf().get("QUERY_AFTER_MINUTES") or 5)))
    return (
        PaymentOrder.objects.select_related("account")
        .filter(status=OrderStatus.CREATED, channel__in=REAL_CHANNELS)
        .exclude(scene="")
        .filter(created_at__lte=now - after)
        .order_by("created_at")[:limit]
    )


def sweep(*, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """The scheduled job: settle or close every due order (see the module docstring)."""
    now = now or timezone.now()
    result = SweepResult()
    for order in list(due_orders(now, limit)):
        settle_order(order, now=now, result=result)
    result.exceptions = ReconciliationException.objects.filter(
        statement__isnull=True, status=ExceptionStatus.OPEN
    ).count()
    return result


def settle_if_due(order: PaymentOrder, *, min_seconds: int = 3) -> PaymentOrder:
    """A payer back from the channel's cashier, or a page following an order: ask the channel rather than wait
    for its notification (at most every `min_seconds` per order). Returns the order as it is now."""
    if order.status != OrderStatus.CREATED or order.channel not in REAL_CHANNELS or not order.scene:
        return order
    now = timezone.now()
    if order.queried_at is not None and (now - order.queried_at).total_seconds() < min_seconds:
        return order
    settle_order(order, now=now)
    order.refresh_from_db()
    return order


def receipt_url(order: PaymentOrder) -> str:
    return reverse("payments_portal:receipt", args=[order.order_no])
