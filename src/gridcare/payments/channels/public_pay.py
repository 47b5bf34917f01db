"""Query and pay by 户号 without logging in, as 95598 and Alipay 生活缴费 do (issue 10 §2; seed 001:
"输入电表客户ID … 输入支付金额，完成支付").

What anyone who knows a 户号 sees, besides the public query's masked name, masked address and supply unit
(`customers.public`, same rate limit, one answer for unknown, malformed, closed and name mismatch):
- what paying today settles in full: the outstanding principal and the late fee, from the account statement
  (`selectors.statement`, the figures the counter and the portal show; no late-fee arithmetic here);
- the months (账期) still unpaid;
- for a prepaid account (智能交费), the estimated remaining balance (`prepaid.prepaid_estimate_live`,
  估算剩余余额), else nothing.

Paying (`public_order_create`), through the payment sandbox that stands in for Alipay and WeChat Pay:
- the amount is 0.01 up to the amount due plus a margin (`GRIDCARE["PUBLIC_PAY_MARGIN"]`, 1,000.00); a
  prepaid account may top up to a cap (`PUBLIC_PREPAID_CAP`, 5,000.00) — the larger of the two limits, so
  a prepaid account can always settle what it owes. No re-authentication: nobody is logged in, the cap is
  the safeguard;
- the channel is the wallet the payer picks (alipay, wechat; portal for no preference). While the sandbox
  stands in for the wallets the order is on channel portal, the one the sandbox's signed notification pays
  (so no sandbox payment pretends to be an Alipay one in reconciliation); the wallet is kept on the order;
- each order gets a secret of 256 bits. The pay link (the sandbox page) and the receipt link carry it; only
  its SHA-256 is stored, so the links cannot be guessed or rebuilt from the database. The gateway takes
  payment for `PUBLIC_ORDER_MINUTES` (30) minutes;
- rate-limited per client with the query's limits (bucket "public_order"); an unknown, malformed or closed
  户号 gets one message on `account_number`. Every order is audited (`payment_order.create`).

The receipt shows only masked fields, the amount, time, channel, order and transaction numbers and the
bills the payment settled; "支付处理中" until the channel's notification has paid the order.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core import ratelimit
from gridcare.core.audit import Actor
from gridcare.core.masking import mask_address, mask_customer_name
from gridcare.core.validators import ACCOUNT_NUMBER_RE
from gridcare.customers.choices import AccountStatus
from gridcare.customers.models import Account
from gridcare.customers.public import PublicQueryResult, public_query
from gridcare.payments.choices import PaymentChannel
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.ledger.services import CENT, ZERO, clean_amount
from gridcare.payments.ledger.statement import StatementLine
from gridcare.payments.models import Allocation, PaymentOrder, Receivable
from gridcare.payments.prepaid import services as prepaid

from . import gateways, online

DEFAULT_MARGIN = Decimal("1000.00")
DEFAULT_PREPAID_CAP = Decimal("5000.00")
DEFAULT_ORDER_MINUTES = 30
TOKEN_BYTES = 32  # 256 bits
# What the payer may pick; all are paid through the sandbox (channel portal) until the real wallets come.
WALLETS = (PaymentChannel.ALIPAY, PaymentChannel.WECHAT, PaymentChannel.PORTAL)
PAID, PENDING, EXPIRED, CLOSED = "paid", "pending", "expired", "closed"


def today() -> date:
    """The day the amounts are computed for (tests replace it to pin the clock)."""
    return timezone.localdate()


def conf_money(key: str, default: Decimal) -> Decimal:
    """An amount from settings.GRIDCARE[key] (blank or missing: `default`); also the counter's margin."""
    raw = settings.GRIDCARE.get(key)
    return default if raw in (None, "") else clean_amount(raw, key, allow_zero=True)


def pay_margin() -> Decimal:
    return conf_money("PUBLIC_PAY_MARGIN", DEFAULT_MARGIN)


def prepaid_cap() -> Decimal:
    return conf_money("PUBLIC_PREPAID_CAP", DEFAULT_PREPAID_CAP)


def online_pay_open(wallet: str = "") -> bool:
    """Whether a payer can pay online now (through `wallet`, or any): a real channel configured here (Alipay,
    WeChat Pay), or the sandbox gateway standing in for every wallet."""
    if gateways.sandbox_enabled():
        return True
    wallets = [wallet] if wallet in online.REAL_CHANNELS else ([] if wallet else list(online.REAL_CHANNELS))
    return any(online.enabled(w) for w in wallets)


def order_minutes() -> int:
    return int(settings.GRIDCARE.get("PUBLIC_ORDER_MINUTES") or DEFAULT_ORDER_MINUTES)


# ---------------------------------------------------------------- what is owed


