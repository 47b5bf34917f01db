"""The sandbox keys of both sides of both channels, generated once under a directory (``var/sandbox/``).

Files (docs/channels.md, "Sandbox key files"): the merchant's Alipay app key pair, Alipay's own key pair, the
merchant's WeChat API certificate and key, WeChat's platform certificates (one per serial; ``rotate`` adds one,
the older stay valid as WeChat's rotation overlap) and ``ids.json`` with the demo ids.

Every file is written to a temporary name and linked into place (``os.replace`` where links are missing), and a file that exists is
never rewritten, so two processes starting together (the simulator and GridCare's settings) end with one
consistent set: whichever pair of files lands first wins and the other process reads it. Private keys are 0600.
None of this is secret: the sandbox keys are for the local simulator only (settings refuse them in production).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["PlatformCert", "SandboxKeys", "ensure", "rotate_wechat_platform", "settings_overlay"]

ALIPAY_APP_PRIVATE = "alipay_app_private.pem"
ALIPAY_APP_PUBLIC = "alipay_app_public.pem"
ALIPAY_PRIVATE = "alipay_private.pem"
ALIPAY_PUBLIC = "alipay_public.pem"
WECHAT_MERCHANT_PRIVATE = "wechat_merchant_private.pem"
WECHAT_MERCHANT_CERT = "wechat_merchant_cert.pem"
IDS = "ids.json"
CERT_YEARS = 5


@dataclass(frozen=True)
class PlatformCert:
    """One WeChat platform certificate: its serial (uppercase hex), certificate PEM and private key PEM."""

    serial: str
    cert_pem: str
    key_pem: str
    not_before: dt.datetime
    not_after: dt.datetime


@dataclass(frozen=True)
class SandboxKeys:
    """Every sandbox key (PEM text) and id; ``wechat_platform`` is ordered oldest first, newest last."""

    dir: Path
    alipay_app_id: str
    alipay_seller_id: str
    alipay_app_private_pem: str
    alipay_app_public_pem: str
    alipay_private_pem: str
    alipay_public_pem: str
    wechat_mchid: str
    wechat_appid: str
    wechat_app_secret: str
    wechat_api_v3_key: str
    wechat_cert_serial: str
    wechat_merchant_private_pem: str
    wechat_merchant_cert_pem: str
    wechat_platform: list[PlatformCert] = field(default_factory=list)

    def platform(self, serial: str) -> PlatformCert | None:
        return next((cert for cert in self.wechat_platform if cert.serial == serial), None)


# --- files ---------------------------------------------------------------------------------------------------


def _write_new(path: Path, data: str, *, private: bool) -> bool:
    """Write ``path`` only if it does not exist (atomically); False when another writer got there first."""
    if path.exists():
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
        os.chmod(tmp, 0o600 if private else 0o644)
        try:
            os.link(tmp, path)  # unlike os.replace, never clobbers a file another process placed meanwhile
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links: last writer wins, each file whole
            os.replace(tmp, path)
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _new_rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _self_signed(key: rsa.RSAPrivateKey, common_name: str, organization: str) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * CERT_YEARS))
        .sign(key, hashes.SHA256())
    )


def _serial(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "X")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _ensure_pair(directory: Path, private_name: str, public_name: str) -> None:
    """A key pair whose two files belong together even if another process writes at the same time."""
    private_path, public_path = directory / private_name, directory / public_name
    if private_path.exists() and public_path.exists():
        return
    key = _new_rsa()
    _write_new(private_path, _private_pem(key), private=True)
    # The public file is always derived from whichever private key landed.
    winner = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    assert isinstance(winner, rsa.RSAPrivateKey)
    _write_new(public_path, _public_pem(winner), private=False)


def _ensure_merchant_cert(directory: Path) -> None:
    private_path, cert_path = directory / WECHAT_MERCHANT_PRIVATE, directory / WECHAT_MERCHANT_CERT
    if private_path.exists() and cert_path.exists():
        return
    _write_new(private_path, _private_pem(_new_rsa()), private=True)
    winner = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    assert isinstance(winner, rsa.RSAPrivateKey)
    cert = _self_signed(winner, "GridCare merchant 1900000001", "GridCare sandbox merchant")
    _write_new(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), private=False)


def _add_platform_cert(directory: Path) -> str:
    key = _new_rsa()
    cert = _self_signed(key, "Tenpay.com Root CA sandbox platform", "Tenpay.com sandbox")
    serial = _serial(cert)
    # The key first: a reader lists certificates by their .pem, and a .pem is only useful with its key.
    _write_new(directory / f"wechat_platform_{serial}.key", _private_pem(key), private=True)
    _write_new(
        directory / f"wechat_platform_{serial}.pem",
        cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        private=False,
    )
    return serial


def _random_ids() -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits
    return {
        "alipay_app_id": "2021000000000001",
        "alipay_seller_id": "2088" + "".join(secrets.choice(string.digits) for _ in range(12)),
        "wechat_mchid": "1900000001",
        "wechat_appid": "wx" + secrets.token_hex(8),
        "wechat_app_secret": secrets.token_hex(16),
        "wechat_api_v3_key": "".join(secrets.choice(alphabet) for _ in range(32)),
    }


def _platform_certs(directory: Path) -> list[PlatformCert]:
    certs = []
    for pem_path in directory.glob("wechat_platform_*.pem"):
        key_path = pem_path.with_suffix(".key")
        if not key_path.exists():
            continue
        pem = _read(pem_path)
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        certs.append(
            PlatformCert(
                serial=_serial(cert),
                cert_pem=pem,
                key_pem=_read(key_path),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
            )
        )
    # Newest last: by validity start, then by file time for two made within the same second.
    certs.sort(
        key=lambda c: (c.not_before, (directory / f"wechat_platform_{c.serial}.pem").stat().st_mtime_ns)
    )
    return certs


# --- public API ----------------------------------------------------------------------------------------------


def ensure(dir: Path) -> SandboxKeys:  # noqa: A002 - the name the contract uses
    """Create whatever is missing under ``dir`` and return every key and id."""
    directory = Path(dir)
    directory.mkdir(parents=True, exist_ok=True)
    _ensure_pair(directory, ALIPAY_APP_PRIVATE, ALIPAY_APP_PUBLIC)
    _ensure_pair(directory, ALIPAY_PRIVATE, ALIPAY_PUBLIC)
    _ensure_merchant_cert(directory)
    if not any(directory.glob("wechat_platform_*.pem")):
        _add_platform_cert(directory)
    merchant_cert_pem = _read(directory / WECHAT_MERCHANT_CERT)
    merchant_serial = _serial(x509.load_pem_x509_certificate(merchant_cert_pem.encode("ascii")))
    ids_path = directory / IDS
    if not ids_path.exists():
        ids = _random_ids() | {"wechat_cert_serial": merchant_serial}
        _write_new(ids_path, json.dumps(ids, indent=2) + "\n", private=True)
    ids = json.loads(_read(ids_path))
    platform = _platform_certs(directory)
    if not platform:  # another process wrote the .pem but not yet its .key: make our own
        _add_platform_cert(directory)
        platform = _platform_certs(directory)
    return SandboxKeys(
        dir=directory,
        alipay_app_id=ids["alipay_app_id"],
        alipay_seller_id=ids["alipay_seller_id"],
        alipay_app_private_pem=_read(directory / ALIPAY_APP_PRIVATE),
        alipay_app_public_pem=_read(directory / ALIPAY_APP_PUBLIC),
        alipay_private_pem=_read(directory / ALIPAY_PRIVATE),
        alipay_public_pem=_read(directory / ALIPAY_PUBLIC),
        wechat_mchid=ids["wechat_mchid"],
        wechat_appid=ids["wechat_appid"],
        wechat_app_secret=ids["wechat_app_secret"],
        wechat_api_v3_key=ids["wechat_api_v3_key"],
        wechat_cert_serial=ids.get("wechat_cert_serial") or merchant_serial,
        wechat_merchant_private_pem=_read(directory / WECHAT_MERCHANT_PRIVATE),
        wechat_merchant_cert_pem=merchant_cert_pem,
        wechat_platform=platform,
    )


def rotate_wechat_platform(dir: Path) -> str:  # noqa: A002
    """Add a new WeChat platform certificate (the older ones stay valid) and return its serial."""
    ensure(dir)
    return _add_platform_cert(Path(dir))


def settings_overlay(dir: Path, sim_url: str) -> dict[str, dict[str, str]]:  # noqa: A002
    """GridCare's ``GRIDCARE["ALIPAY"]`` / ``["WECHAT"]`` values pointing at the simulator at ``sim_url``.

    No platform public key: GridCare fetches the platform certificates from ``/v3/certificates``.
    """
    keys = ensure(dir)
    base = sim_url.rstrip("/")
    return {
        "ALIPAY": {
            "APP_ID": keys.alipay_app_id,
            "SELLER_ID": keys.alipay_seller_id,
            "PRIVATE_KEY": keys.alipay_app_private_pem,
            "PUBLIC_KEY": keys.alipay_public_pem,
            "GATEWAY_URL": base + "/alipay/gateway.do",
        },
        "WECHAT": {
            "MCHID": keys.wechat_mchid,
            "APPID": keys.wechat_appid,
            "APP_SECRET": keys.wechat_app_secret,
            "CERT_SERIAL": keys.wechat_cert_serial,
            "PRIVATE_KEY": keys.wechat_merchant_private_pem,
            "API_V3_KEY": keys.wechat_api_v3_key,
            "BASE_URL": base + "/wechat",
            "OAUTH_URL": base + "/wechat-open",
            "SNS_URL": base + "/wechat-api",
        },
    }
