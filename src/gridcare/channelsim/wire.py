"""Small pieces both channels' wire formats share: Beijing time, amounts, ids, RSA-SHA256, a WSGI request and
response. Stdlib and ``cryptography`` only (plus the Django-free ``payments.channels.signatures`` helpers).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http import HTTPStatus
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from gridcare.payments.channels.signatures import load_private_key, load_public_key

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
CENT = Decimal("0.01")


# --- time and amounts ----------------------------------------------------------------------------------------


def beijing(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, BEIJING)


def alipay_time(epoch: float) -> str:
    """Alipay's ``YYYY-MM-DD HH:MM:SS`` in Beijing time."""
    return beijing(epoch).strftime("%Y-%m-%d %H:%M:%S")


def rfc3339(epoch: float) -> str:
    """WeChat's ``2024-01-02T03:04:05+08:00``."""
    return beijing(epoch).replace(microsecond=0).isoformat()


def parse_rfc3339(text: str) -> dt.datetime | None:
    """An aware datetime from WeChat's RFC 3339 (an offset is required), or None."""
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def yuan(fen: int) -> str:
    """Fen as Alipay's ``"12.30"``."""
    return str((Decimal(fen) / 100).quantize(CENT))


def parse_yuan(text: object) -> int | None:
    """Alipay's yuan string (at most two decimals, positive) as fen, or None."""
    if not isinstance(text, str | int | float):
        return None
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        return None
    return int(value * 100)


# --- ids -----------------------------------------------------------------------------------------------------


def token(n: int = 16) -> str:
    return secrets.token_urlsafe(n)


def digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def nonce32() -> str:
    return secrets.token_hex(16).upper()


def nonce12() -> str:
    """The 12 characters AEAD_AES_256_GCM uses as nonce (WeChat sends printable ones)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


# --- RSA-SHA256 ----------------------------------------------------------------------------------------------


def rsa_sign(message: bytes, private_pem: str) -> str:
    signature = load_private_key(private_pem).sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa_verify(message: bytes, signature_b64: str | None, public_pem: str) -> bool:
    if not signature_b64:
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        load_public_key(public_pem).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- WSGI ----------------------------------------------------------------------------------------------------


@dataclass
class Request:
    """What a handler needs of a WSGI request; ``path`` is relative to the channel's mount point."""

    method: str
    path: str  # as received, e.g. /wechat/v3/pay/transactions/native
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str  # scheme://host[:port] of the simulator as the client reached it
    cookies: dict[str, str] = field(default_factory=dict)
    raw_target: str = ""  # the request target exactly as sent (path?query), when the server gives it

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    @property
    def form(self) -> dict[str, str]:
        if (
            "application/x-www-form-urlencoded" not in self.headers.get("content-type", "")
            and self.method != "POST"
        ):
            return {}
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return {}
        return dict(parse_qsl(text, keep_blank_values=True))

    def json(self) -> object:
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, value: object, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
        body = compact_json(value).encode("utf-8")
        return cls(status, body, [("Content-Type", "application/json; charset=utf-8"), *headers])

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode("utf-8"), [("Content-Type", "text/html; charset=utf-8")])

    @classmethod
    def text(
        cls, text: str | bytes, content_type: str = "text/plain; charset=utf-8", status: int = 200
    ) -> Response:
        body = text.encode("utf-8") if isinstance(text, str) else text
        return cls(status, body, [("Content-Type", content_type)])

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, b"", [("Location", location)])

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @property
    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"
