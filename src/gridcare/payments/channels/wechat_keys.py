"""WeChat Pay platform keys by serial (issue 13 §5): the key a notification is verified with is the one its
``Wechatpay-Serial`` names, and several are valid at once while WeChat rotates them.

Two modes, as WeChat Pay offers them (settings ``GRIDCARE["WECHAT"]``):

- the WeChat Pay public key (微信支付公钥): ``PLATFORM_PUBLIC_KEY`` with its id ``PLATFORM_SERIAL``
  (``PUB_KEY_ID_…``), configured by hand;
- platform certificates (平台证书): downloaded from ``/v3/certificates`` into `WechatPlatformKey` rows by
  `refresh_platform_certificates`, which the job ``payments.wechat_certificates`` runs every 12 hours and
  ``gridcare wechat_certificates`` runs now.

`platform_key` is on the notification's hot path: it reads the configured key or a snapshot of the stored
rows kept in this process for `CACHE_SECONDS`, and never fetches anything from the network — an unknown
serial is refused (401) until the job has downloaded its certificate.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from wechatpayv3 import utils as wechatpay_utils

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel

from . import signatures
from .models import WechatPlatformKey

logger = logging.getLogger("gridcare.payments")

CERTIFICATES_PATH = "/v3/certificates"
CACHE_SECONDS = 60.0
ANSWER_MAX_SKEW = 300  # seconds: the answer's Wechatpay-Timestamp, as for a notification
MAX_ANSWER_BYTES = 256 * 1024  # a handful of certificates; anything far larger is not an answer

__all__ = [
    "CertificateRefreshError",
    "RefreshSummary",
    "cache_clear",
    "merchant_configured",
    "platform_key",
    "refresh_platform_certificates",
]


class CertificateRefreshError(Exception):
    """The platform certificates could not be refreshed (channel down, an answer that is not WeChat's or not
    an answer at all, our own keys missing); the message says which, and nothing was written."""


# ---------------------------------------------------------------- the hot path: a key by serial


@dataclass(frozen=True)
class _Snapshot:
    loaded_at: float
    keys: dict[str, tuple[rsa.RSAPublicKey, datetime, datetime]]  # serial → (key, effective_at, expires_at)


_snapshot: _Snapshot | None = None
_snapshot_lock = threading.Lock()


def cache_clear() -> None:
    """Forget this process's snapshot of the stored keys (the next `platform_key` reads them again)."""
    global _snapshot
    _snapshot = None


def _stored_keys() -> dict[str, tuple[rsa.RSAPublicKey, datetime, datetime]]:
    global _snapshot
    snap = _snapshot
    if snap is not None and time.monotonic() - snap.loaded_at < CACHE_SECONDS:
        return snap.keys
    with _snapshot_lock:
        snap = _snapshot
        if snap is not None and time.monotonic() - snap.loaded_at < CACHE_SECONDS:
            return snap.keys
        keys = {
            row.serial: (signatures.load_public_key(row.public_key), row.effective_at, row.expires_at)
            for row in WechatPlatformKey.objects.only("serial", "public_key", "effective_at", "expires_at")
        }
        _snapshot = _Snapshot(time.monotonic(), keys)
        return keys


def _configured(serial: str) -> str | None:
    conf = settings.GRIDCARE["WECHAT"]
    configured_serial, configured_key = conf.get("PLATFORM_SERIAL", ""), conf.get("PLATFORM_PUBLIC_KEY", "")
    if configured_key and configured_serial and serial == configured_serial:
        return configured_key
    return None


def platform_key(serial: str, *, now: datetime | None = None) -> rsa.RSAPublicKey | None:
    """The public key WeChat signs with under ``serial``, or None when none is known and valid now.

    The configured WeChat Pay public key when ``serial`` is its id (``PLATFORM_SERIAL``); else a stored
    platform certificate of that serial whose validity covers ``now``. Reads the database at most once per
    `CACHE_SECONDS` per process, and never the network. A configured key that does not load raises
    `signatures.SignatureError` (our configuration's fault, not the caller's)."""
    serial = str(serial or "").strip()
    if not serial or len(serial) > 64:
        return None
    configured = _configured(serial)
    if configured is not None:
        return signatures.load_public_key(configured)
    found = _stored_keys().get(serial.upper())
    if found is None:
        return None
    key, effective_at, expires_at = found
    now = now or timezone.now()
    return key if effective_at <= now < expires_at else None


# ---------------------------------------------------------------- the job: download from /v3/certificates


@dataclass
class RefreshSummary:
    """What a refresh did: serials added, updated (certificate or validity changed) and unchanged, the serial
    that signed the answer, and whether it was trusted by the first-download (bootstrap) rule."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    signed_by: str = ""
    bootstrap: bool = False

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "signed_by": self.signed_by,
            "bootstrap": self.bootstrap,
        }


@dataclass(frozen=True)
class _Certificate:
    serial: str
    pem: str
    public_key: rsa.RSAPublicKey
    effective_at: datetime
    expires_at: datetime


def _refused(message: str, log: str, *args) -> CertificateRefreshError:
    logger.error("wechat certificates refresh failed: " + log, *args)
    return CertificateRefreshError(message)


MERCHANT_SETTINGS = ("MCHID", "CERT_SERIAL", "PRIVATE_KEY", "API_V3_KEY", "BASE_URL")


def merchant_configured() -> bool:
    """Whether the merchant's API keys are configured at all (the scheduled job skips a site without them)."""
    conf = settings.GRIDCARE["WECHAT"]
    return all(conf.get(k) for k in MERCHANT_SETTINGS)


