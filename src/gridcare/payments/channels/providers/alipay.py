"""Alipay (支付宝开放平台) through python-alipay-sdk: the SDK builds and signs every request (RSA2 with the app's
private key) and verifies every answer (Alipay's public key); GridCare's own client (`providers.http`) POSTs
it to the configured `GATEWAY_URL`, since the SDK's own calls go to a gateway it hard-codes.

- 当面付 `alipay.trade.precreate` → a QR code (`qr_code`);
- 手机网站支付 `alipay.trade.wap.pay`, 电脑网站支付 `alipay.trade.page.pay` → the URL of Alipay's cashier, the
  signed parameters in its query string (the browser goes there; nothing is sent from here);
- `alipay.trade.query`, `alipay.trade.close` (ACQ.TRADE_NOT_EXIST counts as closed), `alipay.trade.refund`
  (idempotent by `out_request_no`), `alipay.data.dataservice.bill.downloadurl.query` then the file.

Amounts go as "12.30" yuan; times are Beijing wall time; `timeout_express`/`time_expire` carry the expiry.
"""

from __future__ import annotations

import io
import logging
import threading
import zipfile
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from gridcare.payments.channels import signatures
from gridcare.payments.choices import PaymentChannel

from . import http
from .base import (
    CLOSED,
    MISSING,
    PAGE,
    PAID,
    QR,
    WAITING,
    WAP,
    ChannelError,
    ChannelRefused,
    OrderRequest,
    Placement,
    Provider,
    RefundAnswer,
    Trade,
)

logger = logging.getLogger("gridcare.payments")
BEIJING = ZoneInfo("Asia/Shanghai")
SUCCESS_CODE = "10000"
NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
STATES = {
    "WAIT_BUYER_PAY": WAITING,
    "TRADE_SUCCESS": PAID,
    "TRADE_FINISHED": PAID,
    "TRADE_CLOSED": CLOSED,
}
_clients: dict[tuple, AliPay] = {}
_lock = threading.Lock()


def conf() -> dict:
    return settings.GRIDCARE["ALIPAY"]


def _pem_private(key: str) -> str:
    return (
        signatures.load_private_key(key)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode("ascii")
    )


