"""WeChat Pay API v3 as the merchant meets it, mounted under ``/wechat``; its pay pages; snsapi_base OAuth.

Requests carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
timestamp="…",serial_no="…"``: RSA-SHA256 with the merchant certificate's key over
``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n``, URL being the path and query as on ``api.mch.weixin.qq.com``
(``/v3/…``; the path with the simulator's ``/wechat`` prefix is accepted too). Anything wrong answers
401 ``SIGN_ERROR``. Answers carry ``Wechatpay-Timestamp/-Nonce/-Serial/-Signature`` over
``timestamp\\nnonce\\nbody\\n`` with the platform key the simulator signs with (the newest, unless told).

Notifications are JSON with the same headers; ``resource`` is AEAD_AES_256_GCM with the APIv3 key
(associated_data ``transaction`` or ``refund``). Refunds answer PROCESSING and turn SUCCESS after
``refund_delay`` seconds, when REFUND.SUCCESS goes to the refund's ``notify_url``.

The trade bill (``/v3/bill/tradebill``) is WeChat's CSV: every value prefixed with a backtick, then a summary.
A day without trades answers 400 ``NO_STATEMENT_EXIST``, as WeChat does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import secrets
import string
from decimal import ROUND_HALF_UP, Decimal
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridcare.payments.channels.signatures import wechat_encrypt_resource, wechat_sign

from . import pages, store
from .wire import (
    BEIJING,
    Request,
    Response,
    alipay_time,
    beijing,
    compact_json,
    digits,
    nonce12,
    nonce32,
    parse_rfc3339,
    rfc3339,
    rsa_verify,
    token,
    yuan,
)

if TYPE_CHECKING:
    from .app import ChannelSimulator

CHANNEL = "wechat"
MOUNT = "/wechat"
NOTPAY, SUCCESS, CLOSED, REFUND = "NOTPAY", "SUCCESS", "CLOSED", "REFUND"
STATE_DESC = {NOTPAY: "订单未支付", SUCCESS: "支付成功", CLOSED: "订单已关闭", REFUND: "订单发生过退款"}
TRADE_TYPES = {"native": "NATIVE", "jsapi": "JSAPI", "h5": "MWEB"}
OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_\-|*]{6,32}$")
OUT_REFUND_NO = re.compile(r"^[A-Za-z0-9_\-|*@]{1,64}$")
AUTH = re.compile(r'(\w+)="([^"]*)"')
MAX_SKEW = 300
FEE_RATE = Decimal("0.006")
BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)
BILL_SUMMARY = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
OPENID_ALPHABET = string.ascii_letters + string.digits + "_-"


class WechatError(Exception):
    """A 4xx answer: ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def _fee(fen: int) -> Decimal:
    return (Decimal(fen) / 100 * FEE_RATE).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


