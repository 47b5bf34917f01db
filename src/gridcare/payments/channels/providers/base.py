"""The adapter every online payment channel implements (Alipay, WeChat Pay; a bank or another wallet plugs in
the same way): place an order, query it, close it, refund it, fetch a day's statement.

The services (`payments.channels.online`) speak only this interface; each adapter signs and verifies with its
channel's own scheme and makes its HTTP calls to the configured base URL (`providers.http`). Every answer is
verified before it is read. Nothing here touches the database.

Amounts cross this interface as `Decimal` yuan; each adapter converts to its channel's format (Alipay "12.30",
WeChat integer fen).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext_lazy as _l

# Scenes (how the payer pays): what `place` is asked for.
QR = "qr"  # Alipay 当面付 precreate, WeChat Native: a QR code the payer scans (counter display, terminal, page)
WAP = "wap"  # Alipay 手机网站支付: the phone's browser goes to Alipay's cashier
PAGE = "page"  # Alipay 电脑网站支付: the computer's browser goes to Alipay's cashier
H5 = "h5"  # WeChat H5: a phone browser outside WeChat goes to WeChat's cashier
JSAPI = "jsapi"  # WeChat JSAPI: inside WeChat (公众号), wx.requestPayment with the payer's openid
SCENES = (QR, WAP, PAGE, H5, JSAPI)
SCENE_LABELS = {
    QR: _l("扫码支付"),
    WAP: _l("手机网站支付"),
    PAGE: _l("电脑网站支付"),
    H5: _l("H5 支付"),
    JSAPI: _l("公众号支付"),
}

# Trade states, the channel's own words mapped to ours.
PAID, WAITING, CLOSED, MISSING = "paid", "waiting", "closed", "missing"


class ChannelError(Exception):
    """The channel could not be reached, or answered something we cannot trust or read (down, a timeout, a
    bad signature, garbage). Nothing about the trade is known: the order stays as it was and the payer is asked
    to try again. `detail` is for the log, never shown to a customer."""

    def __init__(self, detail: str, *, channel: str = ""):
        super().__init__(detail)
        self.detail, self.channel = detail, channel

    @property
    def user_message(self) -> str:
        return str(_l("支付渠道暂时无法连接，请稍后重试"))


class ChannelRefused(Exception):
    """The channel answered, verified, and said no (a business error: amount above the limit, refund above
    what was paid, trade in a state that forbids it). `code` is the channel's (ACQ.TRADE_NOT_EXIST,
    ORDER_NOT_EXIST, NOT_ENOUGH, …), `message` its text."""

    def __init__(self, code: str, message: str = "", *, channel: str = ""):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.channel = code, message, channel


@dataclass(frozen=True)
class OrderRequest:
    """What a channel needs to open a trade for one of our orders."""

    order_no: str
    amount: Decimal
    subject: str
    notify_url: str
    expires_at: datetime
    scene: str
    return_url: str = ""
    openid: str = ""  # JSAPI
    client_ip: str = ""  # H5 (WeChat asks for the payer's address)


@dataclass(frozen=True)
class Placement:
    """How the payer pays: `url` is the QR code's content (QR), or where to send the browser (WAP, PAGE, H5);
    JSAPI has `jsapi` (the wx.requestPayment parameters, signed) and `prepay_id`."""

    scene: str
    url: str = ""
    prepay_id: str = ""
    jsapi: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Trade:
    """A trade as the channel reports it (query answers and notifications alike)."""

    order_no: str
    state: str  # PAID, WAITING, CLOSED, MISSING
    txn_id: str = ""
    amount: Decimal | None = None
    paid_at: datetime | None = None
    refunded: Decimal = Decimal("0.00")  # the total refunded on the trade so far, when the channel says
    raw_state: str = ""


@dataclass(frozen=True)
class RefundAnswer:
    """The channel's answer to a refund: `done` when the money has left (Alipay answers at once), else it is
    processing and a notification (WeChat REFUND.SUCCESS) or a query will say."""

    refund_no: str
    done: bool
    channel_refund_id: str = ""
    refunded_total: Decimal | None = None
    finished_at: datetime | None = None


class Provider(ABC):
    """One channel (an abstract interface). Subclasses set `channel` and `scenes` and implement every call:
    Python refuses to instantiate one that leaves any out."""

    channel: str = ""
    scenes: tuple[str, ...] = ()

    @abstractmethod
    def configured(self) -> bool: ...

    @abstractmethod
    def place(self, req: OrderRequest) -> Placement: ...

    @abstractmethod
    def query(self, order_no: str) -> Trade: ...

    @abstractmethod
    def close(self, order_no: str) -> None:
        """Close an unpaid trade; a trade the channel does not know counts as closed. Raises ChannelRefused
        when the trade is paid (query it and settle)."""
        ...

    @abstractmethod
    def refund(
        self,
        *,
        order_no: str,
        txn_id: str,
        refund_no: str,
        amount: Decimal,
        total: Decimal,
        reason: str,
        notify_url: str,
    ) -> RefundAnswer: ...

    @abstractmethod
    def statement(self, day: date) -> bytes:
        """The day's statement file as the channel serves it (CSV bytes, decompressed)."""
        ...