def _merchant_conf() -> dict:
    conf = settings.GRIDCARE["WECHAT"]
    missing = [k for k in MERCHANT_SETTINGS if not conf.get(k)]
    if missing:
        raise _refused(
            _("微信支付商户配置不完整，无法下载平台证书"), "WECHAT settings missing: %s", ", ".join(missing)
        )
    return conf


def _download(conf: dict) -> requests.Response:
    url = conf["BASE_URL"].rstrip("/") + CERTIFICATES_PATH
    try:
        private_key = signatures.load_private_key(conf["PRIVATE_KEY"])
    except signatures.SignatureError as exc:
        raise _refused(_("微信支付商户私钥无法加载"), "cannot load WECHAT PRIVATE_KEY: %s", exc) from exc
    # The signed URL is the path the server receives (a BASE_URL with a path prefix included).
    authorization = wechatpay_utils.build_authorization(
        urlsplit(url).path, "GET", conf["MCHID"], conf["CERT_SERIAL"], private_key
    )
    try:
        response = requests.get(
            url,
            headers={
                "Authorization": authorization,
                "Accept": "application/json",
                "User-Agent": "GridCare",
            },
            timeout=settings.GRIDCARE["PAY"]["HTTP_TIMEOUT"],
            allow_redirects=False,
        )
        response.content  # noqa: B018 -- read the body inside the try: a connection reset raises here
    except requests.RequestException as exc:
        raise _refused(_("无法连接微信支付，请稍后再试"), "GET %s: %s", url, exc) from exc
    if len(response.content) > MAX_ANSWER_BYTES:
        raise _refused(_("微信支付的应答无法识别"), "GET %s answered %s bytes", url, len(response.content))
    if response.status_code != 200:
        raise _refused(
            _("微信支付拒绝了平台证书下载请求（HTTP %(s)s）") % {"s": response.status_code},
            "GET %s answered %s: %r",
            url,
            response.status_code,
            response.content[:200],
        )
    return response


def _parse_time(raw: object, name: str) -> datetime:
    try:
        when = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValueError(f"{name} {str(raw)[:40]!r} is not an ISO 8601 time with its offset")
    return when


def _certificates(body: bytes, api_v3_key: str) -> list[_Certificate]:
    """The certificates of an answer, decrypted, loaded and checked (ValueError saying what is wrong)."""
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not data:
        raise ValueError("no `data` list of certificates")
    found: list[_Certificate] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"data[{i}] is not an object")
        serial = item.get("serial_no")
        if not isinstance(serial, str) or not serial or len(serial) > 64:
            raise ValueError(f"data[{i}].serial_no is missing or malformed")
        try:
            pem = signatures.wechat_decrypt_text(item.get("encrypt_certificate"), api_v3_key)
        except signatures.SignatureError as exc:
            raise ValueError(f"data[{i}] ({serial[:64]}): {exc}") from exc
        certificate = wechatpay_utils.load_certificate(pem)
        if certificate is None:
            raise ValueError(f"data[{i}] ({serial[:64]}) is not a PEM certificate")
        actual = f"{certificate.serial_number:X}"
        if actual != serial.upper():
            raise ValueError(f"data[{i}] says serial {serial[:64]} but its certificate's is {actual}")
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError(f"data[{i}] ({actual}) does not hold an RSA key")
        effective_at = _parse_time(item.get("effective_time"), f"data[{i}].effective_time")
        expires_at = _parse_time(item.get("expire_time"), f"data[{i}].expire_time")
        if expires_at <= effective_at:
            raise ValueError(f"data[{i}] ({actual}) expires before it takes effect")
        found.append(_Certificate(actual, pem, public_key, effective_at, expires_at))
    return found


def _known_keys(now: datetime) -> dict[str, object]:
    """Keys already trusted, by serial: the configured public key, and stored certificates valid now (read
    from the database, not this process's snapshot)."""
    conf = settings.GRIDCARE["WECHAT"]
    known: dict[str, object] = {
        row.serial: row.public_key
        for row in WechatPlatformKey.objects.filter(effective_at__lte=now, expires_at__gt=now)
    }
    if conf.get("PLATFORM_SERIAL") and conf.get("PLATFORM_PUBLIC_KEY"):
        known[conf["PLATFORM_SERIAL"]] = conf["PLATFORM_PUBLIC_KEY"]
    return known