class WechatChannel:
    """The WeChat Pay side of the simulator."""

    def __init__(self, sim: ChannelSimulator) -> None:
        self.sim = sim

    # --- signing ---------------------------------------------------------------------------------------------

    def signed_headers(self, body: bytes, now: float | None = None) -> list[tuple[str, str]]:
        """The ``Wechatpay-*`` headers of an answer or a notification, with the current signing key."""
        cert = self.sim.signing_platform_cert()
        timestamp = str(int(self.sim.clock() if now is None else now))
        nonce = nonce32()
        return [
            ("Wechatpay-Timestamp", timestamp),
            ("Wechatpay-Nonce", nonce),
            ("Wechatpay-Serial", cert.serial),
            ("Wechatpay-Signature", wechat_sign(timestamp, nonce, body, cert.key_pem)),
            ("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048"),
        ]

    def _answer(self, value: object | None, status: int = 200) -> Response:
        body = b"" if value is None else compact_json(value).encode("utf-8")
        headers = [("Request-ID", secrets.token_hex(16)), *self.signed_headers(body)]
        if value is not None:
            headers.insert(0, ("Content-Type", "application/json; charset=utf-8"))
        return Response(status, body, headers)

    def _error(self, exc: WechatError) -> Response:
        return self._answer({"code": exc.code, "message": exc.message}, exc.status)

    def _authorize(self, request: Request) -> None:
        """Check the merchant's ``Authorization``; raises 401 SIGN_ERROR saying what is wrong."""
        keys = self.sim.keys
        header = request.headers.get("authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme != "WECHATPAY2-SHA256-RSA2048":
            raise WechatError(401, "SIGN_ERROR", "Authorization 认证类型不正确")
        fields = dict(AUTH.findall(rest))
        missing = [
            name
            for name in ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
            if not fields.get(name)
        ]
        if missing:
            raise WechatError(401, "SIGN_ERROR", f"Authorization 缺少 {', '.join(missing)}")
        if fields["mchid"] != keys.wechat_mchid:
            raise WechatError(401, "SIGN_ERROR", "商户号与 Authorization 不匹配")
        if fields["serial_no"].upper() != keys.wechat_cert_serial.upper():
            raise WechatError(401, "SIGN_ERROR", "商户证书序列号有误，请核实后再试")
        stamp = fields["timestamp"]
        if not (stamp.isdigit() and len(stamp) <= 12) or abs(self.sim.clock() - int(stamp)) > MAX_SKEW:
            raise WechatError(401, "SIGN_ERROR", "Authorization 时间戳超出有效期")
        query = f"?{request.query_string}" if request.query_string else ""
        full = request.raw_target or request.path + query
        relative = full[len(MOUNT) :] if full.startswith(MOUNT + "/") else full
        for url in dict.fromkeys((relative, full)):
            message = (
                f"{request.method}\n{url}\n{stamp}\n{fields['nonce_str']}\n".encode() + request.body + b"\n"
            )
            if rsa_verify(message, fields["signature"], self._merchant_public_pem()):
                return
        raise WechatError(401, "SIGN_ERROR", "签名错误，请检查后再试")

    def _merchant_public_pem(self) -> str:
        return self.sim.keys.wechat_merchant_cert_pem

    # --- routing ---------------------------------------------------------------------------------------------

    def api(self, request: Request) -> Response:
        """Everything under ``/wechat/v3/``."""
        path = request.path[len(MOUNT) :]
        try:
            self._authorize(request)
            return self._route(request, path)
        except WechatError as exc:
            return self._error(exc)

    def _route(self, request: Request, path: str) -> Response:
        method = request.method
        if method == "POST" and (match := re.fullmatch(r"/v3/pay/transactions/(native|jsapi|h5)", path)):
            return self._place(request, match.group(1))
        if match := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)", path):
            if method == "GET":
                return self._query(request, out_trade_no=match.group(1))
        if match := re.fullmatch(r"/v3/pay/transactions/id/([^/]+)", path):
            if method == "GET":
                return self._query(request, transaction_id=match.group(1))
        if match := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)/close", path):
            if method == "POST":
                return self._close(request, match.group(1))
        if path == "/v3/refund/domestic/refunds" and method == "POST":
            return self._refund(request)
        if (match := re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", path)) and method == "GET":
            return self._refund_query(match.group(1))
        if path == "/v3/bill/tradebill" and method == "GET":
            return self._tradebill(request)
        if path == "/v3/billdownload/file" and method == "GET":
            return self._bill_download(request)
        if path == "/v3/certificates" and method == "GET":
            return self._certificates()
        raise WechatError(404, "NOT_FOUND", "无效的请求地址")

    # --- orders ----------------------------------------------------------------------------------------------

    def _place(self, request: Request, kind: str) -> Response:
        keys = self.sim.keys
        body = request.json()
        if not isinstance(body, dict):
            raise WechatError(400, "PARAM_ERROR", "请求体不是合法的 JSON 对象")
        self._validate_order(body, kind)
        if body["appid"] != keys.wechat_appid:
            raise WechatError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        if body["mchid"] != keys.wechat_mchid:
            raise WechatError(400, "MCH_NOT_EXISTS", "商户号不存在")
        fingerprint = compact_json(dict(sorted(body.items())))
        now = self.sim.clock()
        with self.sim.store.write() as db:
            trade = store.get_trade(db, CHANNEL, body["out_trade_no"])
            if trade is not None:
                if trade["status"] in (SUCCESS, REFUND):
                    raise WechatError(400, "ORDERPAID", "该订单已支付")
                if trade["status"] == CLOSED:
                    raise WechatError(400, "ORDER_CLOSED", "该订单已关闭")
                if trade["request"] != fingerprint or trade["kind"] != TRADE_TYPES[kind]:
                    raise WechatError(400, "INVALID_REQUEST", "201 商户订单号重复")
                return self._answer(json.loads(trade["answer"]))
            trade_token = (
                "wx" + beijing(now).strftime("%d%H%M%S") + secrets.token_hex(13)
                if kind == "jsapi"
                else token()
            )
            if kind == "native":
                answer = {"code_url": f"{request.base_url}{MOUNT}/pay/{trade_token}"}
            elif kind == "jsapi":
                answer = {"prepay_id": trade_token}
            else:
                answer = {"h5_url": f"{request.base_url}{MOUNT}/h5/{trade_token}"}
            store.insert_trade(
                db,
                channel=CHANNEL,
                out_trade_no=body["out_trade_no"],
                token=trade_token,
                trade_no="42000" + digits(5) + beijing(now).strftime("%Y%m%d") + digits(10),
                kind=TRADE_TYPES[kind],
                status=NOTPAY,
                total=body["amount"]["total"],
                subject=body["description"],
                notify_url=body["notify_url"],
                payer=(body.get("payer") or {}).get("openid", ""),
                request=fingerprint,
                answer=compact_json(answer),
                extra={"attach": body.get("attach", ""), "time_expire": body.get("time_expire", "")},
                created_at=now,
            )
        return self._answer(answer)

    @staticmethod
    def _validate_order(body: dict, kind: str) -> None:
        def bad(field: str, rule: str) -> WechatError:
            return WechatError(400, "PARAM_ERROR", f"输入源“/body/{field}”映射到值字段“{field}”{rule}")

        for field in ("appid", "mchid", "description", "out_trade_no", "notify_url"):
            if not isinstance(body.get(field), str) or not body[field]:
                raise bad(field, "必填性规则校验失败，此字段为必填项")
        if len(body["description"]) > 127:
            raise bad("description", "字符串规则校验失败，字节数超过127")
        if not OUT_TRADE_NO.match(body["out_trade_no"]):
            raise bad("out_trade_no", "字符串规则校验失败，长度须为6-32个字符且只能是数字、大小写字母_-|*")
        amount = body.get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
            raise bad("amount/total", "必须为大于0的整数（单位：分）")
        if isinstance(amount, dict) and amount.get("currency", "CNY") != "CNY":
            raise bad("amount/currency", "只支持CNY")
        if "time_expire" in body and parse_rfc3339(body["time_expire"]) is None:
            raise bad("time_expire", "时间格式不符合 RFC3339，例如 2018-06-08T10:34:56+08:00")
        parsed = urlparse(body["notify_url"])
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise bad("notify_url", "不是合法的 http(s) URL")
        if kind == "jsapi":
            payer = body.get("payer")
            if not isinstance(payer, dict) or not isinstance(payer.get("openid"), str) or not payer["openid"]:
                raise bad("payer/openid", "必填性规则校验失败，此字段为必填项")
        if kind == "h5":
            scene = body.get("scene_info")
            if not isinstance(scene, dict) or not isinstance(scene.get("payer_client_ip"), str):
                raise bad("scene_info/payer_client_ip", "必填性规则校验失败，此字段为必填项")
            h5_info = scene.get("h5_info")
            if not isinstance(h5_info, dict) or not h5_info.get("type"):
                raise bad("scene_info/h5_info/type", "必填性规则校验失败，此字段为必填项")

    def transaction(self, trade: dict[str, Any]) -> dict[str, Any]:
        """The trade as WeChat describes it: the query's answer and TRANSACTION.SUCCESS's resource."""
        keys = self.sim.keys
        value: dict[str, Any] = {
            "appid": keys.wechat_appid,
            "mchid": keys.wechat_mchid,
            "out_trade_no": trade["out_trade_no"],
            "trade_type": trade["kind"],
            "trade_state": trade["status"],
            "trade_state_desc": STATE_DESC[trade["status"]],
            "attach": trade["extra"].get("attach", ""),
            "amount": {"total": trade["total"], "currency": "CNY"},
        }
        if trade["paid_at"] is not None:
            value |= {
                "transaction_id": trade["trade_no"],
                "bank_type": "OTHERS",
                "success_time": rfc3339(trade["paid_at"]),
                "payer": {"openid": trade["payer"]},
                "amount": {
                    "total": trade["total"],
                    "payer_total": trade["total"],
                    "currency": "CNY",
                    "payer_currency": "CNY",
                },
            }
        return value

    def _query(self, request: Request, *, out_trade_no: str = "", transaction_id: str = "") -> Response:
        if request.query.get("mchid") != self.sim.keys.wechat_mchid:
            raise WechatError(
                400, "PARAM_ERROR", "输入源“/query/mchid”映射到值字段“直连商户号”必填性规则校验失败"
            )
        with self.sim.store.read() as db:
            if out_trade_no:
                trade = store.get_trade(db, CHANNEL, out_trade_no)
            else:
                trade = store.trade_by(db, "trade_no", transaction_id, CHANNEL)
        if trade is None:
            raise WechatError(404, "ORDER_NOT_EXIST", "订单不存在")
        return self._answer(self.transaction(trade))

    def _close(self, request: Request, out_trade_no: str) -> Response:
        body = request.json()
        if not isinstance(body, dict) or body.get("mchid") != self.sim.keys.wechat_mchid:
            raise WechatError(
                400, "PARAM_ERROR", "输入源“/body/mchid”映射到值字段“直连商户号”必填性规则校验失败"
            )
        with self.sim.store.write() as db:
            trade = store.get_trade(db, CHANNEL, out_trade_no)
            if trade is None:
                raise WechatError(404, "ORDER_NOT_EXIST", "订单不存在")
            if trade["paid_at"] is not None:
                raise WechatError(400, "ORDERPAID", "订单已支付")
            if trade["status"] == NOTPAY:
                store.update_trade(db, CHANNEL, out_trade_no, status=CLOSED, closed_at=self.sim.clock())
        return self._answer(None, 204)

    # --- refunds ---------------------------------------------------------------------------------------------

    def _refund(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise WechatError(400, "PARAM_ERROR", "请求体不是合法的 JSON 对象")
        out_refund_no = body.get("out_refund_no")
        if not isinstance(out_refund_no, str) or not OUT_REFUND_NO.match(out_refund_no):
            raise WechatError(
                400, "PARAM_ERROR", "输入源“/body/out_refund_no”映射到值字段“商户退款单号”校验失败"
            )
        amount = body.get("amount")
        if not isinstance(amount, dict):
            raise WechatError(
                400, "PARAM_ERROR", "输入源“/body/amount”映射到值字段“金额信息”必填性规则校验失败"
            )
        refund_fen, total = amount.get("refund"), amount.get("total")
        for name, value in (("refund", refund_fen), ("total", total)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise WechatError(
                    400, "PARAM_ERROR", f"输入源“/body/amount/{name}”必须为大于0的整数（单位：分）"
                )
        if amount.get("currency", "CNY") != "CNY":
            raise WechatError(400, "PARAM_ERROR", "输入源“/body/amount/currency”只支持CNY")
        with self.sim.store.write() as db:
            if body.get("out_trade_no"):
                trade = store.get_trade(db, CHANNEL, str(body["out_trade_no"]))
            elif body.get("transaction_id"):
                trade = store.trade_by(db, "trade_no", str(body["transaction_id"]), CHANNEL)
            else:
                raise WechatError(400, "PARAM_ERROR", "out_trade_no 与 transaction_id 必须二选一")
            if trade is None:
                raise WechatError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            existing = store.get_refund(db, CHANNEL, None, out_refund_no)
            if existing is not None:
                if existing["out_trade_no"] != trade["out_trade_no"] or existing["amount"] != refund_fen:
                    raise WechatError(
                        400, "INVALID_REQUEST", "商户退款单号重复，但与之前请求的订单或金额不一致"
                    )
                return self._answer(self.refund_view(existing, trade))
            if trade["paid_at"] is None:
                raise WechatError(400, "INVALID_REQUEST", "订单未支付，不能发起退款")
            if total != trade["total"]:
                raise WechatError(400, "INVALID_REQUEST", "订单金额与原订单金额不一致")
            refund, trade = self.refund_in(
                db,
                trade,
                out_refund_no,
                refund_fen,
                str(body.get("notify_url") or ""),
                str(body.get("reason") or ""),
            )
        self.sim.wake()
        return self._answer(self.refund_view(refund, trade))

    def refund_in(
        self, db, trade: dict, out_refund_no: str, fen: int, notify_url: str, reason: str = ""
    ) -> tuple:
        """Accept a refund inside the caller's transaction: PROCESSING now, SUCCESS at ``settle_at``."""
        if fen > trade["total"] - trade["refunded"]:
            raise WechatError(400, "NOT_ENOUGH", "订单可退金额不足")
        now = self.sim.clock()
        refund = store.insert_refund(
            db,
            channel=CHANNEL,
            out_trade_no=trade["out_trade_no"],
            out_refund_no=out_refund_no,
            refund_id="50" + digits(4) + "0" + beijing(now).strftime("%Y%m%d") + digits(15),
            amount=fen,
            status="PROCESSING",
            notify_url=notify_url,
            reason=reason,
            created_at=now,
            settle_at=now + self.sim.refund_delay,
        )
        trade = store.update_trade(
            db, CHANNEL, trade["out_trade_no"], status=REFUND, refunded=trade["refunded"] + fen
        )
        return refund, trade

    def refund_view(self, refund: dict[str, Any], trade: dict[str, Any]) -> dict[str, Any]:
        value: dict[str, Any] = {
            "refund_id": refund["refund_id"],
            "out_refund_no": refund["out_refund_no"],
            "transaction_id": trade["trade_no"],
            "out_trade_no": trade["out_trade_no"],
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(refund["created_at"]),
            "status": refund["status"],
            "funds_account": "AVAILABLE",
            "amount": {
                "total": trade["total"],
                "refund": refund["amount"],
                "from": [],
                "payer_total": trade["total"],
                "payer_refund": refund["amount"],
                "settlement_refund": refund["amount"],
                "settlement_total": trade["total"],
                "discount_refund": 0,
                "currency": "CNY",
                "refund_fee": 0,
            },
            "promotion_detail": [],
        }
        if refund["success_at"] is not None:
            value["success_time"] = rfc3339(refund["success_at"])
        return value

    def _refund_query(self, out_refund_no: str) -> Response:
        self.settle_due()
        with self.sim.store.read() as db:
            refund = store.get_refund(db, CHANNEL, None, out_refund_no)
            trade = store.get_trade(db, CHANNEL, refund["out_trade_no"]) if refund else None
        if refund is None or trade is None:
            raise WechatError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self._answer(self.refund_view(refund, trade))

    def settle_due(self, now: float | None = None) -> int:
        """Turn PROCESSING refunds whose time has come SUCCESS and queue their REFUND.SUCCESS notifications."""
        now = self.sim.clock() if now is None else now
        settled = 0
        with self.sim.store.write() as db:
            due = db.execute(
                "SELECT * FROM refunds WHERE channel = ? AND status = 'PROCESSING' AND settle_at <= ?",
                (CHANNEL, now),
            ).fetchall()
            for row in due:
                db.execute(
                    "UPDATE refunds SET status = 'SUCCESS', success_at = ? WHERE channel = ? AND out_trade_no = ?"
                    " AND out_refund_no = ?",
                    (now, CHANNEL, row["out_trade_no"], row["out_refund_no"]),
                )
                settled += 1
                if not row["notify_url"]:
                    continue
                trade = store.get_trade(db, CHANNEL, row["out_trade_no"])
                assert trade is not None
                resource = {
                    "mchid": self.sim.keys.wechat_mchid,
                    "out_trade_no": trade["out_trade_no"],
                    "transaction_id": trade["trade_no"],
                    "out_refund_no": row["out_refund_no"],
                    "refund_id": row["refund_id"],
                    "refund_status": "SUCCESS",
                    "success_time": rfc3339(now),
                    "user_received_account": "支付用户零钱",
                    "amount": {
                        "total": trade["total"],
                        "refund": row["amount"],
                        "payer_total": trade["total"],
                        "payer_refund": row["amount"],
                    },
                }
                self._enqueue(db, "REFUND.SUCCESS", trade["out_trade_no"], row["notify_url"], resource, now)
        if settled:
            self.sim.wake()
        return settled

    def next_settlement(self) -> float | None:
        with self.sim.store.read() as db:
            row = db.execute(
                "SELECT MIN(settle_at) FROM refunds WHERE channel = ? AND status = 'PROCESSING'", (CHANNEL,)
            ).fetchone()
        return row[0]

    # --- paying ----------------------------------------------------------------------------------------------

    def pay(self, out_trade_no: str, openid: str = "") -> dict[str, Any]:
        """The payer confirms: SUCCESS and TRANSACTION.SUCCESS queued. LookupError / ValueError as Alipay's."""
        now = self.sim.clock()
        with self.sim.store.write() as db:
            trade = store.get_trade(db, CHANNEL, out_trade_no)
            if trade is None:
                raise LookupError(out_trade_no)
            if trade["paid_at"] is not None:
                return trade
            if trade["status"] != NOTPAY:
                raise ValueError("订单已关闭")
            expire = parse_rfc3339(trade["extra"].get("time_expire") or "")
            if expire is not None and expire.timestamp() < now:
                raise ValueError("订单已过期")
            payer = trade["payer"] or openid or fake_openid()
            trade = store.update_trade(db, CHANNEL, out_trade_no, status=SUCCESS, paid_at=now, payer=payer)
            self._enqueue(
                db, "TRANSACTION.SUCCESS", out_trade_no, trade["notify_url"], self.transaction(trade), now
            )
        self.sim.wake()
        return trade

    def refund_from_channel(self, out_trade_no: str, fen: int) -> dict[str, Any]:
        """A refund made in the merchant platform: notifies the order's notify_url when it succeeds."""
        with self.sim.store.write() as db:
            trade = store.get_trade(db, CHANNEL, out_trade_no)
            if trade is None:
                raise LookupError(out_trade_no)
            if trade["paid_at"] is None:
                raise ValueError("订单未支付")
            refund, trade = self.refund_in(
                db, trade, "SIM" + digits(12), fen, trade["notify_url"], "商户平台退款"
            )
        self.sim.wake()
        return self.refund_view(refund, trade)

    def _enqueue(self, db, event: str, out_trade_no: str, url: str, resource: dict, now: float) -> None:
        kind = "refund" if event.startswith("REFUND.") else "transaction"
        encrypted = wechat_encrypt_resource(
            resource,
            self.sim.keys.wechat_api_v3_key,
            nonce=nonce12(),
            associated_data=kind,
            original_type=kind,
        )
        notification = {
            "id": secrets.token_hex(18),
            "create_time": rfc3339(now),
            "resource_type": "encrypt-resource",
            "event_type": event,
            "summary": "退款成功" if kind == "refund" else "支付成功",
            "resource": encrypted,
        }
        store.enqueue(
            db, channel=CHANNEL, event=event, out_trade_no=out_trade_no, url=url,
            payload={"body": compact_json(notification)}, now=now,
        )  # fmt: skip

    def prepare(self, payload: dict[str, str], now: float) -> tuple[bytes, dict[str, str]]:
        """One delivery attempt: the same body each time, signed afresh (WeChat re-signs every retry)."""
        body = payload["body"].encode("utf-8")
        headers = dict(self.signed_headers(body, now)) | {"Content-Type": "application/json"}
        return body, headers

    @staticmethod
    def delivered(status: int | None, answer: bytes) -> bool:
        return status is not None and 200 <= status < 300

    # --- bills and certificates ------------------------------------------------------------------------------

    def _tradebill(self, request: Request) -> Response:
        query = request.query
        bill_date, bill_type = query.get("bill_date", ""), query.get("bill_type", "ALL")
        try:
            day = dt.datetime.strptime(bill_date, "%Y-%m-%d").replace(tzinfo=BEIJING)
        except ValueError:
            raise WechatError(400, "PARAM_ERROR", "输入源“/query/bill_date”格式应为 yyyy-MM-DD") from None
        if bill_type not in ("ALL", "SUCCESS", "REFUND"):
            raise WechatError(400, "PARAM_ERROR", "输入源“/query/bill_type”只能是 ALL、SUCCESS、REFUND")
        if bill_date > beijing(self.sim.clock()).strftime("%Y-%m-%d"):
            raise WechatError(400, "PARAM_ERROR", "账单日期不能晚于今天")
        content = self.bill(day, bill_type)
        if content is None:
            raise WechatError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        bill_token = token()
        with self.sim.store.write() as db:
            db.execute(
                "INSERT INTO bills (token, channel, bill_date, content, created_at) VALUES (?, ?, ?, ?, ?)",
                (bill_token, CHANNEL, bill_date, content, self.sim.clock()),
            )
        return self._answer(
            {
                "hash_type": "SHA1",
                "hash_value": hashlib.sha1(content, usedforsecurity=False).hexdigest(),
                "download_url": f"{request.base_url}{MOUNT}/v3/billdownload/file?token={bill_token}",
            }
        )

    def _bill_download(self, request: Request) -> Response:
        with self.sim.store.read() as db:
            row = db.execute(
                "SELECT content FROM bills WHERE token = ? AND channel = ?",
                (request.query.get("token", ""), CHANNEL),
            ).fetchone()
        if row is None:
            raise WechatError(400, "INVALID_REQUEST", "下载链接无效或已过期")
        return Response(200, bytes(row["content"]), [("Content-Type", "application/octet-stream")])

    def bill(self, day: dt.datetime, bill_type: str = "ALL") -> bytes | None:
        """The tradebill CSV (UTF-8) of one Beijing day, or None when it has no rows (NO_STATEMENT_EXIST)."""
        keys = self.sim.keys
        start, end = day.timestamp(), (day + dt.timedelta(days=1)).timestamp()
        with self.sim.store.read() as db:
            paid = []
            if bill_type in ("ALL", "SUCCESS"):
                paid = db.execute(
                    "SELECT * FROM trades WHERE channel = ? AND paid_at >= ? AND paid_at < ? ORDER BY paid_at",
                    (CHANNEL, start, end),
                ).fetchall()
            refunds = []
            if bill_type in ("ALL", "REFUND"):
                refunds = db.execute(
                    "SELECT r.*, t.trade_no, t.subject, t.payer, t.kind, t.total, t.extra FROM refunds r"
                    " JOIN trades t ON t.channel = r.channel AND t.out_trade_no = r.out_trade_no"
                    " WHERE r.channel = ? AND r.status = 'SUCCESS' AND r.success_at >= ? AND r.success_at < ?"
                    " ORDER BY r.success_at",
                    (CHANNEL, start, end),
                ).fetchall()
        if not paid and not refunds:
            return None
        lines: list[tuple[float, list[str]]] = []
        settled_total = refund_total = order_total = 0
        fee_total = Decimal(0)
        for trade in paid:
            fee = _fee(trade["total"])
            settled_total += trade["total"]
            order_total += trade["total"]
            fee_total += fee
            lines.append((trade["paid_at"], [
                alipay_time(trade["paid_at"]), keys.wechat_appid, keys.wechat_mchid, "0", "", trade["trade_no"],
                trade["out_trade_no"], trade["payer"], trade["kind"], "SUCCESS", "OTHERS", "CNY", yuan(trade["total"]),
                "0.00", "0", "0", "0.00", "0.00", "", "", trade["subject"], json.loads(trade["extra"]).get("attach", ""),
                f"{fee}", "0.60%", yuan(trade["total"]), "0.00", "",
            ]))  # fmt: skip
        for refund in refunds:
            fee = -_fee(refund["amount"])
            refund_total += refund["amount"]
            fee_total += fee
            lines.append((refund["success_at"], [
                alipay_time(refund["success_at"]), keys.wechat_appid, keys.wechat_mchid, "0", "", refund["trade_no"],
                refund["out_trade_no"], refund["payer"], refund["kind"], "REFUND", "OTHERS", "CNY", "0.00", "0.00",
                refund["refund_id"], refund["out_refund_no"], yuan(refund["amount"]), "0.00", "ORIGINAL", "SUCCESS",
                refund["subject"], json.loads(refund["extra"]).get("attach", ""), f"{fee}", "0.60%", "0.00",
                yuan(refund["amount"]), "",
            ]))  # fmt: skip
        lines.sort(key=lambda item: item[0])
        out = [BILL_HEADER]
        out += [",".join("`" + value for value in row) for _, row in lines]
        out.append(BILL_SUMMARY)
        summary = [
            str(len(lines)), yuan(settled_total), yuan(refund_total), "0.00", f"{fee_total:.5f}",
            yuan(order_total), yuan(refund_total),
        ]  # fmt: skip
        out.append(",".join("`" + value for value in summary))
        return ("\r\n".join(out) + "\r\n").encode("utf-8")

    def _certificates(self) -> Response:
        key = self.sim.keys.wechat_api_v3_key.encode("utf-8")
        now = dt.datetime.now(dt.UTC)
        data = []
        for cert in self.sim.keys.wechat_platform:
            if not (cert.not_before <= now <= cert.not_after):
                continue
            nonce = nonce12()
            sealed = AESGCM(key).encrypt(nonce.encode("ascii"), cert.cert_pem.encode("ascii"), b"certificate")
            data.append(
                {
                    "serial_no": cert.serial,
                    "effective_time": rfc3339(cert.not_before.timestamp()),
                    "expire_time": rfc3339(cert.not_after.timestamp()),
                    "encrypt_certificate": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": nonce,
                        "associated_data": "certificate",
                        "ciphertext": base64.b64encode(sealed).decode("ascii"),
                    },
                }
            )
        return self._answer({"data": data})

    # --- pay pages -------------------------------------------------------------------------------------------

    def _trade_by_token(self, trade_token: str) -> dict[str, Any] | None:
        with self.sim.store.read() as db:
            return store.trade_by(db, "token", trade_token, CHANNEL)

    def _confirm_page(
        self, trade: dict[str, Any] | None, action: str, hidden: dict[str, str] | None = None
    ) -> Response:
        if trade is None:
            return Response.html(
                pages.error(channel=CHANNEL, code="ORDER_NOT_EXIST", message="订单不存在"), 404
            )
        if trade["status"] != NOTPAY:
            title = "订单已支付" if trade["paid_at"] is not None else "订单已关闭"
            return Response.html(pages.result(channel=CHANNEL, title=title, message=trade["out_trade_no"]))
        return Response.html(
            pages.wechat_confirm(
                amount=yuan(trade["total"]),
                subject=trade["subject"],
                out_trade_no=trade["out_trade_no"],
                pay_action=action,
                hidden=hidden,
            )
        )

    def _pay_and_show(self, trade: dict[str, Any] | None, back: str | None, openid: str = "") -> Response:
        if trade is None:
            return Response.html(
                pages.error(channel=CHANNEL, code="ORDER_NOT_EXIST", message="订单不存在"), 404
            )
        try:
            trade = self.pay(trade["out_trade_no"], openid)
        except ValueError as exc:
            return Response.html(pages.error(channel=CHANNEL, code="ORDER_CLOSED", message=str(exc)))
        if back:
            return Response.redirect(back)
        return Response.html(
            pages.result(channel=CHANNEL, title="支付成功", message=f"￥{yuan(trade['total'])}")
        )

    def native_page(self, request: Request, trade_token: str) -> Response:
        trade = self._trade_by_token(trade_token)
        if request.method == "POST":
            return self._pay_and_show(trade, None, self.browser_openid(request)[0])
        return self._confirm_page(trade, f"{MOUNT}/pay/{trade_token}")

    def h5_page(self, request: Request, trade_token: str) -> Response:
        trade = self._trade_by_token(trade_token)
        redirect_url = request.query.get("redirect_url") or request.form.get("redirect_url") or ""
        if request.method == "POST":
            return self._pay_and_show(trade, redirect_url or None, self.browser_openid(request)[0])
        hidden = {"redirect_url": redirect_url} if redirect_url else None
        return self._confirm_page(trade, f"{MOUNT}/h5/{trade_token}", hidden)

    def jsapi_page(self, request: Request) -> Response:
        """Stands in for ``wx.requestPayment``: checks paySign, then the confirm sheet, then back to ``return``."""
        params = request.query | request.form
        names = ("appId", "timeStamp", "nonceStr", "package", "signType", "paySign")
        if any(not params.get(name) for name in names):
            return Response.html(
                pages.error(channel=CHANNEL, code="PARAM_ERROR", message="调用支付JSAPI缺少参数"), 400
            )
        if params["appId"] != self.sim.keys.wechat_appid:
            return Response.html(
                pages.error(channel=CHANNEL, code="APPID_ERROR", message="appId 不正确"), 400
            )
        message = (
            f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
        )
        if params["signType"] != "RSA" or not rsa_verify(
            message, params["paySign"], self._merchant_public_pem()
        ):
            return Response.html(
                pages.error(channel=CHANNEL, code="SIGN_ERROR", message="支付验证签名失败"), 400
            )
        prepay_id = params["package"].removeprefix("prepay_id=")
        trade = self._trade_by_token(prepay_id)
        if request.method == "POST":
            return self._pay_and_show(trade, params.get("return") or None)
        hidden = {name: params[name] for name in (*names, "return") if params.get(name)}
        return self._confirm_page(trade, f"{MOUNT}/jsapi", hidden)

    # --- OAuth (snsapi_base) ---------------------------------------------------------------------------------

    def browser_openid(self, request: Request) -> tuple[str, bool]:
        """(openid, new?) of this browser: a stable fake per cookie."""
        openid = request.cookies.get("channelsim_openid", "")
        if re.fullmatch(r"o[A-Za-z0-9_\-]{27}", openid):
            return openid, False
        return fake_openid(), True

    def authorize(self, request: Request) -> Response:
        query = request.query
        if query.get("appid") != self.sim.keys.wechat_appid:
            return Response.html(
                pages.error(channel=CHANNEL, code="10003", message="redirect_uri 参数错误或 appid 无效")
            )
        redirect_uri = query.get("redirect_uri", "")
        if urlparse(redirect_uri).scheme not in ("http", "https") or query.get("response_type") != "code":
            return Response.html(pages.error(channel=CHANNEL, code="10003", message="redirect_uri 参数错误"))
        if query.get("scope") not in ("snsapi_base", "snsapi_userinfo"):
            return Response.html(pages.error(channel=CHANNEL, code="10005", message="scope 参数错误"))
        openid, new = self.browser_openid(request)
        code = secrets.token_hex(16)
        with self.sim.store.write() as db:
            db.execute(
                "INSERT INTO oauth_codes (code, appid, openid, created_at) VALUES (?, ?, ?, ?)",
                (code, query["appid"], openid, self.sim.clock()),
            )
        response = Response.redirect(
            pages.with_query(redirect_uri, {"code": code, "state": query.get("state", "")})
        )
        if new:
            cookie = SimpleCookie()
            cookie["channelsim_openid"] = openid
            cookie["channelsim_openid"]["path"] = "/"
            cookie["channelsim_openid"]["max-age"] = str(10 * 365 * 86400)
            response.headers.append(("Set-Cookie", cookie["channelsim_openid"].OutputString()))
        return response

    def access_token(self, request: Request) -> Response:
        query = request.query
        keys = self.sim.keys
        if query.get("appid") != keys.wechat_appid:
            return Response.json({"errcode": 40013, "errmsg": "invalid appid"})
        if query.get("secret") != keys.wechat_app_secret:
            return Response.json({"errcode": 40125, "errmsg": "invalid appsecret"})
        if query.get("grant_type") != "authorization_code":
            return Response.json({"errcode": 40002, "errmsg": "invalid grant_type"})
        now = self.sim.clock()
        with self.sim.store.write() as db:
            row = db.execute(
                "SELECT * FROM oauth_codes WHERE code = ? AND appid = ?",
                (query.get("code", ""), query["appid"]),
            ).fetchone()
            if row is None or row["used"] or now - row["created_at"] > MAX_SKEW:
                return Response.json({"errcode": 40029, "errmsg": "invalid code"})
            db.execute("UPDATE oauth_codes SET used = 1 WHERE code = ?", (row["code"],))
        return Response.json(
            {
                "access_token": secrets.token_urlsafe(48),
                "expires_in": 7200,
                "refresh_token": secrets.token_urlsafe(48),
                "openid": row["openid"],
                "scope": "snsapi_base",
            }
        )


def fake_openid() -> str:
    return "o" + "".join(secrets.choice(OPENID_ALPHABET) for _ in range(27))
