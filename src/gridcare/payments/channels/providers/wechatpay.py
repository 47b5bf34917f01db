"""WeChat Pay API v3 through wechatpayv3's signing and verifying functions (`wechatpayv3.utils`): every request
carries `Authorization: WECHATPAY2-SHA256-RSA2048 …` signed with the merchant's API certificate key
(`build_authorization`), every answer's `Wechatpay-Signature` is verified (`rsa_verify`) with the platform key
its `Wechatpay-Serial` names (`wechat_keys.platform_key`: configured, or fetched by the scheduled job — never
here). The SDK's `Core` is not used: it hard-codes api.mch.weixin.qq.com and downloads certificates when built;
the HTTP calls go through GridCare's own client to `BASE_URL`.

- Native `POST /v3/pay/transactions/native` → `code_url` (the QR code);
- JSAPI `POST /v3/pay/transactions/jsapi` with the payer's openid → `prepay_id`, and the signed
  `wx.requestPayment` parameters (`paySign` over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``);
- H5 `POST /v3/pay/transactions/h5` with the payer's IP → `h5_url` (the return page goes in `redirect_url`);
- query by out_trade_no, close, `POST /v3/refund/domestic/refunds`, `GET /v3/bill/tradebill` then the file.

Amounts go as integer fen; `time_expire` as RFC 3339 with +08:00.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from wechatpayv3 import utils as wxutils

from gridcare.payments.channels import signatures
from gridcare.payments.choices import PaymentChannel

from . import http
from .base import (
    CLOSED,
    H5,
    JSAPI,
    MISSING,
    PAID,
    QR,
    WAITING,
    ChannelError,
    ChannelRefused,
    OrderRequest,
    Placement,
    Provider,
    RefundAnswer,
    Trade,
)

BEIJING = ZoneInfo("Asia/Shanghai")
STATES = {
    "SUCCESS": PAID,
    "REFUND": PAID,  # paid, then (partly) refunded
    "NOTPAY": WAITING,
    "USERPAYING": WAITING,
    "PAYERROR": WAITING,  # the payer's attempt failed; the order can still be paid until it expires
    "CLOSED": CLOSED,
    "REVOKED": CLOSED,
}
NOT_EXIST = "ORDER_NOT_EXIST"
NO_STATEMENT = "NO_STATEMENT_EXIST"
EMPTY_TRADEBILL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注\r\n"
)


def conf() -> dict:
    return settings.GRIDCARE["WECHAT"]


def fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _rfc3339(when: datetime) -> str:
    return when.astimezone(BEIJING).isoformat(timespec="seconds")


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo else None


def _yuan(raw: object) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int):
        return None
    return (Decimal(raw) / 100).quantize(Decimal("0.01"))


def _private_key():
    try:
        return signatures.load_private_key(conf()["PRIVATE_KEY"])
    except (signatures.SignatureError, KeyError) as exc:
        raise ChannelError(f"WeChat merchant PRIVATE_KEY does not load: {exc}", channel="wechat") from exc


def jsapi_params(prepay_id: str, *, now: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The parameters of `wx.requestPayment` for `prepay_id`, signed with the merchant key."""
    c = conf()
    params = {
        "appId": c["APPID"],
        "timeStamp": str(now if now is not None else int(time.time())),
        "nonceStr": nonce or secrets.token_hex(16).upper(),
        "package": f"prepay_id={prepay_id}",
        "signType": "RSA",
    }
    message = "\n".join([params["appId"], params["timeStamp"], params["nonceStr"], params["package"]]) + "\n"
    params["paySign"] = wxutils.rsa_sign(_private_key(), message)
    return params


