"""Channel backends behind one interface: `send(notification) -> provider message id`.

A backend raises `TemporaryError` (try again later: timeouts, 5xx, an expired token that could not be
refreshed) or `PermanentError` (this message will never go: 4xx, an unknown openid). Which backend serves
which channel is `settings.NOTIFY["BACKENDS"]` (from the environment); secrets come from the environment only.

- `file` (the default): one JSON line per message appended to `NOTIFY["FILE_PATH"]` (under var/).
- `http_sms`: POST JSON {"id", "to", "content"} to `NOTIFY["SMS_URL"]` with headers `X-Gridcare-Timestamp`
  (Unix seconds) and `X-Gridcare-Signature` = hex HMAC-SHA256(`SMS_SECRET`, "<timestamp>.<body bytes>");
  a 2xx answer with {"message_id": ...} is sent, 4xx permanent, 5xx/timeout/anything else temporary.
- `wechat`: template messages (模板消息) of a WeChat official account; the access token is cached until shortly
  before it expires; errcode 40001/42001 (token invalid/expired) refreshes it and retries once.
- `email`: Django's `EmailMessage` through the configured EMAIL_BACKEND.
"""

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email.utils import make_msgid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage


class TemporaryError(Exception):
    """Sending failed but may succeed later: retry with backoff."""


class PermanentError(Exception):
    """This message can never be sent as it is: no retry."""


def _conf() -> dict:
    return settings.NOTIFY


