"""The payment channels' own signature schemes: Alipay RSA2, WeChat Pay API v3, and the Ed25519 request
signatures of our own signed APIs (self-service terminals and collection agents, `signed_requests`).

Pure functions over bytes and strings — no models, no settings, no I/O — so the notification endpoints,
the local sandbox gateway and the tests all sign and verify exactly the same way.

The channels' own SDKs do the cryptography where they cover it (issue 13): Alipay notifications are verified
by python-alipay-sdk (`AliPay.verify`, through `_AlipayVerifier`, which needs no app private key and encodes the
signing string in the notification's charset), WeChat signatures by `wechatpayv3.utils.rsa_verify` and its
AEAD_AES_256_GCM resources decrypted by `wechatpayv3.utils.aes_decrypt`. What stays here is what the SDKs leave
out: strict base64, the charsets, the replay window, the clear reasons, and the signing that the sandbox and the
tests do in the channels' place.

Verification answers a plain ``bool`` and never raises for anything a caller on the internet controls
(signature, parameters, headers, body), so an endpoint can reject and log without a try/except.
A key that cannot be loaded is our own configuration error and raises :class:`SignatureError`.
Decrypting a WeChat ``resource`` raises :class:`SignatureError`, because there is no useful value to return.

Alipay open platform: "签名与验签" and "异步通知验签". WeChat Pay API v3 interface rules: "签名验证" (验签)
and "回调报文解密" (AEAD_AES_256_GCM).

Ed25519 requests: the signature is over ``METHOD\nPATH\nTIMESTAMP\nNONCE\nhex(SHA-256(body))`` (UTF-8).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

import alipay
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import utils as wechatpay_utils

__all__ = [
    "ALIPAY_SIGN_TYPE",
    "WECHAT_AEAD_ALGORITHM",
    "WECHAT_SIGNATURE_TYPE",
    "SignatureError",
    "WechatCheck",
    "alipay_sign",
    "alipay_signing_string",
    "alipay_verify",
    "ed25519_key_pair",
    "ed25519_public_key",
    "load_private_key",
    "load_public_key",
    "request_sign",
    "request_signing_string",
    "request_verify",
    "wechat_check",
    "wechat_decrypt_resource",
    "wechat_decrypt_text",
    "wechat_encrypt_resource",
    "wechat_message",
    "wechat_sign",
    "wechat_verify",
]

ALIPAY_SIGN_TYPE = "RSA2"
WECHAT_SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
WECHAT_AEAD_ALGORITHM = "AEAD_AES_256_GCM"
WECHAT_API_V3_KEY_BYTES = 32
WECHAT_NONCE_BYTES = 12
GCM_TAG_BYTES = 16

KeyInput: TypeAlias = bytes | str
PublicKeyInput: TypeAlias = bytes | str | rsa.RSAPublicKey
PrivateKeyInput: TypeAlias = bytes | str | rsa.RSAPrivateKey
# A key, or a function choosing one by the ``Wechatpay-Serial`` the message claims (None: no key for it).
KeyResolver: TypeAlias = Callable[[str], PublicKeyInput | None]


class SignatureError(ValueError):
    """A key, signature or encrypted resource that cannot be used; the message says which and why."""


# --- keys ---------------------------------------------------------------------------------------------


def _as_text(key: KeyInput) -> str:
    if isinstance(key, bytes):
        try:
            return key.decode("ascii")
        except UnicodeDecodeError as exc:
            raise SignatureError("key is neither PEM nor base64 text") from exc
    return key


def _pem(body: str, label: str) -> str:
    """Wrap a bare base64 body (as Alipay's console hands it out) in PEM armour."""
    compact = "".join(body.split())
    lines = [compact[i : i + 64] for i in range(0, len(compact), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def load_public_key(key: PublicKeyInput) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SPKI, PKCS#1 or an X.509 certificate) or a bare base64 body.

    WeChat's older "platform certificates" are certificates; its newer "WeChat Pay public key" and
    Alipay's "支付宝公钥" are SPKI public keys, the latter usually handed out without PEM armour.
    """
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, str | bytes) and (cached := _public_keys.get(key)) is not None:
        return cached  # parsing a PEM costs more than the verification itself: once per configured key
    loaded = _load_public_key(key)
    if isinstance(key, str | bytes):
        if len(_public_keys) >= 64:  # a handful of configured keys; bounded against anything else
            _public_keys.clear()
        _public_keys[key] = loaded
    return loaded


_public_keys: dict[str | bytes, rsa.RSAPublicKey] = {}


def _load_public_key(key: PublicKeyInput) -> rsa.RSAPublicKey:
    text = _as_text(key).strip()
    candidates = [text] if "-----BEGIN" in text else [_pem(text, "PUBLIC KEY"), _pem(text, "RSA PUBLIC KEY")]
    error: Exception | None = None
    for candidate in candidates:
        data = candidate.encode("ascii", errors="replace")
        try:
            if "-----BEGIN CERTIFICATE-----" in candidate:
                loaded = x509.load_pem_x509_certificate(data).public_key()
            else:
                loaded = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            error = exc
            continue
        if not isinstance(loaded, rsa.RSAPublicKey):
            raise SignatureError(f"the public key is {type(loaded).__name__}, not RSA")
        return loaded
    raise SignatureError(f"cannot load the public key: {error}") from error


def load_private_key(key: PrivateKeyInput) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM or a bare base64 body (PKCS#8 ``PRIVATE KEY`` or PKCS#1 ``RSA PRIVATE KEY``)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    text = _as_text(key).strip()
    candidates = (
        [text] if "-----BEGIN" in text else [_pem(text, "PRIVATE KEY"), _pem(text, "RSA PRIVATE KEY")]
    )
    error: Exception | None = None
    for candidate in candidates:
        try:
            loaded = serialization.load_pem_private_key(
                candidate.encode("ascii", errors="replace"), password=None
            )
        except (ValueError, TypeError) as exc:
            error = exc
            continue
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise SignatureError(f"the private key is {type(loaded).__name__}, not RSA")
        return loaded
    raise SignatureError(f"cannot load the private key: {error}") from error


def _rsa_sign(message: bytes, private_key: PrivateKeyInput) -> str:
    signature = load_private_key(private_key).sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def _strict_b64(signature_b64: object) -> bytes | None:
    """The signature's bytes, or None unless it is non-empty, strictly valid base64 (the SDKs decode leniently:
    they would skip characters that do not belong in base64)."""
    if not isinstance(signature_b64, str | bytes) or not signature_b64:
        return None
    try:
        return base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):  # ValueError: a str with non-ASCII characters
        return None


# --- Alipay (RSA2) ------------------------------------------------------------------------------------


def alipay_signing_string(params: Mapping[str, str]) -> str:
    """Alipay's 待签名字符串: without ``sign``/``sign_type`` and empty values, keys in ASCII order, ``k=v&…``.

    Values are used exactly as received (already URL-decoded) and are not re-encoded, so a value may
    itself contain ``=`` or ``&``.
    """
    pairs = []
    for key in sorted(params):
        if key in ("sign", "sign_type"):
            continue
        value = params[key]
        if value is None or value == "":
            continue
        pairs.append(f"{key}={value}")
    return "&".join(pairs)


# The charsets Alipay sends notifications in (its `charset` parameter); any other codec name is refused, since
# some (punycode, idna, …) raise a bare UnicodeError, or decode nonsense, on ordinary input.
ALIPAY_CHARSETS = ("utf-8", "gbk", "gb2312", "gb18030")


def alipay_charset(name: str | None) -> str | None:
    """The codec for a notification's `charset` (blank = utf-8), or None when it is not one Alipay uses."""
    try:
        codec = codecs.lookup((name or "utf-8").strip()).name
    except (LookupError, ValueError):
        return None
    return codec if codec in ALIPAY_CHARSETS else None


def _alipay_charset(params: Mapping[str, str]) -> str:
    # The notification names the charset its signing string was encoded in; UTF-8 unless told otherwise.
    charset = alipay_charset(params.get("charset"))
    if charset is None:
        raise LookupError(f"unsupported charset {str(params.get('charset'))[:32]!r}")
    return charset


def alipay_sign(params: Mapping[str, str], private_key_pem: PrivateKeyInput) -> str:
    """The base64 RSA2 signature of ``params`` (what Alipay puts in ``sign``); for tests and the sandbox."""
    try:
        message = alipay_signing_string(params).encode(_alipay_charset(params))
    except (LookupError, UnicodeError) as exc:
        raise SignatureError(f"cannot encode the signing string: {exc}") from exc
    return _rsa_sign(message, private_key_pem)


class _AlipayVerifier(alipay.AliPay):
    """python-alipay-sdk's `AliPay`, for verifying only, in one charset.

    `AliPay.__init__` loads an app private key (`_load_key`) that verifying does not need, and its `_verify`
    encodes the signing string in UTF-8 only, while Alipay signs a GBK notification's string in GBK: this
    subclass loads Alipay's public key alone and encodes in its charset. The verification flow and the signing
    string (`verify` → `_ordered_data`) are the SDK's own; the RSA2 primitive (PKCS#1 v1.5 over SHA-256, the
    same check) is OpenSSL's through `cryptography`: Cryptodome's bridge to GMP converts the 2048-bit numbers
    in Python and cost ~0.3 ms per notification against ~0.03 ms, a tenth of a notification's whole CPU.
    """

    def __init__(self, public_key_pem: str, charset: str):
        self._charset = charset
        super().__init__(appid="", alipay_public_key_string=public_key_pem, sign_type=ALIPAY_SIGN_TYPE)

    def _load_key(self):
        self._alipay_public_key = load_public_key(self._alipay_public_key_string)

    def _verify(self, raw_content, signature):
        key = self.alipay_public_key
        try:
            key.verify(
                base64.b64decode(signature, validate=True),
                raw_content.encode(self._charset),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return False
        return True


_alipay_verifiers: dict[tuple[str, str], _AlipayVerifier] = {}


def _alipay_verifier(public_key: PublicKeyInput, charset: str) -> _AlipayVerifier:
    if isinstance(public_key, str) and (found := _alipay_verifiers.get((public_key, charset))) is not None:
        return found  # the configured key as given: no PEM round trip per notification
    # The SDK wants PEM: ours loads bare base64 bodies and certificates too, then hands it SPKI PEM.
    pem = (
        load_public_key(public_key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    verifier = _alipay_verifiers.get((pem, charset))
    if verifier is None:
        if len(_alipay_verifiers) >= 64:  # a handful of configured keys; bounded against anything else
            _alipay_verifiers.clear()
        verifier = _alipay_verifiers[(pem, charset)] = _AlipayVerifier(pem, charset)
    if isinstance(public_key, str):
        _alipay_verifiers[(public_key, charset)] = verifier
    return verifier


def alipay_verify(params: Mapping[str, str], public_key_pem: PublicKeyInput) -> bool:
    """True only if ``params`` carry ``sign_type=RSA2`` and a ``sign`` made by the holder of the key.

    Verified by python-alipay-sdk over Alipay's 待签名字符串 (`alipay_signing_string`: empty values, ``sign``
    and ``sign_type`` left out) encoded in the notification's charset."""
    if params.get("sign_type") != ALIPAY_SIGN_TYPE:
        return False
    try:
        charset = _alipay_charset(params)
        alipay_signing_string(params).encode(charset)  # not encodable in its charset: refused, not raised
    except (LookupError, UnicodeError):
        return False
    verifier = _alipay_verifier(public_key_pem, charset)  # a broken key is our configuration error: raises
    signature = params.get("sign")
    if _strict_b64(signature) is None:
        return False
    data = {k: v for k, v in params.items() if k not in ("sign", "sign_type") and v is not None and v != ""}
    try:
        return verifier.verify(data, signature)
    except (ValueError, TypeError):  # a signature of the wrong length
        return False


# --- WeChat Pay API v3 --------------------------------------------------------------------------------


def wechat_message(timestamp: str, nonce: str, body: bytes | str) -> bytes:
    """The signed message: ``timestamp\\nnonce\\nbody\\n``, with the body's bytes exactly as sent."""
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return f"{timestamp}\n{nonce}\n".encode() + raw + b"\n"


def wechat_sign(timestamp: str, nonce: str, body: bytes | str, private_key_pem: PrivateKeyInput) -> str:
    """The base64 ``Wechatpay-Signature`` of a notification; for tests and the sandbox."""
    return _rsa_sign(wechat_message(timestamp, nonce, body), private_key_pem)


@dataclass(frozen=True)
class WechatCheck:
    """What `wechat_check` found. ``reason`` is "" when ``ok``, else one of: "headers" (a ``Wechatpay-*``
    header missing or malformed), "signature type", "serial" (not the one asked for), "unknown serial" (no key
    for it), "signature" (not signed by the key: a forgery or a changed body), "clock skew" (signed, but the
    timestamp is ``skew`` seconds from our clock, outside the window: a clock that drifted, or a replay)."""

    ok: bool
    reason: str = ""
    serial: str = ""
    skew: int | None = None  # our clock minus Wechatpay-Timestamp, in seconds

    def __bool__(self) -> bool:
        return self.ok


def wechat_check(
    headers: Mapping[str, str],
    body: bytes | str,
    platform_key: PublicKeyInput | KeyResolver,
    *,
    now: int | None = None,
    max_skew: int = 300,
    serial: str | None = None,
) -> WechatCheck:
    """Check a WeChat Pay v3 message (a notification, or an answer to our request) and say why it fails.

    ``platform_key`` is the platform key, or a function of the ``Wechatpay-Serial`` the message claims that
    answers its key or None (several platform keys are valid at once while WeChat rotates them). ``serial``,
    when given, must equal ``Wechatpay-Serial``. The signature is checked before the timestamp, so a stale
    message is told as clock skew only when WeChat did sign it. Header names are matched case-insensitively;
    ``now`` (Unix seconds) is injectable for tests. The signature is verified by `wechatpayv3.utils.rsa_verify`.
    """
    lowered = {str(name).lower(): value for name, value in headers.items()}
    timestamp = lowered.get("wechatpay-timestamp")
    nonce = lowered.get("wechatpay-nonce")
    signature = lowered.get("wechatpay-signature")
    header_serial = lowered.get("wechatpay-serial")
    if not (timestamp and nonce and signature and header_serial):
        return WechatCheck(False, "headers")
    header_serial = str(header_serial)
    signature_type = lowered.get("wechatpay-signature-type")
    if signature_type and signature_type != WECHAT_SIGNATURE_TYPE:
        return WechatCheck(False, "signature type", header_serial)
    if serial is not None and header_serial != serial:
        return WechatCheck(False, "serial", header_serial)
    # A short all-digit check first: int() of a huge string is slow or refused outright.
    if not (len(timestamp) <= 12 and timestamp.isascii() and timestamp.isdigit()):
        return WechatCheck(False, "headers", header_serial)
    key = platform_key(header_serial) if callable(platform_key) else platform_key
    if key is None:
        return WechatCheck(False, "unknown serial", header_serial)
    public_key = load_public_key(key)  # a broken key is our configuration error: let it raise
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    try:
        text = raw.decode("utf-8")  # WeChat's bodies are UTF-8 JSON; the SDK signs text
    except UnicodeDecodeError:
        return WechatCheck(False, "signature", header_serial)
    if _strict_b64(signature) is None or not wechatpay_utils.rsa_verify(
        timestamp, nonce, text, signature, public_key
    ):
        return WechatCheck(False, "signature", header_serial)
    current = int(time.time()) if now is None else now
    skew = current - int(timestamp)
    if abs(skew) > max_skew:
        return WechatCheck(False, "clock skew", header_serial, skew)
    return WechatCheck(True, "", header_serial, skew)


def wechat_verify(
    headers: Mapping[str, str],
    body: bytes | str,
    platform_public_key_pem: PublicKeyInput | KeyResolver,
    *,
    now: int | None = None,
    max_skew: int = 300,
    serial: str | None = None,
) -> bool:
    """True only for a message signed with the platform key, inside the replay window (`wechat_check`)."""
    return wechat_check(headers, body, platform_public_key_pem, now=now, max_skew=max_skew, serial=serial).ok


def _api_v3_key(api_v3_key: KeyInput) -> bytes:
    key = api_v3_key.encode("utf-8") if isinstance(api_v3_key, str) else bytes(api_v3_key)
    if len(key) != WECHAT_API_V3_KEY_BYTES:
        raise SignatureError(f"the APIv3 key must be {WECHAT_API_V3_KEY_BYTES} bytes, got {len(key)}")
    return key


def _nonce(nonce: object) -> bytes:
    if not isinstance(nonce, str):
        raise SignatureError("resource.nonce is missing or not a string")
    raw = nonce.encode("utf-8")
    if len(raw) != WECHAT_NONCE_BYTES:
        raise SignatureError(f"resource.nonce must be {WECHAT_NONCE_BYTES} bytes, got {len(raw)}")
    return raw


def _associated_data(value: object) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise SignatureError("resource.associated_data is not a string")
    return value.encode("utf-8")


def wechat_decrypt_text(resource: Mapping, api_v3_key: KeyInput) -> str:
    """The plaintext sealed in ``resource`` (``algorithm``, ``nonce``, ``associated_data``, ``ciphertext``:
    a notification's resource, or an ``encrypt_certificate`` of /v3/certificates) with the APIv3 key, opened by
    `wechatpayv3.utils.aes_decrypt` (AEAD_AES_256_GCM).

    Raises :class:`SignatureError` for a wrong algorithm, a key that is not 32 bytes, a malformed field, an
    authentication-tag mismatch (tampered ciphertext or associated data, or the wrong key) or a plaintext that
    is not UTF-8.
    """
    if not isinstance(resource, Mapping):
        raise SignatureError("resource is not an object")
    algorithm = resource.get("algorithm")
    if algorithm != WECHAT_AEAD_ALGORITHM:
        raise SignatureError(f"resource.algorithm is {algorithm!r}, expected {WECHAT_AEAD_ALGORITHM!r}")
    key = _api_v3_key(api_v3_key)
    nonce = _nonce(resource.get("nonce"))
    associated_data = _associated_data(resource.get("associated_data"))
    ciphertext_b64 = resource.get("ciphertext")
    if not isinstance(ciphertext_b64, str) or not ciphertext_b64:
        raise SignatureError("resource.ciphertext is missing or not a string")
    sealed = _strict_b64(ciphertext_b64)
    if sealed is None:
        raise SignatureError("resource.ciphertext is not valid base64")
    if len(sealed) < GCM_TAG_BYTES:
        raise SignatureError("resource.ciphertext is shorter than the 16-byte authentication tag")
    try:
        text_key = key.decode("utf-8")  # the SDK takes the key as text, as the merchant console shows it
    except UnicodeDecodeError as exc:
        raise SignatureError("the APIv3 key is not UTF-8 text") from exc
    try:
        plaintext = wechatpay_utils.aes_decrypt(
            nonce=nonce.decode("utf-8"),
            ciphertext=ciphertext_b64,
            associated_data=associated_data.decode("utf-8"),
            apiv3_key=text_key,
        )
    except UnicodeDecodeError as exc:
        raise SignatureError(
            f"decrypted resource is not UTF-8 text, so not the JSON or PEM expected: {exc}"
        ) from exc
    if plaintext is None:  # the SDK's answer to an authentication-tag mismatch
        raise SignatureError(
            "resource failed authentication (tampered ciphertext or associated data, or the wrong APIv3 key)"
        )
    return plaintext


def wechat_decrypt_resource(resource: Mapping, api_v3_key: KeyInput) -> dict:
    """The JSON object inside a notification's ``resource`` (`wechat_decrypt_text`).

    Raises :class:`SignatureError` for anything `wechat_decrypt_text` refuses, or a plaintext that is not a
    JSON object.
    """
    plaintext = wechat_decrypt_text(resource, api_v3_key)
    try:
        decoded = json.loads(plaintext)
    except json.JSONDecodeError as exc:
        raise SignatureError(f"decrypted resource is not JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise SignatureError(f"decrypted resource is a JSON {type(decoded).__name__}, not an object")
    return decoded


def wechat_encrypt_resource(
    plaintext: dict,
    api_v3_key: KeyInput,
    *,
    nonce: str,
    associated_data: str = "transaction",
    original_type: str = "transaction",
) -> dict:
    """The ``resource`` object WeChat would send for ``plaintext``; for tests and the sandbox."""
    key = _api_v3_key(api_v3_key)
    raw_nonce = _nonce(nonce)
    data = json.dumps(plaintext, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sealed = AESGCM(key).encrypt(raw_nonce, data, _associated_data(associated_data))
    return {
        "original_type": original_type,
        "algorithm": WECHAT_AEAD_ALGORITHM,
        "ciphertext": base64.b64encode(sealed).decode("ascii"),
        "associated_data": associated_data,
        "nonce": nonce,
    }


# --- Ed25519-signed requests (our terminals and collection agents) -------------------------------------


def ed25519_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a new Ed25519 key."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def ed25519_public_key(pem: str) -> Ed25519PublicKey:
    """An Ed25519 public key from SPKI PEM; SignatureError saying why not (not PEM, or another algorithm)."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise SignatureError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"the public key is {type(key).__name__}, not Ed25519")
    return key


def request_signing_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def request_sign(private_pem: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """What a terminal or an agent does (tests and the demo use it): the base64 X-Signature."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(request_signing_string(method, path, timestamp, nonce, body))).decode()


def request_verify(
    public_pem: str, signature_b64: str, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> bool:
    """True only for a signature of this request by the holder of the key; False for anything else."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        ed25519_public_key(public_pem).verify(
            raw, request_signing_string(method, path, timestamp, nonce, body)
        )
    except (binascii.Error, ValueError, InvalidSignature, SignatureError):
        return False
    return True