class WechatPayProvider(Provider):
    channel = PaymentChannel.WECHAT
    scenes = (QR, JSAPI, H5)

    def configured(self) -> bool:
        c = conf()
        return all(
            c.get(k) for k in ("MCHID", "APPID", "CERT_SERIAL", "PRIVATE_KEY", "API_V3_KEY", "BASE_URL")
        )

    # -- the wire

    def request(self, method: str, path: str, payload: dict | None = None) -> tuple[int, dict | None, bytes]:
        """A signed request to BASE_URL + `path` (path and query, as signed). (status, JSON or None, raw body);
        a 2xx answer's signature is verified first. ChannelError when there is no trustworthy answer."""
        c = conf()
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload is not None else ""
        authorization = wxutils.build_authorization(
            path, method, c["MCHID"], c["CERT_SERIAL"], _private_key(), data=body or None
        )
        headers = {"Authorization": authorization, "Accept": "application/json", "User-Agent": "GridCare"}
        if body:
            headers["Content-Type"] = "application/json"
        answer = http.call(
            method,
            c["BASE_URL"].rstrip("/") + path,
            channel=self.channel,
            headers=headers,
            data=body.encode("utf-8") if body else None,
        )
        return self._read(answer, path)

    def _read(self, answer: http.Answer, what: str) -> tuple[int, dict | None, bytes]:
        if answer.status >= 500 or answer.status in (401, 403):
            raise ChannelError(f"{what}: HTTP {answer.status} {answer.text[:120]!r}", channel=self.channel)
        if 200 <= answer.status < 300:
            self.verify_answer(answer, what)
        data = None
        if answer.body:
            try:
                data = json.loads(answer.body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ChannelError(f"{what}: not JSON: {answer.text[:80]!r}", channel=self.channel) from exc
            if not isinstance(data, dict):
                raise ChannelError(f"{what}: not a JSON object", channel=self.channel)
        if answer.status >= 400:
            data = data or {}
            raise ChannelRefused(
                str(data.get("code") or answer.status), str(data.get("message") or ""), channel=self.channel
            )
        return answer.status, data, answer.body

    def verify_answer(self, answer: http.Answer, what: str) -> None:
        from gridcare.payments.channels import wechat_keys

        h = answer.headers
        serial = h.get("wechatpay-serial", "")
        key = wechat_keys.platform_key(serial) if serial else None
        if key is None:
            raise ChannelError(
                f"{what}: answer signed by unknown platform serial {serial[:40]!r}", channel=self.channel
            )
        try:
            text = answer.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChannelError(f"{what}: answer is not UTF-8", channel=self.channel) from exc
        ok = wxutils.rsa_verify(
            h.get("wechatpay-timestamp", ""),
            h.get("wechatpay-nonce", ""),
            text,
            h.get("wechatpay-signature", ""),
            key,
        )
        if not ok:
            raise ChannelError(f"{what}: the answer's signature does not verify", channel=self.channel)

    # -- the five calls

    def place(self, req: OrderRequest) -> Placement:
        c = conf()
        payload: dict = {
            "appid": c["APPID"],
            "mchid": c["MCHID"],
            "description": req.subject[:127],
            "out_trade_no": req.order_no,
            "time_expire": _rfc3339(req.expires_at),
            "notify_url": req.notify_url,
            "amount": {"total": fen(req.amount), "currency": "CNY"},
        }
        if req.scene == QR:
            _, data, _ = self.request("POST", "/v3/pay/transactions/native", payload)
            url = (data or {}).get("code_url")
            if not isinstance(url, str) or not url:
                raise ChannelError("native: no code_url in the answer", channel=self.channel)
            return Placement(QR, url=url)
        if req.scene == JSAPI:
            if not req.openid:
                raise ValueError("JSAPI needs the payer's openid")
            payload["payer"] = {"openid": req.openid}
            _, data, _ = self.request("POST", "/v3/pay/transactions/jsapi", payload)
            prepay = (data or {}).get("prepay_id")
            if not isinstance(prepay, str) or not prepay:
                raise ChannelError("jsapi: no prepay_id in the answer", channel=self.channel)
            return Placement(JSAPI, prepay_id=prepay, jsapi=jsapi_params(prepay))
        if req.scene == H5:
            payload["scene_info"] = {
                "payer_client_ip": req.client_ip or "127.0.0.1",
                "h5_info": {"type": "Wap"},
            }
            _, data, _ = self.request("POST", "/v3/pay/transactions/h5", payload)
            url = (data or {}).get("h5_url")
            if not isinstance(url, str) or not url:
                raise ChannelError("h5: no h5_url in the answer", channel=self.channel)
            if req.return_url:  # WeChat's rule: append redirect_url, URL-encoded
                url += ("&" if "?" in url else "?") + "redirect_url=" + quote(req.return_url, safe="")
            return Placement(H5, url=url)
        raise ValueError(f"WeChat Pay has no scene {req.scene!r}")

    def query(self, order_no: str) -> Trade:
        path = f"/v3/pay/transactions/out-trade-no/{quote(order_no, safe='')}?mchid={quote(conf()['MCHID'])}"
        try:
            _, data, _ = self.request("GET", path)
        except ChannelRefused as exc:
            if exc.code == NOT_EXIST:
                return Trade(order_no, MISSING, raw_state=NOT_EXIST)
            raise
        data = data or {}
        raw = str(data.get("trade_state") or "")
        if raw not in STATES:
            raise ChannelError(f"query: unknown trade_state {raw[:30]!r}", channel=self.channel)
        if data.get("out_trade_no") not in (None, order_no) or data.get("mchid") not in (
            None,
            conf()["MCHID"],
        ):
            raise ChannelError("query: the answer names another order or merchant", channel=self.channel)
        amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
        return Trade(
            order_no,
            STATES[raw],
            txn_id=str(data.get("transaction_id") or ""),
            amount=_yuan(amount.get("total")),
            paid_at=_time(data.get("success_time")),
            raw_state=raw,
        )

    def close(self, order_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(order_no, safe='')}/close"
        try:
            self.request("POST", path, {"mchid": conf()["MCHID"]})
        except ChannelRefused as exc:
            if exc.code != NOT_EXIST:
                raise

    def refund(self, *, order_no, txn_id, refund_no, amount, total, reason, notify_url) -> RefundAnswer:
        payload: dict = {
            "out_trade_no": order_no,
            "out_refund_no": refund_no,
            "reason": reason[:80],
            "notify_url": notify_url,
            "amount": {"refund": fen(amount), "total": fen(total), "currency": "CNY"},
        }
        if txn_id:
            payload = {"transaction_id": txn_id, **{k: v for k, v in payload.items() if k != "out_trade_no"}}
        _, data, _ = self.request("POST", "/v3/refund/domestic/refunds", payload)
        data = data or {}
        status = str(data.get("status") or "")
        if status in ("CLOSED", "ABNORMAL"):
            raise ChannelRefused(status, "退款关闭或异常", channel=self.channel)
        return RefundAnswer(
            refund_no,
            done=status == "SUCCESS",
            channel_refund_id=str(data.get("refund_id") or ""),
            finished_at=_time(data.get("success_time")),
        )

    def statement(self, day: date) -> bytes:
        try:
            _, data, _ = self.request("GET", f"/v3/bill/tradebill?bill_date={day.isoformat()}&bill_type=ALL")
        except ChannelRefused as exc:
            if (
                exc.code == NO_STATEMENT
            ):  # a day without trades: WeChat has no bill, the day's statement is empty
                return EMPTY_TRADEBILL.encode("utf-8")
            raise
        data = data or {}
        url = data.get("download_url")
        if not isinstance(url, str) or not url:
            raise ChannelError("tradebill: no download_url", channel=self.channel)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        c = conf()
        authorization = wxutils.build_authorization(path, "GET", c["MCHID"], c["CERT_SERIAL"], _private_key())
        answer = http.call("GET", url, channel=self.channel, headers={"Authorization": authorization})
        if answer.status != 200:
            raise ChannelError(f"tradebill download: HTTP {answer.status}", channel=self.channel)
        expected = str(data.get("hash_value") or "").lower()
        if str(data.get("hash_type") or "SHA1").upper() == "SHA1" and expected:
            if hashlib.sha1(answer.body).hexdigest() != expected:  # noqa: S324 — WeChat's own integrity check
                raise ChannelError("tradebill download: SHA1 differs from hash_value", channel=self.channel)
        return answer.body
