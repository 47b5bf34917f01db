"""The simulator as one plain WSGI application, routed by path; state in SQLite, keys from the sandbox dir.

Paths: ``/alipay/…`` (gateway.do, cashier, QR target, bill files), ``/wechat/v3/…`` (WeChat Pay API v3),
``/wechat/pay|h5|jsapi`` (WeChat's pay pages), ``/wechat-open/connect/oauth2/authorize`` and
``/wechat-api/sns/oauth2/access_token`` (snsapi_base), ``/_sim/…`` (JSON admin for tests and the demo, no
auth: a local tool) and ``/`` (recent trades).

``mode`` (``/_sim/mode``): ``normal``; ``down`` answers every channel path 503; ``garbage`` answers every
channel API 200 with HTML instead of JSON (pages keep working). The last requests received (raw headers and
body) are kept in memory for ``/_sim/requests``.
"""

from __future__ import annotations

import base64
import collections
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from . import keys as sandbox_keys
from . import pages, store
from .alipay import AlipayChannel, AlipayError
from .notify import Deliverer
from .wechat import WechatChannel, WechatError
from .wire import Request, Response

MODES = ("normal", "down", "garbage")
REQUEST_LOG = 200
MAX_BODY = 1024 * 1024

Handler = Callable[..., Response]