def refresh_platform_certificates(
    *, now: datetime | None = None, actor: Actor | None = None
) -> RefreshSummary:
    """Download WeChat Pay's platform certificates and store the new or changed ones (several at once while
    WeChat rotates them). Never called on a notification's path: the job and the command call it.

    GET ``{BASE_URL}/v3/certificates`` signed with the merchant key (`wechatpayv3.utils.build_authorization`:
    ``MCHID``, ``CERT_SERIAL``, ``PRIVATE_KEY``); HTTP through `requests` with ``PAY.HTTP_TIMEOUT``. The
    answer's ``Wechatpay-Signature`` (over ``timestamp\\nnonce\\nbody\\n``, within 5 minutes) is checked:

    - with the key already known for its ``Wechatpay-Serial`` — the configured WeChat Pay public key, or a
      stored certificate valid now — when there is one;
    - on the very first download, when no key is known at all (bootstrap), the answer is accepted only if the
      serial in the header is one of the certificates in the answer and the signature verifies with that
      certificate. **Weakness:** that signature proves nothing by itself — whoever answers can sign with a
      certificate of their own making and include it. What does authenticate the certificates is their
      AES-GCM seal under the APIv3 key, which only WeChat and the merchant know: a certificate that does not
      open with it is refused. So on first use the trust rests on the APIv3 key alone (and on TLS to
      ``BASE_URL``), as WeChat's own certificate downloader does; afterwards each answer must be signed by a
      key already stored;
    - when keys are known but none for the answer's serial — WeChat signs with a new certificate it is
      rolling out, the very case this download exists for — the same rule as the first download applies: the
      signing certificate must be in the answer, sealed under the APIv3 key, and verify the signature (as
      WeChat's own auto-updating verifier does). A serial neither known nor in the answer is refused.

    Each ``encrypt_certificate`` is opened with `wechatpayv3.utils.aes_decrypt` (APIv3 key) and loaded with
    `wechatpayv3.utils.load_certificate`; its serial must be the one the answer names. Everything is checked
    before anything is written; then one transaction stores the rows and one audit row
    (``wechat_platform_key.refresh``, actor the job). A channel that is down, refuses or answers garbage
    raises `CertificateRefreshError` (logged as an error) and nothing is written. Returns what changed.
    """
    now = now or timezone.now()
    actor = actor or Actor(channel=Channel.JOB)
    conf = _merchant_conf()
    response = _download(conf)
    body = response.content
    try:
        certificates = _certificates(body, conf["API_V3_KEY"])
    except ValueError as exc:
        raise _refused(_("微信支付的应答无法识别"), "the answer is not a certificate list: %s", exc) from exc
    by_serial = {c.serial: c for c in certificates}
    known = _known_keys(now)
    header_serial = str(response.headers.get("Wechatpay-Serial", ""))
    key = known.get(header_serial) or known.get(header_serial.upper())
    bootstrap = key is None  # first download, or WeChat signing with a new certificate it is rolling out
    if bootstrap:
        cert = by_serial.get(header_serial.upper())
        key = cert.public_key if cert is not None else None
    check = signatures.wechat_check(
        response.headers, body, lambda _serial: key, now=int(now.timestamp()), max_skew=ANSWER_MAX_SKEW
    )
    if not check.ok:
        if check.reason == "unknown serial" and bootstrap:
            detail = (
                f"signed by serial {header_serial[:64]!r}, which is not among the certificates of the answer"
            )
        elif check.reason == "unknown serial":
            detail = (
                f"signed by serial {header_serial[:64]!r}, not a key we know ({', '.join(sorted(known))})"
            )
        elif check.reason == "clock skew":
            detail = f"clock skew: the answer's timestamp is {check.skew:+d} s from our clock"
        else:
            detail = f"bad signature ({check.reason})"
        raise _refused(_("微信支付的应答签名验证失败"), "%s", detail)
    summary = RefreshSummary(signed_by=check.serial, bootstrap=bootstrap)
    with transaction.atomic():
        existing = {
            row.serial: row
            for row in WechatPlatformKey.objects.select_for_update().filter(serial__in=list(by_serial))
        }
        for cert in certificates:
            public_pem = cert.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode("ascii")
            values = {
                "certificate": cert.pem,
                "public_key": public_pem,
                "effective_at": cert.effective_at,
                "expires_at": cert.expires_at,
            }
            row = existing.get(cert.serial)
            if row is None:
                WechatPlatformKey.objects.create(serial=cert.serial, fetched_at=now, **values)
                summary.added.append(cert.serial)
                continue
            changed = any(getattr(row, k) != v for k, v in values.items())
            WechatPlatformKey.objects.filter(pk=row.pk).update(fetched_at=now, **values)
            (summary.updated if changed else summary.unchanged).append(cert.serial)
        audit_record(
            actor=actor,
            action="wechat_platform_key.refresh",
            object_type=WechatPlatformKey._meta.label_lower,
            changes={**summary.as_dict(), "fetched_at": now.isoformat()},
        )
        transaction.on_commit(cache_clear)
    logger.info(
        "wechat certificates refreshed: added %s, updated %s, unchanged %s (signed by %s%s)",
        summary.added,
        summary.updated,
        summary.unchanged,
        summary.signed_by,
        ", bootstrap" if bootstrap else "",
    )
    return summary
