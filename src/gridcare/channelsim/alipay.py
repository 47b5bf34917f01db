"""Alipay's open platform as the merchant meets it: ``gateway.do``, the cashier, notifications, the trade bill.

Requests: form (POST) or query (GET) parameters signed RSA2 with the merchant's app key over every non-empty
parameter but ``sign``, sorted, ``k=v`` joined by ``&`` (``sign_type`` included), in the request's ``charset``.
Answers: ``{"<method with _>_response": {...}, "sign": "..."}``, the signature over the exact JSON text of the
response object (Alipay's key); ``code`` 10000 success, 40004 business failure with ``sub_code``, 40002
invalid arguments. A bad signature or app id answers ``error_response`` unsigned, as Alipay does.

Notifications (``trade_status_sync``) and the browser's sync return are signed over every parameter but
``sign`` and ``sign_type``. Alipay also notifies refunds (``refund_fee``, ``gmt_refund``, ``out_biz_no``):
``TRADE_SUCCESS`` after a partial one, ``TRADE_CLOSED`` after the full amount.

The bill (``alipay.data.dataservice.bill.downloadurl.query``, ``bill_type=trade``) is Alipay's 业务明细 CSV in
GBK: ``#`` lines above and below, one row per payment (交易) and per refund (退款, negative) of the Beijing day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import secrets
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from gridcare.payments.channels.signatures import PrivateKeyInput, alipay_charset, alipay_sign

from . import pages, store
from .wire import (
    BEIJING,
    Request,
    Response,
    alipay_time,
    beijing,
    compact_json,
    digits,
    parse_yuan,
    rsa_sign,
    rsa_verify,
    token,
    yuan,
)

if TYPE_CHECKING:
    from .app import ChannelSimulator
    from .keys import SandboxKeys

CHANNEL = "alipay"
WAIT, SUCCESS, CLOSED = "WAIT_BUYER_PAY", "TRADE_SUCCESS", "TRADE_CLOSED"
PAGE_METHODS = ("alipay.trade.wap.pay", "alipay.trade.page.pay")
SERVICE_FEE_RATE = Decimal("0.006")
MAX_FEN = 100_000_000 * 100
OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
BILL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

BILL_COLUMNS = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
    "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
).split(",")


class AlipayError(Exception):
    """A business or argument failure, answered inside the method's response object."""

    def __init__(
        self, sub_code: str, sub_msg: str, code: str = "40004", msg: str = "Business Failed"
    ) -> None:
        super().__init__(sub_code)
        self.body = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def signing_string(params: dict[str, str]) -> str:
    """What the merchant signs: every non-empty parameter except ``sign``, sorted (``sign_type`` included)."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")


def error_response(
    sub_code: str, sub_msg: str, code: str = "40002", msg: str = "Invalid Arguments"
) -> Response:
    body = {
        "error_response": {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg},
        "sign": "",
    }
    return Response.json(body)


def notification_params(keys: SandboxKeys, trade: dict[str, Any]) -> dict[str, str]:
    """A paid trade's ``trade_status_sync`` parameters, unsigned (what the simulator queues for delivery).

    ``trade`` is a row of the trades table (or a dict with its fields: ``trade_no``, ``out_trade_no``,
    ``total`` in fen, ``payer``, ``extra``, ``status``, ``subject``, ``created_at``, ``paid_at``)."""
    amount = yuan(trade["total"])
    return {
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "app_id": keys.alipay_app_id,
        "auth_app_id": keys.alipay_app_id,
        "seller_id": keys.alipay_seller_id,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": trade["trade_no"],
        "out_trade_no": trade["out_trade_no"],
        "buyer_id": trade["payer"],
        "buyer_logon_id": trade["extra"].get("buyer_logon_id", ""),
        "trade_status": trade["status"],
        "total_amount": amount,
        "receipt_amount": amount,
        "invoice_amount": amount,
        "buyer_pay_amount": amount,
        "point_amount": "0.00",
        "subject": trade["subject"],
        "gmt_create": alipay_time(trade["created_at"]),
        "gmt_payment": alipay_time(trade["paid_at"]),
        "fund_bill_list": compact_json([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}]),
    }


def signed_notification(
    payload: dict[str, str], now: float, private_key: PrivateKeyInput
) -> tuple[bytes, dict[str, str]]:
    """One delivery attempt of a notification: ``notify_time`` stamped at ``now``, signed RSA2 with Alipay's
    private key (PEM, or a key already loaded), as the form body and its headers."""
    params = {k: v for k, v in payload.items() if v not in (None, "")} | {"notify_time": alipay_time(now)}
    params["sign"] = alipay_sign(params, private_key)
    params["sign_type"] = "RSA2"
    return urlencode(params).encode("utf-8"), {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"
    }


def _service_fee(fen: int) -> int:
    return int((Decimal(fen) * SERVICE_FEE_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class AlipayChannel:
    """The Alipay side of the simulator; state in the simulator's store, keys from its sandbox keys."""

    def __init__(self, sim: ChannelSimulator) -> None:
        self.sim = sim

    # --- gateway.do ------------------------------------------------------------------------------------------

    def gateway(self, request: Request) -> Response:
        params = request.query | request.form
        method = params.get("method", "")
        browser = method in PAGE_METHODS
        problem = self._check_request(params)
        if problem is not None:
            sub_code, sub_msg = problem
            if browser:
                return Response.html(pages.error(channel=CHANNEL, code=sub_code, message=sub_msg))
            return error_response(sub_code, sub_msg)
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except json.JSONDecodeError:
            biz = None
        if not isinstance(biz, dict):
            if browser:
                return Response.html(
                    pages.error(channel=CHANNEL, code="isv.invalid-parameter", message="参数无效")
                )
            return self._answer(
                method, AlipayError("isv.invalid-parameter", "biz_content 无效", "40002").body
            )
        if browser:
            return self._cashier_entry(request, method, params, biz)
        handler = {
            "alipay.trade.precreate": self._precreate,
            "alipay.trade.query": self._query,
            "alipay.trade.close": self._close,
            "alipay.trade.refund": self._refund,
            "alipay.trade.fastpay.refund.query": self._refund_query,
            "alipay.data.dataservice.bill.downloadurl.query": self._bill_url,
        }[method]
        try:
            body = {"code": "10000", "msg": "Success"} | handler(request, params, biz)
        except AlipayError as exc:
            body = exc.body
        return self._answer(method, body)

    def _check_request(self, params: dict[str, str]) -> tuple[str, str] | None:
        keys = self.sim.keys
        if not params.get("sign"):
            return "isv.missing-signature", "缺少签名参数"
        if params.get("sign_type") != "RSA2":
            return "isv.invalid-signature-type", "无效的签名类型"
        charset = alipay_charset(params.get("charset"))
        if charset is None:
            return "isv.invalid-charset", "字符集错误"
        try:
            message = signing_string(params).encode(charset)
        except UnicodeError:
            return "isv.invalid-charset", "字符集错误"
        if not rsa_verify(message, params["sign"], keys.alipay_app_public_pem):
            return "isv.invalid-signature", "验签出错"
        if params.get("app_id") != keys.alipay_app_id:
            return "isv.invalid-app-id", "无效的AppID参数"
        if params.get("method") not in (*PAGE_METHODS, *self._methods):
            return "isv.invalid-method", "不存在的方法名"
        if not params.get("timestamp"):
            return "isv.missing-timestamp", "缺少时间戳参数"
        return None

    _methods = (
        "alipay.trade.precreate",
        "alipay.trade.query",
        "alipay.trade.close",
        "alipay.trade.refund",
        "alipay.trade.fastpay.refund.query",
        "alipay.data.dataservice.bill.downloadurl.query",
    )

    def _answer(self, method: str, body: dict[str, Any]) -> Response:
        key = method.replace(".", "_") + "_response"
        text = compact_json(body)
        sign = rsa_sign(text.encode("utf-8"), self.sim.keys.alipay_private_pem)
        raw = '{"' + key + '":' + text + ',"sign":"' + sign + '"}'
        return Response.text(raw, "application/json;charset=utf-8")

    # --- trades ----------------------------------------------------------------------------------------------

    def _order(self, db, kind: str, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        """The trade for a placing request: created, or the same one again if nothing changed."""
        out_trade_no = str(biz.get("out_trade_no") or "")
        if not OUT_TRADE_NO.match(out_trade_no):
            raise AlipayError("isv.invalid-parameter", "out_trade_no 无效", "40002", "Invalid Arguments")
        fen = parse_yuan(biz.get("total_amount"))
        if fen is None or fen > MAX_FEN:
            raise AlipayError("ACQ.TOTAL_FEE_EXCEED", "订单金额超过限额或无效")
        subject = str(biz.get("subject") or "")
        if not subject or len(subject) > 256:
            raise AlipayError("isv.missing-parameter", "缺少必选参数 subject", "40002", "Invalid Arguments")
        trade = store.get_trade(db, CHANNEL, out_trade_no)
        now = self.sim.clock()
        if trade is not None:
            if trade["status"] == SUCCESS:
                raise AlipayError("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
            if trade["status"] == CLOSED:
                raise AlipayError("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
            if trade["total"] != fen or trade["subject"] != subject:
                raise AlipayError("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            return trade
        return store.insert_trade(
            db,
            channel=CHANNEL,
            out_trade_no=out_trade_no,
            token=token(),
            trade_no=beijing(now).strftime("%Y%m%d") + "22001" + digits(15),
            kind=kind,
            status=WAIT,
            total=fen,
            subject=subject,
            notify_url=params.get("notify_url", ""),
            return_url=params.get("return_url", ""),
            request=compact_json(biz),
            extra={"quit_url": str(biz.get("quit_url") or ""), "method": params.get("method", "")},
            created_at=now,
        )

    def _trade(self, db, biz: dict[str, Any]) -> dict[str, Any]:
        trade = None
        if biz.get("out_trade_no"):
            trade = store.get_trade(db, CHANNEL, str(biz["out_trade_no"]))
        elif biz.get("trade_no"):
            trade = store.trade_by(db, "trade_no", str(biz["trade_no"]), CHANNEL)
        else:
            raise AlipayError(
                "isv.missing-parameter", "缺少必选参数 out_trade_no", "40002", "Invalid Arguments"
            )
        if trade is None:
            raise AlipayError("ACQ.TRADE_NOT_EXIST", "交易不存在")
        return trade

    def _precreate(self, request: Request, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        with self.sim.store.write() as db:
            trade = self._order(db, "precreate", params, biz)
        return {
            "out_trade_no": trade["out_trade_no"],
            "qr_code": f"{request.base_url}/alipay/qr/{trade['token']}",
        }

    def _query(self, request: Request, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        with self.sim.store.read() as db:
            trade = self._trade(db, biz)
        paid = trade["paid_at"] is not None
        body = {
            "trade_no": trade["trade_no"],
            "out_trade_no": trade["out_trade_no"],
            "trade_status": trade["status"],
            "total_amount": yuan(trade["total"]),
            "buyer_pay_amount": yuan(trade["total"] if paid else 0),
            "point_amount": "0.00",
            "invoice_amount": yuan(trade["total"] if paid else 0),
            "receipt_amount": yuan(trade["total"] if paid else 0),
        }
        if paid:
            extra = trade["extra"]
            body |= {
                "buyer_logon_id": extra.get("buyer_logon_id", ""),
                "buyer_user_id": trade["payer"],
                "send_pay_date": alipay_time(trade["paid_at"]),
                "fund_bill_list": [{"amount": yuan(trade["total"]), "fund_channel": "ALIPAYACCOUNT"}],
            }
        return body

    def _close(self, request: Request, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        with self.sim.store.write() as db:
            trade = self._trade(db, biz)
            if trade["status"] != WAIT:
                raise AlipayError("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            store.update_trade(db, CHANNEL, trade["out_trade_no"], status=CLOSED, closed_at=self.sim.clock())
        return {"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"]}

    def _refund(self, request: Request, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        fen = parse_yuan(biz.get("refund_amount"))
        if fen is None:
            raise AlipayError("isv.invalid-parameter", "refund_amount 无效", "40002", "Invalid Arguments")
        with self.sim.store.write() as db:
            trade = self._trade(db, biz)
            out_request_no = str(biz.get("out_request_no") or trade["out_trade_no"])
            trade, fund_change = self.refund_in(
                db, trade, out_request_no, fen, str(biz.get("refund_reason") or "")
            )
        self.sim.wake()
        refund_time = trade["extra"].get("last_refund_at") or self.sim.clock()
        return {
            "trade_no": trade["trade_no"],
            "out_trade_no": trade["out_trade_no"],
            "buyer_logon_id": trade["extra"].get("buyer_logon_id", ""),
            "buyer_user_id": trade["payer"],
            "fund_change": fund_change,
            "refund_fee": yuan(trade["refunded"]),
            "send_back_fee": yuan(fen) if fund_change == "Y" else "0.00",
            "gmt_refund_pay": alipay_time(refund_time),
        }

    def refund_in(self, db, trade: dict, out_request_no: str, fen: int, reason: str = "") -> tuple[dict, str]:
        """Refund ``fen`` of a paid trade inside the caller's transaction; (trade, fund_change)."""
        existing = store.get_refund(db, CHANNEL, trade["out_trade_no"], out_request_no)
        if existing is not None:
            return trade, "N"  # the same out_request_no again: nothing moves, the answer repeats
        if trade["status"] != SUCCESS:
            raise AlipayError("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        if fen > trade["total"] - trade["refunded"]:
            raise AlipayError("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        now = self.sim.clock()
        store.insert_refund(
            db,
            channel=CHANNEL,
            out_trade_no=trade["out_trade_no"],
            out_refund_no=out_request_no,
            refund_id=out_request_no,
            amount=fen,
            status="REFUND_SUCCESS",
            reason=reason,
            created_at=now,
            success_at=now,
        )
        refunded = trade["refunded"] + fen
        full = refunded == trade["total"]
        trade = store.update_trade(
            db,
            CHANNEL,
            trade["out_trade_no"],
            refunded=refunded,
            status=CLOSED if full else SUCCESS,
            closed_at=now if full else None,
            extra=trade["extra"] | {"last_refund_at": now},
        )
        if trade["notify_url"]:
            refund_params = {
                "refund_fee": yuan(refunded),
                "gmt_refund": alipay_time(now) + f".{int(now * 1000) % 1000:03d}",
                "out_biz_no": out_request_no,
            }
            if full:
                refund_params["gmt_close"] = alipay_time(now)
            store.enqueue(
                db,
                channel=CHANNEL,
                event="refund",
                out_trade_no=trade["out_trade_no"],
                url=trade["notify_url"],
                payload=self._notify_params(trade) | refund_params,
                now=now,
            )
        return trade, "Y"

    def _refund_query(self, request: Request, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        with self.sim.store.read() as db:
            trade = self._trade(db, biz)
            out_request_no = str(biz.get("out_request_no") or trade["out_trade_no"])
            refund = store.get_refund(db, CHANNEL, trade["out_trade_no"], out_request_no)
        body = {
            "trade_no": trade["trade_no"],
            "out_trade_no": trade["out_trade_no"],
            "out_request_no": out_request_no,
        }
        if refund is None:
            return body  # Alipay's way of saying "no such refund": success without refund_amount
        return body | {
            "total_amount": yuan(trade["total"]),
            "refund_amount": yuan(refund["amount"]),
            "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": alipay_time(refund["success_at"]),
        }

    # --- paying ----------------------------------------------------------------------------------------------

    def pay(self, out_trade_no: str) -> dict[str, Any]:
        """The buyer pays (cashier button, scanned QR or ``/_sim``): TRADE_SUCCESS and a notification queued.

        Raises ``LookupError`` for an unknown trade and ``ValueError`` for a closed one; paying twice is a no-op.
        """
        now = self.sim.clock()
        with self.sim.store.write() as db:
            trade = store.get_trade(db, CHANNEL, out_trade_no)
            if trade is None:
                raise LookupError(out_trade_no)
            if trade["status"] == SUCCESS or trade["paid_at"] is not None:
                return trade
            if trade["status"] != WAIT:
                raise ValueError("交易已关闭")
            buyer_id = "2088" + digits(12)
            logon = "1" + secrets.choice("3578") + digits(1) + "****" + digits(4)
            trade = store.update_trade(
                db,
                CHANNEL,
                out_trade_no,
                status=SUCCESS,
                paid_at=now,
                payer=buyer_id,
                extra=trade["extra"] | {"buyer_logon_id": logon},
            )
            if trade["notify_url"]:
                store.enqueue(
                    db,
                    channel=CHANNEL,
                    event="TRADE_SUCCESS",
                    out_trade_no=out_trade_no,
                    url=trade["notify_url"],
                    payload=self._notify_params(trade),
                    now=now,
                )
        self.sim.wake()
        return trade

    def refund_from_channel(self, out_trade_no: str, fen: int) -> dict[str, Any]:
        """A refund made on Alipay's side (the merchant console): notifies like an API refund."""
        with self.sim.store.write() as db:
            trade = store.get_trade(db, CHANNEL, out_trade_no)
            if trade is None:
                raise LookupError(out_trade_no)
            trade, _ = self.refund_in(db, trade, "SIM" + digits(12), fen, "商户后台退款")
        self.sim.wake()
        return trade

    def _notify_params(self, trade: dict[str, Any]) -> dict[str, str]:
        return notification_params(self.sim.keys, trade)

    def prepare(self, payload: dict[str, str], now: float) -> tuple[bytes, dict[str, str]]:
        """One delivery attempt's form body: stamped ``notify_time`` and signed afresh."""
        return signed_notification(payload, now, self.sim.keys.alipay_private_pem)

    @staticmethod
    def delivered(status: int | None, answer: bytes) -> bool:
        return status == 200 and answer == b"success"

    # --- pages -----------------------------------------------------------------------------------------------

    def _cashier_entry(self, request: Request, method: str, params: dict[str, str], biz: dict) -> Response:
        try:
            with self.sim.store.write() as db:
                trade = self._order(db, "wap" if method == "alipay.trade.wap.pay" else "page", params, biz)
                if trade["return_url"] != params.get("return_url", trade["return_url"]):
                    trade = store.update_trade(
                        db, CHANNEL, trade["out_trade_no"], return_url=params["return_url"]
                    )
        except AlipayError as exc:
            return Response.html(
                pages.error(channel=CHANNEL, code=exc.body["sub_code"], message=exc.body["sub_msg"])
            )
        return self._cashier(trade)

    def _cashier(self, trade: dict[str, Any]) -> Response:
        if trade["status"] != WAIT:
            message = "该交易已支付" if trade["status"] == SUCCESS else "交易已关闭"
            return Response.html(pages.result(channel=CHANNEL, title=message, message=trade["out_trade_no"]))
        cancel = trade["extra"].get("quit_url") or trade["return_url"] or "/"
        return Response.html(
            pages.alipay_cashier(
                amount=yuan(trade["total"]),
                subject=trade["subject"],
                out_trade_no=trade["out_trade_no"],
                pay_action=f"/alipay/cashier/{trade['token']}/pay",
                cancel_url=cancel,
            )
        )

    def qr_page(self, request: Request, trade_token: str) -> Response:
        """Where the precreate QR code points: what the buyer's phone shows after scanning."""
        with self.sim.store.read() as db:
            trade = store.trade_by(db, "token", trade_token, CHANNEL)
        if trade is None:
            return Response.html(
                pages.error(channel=CHANNEL, code="ACQ.TRADE_NOT_EXIST", message="交易不存在"), 404
            )
        return self._cashier(trade)

    def cashier_pay(self, request: Request, trade_token: str) -> Response:
        with self.sim.store.read() as db:
            trade = store.trade_by(db, "token", trade_token, CHANNEL)
        if trade is None:
            return Response.html(
                pages.error(channel=CHANNEL, code="ACQ.TRADE_NOT_EXIST", message="交易不存在"), 404
            )
        try:
            trade = self.pay(trade["out_trade_no"])
        except ValueError as exc:
            return Response.html(pages.error(channel=CHANNEL, code="ACQ.TRADE_HAS_CLOSE", message=str(exc)))
        if not trade["return_url"]:
            return Response.html(
                pages.result(channel=CHANNEL, title="支付成功", message=f"￥{yuan(trade['total'])}")
            )
        return Response.redirect(pages.with_query(trade["return_url"], self.return_params(trade)))

    def return_params(self, trade: dict[str, Any]) -> dict[str, str]:
        """The signed parameters Alipay appends to ``return_url`` (同步返回)."""
        keys = self.sim.keys
        params = {
            "charset": "utf-8",
            "out_trade_no": trade["out_trade_no"],
            "method": (trade["extra"].get("method") or "alipay.trade.page.pay") + ".return",
            "total_amount": yuan(trade["total"]),
            "trade_no": trade["trade_no"],
            "auth_app_id": keys.alipay_app_id,
            "version": "1.0",
            "app_id": keys.alipay_app_id,
            "seller_id": keys.alipay_seller_id,
            "timestamp": alipay_time(trade["paid_at"] or self.sim.clock()),
        }
        params["sign"] = alipay_sign(params, keys.alipay_private_pem)
        params["sign_type"] = "RSA2"
        return params

    # --- bills -----------------------------------------------------------------------------------------------

    def _bill_url(self, request: Request, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        bill_type, bill_date = str(biz.get("bill_type") or ""), str(biz.get("bill_date") or "")
        if bill_type != "trade":
            raise AlipayError("isv.invalid-bill-type", "账单类型不支持", "40002", "Invalid Arguments")
        if not BILL_DATE.match(bill_date):
            raise AlipayError("isv.invalid-bill-date", "账单日期格式不正确", "40002", "Invalid Arguments")
        if bill_date > beijing(self.sim.clock()).strftime("%Y-%m-%d"):
            raise AlipayError("isp.bill_not_exist", "账单不存在")
        content = self.bill(bill_date)
        bill_token = token()
        with self.sim.store.write() as db:
            db.execute(
                "INSERT INTO bills (token, channel, bill_date, content, created_at) VALUES (?, ?, ?, ?, ?)",
                (bill_token, CHANNEL, bill_date, content, self.sim.clock()),
            )
        return {"bill_download_url": f"{request.base_url}/alipay/bill/{bill_date}.csv?token={bill_token}"}

    def bill_file(self, request: Request, bill_date: str) -> Response:
        with self.sim.store.read() as db:
            row = db.execute(
                "SELECT content FROM bills WHERE token = ? AND channel = ? AND bill_date = ?",
                (request.query.get("token", ""), CHANNEL, bill_date),
            ).fetchone()
        if row is None:
            return Response.text("账单不存在或链接已失效", status=404)
        response = Response.text(row["content"], "text/csv; charset=GBK")
        response.headers.append(("Content-Disposition", f'attachment; filename="{bill_date}.csv"'))
        return response

    def bill(self, bill_date: str) -> bytes:
        """The 业务明细 CSV (GBK) of one Beijing day: payments and refunds completed that day."""
        day = dt.datetime.strptime(bill_date, "%Y-%m-%d").replace(tzinfo=BEIJING)
        start, end = day.timestamp(), (day + dt.timedelta(days=1)).timestamp()
        with self.sim.store.read() as db:
            paid = db.execute(
                "SELECT * FROM trades WHERE channel = ? AND paid_at >= ? AND paid_at < ? ORDER BY paid_at",
                (CHANNEL, start, end),
            ).fetchall()
            refunds = db.execute(
                "SELECT r.*, t.trade_no, t.subject, t.created_at AS trade_created, t.extra"
                " FROM refunds r JOIN trades t ON t.channel = r.channel AND t.out_trade_no = r.out_trade_no"
                " WHERE r.channel = ? AND r.success_at >= ? AND r.success_at < ? ORDER BY r.success_at",
                (CHANNEL, start, end),
            ).fetchall()
        rows: list[tuple[float, list[str]]] = []
        paid_total = refund_total = 0
        for trade in paid:
            extra = json.loads(trade["extra"] or "{}")
            amount = yuan(trade["total"])
            paid_total += trade["total"]
            rows.append(
                (
                    trade["paid_at"],
                    self._bill_row(
                        trade,
                        extra,
                        "交易",
                        trade["created_at"],
                        trade["paid_at"],
                        amount,
                        "",
                        yuan(-_service_fee(trade["total"])),
                    ),
                )
            )
        for refund in refunds:
            extra = json.loads(refund["extra"] or "{}")
            refund_total += refund["amount"]
            amount = yuan(-refund["amount"])
            rows.append(
                (
                    refund["success_at"],
                    self._bill_row(
                        refund,
                        extra,
                        "退款",
                        refund["trade_created"],
                        refund["success_at"],
                        amount,
                        refund["out_refund_no"],
                        yuan(_service_fee(refund["amount"])),
                    ),
                )
            )
        rows.sort(key=lambda item: item[0])
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        day_cn = day.strftime("%Y年%m月%d日")
        next_cn = (day + dt.timedelta(days=1)).strftime("%Y年%m月%d日")
        out.write("#支付宝业务明细查询\r\n")
        out.write(f"#账号：[{self.sim.keys.alipay_seller_id}0156]\r\n")
        out.write(f"#起始日期：[{day_cn} 00:00:00]   终止日期：[{next_cn} 00:00:00]\r\n")
        out.write(
            "#-----------------------------------------业务明细列表----------------------------------------\r\n"
        )
        writer.writerow(BILL_COLUMNS)
        for _, row in rows:
            writer.writerow(row)
        out.write(
            "#-----------------------------------------业务明细列表结束------------------------------------\r\n"
        )
        out.write(f"#交易合计：{len(paid)}笔，商家实收共{yuan(paid_total)}元，商家优惠共0.00元\r\n")
        out.write(f"#退款合计：{len(refunds)}笔，商家实收共{yuan(-refund_total)}元，商家优惠共0.00元\r\n")
        exported = beijing(self.sim.clock()).strftime("%Y年%m月%d日 %H:%M:%S")
        out.write(f"#导出时间：[{exported}]\r\n")
        return out.getvalue().encode("gbk")

    @staticmethod
    def _bill_row(
        row, extra: dict, kind: str, created: float, done: float, amount: str, request_no: str, fee: str
    ) -> list[str]:
        zero = "0.00"
        return [
            row["trade_no"], row["out_trade_no"], kind, row["subject"], alipay_time(created), alipay_time(done),
            "", "", "", "", extra.get("buyer_logon_id", ""), amount, amount, zero, zero, zero, zero, zero, "",
            zero, zero, request_no, fee, zero, "",
        ]  # fmt: skip