@dataclass(frozen=True)
class Dues:
    """What an account owes as of a day, as the public query shows it."""

    as_of: date
    principal_due: Decimal
    late_fee: Decimal
    lines: tuple[StatementLine, ...]  # the open bills, oldest first
    prepaid_balance: Decimal | None  # estimated remaining balance; None when not a prepaid account

    @property
    def amount_due(self) -> Decimal:
        return self.principal_due + self.late_fee

    @property
    def unpaid_periods(self) -> list[str]:
        return sorted({ln.period for ln in self.lines if ln.total > 0})

    @property
    def pay_limit(self) -> Decimal:
        """The most one payment may be: the amount due plus the margin; for a prepaid account at least the cap."""
        limit = self.amount_due + pay_margin()
        if self.prepaid_balance is not None:
            limit = max(limit, prepaid_cap())
        return limit


def _dues(prepaid_account: Account | None, receivables: list[Receivable], as_of: date) -> Dues:
    """`prepaid_account`: the account when it is enrolled in prepaid (its estimate is read), else None."""
    lines = [selectors.statement_line(r, as_of) for r in receivables]
    estimate = (
        prepaid.prepaid_estimate_live(prepaid_account, today=as_of) if prepaid_account is not None else None
    )
    return Dues(
        as_of=as_of,
        principal_due=sum((ln.principal_outstanding for ln in lines), ZERO).quantize(CENT),
        late_fee=sum((ln.late_fee for ln in lines), ZERO).quantize(CENT),
        lines=tuple(lines),
        prepaid_balance=estimate.remaining.quantize(CENT) if estimate is not None else None,
    )


def account_dues(account: Account, as_of: date) -> Dues:
    """Amounts due of `account` as of `as_of`: one query for the open bills and the prepaid flag, a second one
    for the prepaid estimate of an enrolled account only."""
    receivables, enrolled = selectors.open_receivables_and_prepaid(account.pk)
    return _dues(account if enrolled else None, receivables, as_of)


def dues_payload(d: Dues) -> dict[str, Any]:
    """The API's money fields: strings with two decimals."""
    return {
        "amount_due": f"{d.amount_due:.2f}",
        "principal_due": f"{d.principal_due:.2f}",
        "late_fee": f"{d.late_fee:.2f}",
        "unpaid_periods": d.unpaid_periods,
        "prepaid_balance": None if d.prepaid_balance is None else f"{d.prepaid_balance:.2f}",
    }


@dataclass(frozen=True)
class PublicAccount:
    status: int  # 200 found, 404 not found (one answer for every miss), 429 rate-limited
    payload: dict
    dues: Dues | None = None


def public_account_query(
    *, client_key: str, account_number: str, name: str | None = None, as_of: date | None = None
) -> PublicAccount:
    """The public 户号 query (rate limit and masking of `customers.public`) with what is owed as of `as_of`."""
    result: PublicQueryResult = public_query(
        client_key=client_key,
        account_number=account_number,
        name=name,
        lookup=selectors.public_account_with_dues,  # the account and its open bills: one round trip
    )
    if result.status != 200:
        return PublicAccount(result.status, result.payload)
    receivables, enrolled = result.extra
    # Only the id and number are needed for the prepaid estimate (no second fetch of the account row), and only
    # for an enrolled account: no model instance otherwise (its __init__ is a measurable part of a lookup).
    account = (
        Account(pk=result.account_id, account_number=result.payload["account_number"]) if enrolled else None
    )
    dues = _dues(account, receivables, as_of or today())
    return PublicAccount(200, {**result.payload, **dues_payload(dues)}, dues)


def _active_account(account_number: Any) -> Account | None:
    number = account_number.strip() if isinstance(account_number, str) else ""
    if not ACCOUNT_NUMBER_RE.fullmatch(number):
        return None
    return (
        Account.objects.select_related("customer", "premise", "unit")
        .filter(account_number=number, status=AccountStatus.ACTIVE)
        .first()
    )


def masked_account(account: Account) -> dict[str, str]:
    return {
        "account_number": account.account_number,
        "name": mask_customer_name(account.customer.name, account.customer.kind),
        "address": mask_address(account.premise.address),
        "supply_unit": account.unit.name,
    }


def public_account_view(account_number: str, as_of: date | None = None) -> PublicAccount | None:
    """The query's answer for an active 户号, without counting a query: for the pay form shown again after
    an order was refused (the order request itself was counted). None when there is no such account."""
    account = _active_account(account_number)
    if account is None:
        return None
    dues = account_dues(account, as_of or today())
    return PublicAccount(200, {"found": True, **masked_account(account), **dues_payload(dues)}, dues)


# ---------------------------------------------------------------- paying


class RateLimited(Exception):
    """Too many orders from one client in the window."""


@dataclass(frozen=True)
class PublicOrder:
    order: PaymentOrder
    token: str  # the secret of the pay and receipt links; shown once, never stored
    # With a real channel configured for the wallet (issue 13): how to pay it (QR, or the cashier URL), or
    # None with `error` when the channel could not be reached (the order stays payable). None: the sandbox.
    placed: Any = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def unknown_account_message() -> str:
    return _("未查询到该户号，请核对后重试")