def _post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(  # noqa: S310 — _open refuses anything but http(s)
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    return _open(req, timeout)


def _open(req, timeout: float) -> tuple[int, bytes]:
    if not req.full_url.startswith(("http://", "https://")):
        raise PermanentError(f"bad URL scheme: {req.full_url[:40]}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 — scheme checked above
            return resp.status, resp.read(1_000_000)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1_000_000) if exc.fp else b""
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise TemporaryError(f"network: {exc}") from exc


class FileBackend:
    """Development: append the message as one JSON line to a file (nothing leaves the machine)."""

    _lock = threading.Lock()

    def send(self, n) -> str:
        path = Path(_conf()["FILE_PATH"])
        line = json.dumps(
            {
                "id": n.pk,
                "channel": n.channel,
                "kind": n.kind,
                "to": n.recipient,
                "subject": n.subject,
                "body": n.body,
                "payload": n.payload,
                "customer_id": n.customer_id,
            },
            ensure_ascii=False,
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            raise TemporaryError(f"file: {exc}") from exc
        return f"file-{n.pk}"


def sms_signature(secret: str, timestamp: str, body: bytes) -> str:
    """hex HMAC-SHA256 over b"<timestamp>." + body: what the gateway recomputes to trust a request."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class HttpSmsBackend:
    """An HTTP SMS gateway (短信平台) that takes signed JSON."""

    def send(self, n) -> str:
        conf = _conf()
        url, secret = conf["SMS_URL"], conf["SMS_SECRET"]
        if not url or not secret:
            raise TemporaryError("GRIDCARE_SMS_URL / GRIDCARE_SMS_SECRET not configured")
        body = json.dumps({"id": n.pk, "to": n.recipient, "content": n.body}, ensure_ascii=False).encode()
        ts = str(int(time.time()))
        status, raw = _post_json(
            url,
            body,
            {"X-Gridcare-Timestamp": ts, "X-Gridcare-Signature": sms_signature(secret, ts, body)},
            conf["HTTP_TIMEOUT"],
        )
        text = raw[:300].decode("utf-8", "replace")
        if 200 <= status < 300:
            try:
                message_id = str(json.loads(raw).get("message_id") or "")
            except (ValueError, AttributeError):
                message_id = ""
            if not message_id:
                raise TemporaryError(f"HTTP {status} without message_id: {text}")
            return message_id
        if 400 <= status < 500:
            raise PermanentError(f"HTTP {status}: {text}")
        raise TemporaryError(f"HTTP {status}: {text}")


TOKEN_ERRCODES = {40001, 42001}


class WechatBackend:
    """WeChat official account template messages (模板消息)."""

    def _token_key(self) -> str:
        return f"notify:wechat_token:{_conf()['WECHAT_APPID']}"

    def _fetch_token(self) -> str:
        conf = _conf()
        if not conf["WECHAT_APPID"] or not conf["WECHAT_SECRET"]:
            raise TemporaryError("GRIDCARE_WECHAT_MP_APPID / GRIDCARE_WECHAT_MP_SECRET not configured")
        query = urllib.parse.urlencode(
            {
                "grant_type": "client_credential",
                "appid": conf["WECHAT_APPID"],
                "secret": conf["WECHAT_SECRET"],
            }
        )
        base = conf["WECHAT_BASE_URL"].rstrip("/")
        req = urllib.request.Request(f"{base}/cgi-bin/token?{query}")  # noqa: S310 — _open checks the scheme
        status, raw = _open(req, conf["HTTP_TIMEOUT"])
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise TemporaryError(f"token: HTTP {status}, not JSON") from exc
        token = data.get("access_token")
        if not token:
            raise TemporaryError(f"token: errcode {data.get('errcode')} {data.get('errmsg', '')}")
        # Refresh a few minutes early so a token never expires between fetch and use.
        ttl = max(60, int(data.get("expires_in", 7200)) - 300)
        cache.set(self._token_key(), token, ttl)
        return token

    def _token(self, refresh: bool = False) -> str:
        token = None if refresh else cache.get(self._token_key())
        return token or self._fetch_token()

    def send(self, n) -> str:
        conf = _conf()
        body = json.dumps(
            {
                "touser": n.recipient,
                "template_id": n.payload.get("template_id", ""),
                "data": {k: {"value": v} for k, v in n.payload.get("data", {}).items()},
            },
            ensure_ascii=False,
        ).encode()
        base = conf["WECHAT_BASE_URL"].rstrip("/")
        for attempt in (0, 1):
            token = self._token(refresh=attempt == 1)
            url = f"{base}/cgi-bin/message/template/send?access_token={urllib.parse.quote(token)}"
            status, raw = _post_json(url, body, {}, conf["HTTP_TIMEOUT"])
            if status >= 500:
                raise TemporaryError(f"HTTP {status}")
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise TemporaryError(f"HTTP {status}, not JSON") from exc
            code = data.get("errcode", 0)
            if code == 0:
                return str(data.get("msgid", ""))
            if code in TOKEN_ERRCODES and attempt == 0:
                cache.delete(self._token_key())
                continue
            if code == -1:  # 系统繁忙
                raise TemporaryError(f"errcode -1 {data.get('errmsg', '')}")
            raise PermanentError(f"errcode {code} {data.get('errmsg', '')}")
        raise TemporaryError("token refused twice")  # pragma: no cover — the loop returns or raises


class EmailBackend:
    """E-mail through Django's configured EMAIL_BACKEND."""

    def send(self, n) -> str:
        msgid = make_msgid(domain="gridcare")
        msg = EmailMessage(
            subject=n.subject,
            body=n.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[n.recipient],
            headers={"Message-ID": msgid},
        )
        try:
            msg.send(fail_silently=False)
        except (OSError, TimeoutError) as exc:  # smtplib errors are OSErrors
            raise TemporaryError(f"smtp: {exc}") from exc
        return msgid


BACKENDS = {"file": FileBackend, "http_sms": HttpSmsBackend, "wechat": WechatBackend, "email": EmailBackend}


def backend_for(channel: str):
    """The backend instance configured for `channel` (an unknown name is a configuration error)."""
    name = _conf()["BACKENDS"].get(channel, "file")
    try:
        return BACKENDS[name]()
    except KeyError:
        raise PermanentError(f"unknown notify backend {name!r} for channel {channel}") from None