class ChannelSimulator:
    """The WSGI app. ``background=True`` starts the notification delivery thread at once."""

    def __init__(
        self,
        keys_dir: Path,
        *,
        db_path: Path | None = None,
        retry_scale: float = 1.0,
        refund_delay: float = 3.0,
        sign_serial: str | None = None,
        clock: Callable[[], float] = time.time,
        background: bool = True,
    ) -> None:
        self.keys_dir = Path(keys_dir)
        self.keys = sandbox_keys.ensure(self.keys_dir)
        if sign_serial and self.keys.platform(sign_serial.upper()) is None:
            raise ValueError(
                f"no WeChat platform certificate with serial {sign_serial} under {self.keys_dir}"
            )
        self._sign_serial = sign_serial.upper() if sign_serial else None
        self.store = store.Store(db_path or self.keys_dir / "sim.sqlite3")
        self.retry_scale = retry_scale
        self.refund_delay = refund_delay
        self.clock = clock
        self.mode = "normal"
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=REQUEST_LOG)
        self._lock = threading.Lock()
        self.alipay = AlipayChannel(self)
        self.wechat = WechatChannel(self)
        self.deliverer = Deliverer(self)
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/"), self._index),
            ("GET|POST", re.compile(r"/alipay/gateway\.do"), lambda r: self.alipay.gateway(r)),
            ("GET", re.compile(r"/alipay/qr/([\w-]+)"), lambda r, t: self.alipay.qr_page(r, t)),
            ("POST", re.compile(r"/alipay/cashier/([\w-]+)/pay"), lambda r, t: self.alipay.cashier_pay(r, t)),
            (
                "GET",
                re.compile(r"/alipay/bill/(\d{4}-\d{2}-\d{2})\.csv"),
                lambda r, d: self.alipay.bill_file(r, d),
            ),
            ("GET|POST", re.compile(r"/wechat/v3/.*"), lambda r: self.wechat.api(r)),
            ("GET|POST", re.compile(r"/wechat/pay/([\w-]+)"), lambda r, t: self.wechat.native_page(r, t)),
            ("GET|POST", re.compile(r"/wechat/h5/([\w-]+)"), lambda r, t: self.wechat.h5_page(r, t)),
            ("GET|POST", re.compile(r"/wechat/jsapi"), lambda r: self.wechat.jsapi_page(r)),
            ("GET", re.compile(r"/wechat-open/connect/oauth2/authorize"), lambda r: self.wechat.authorize(r)),
            (
                "GET",
                re.compile(r"/wechat-api/sns/oauth2/access_token"),
                lambda r: self.wechat.access_token(r),
            ),
            ("GET", re.compile(r"/_sim/health"), self._health),
            ("GET", re.compile(r"/_sim/trades"), self._trades),
            ("GET", re.compile(r"/_sim/trades/(alipay|wechat)/([^/]+)"), self._trade),
            ("POST", re.compile(r"/_sim/trades/(alipay|wechat)/([^/]+)/pay"), self._pay),
            ("POST", re.compile(r"/_sim/trades/(alipay|wechat)/([^/]+)/refund"), self._refund),
            ("GET", re.compile(r"/_sim/notifications"), self._notifications),
            ("POST", re.compile(r"/_sim/deliver"), self._deliver),
            ("POST", re.compile(r"/_sim/wechat/rotate"), self._rotate),
            ("GET|POST", re.compile(r"/_sim/mode"), self._mode),
            ("GET", re.compile(r"/_sim/requests"), self._requests),
        ]
        if background:
            self.deliverer.start()

    # --- collaborators' hooks --------------------------------------------------------------------------------

    def channel(self, name: str) -> AlipayChannel | WechatChannel:
        return self.alipay if name == "alipay" else self.wechat

    def wake(self) -> None:
        """Something was queued: the delivery thread looks now rather than at its next tick."""
        self.deliverer.wake()

    def deliver_pending(self, now: float | None = None) -> int:
        """Settle due refunds and make every due delivery attempt in this thread (tests)."""
        self.wechat.settle_due(now)
        return self.deliverer.deliver_pending(now)

    def signing_platform_cert(self) -> sandbox_keys.PlatformCert:
        if self._sign_serial and (cert := self.keys.platform(self._sign_serial)) is not None:
            return cert
        return self.keys.wechat_platform[-1]

    def rotate_wechat(self) -> str:
        """A new platform certificate, which signs from now on; the older ones stay listed."""
        with self._lock:
            serial = sandbox_keys.rotate_wechat_platform(self.keys_dir)
            self.keys = sandbox_keys.ensure(self.keys_dir)
            self._sign_serial = serial
        return serial

    def close(self) -> None:
        self.deliverer.stop()
        self.store.close()

    # --- WSGI ------------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = self._request(environ)
        try:
            response = self.handle(request)
        except Exception as exc:  # a simulator bug: say so in the answer rather than drop the connection
            response = Response.json({"code": "SYSTEM_ERROR", "message": f"simulator error: {exc!r}"}, 500)
        if not request.path.startswith("/_sim/"):
            self._log(request, response)
        start_response(response.status_line, [*response.headers, ("Content-Length", str(len(response.body)))])
        return [response.body]

    @staticmethod
    def _request(environ: dict[str, Any]) -> Request:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, MAX_BODY)) if length > 0 else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        host = (
            environ.get("HTTP_HOST")
            or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
        )
        cookies: dict[str, str] = {}
        try:
            cookies = {
                name: morsel.value for name, morsel in SimpleCookie(environ.get("HTTP_COOKIE", "")).items()
            }
        except CookieError:
            pass
        path = environ.get("PATH_INFO", "/") or "/"
        # WSGI hands PATH_INFO over as latin-1 text of the raw bytes; the channels' paths are UTF-8.
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
        return Request(
            method=environ.get("REQUEST_METHOD", "GET").upper(),
            path=path,
            query_string=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
            base_url=f"{environ.get('wsgi.url_scheme', 'http')}://{host}",
            cookies=cookies,
            raw_target=environ.get("RAW_URI") or environ.get("REQUEST_URI") or "",
        )

    def handle(self, request: Request) -> Response:
        channel_path = not (request.path == "/" or request.path.startswith("/_sim/"))
        if channel_path and self.mode == "down":
            return Response.text("503 Service Unavailable (simulated outage)", status=503)
        if channel_path and self.mode == "garbage" and self._is_api(request):
            return Response.text(
                "<html><body><h1>系统繁忙</h1>(simulated garbage)</body></html>", "text/html"
            )
        for methods, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if request.method not in methods.split("|"):
                return Response.json({"code": "METHOD_NOT_ALLOWED", "message": request.method}, 405)
            return handler(request, *match.groups())
        return Response.json({"code": "NOT_FOUND", "message": "无效的请求地址"}, 404)

    @staticmethod
    def _is_api(request: Request) -> bool:
        if request.path.startswith(("/wechat/v3/", "/wechat-api/")):
            return True
        if request.path == "/alipay/gateway.do":
            method = (request.query | request.form).get("method", "")
            return method not in ("alipay.trade.wap.pay", "alipay.trade.page.pay")
        return False

    def _log(self, request: Request, response: Response) -> None:
        try:
            text, encoding = request.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(request.body).decode("ascii"), "base64"
        entry = {
            "at": self.clock(),
            "method": request.method,
            "path": request.path,
            "query_string": request.query_string,
            "headers": {
                "-".join(part.capitalize() for part in k.split("-")): v for k, v in request.headers.items()
            },
            "body": text,
            "body_encoding": encoding,
            "status": response.status,
        }
        with self._lock:
            self.requests.append(entry)

    # --- the index -------------------------------------------------------------------------------------------

    def _index(self, request: Request) -> Response:
        with self.store.read() as db:
            rows = db.execute("SELECT * FROM trades ORDER BY created_at DESC LIMIT 50").fetchall()
        trades = [store.row_dict(row) for row in rows]
        links = {}
        for trade in trades:
            assert trade is not None
            if trade["channel"] == "alipay" and trade["status"] == "WAIT_BUYER_PAY":
                links[trade["token"]] = f"/alipay/qr/{trade['token']}"
            elif trade["channel"] == "wechat" and trade["status"] == "NOTPAY" and trade["kind"] == "NATIVE":
                links[trade["token"]] = f"/wechat/pay/{trade['token']}"
            elif trade["channel"] == "wechat" and trade["status"] == "NOTPAY" and trade["kind"] == "MWEB":
                links[trade["token"]] = f"/wechat/h5/{trade['token']}"
        return Response.html(pages.index([t for t in trades if t], links))

    # --- /_sim -----------------------------------------------------------------------------------------------

    def _health(self, request: Request) -> Response:
        with self.store.read() as db:
            pending = db.execute("SELECT COUNT(*) FROM notifications WHERE state = 'pending'").fetchone()[0]
        return Response.json(
            {
                "ok": True,
                "mode": self.mode,
                "alipay_app_id": self.keys.alipay_app_id,
                "wechat_mchid": self.keys.wechat_mchid,
                "wechat_sign_serial": self.signing_platform_cert().serial,
                "wechat_platform_serials": [cert.serial for cert in self.keys.wechat_platform],
                "pending_notifications": pending,
            }
        )

    def _trade_view(self, db, trade: dict[str, Any]) -> dict[str, Any]:
        refunds = db.execute(
            "SELECT out_refund_no, refund_id, amount, status, created_at, success_at FROM refunds"
            " WHERE channel = ? AND out_trade_no = ? ORDER BY created_at",
            (trade["channel"], trade["out_trade_no"]),
        ).fetchall()
        hidden = ("request", "answer")
        return {k: v for k, v in trade.items() if k not in hidden} | {"refunds": [dict(r) for r in refunds]}

    def _trades(self, request: Request) -> Response:
        query = request.query
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 100
        sql, params = "SELECT * FROM trades", []
        if query.get("channel"):
            sql, params = sql + " WHERE channel = ?", [query["channel"]]
        with self.store.read() as db:
            rows = db.execute(sql + " ORDER BY created_at DESC LIMIT ?", (*params, limit)).fetchall()
            trades = [self._trade_view(db, store.row_dict(row) or {}) for row in rows]
        return Response.json({"trades": trades})

    def _trade(self, request: Request, channel: str, out_trade_no: str) -> Response:
        with self.store.read() as db:
            trade = store.get_trade(db, channel, out_trade_no)
            if trade is None:
                return Response.json({"code": "NOT_FOUND", "message": "no such trade"}, 404)
            return Response.json(self._trade_view(db, trade))

    def _pay(self, request: Request, channel: str, out_trade_no: str) -> Response:
        body = request.json()
        openid = str(body.get("openid") or "") if isinstance(body, dict) else ""
        try:
            if channel == "alipay":
                self.alipay.pay(out_trade_no)
            else:
                self.wechat.pay(out_trade_no, openid)
        except LookupError:
            return Response.json({"code": "NOT_FOUND", "message": "no such trade"}, 404)
        except ValueError as exc:
            return Response.json({"code": "CONFLICT", "message": str(exc)}, 409)
        return self._trade(request, channel, out_trade_no)

    def _refund(self, request: Request, channel: str, out_trade_no: str) -> Response:
        body = request.json() or {}
        if not isinstance(body, dict):
            return Response.json({"code": "PARAM_ERROR", "message": "a JSON object, please"}, 400)
        with self.store.read() as db:
            trade = store.get_trade(db, channel, out_trade_no)
        if trade is None:
            return Response.json({"code": "NOT_FOUND", "message": "no such trade"}, 404)
        fen = trade["total"] - trade["refunded"]
        if body.get("amount") is not None:
            try:
                fen = int((Decimal(str(body["amount"])) * 100).to_integral_exact())
            except (InvalidOperation, ValueError):
                return Response.json({"code": "PARAM_ERROR", "message": 'amount: yuan, e.g. "12.30"'}, 400)
        if fen <= 0:
            return Response.json({"code": "PARAM_ERROR", "message": "nothing to refund"}, 400)
        try:
            if channel == "alipay":
                self.alipay.refund_from_channel(out_trade_no, fen)
            else:
                self.wechat.refund_from_channel(out_trade_no, fen)
        except AlipayError as exc:
            return Response.json({"code": exc.body["sub_code"], "message": exc.body["sub_msg"]}, 409)
        except WechatError as exc:
            return Response.json({"code": exc.code, "message": exc.message}, 409)
        except ValueError as exc:
            return Response.json({"code": "CONFLICT", "message": str(exc)}, 409)
        return self._trade(request, channel, out_trade_no)

    def _notifications(self, request: Request) -> Response:
        query = request.query
        sql, params = "SELECT * FROM notifications", []
        if query.get("channel"):
            sql, params = sql + " WHERE channel = ?", [query["channel"]]
        with self.store.read() as db:
            rows = db.execute(sql + " ORDER BY id DESC LIMIT 200", params).fetchall()
            result = []
            for row in rows:
                attempts = db.execute(
                    "SELECT at, status, answer, error FROM attempts WHERE notification_id = ? ORDER BY id",
                    (row["id"],),
                ).fetchall()
                item = {k: row[k] for k in row.keys() if k != "payload"}
                item["payload"] = json.loads(row["payload"])
                item["attempt_log"] = [dict(a) for a in attempts]
                result.append(item)
        return Response.json({"notifications": result})

    def _deliver(self, request: Request) -> Response:
        return Response.json({"attempts": self.deliver_pending()})

    def _rotate(self, request: Request) -> Response:
        serial = self.rotate_wechat()
        return Response.json(
            {"serial": serial, "serials": [cert.serial for cert in self.keys.wechat_platform]}
        )

    def _mode(self, request: Request) -> Response:
        if request.method == "POST":
            body = request.json()
            mode = (
                body.get("mode")
                if isinstance(body, dict)
                else dict(parse_qsl(request.query_string)).get("mode")
            )
            if mode not in MODES:
                return Response.json(
                    {"code": "PARAM_ERROR", "message": f"mode: one of {', '.join(MODES)}"}, 400
                )
            self.mode = mode
        return Response.json({"mode": self.mode})

    def _requests(self, request: Request) -> Response:
        query = request.query
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else REQUEST_LOG
        with self._lock:
            entries = list(self.requests)[-limit:]
        if query.get("path"):
            entries = [e for e in entries if e["path"].startswith(query["path"])]
        return Response.json({"requests": entries})