def public_order_create(
    *,
    actor: Actor,
    client_key: str,
    account_number: Any,
    amount: Any,
    channel: Any,
    as_of: date | None = None,
    now: datetime | None = None,
    scene: str = "qr",
    origin: str = "",
    return_url: str = "",
    client_ip: str = "",
) -> PublicOrder:
    """An order to pay `amount` on the 户号 through the wallet `channel`, by anyone, without logging in.

    Raises RateLimited, or ValidationError naming each bad field (nothing written): `account_number` (one
    message for unknown, malformed and closed), `amount` (not 0.01 … the limit, more than two decimals),
    `channel` (not a wallet, or online payment not open)."""
    conf = settings.GRIDCARE
    if not ratelimit.hit(
        "public_order", client_key, conf["PUBLIC_QUERY_RATE"], conf["PUBLIC_QUERY_WINDOW_SECONDS"]
    ):
        raise RateLimited(_("操作过于频繁，请稍后再试"))
    errs: dict[str, list[str]] = {}
    account = _active_account(account_number)
    if account is None:
        errs["account_number"] = [unknown_account_message()]
    wallet = channel.strip() if isinstance(channel, str) else ""
    if wallet not in WALLETS:
        errs["channel"] = [_("支付渠道只能是 alipay（支付宝）、wechat（微信支付）或 portal（网上缴费）")]
    elif not online_pay_open(wallet):
        errs["channel"] = [_("在线支付暂未开通，请到营业厅或通过其他渠道缴费")]
    try:
        # A JSON number arrives as a float: read its shortest repr ("96.1"), never its binary value.
        value = clean_amount(repr(amount) if isinstance(amount, float) else amount)
    except ValidationError as exc:
        errs.update(exc.message_dict)
    else:
        if account is not None:
            limit = account_dues(account, as_of or today()).pay_limit
            if value > limit:
                errs["amount"] = [_("本次最多可缴 %(m)s 元") % {"m": f"{limit:,.2f}"}]
    if errs:
        raise ValidationError(errs)
    now = (now or timezone.now()).replace(microsecond=0)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    if wallet in online.REAL_CHANNELS and online.enabled(wallet):
        # The real channel (issue 13): a QR code on the page, or its cashier on a phone; its expiry rules.
        placed = online.place(
            actor=actor,
            account=account,
            amount=value,
            channel=wallet,
            scene=scene if scene in online.scenes(wallet) else "qr",
            origin=origin,
            return_url=return_url.replace("{token}", token),
            client_ip=client_ip,
            public_token_hash=token_hash(token),
            wallet=wallet,
        )
        return PublicOrder(placed.order, token, placed)
    order = gateways.order_create(
        actor=actor,
        account=account,
        amount=value,
        channel=PaymentChannel.PORTAL,
        public_token_hash=token_hash(token),
        expires_at=now + timedelta(minutes=order_minutes()),
        wallet=wallet,
    )
    return PublicOrder(order, token)


# ---------------------------------------------------------------- the links


def order_by_token(token: str) -> PaymentOrder | None:
    """The public order a link's secret opens, or None (nothing tells a wrong secret from a missing one)."""
    token = (token or "").strip()
    if not token or len(token) > 128:
        return None
    return (
        PaymentOrder.objects.select_related(
            "account__customer", "account__premise", "account__unit", "payment"
        )
        .prefetch_related(
            Prefetch(
                "payment__allocations",
                queryset=Allocation.objects.select_related("receivable").order_by("id"),
            )
        )
        .filter(public_token_hash=token_hash(token))
        .first()
    )


def order_state(order: PaymentOrder, now: datetime | None = None) -> str:
    """paid; pending (waiting for the payer or the channel's notification); expired; closed."""
    if order.status == gateways.ORDER_PAID:
        return PAID
    if order.status != gateways.ORDER_CREATED:
        return CLOSED
    if order.expires_at is not None and (now or timezone.now()) >= order.expires_at:
        return EXPIRED
    return PENDING


def wallet_label(order: PaymentOrder) -> str:
    label = PaymentChannel(order.wallet).label if order.wallet in WALLETS else order.get_channel_display()
    return _("%(w)s（模拟支付网关）") % {"w": label} if order.channel == PaymentChannel.PORTAL else str(label)


def receipt(order: PaymentOrder, now: datetime | None = None) -> dict[str, Any]:
    """What the receipt page shows: masked fields, amount, time, channel, numbers and the bills settled."""
    state = order_state(order, now)
    payment = order.payment if state == PAID else None
    return {
        "state": state,
        "acct": masked_account(order.account),
        "order_no": order.order_no,
        "amount": order.amount,
        "channel": wallet_label(order),
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "paid_at": payment.paid_at if payment else None,
        "txn_id": payment.channel_txn_id if payment else "",
        "allocations": [
            {"period": a.receivable.period, "late_fee": a.late_fee, "principal": a.principal}
            for a in payment.allocations.all()
        ]
        if payment
        else [],
        "credit": payment.unallocated if payment else ZERO,
    }