def _pem_public(key: str) -> str:
    return (
        signatures.load_public_key(key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def client() -> AliPay:
    """The SDK client of the configured keys (one per key pair, built once)."""
    c = conf()
    key = (c.get("APP_ID"), c.get("PRIVATE_KEY"), c.get("PUBLIC_KEY"))
    with _lock:
        found = _clients.get(key)
        if found is None:
            try:
                found = AliPay(
                    appid=c["APP_ID"],
                    app_private_key_string=_pem_private(c["PRIVATE_KEY"]),
                    alipay_public_key_string=_pem_public(c["PUBLIC_KEY"]),
                    sign_type="RSA2",
                )
            except (signatures.SignatureError, ValueError) as exc:
                raise ChannelError(f"Alipay keys do not load: {exc}", channel="alipay") from exc
            if len(_clients) > 8:
                _clients.clear()
            _clients[key] = found
    return found


def yuan(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def _beijing(when: datetime) -> str:
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None


def _money(raw: object) -> Decimal | None:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


class AlipayProvider(Provider):
    channel = PaymentChannel.ALIPAY
    scenes = (QR, WAP, PAGE)

    def configured(self) -> bool:
        c = conf()
        return all(c.get(k) for k in ("APP_ID", "PRIVATE_KEY", "PUBLIC_KEY", "GATEWAY_URL"))

    # -- the wire

    def _body(self, method: str, biz: dict, **extra: str) -> dict:
        sdk = client()
        # The SDK stamps the machine's local time; Alipay reads Beijing time.
        return sdk.build_body(method, biz, timestamp=_beijing(datetime.now(BEIJING)), **extra)

    def _call(self, method: str, biz: dict, **extra: str) -> dict:
        """POST a signed request; the verified response object (code 10000), or ChannelRefused/ChannelError."""
        sdk = client()
        signed = sdk.sign_data(self._body(method, biz, **extra))
        answer = http.call(
            "POST",
            conf()["GATEWAY_URL"],
            channel=self.channel,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
            data=signed.encode("utf-8"),
        )
        if answer.status != 200:
            raise ChannelError(f"{method}: HTTP {answer.status}", channel=self.channel)
        response_type = method.replace(".", "_") + "_response"
        try:
            result = sdk._verify_and_return_sync_response(answer.text, response_type)
        except AliPayValidationError as exc:
            raise ChannelError(
                f"{method}: the answer's signature does not verify", channel=self.channel
            ) from exc
        except AliPayException as exc:
            # No signature or an error_response: a gateway-level refusal (our keys, our app id, a bad request).
            raise ChannelError(
                f"{method}: refused by the gateway: {str(exc)[:300]}", channel=self.channel
            ) from exc
        except (ValueError, AttributeError, KeyError, TypeError) as exc:  # not JSON, or not Alipay's shape
            raise ChannelError(
                f"{method}: unreadable answer: {answer.text[:120]!r}", channel=self.channel
            ) from exc
        if not isinstance(result, dict):
            raise ChannelError(f"{method}: unreadable answer", channel=self.channel)
        if str(result.get("code")) != SUCCESS_CODE:
            raise ChannelRefused(
                str(result.get("sub_code") or result.get("code") or "?"),
                str(result.get("sub_msg") or result.get("msg") or ""),
                channel=self.channel,
            )
        return result

    # -- the five calls

    def place(self, req: OrderRequest) -> Placement:
        biz = {
            "out_trade_no": req.order_no,
            "total_amount": yuan(req.amount),
            "subject": req.subject,
            "time_expire": _beijing(req.expires_at),
        }
        if req.scene == QR:
            result = self._call("alipay.trade.precreate", biz, notify_url=req.notify_url)
            qr = result.get("qr_code")
            if not isinstance(qr, str) or not qr:
                raise ChannelError("precreate: no qr_code in the answer", channel=self.channel)
            return Placement(QR, url=qr)
        if req.scene in (WAP, PAGE):
            method = "alipay.trade.wap.pay" if req.scene == WAP else "alipay.trade.page.pay"
            biz["product_code"] = "QUICK_WAP_WAY" if req.scene == WAP else "FAST_INSTANT_TRADE_PAY"
            extra = {"notify_url": req.notify_url}
            if req.return_url:
                extra["return_url"] = req.return_url
            signed = client().sign_data(self._body(method, biz, **extra))
            return Placement(req.scene, url=f"{conf()['GATEWAY_URL']}?{signed}")
        raise ValueError(f"Alipay has no scene {req.scene!r}")

    def query(self, order_no: str) -> Trade:
        try:
            r = self._call("alipay.trade.query", {"out_trade_no": order_no})
        except ChannelRefused as exc:
            if exc.code == NOT_EXIST:
                return Trade(order_no, MISSING, raw_state=NOT_EXIST)
            raise
        raw = str(r.get("trade_status") or "")
        if raw not in STATES:
            raise ChannelError(f"query: unknown trade_status {raw[:30]!r}", channel=self.channel)
        if r.get("out_trade_no") not in (None, order_no):
            raise ChannelError("query: the answer names another order", channel=self.channel)
        return Trade(
            order_no,
            STATES[raw],
            txn_id=str(r.get("trade_no") or ""),
            amount=_money(r.get("total_amount")),
            paid_at=_time(r.get("send_pay_date")),
            raw_state=raw,
        )

    def close(self, order_no: str) -> None:
        try:
            self._call("alipay.trade.close", {"out_trade_no": order_no})
        except ChannelRefused as exc:
            if exc.code != NOT_EXIST:  # never opened by the payer: nothing to close, it counts as closed
                raise

    def refund(self, *, order_no, txn_id, refund_no, amount, total, reason, notify_url) -> RefundAnswer:
        biz = {
            "out_trade_no": order_no,
            "refund_amount": yuan(amount),
            "out_request_no": refund_no,
            "refund_reason": reason[:256],
        }
        if txn_id:
            biz["trade_no"] = txn_id
        r = self._call("alipay.trade.refund", biz)
        # Alipay answers synchronously: fund_change Y on the first success, N on an idempotent repeat; either
        # way the refund is done, and refund_fee is the trade's refunded total so far.
        return RefundAnswer(
            refund_no,
            done=True,
            channel_refund_id=str(r.get("trade_no") or txn_id),
            refunded_total=_money(r.get("refund_fee")),
            finished_at=_time(r.get("gmt_refund_pay")),
        )

    def statement(self, day: date) -> bytes:
        r = self._call(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": day.isoformat()},
        )
        url = r.get("bill_download_url")
        if not isinstance(url, str) or not url:
            raise ChannelError("bill download: no bill_download_url", channel=self.channel)
        answer = http.call("GET", url, channel=self.channel)
        if answer.status != 200:
            raise ChannelError(f"bill download: HTTP {answer.status}", channel=self.channel)
        return unzip_bill(answer.body)


def unzip_bill(body: bytes) -> bytes:
    """Alipay serves its bill as a zip of CSV files (业务明细 and 业务明细(汇总)); the detail file is the
    statement. A plain CSV (the simulator's) passes through."""
    if not body.startswith(b"PK"):
        return body
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            names = [n for n in z.namelist() if n.lower().endswith(".csv")]
            detail = [n for n in names if "汇总" not in _zip_name(n)] or names
            if not detail:
                raise ChannelError("bill download: the zip holds no CSV", channel="alipay")
            return z.read(detail[0])
    except zipfile.BadZipFile as exc:
        raise ChannelError("bill download: a broken zip", channel="alipay") from exc


def _zip_name(name: str) -> str:
    # Zip names from Chinese tools are GBK bytes read as cp437.
    try:
        return name.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name
