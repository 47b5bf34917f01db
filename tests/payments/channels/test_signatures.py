"""The channels' signature schemes, signed exactly as Alipay and WeChat Pay sign, with keys made here."""

import base64
import json
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.payments.channels.signatures import (
    SignatureError,
    alipay_sign,
    alipay_signing_string,
    alipay_verify,
    load_private_key,
    load_public_key,
    wechat_decrypt_resource,
    wechat_encrypt_resource,
    wechat_message,
    wechat_sign,
    wechat_verify,
)

API_V3_KEY = "0123456789abcdefGHIJKLMNOPQRSTuv"  # 32 ASCII characters, as the merchant console sets it
NOW = 1_740_795_300  # 2025-03-01 10:15:00 +08:00


# --- keys -----------------------------------------------------------------------------------------


def _pem_private(key: rsa.RSAPrivateKey, fmt=serialization.PrivateFormat.PKCS8) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def _pem_public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _bare(pem: bytes) -> str:
    """The base64 body without armour or line breaks, as Alipay's console shows a key."""
    return "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))


@pytest.fixture(scope="module")
def channel_key() -> rsa.RSAPrivateKey:
    """The channel's signing key (Alipay's or WeChat's platform key)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def private_pem(channel_key) -> bytes:
    return _pem_private(channel_key)


@pytest.fixture(scope="module")
def public_pem(channel_key) -> bytes:
    return _pem_public(channel_key)


# --- Alipay: the signing string ---------------------------------------------------------------------


def test_signing_string_drops_sign_sign_type_and_empty_values_and_sorts():
    params = {"b": "2", "a": "1", "sign": "x", "sign_type": "RSA2", "empty": ""}

    assert alipay_signing_string(params) == "a=1&b=2"


def test_signing_string_keeps_values_as_received_with_chinese_equals_and_ampersand():
    params = {
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.50",
        "subject": "电费 户号0101234567 2025年02月",
        "body": "period=2025-02&account=0101234567",
        "passback_params": "a%3D1+b",
        "out_trade_no": "GC20250301000001",
        "charset": "utf-8",
        "app_id": "2021000000000001",
        "fund_bill_list": "",
        "sign": "c2lnbmF0dXJl",
        "sign_type": "RSA2",
    }

    assert alipay_signing_string(params) == (
        "app_id=2021000000000001"
        "&body=period=2025-02&account=0101234567"
        "&charset=utf-8"
        "&out_trade_no=GC20250301000001"
        "&passback_params=a%3D1+b"
        "&subject=电费 户号0101234567 2025年02月"
        "&total_amount=88.50"
        "&trade_status=TRADE_SUCCESS"
    )


def test_signing_string_orders_keys_by_ascii_code():
    # "B" (0x42) < "a" (0x61); "a" is a prefix of "a_b"; "_" (0x5F) < "b" (0x62).
    params = {"ab": "3", "a_b": "2", "a": "1", "B": "0"}

    assert alipay_signing_string(params) == "B=0&a=1&a_b=2&ab=3"


# --- Alipay: sign and verify -------------------------------------------------------------------------


def _notification(**overrides) -> dict[str, str]:
    """An asynchronous payment notification as Alipay posts it (already URL-decoded)."""
    params = {
        "notify_time": "2025-03-01 10:15:02",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "app_id": "2021000000000001",
        "trade_no": "2025030122001412340500001234",
        "out_trade_no": "GC20250301000001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.50",
        "receipt_amount": "88.50",
        "buyer_pay_amount": "88.50",
        "subject": "电费 户号0101234567",
        "body": "period=2025-02&account=0101234567",
        "gmt_create": "2025-03-01 10:14:55",
        "gmt_payment": "2025-03-01 10:15:00",
        "fund_bill_list": '[{"amount":"88.50","fundChannel":"ALIPAYACCOUNT"}]',
    }
    params.update(overrides)
    return params


@pytest.fixture
def signed(private_pem) -> dict[str, str]:
    params = _notification()
    params["sign"] = alipay_sign(params, private_pem)
    return params


def test_alipay_signature_made_as_the_channel_does_verifies(signed, public_pem):
    assert alipay_verify(signed, public_pem) is True


def test_alipay_signature_is_sha256withrsa_pkcs1v15_over_the_signing_string(channel_key, signed):
    message = alipay_signing_string(signed).encode("utf-8")

    channel_key.public_key().verify(
        base64.b64decode(signed["sign"]), message, padding.PKCS1v15(), hashes.SHA256()
    )  # raises InvalidSignature otherwise


def test_alipay_tampered_amount_is_rejected(signed, public_pem):
    assert alipay_verify({**signed, "total_amount": "8850.00"}, public_pem) is False


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda p: {**p, "out_trade_no": "GC20250301000002"}, id="changed value"),
        pytest.param(lambda p: {**p, "refund_fee": "88.50"}, id="added parameter"),
        pytest.param(lambda p: {k: v for k, v in p.items() if k != "subject"}, id="removed parameter"),
    ],
)
def test_alipay_any_other_change_is_rejected(signed, public_pem, change):
    assert alipay_verify(change(signed), public_pem) is False


def test_alipay_empty_parameter_added_after_signing_is_not_part_of_the_signature(signed, public_pem):
    assert alipay_verify({**signed, "voucher_detail_list": ""}, public_pem) is True


def test_alipay_wrong_key_is_rejected(signed, other_key):
    assert alipay_verify(signed, _pem_public(other_key)) is False


@pytest.mark.parametrize(
    "sign",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64 at all!", id="not base64"),
        pytest.param("abc", id="bad padding"),
        pytest.param("签名", id="non-ascii"),
        pytest.param(base64.b64encode(b"\x00" * 256).decode(), id="right length, wrong bytes"),
        pytest.param(base64.b64encode(b"short").decode(), id="valid base64, too short"),
    ],
)
def test_alipay_garbage_signature_is_rejected(signed, public_pem, sign):
    assert alipay_verify({**signed, "sign": sign}, public_pem) is False


def test_alipay_truncated_and_missing_signature_are_rejected(signed, public_pem):
    assert alipay_verify({**signed, "sign": signed["sign"][:-8]}, public_pem) is False
    assert alipay_verify({k: v for k, v in signed.items() if k != "sign"}, public_pem) is False


@pytest.mark.parametrize("sign_type", ["RSA", "rsa2", "SHA256", ""])
def test_alipay_sign_type_other_than_rsa2_is_rejected(signed, public_pem, sign_type):
    assert alipay_verify({**signed, "sign_type": sign_type}, public_pem) is False


def test_alipay_missing_sign_type_is_rejected(signed, public_pem):
    assert alipay_verify({k: v for k, v in signed.items() if k != "sign_type"}, public_pem) is False


def test_alipay_gbk_notification_is_verified_over_its_gbk_bytes(channel_key, public_pem):
    params = _notification(charset="GBK")
    message = alipay_signing_string(params).encode("gbk")
    params["sign"] = base64.b64encode(channel_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()

    assert alipay_verify(params, public_pem) is True
    assert alipay_verify({**params, "charset": "utf-8"}, public_pem) is False
    assert alipay_verify({**params, "charset": "no-such-codec"}, public_pem) is False


@settings(max_examples=40, deadline=None)
@given(
    values=st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
            lambda k: k not in ("sign", "sign_type", "charset")
        ),
        st.text(max_size=30),
        max_size=8,
    )
)
def test_alipay_any_parameters_in_any_order_sign_and_verify(channel_key, values):
    forward = {**values, "sign_type": "RSA2"}
    backward = dict(reversed(list(forward.items())))

    assert alipay_signing_string(forward) == alipay_signing_string(backward)
    backward["sign"] = alipay_sign(forward, channel_key)
    assert alipay_verify(backward, channel_key.public_key()) is True


# --- keys in the shapes the channels hand them out ----------------------------------------------------


def test_bare_base64_keys_as_alipay_console_hands_them_out(channel_key, public_pem):
    pkcs8_body = _bare(_pem_private(channel_key))
    pkcs1_body = _bare(_pem_private(channel_key, serialization.PrivateFormat.TraditionalOpenSSL))
    params = _notification()

    for private in (pkcs8_body, pkcs1_body, pkcs8_body.encode()):
        params["sign"] = alipay_sign(params, private)
        assert alipay_verify(params, _bare(public_pem)) is True


def test_pem_keys_as_str_and_pkcs1_public_key_load(channel_key, private_pem):
    pkcs1_public = channel_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )

    assert load_private_key(private_pem.decode()).public_key().public_numbers() == (
        channel_key.public_key().public_numbers()
    )
    assert (
        load_public_key(pkcs1_public.decode()).public_numbers() == channel_key.public_key().public_numbers()
    )
    assert load_public_key(_bare(pkcs1_public)).public_numbers() == channel_key.public_key().public_numbers()


def test_platform_certificate_supplies_the_public_key(channel_key):
    import datetime as dt

    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(channel_key.public_key())
        .serial_number(0x5157F09EFDC096DE15EBE81A47057A7232F2DC59)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365))
        .sign(channel_key, hashes.SHA256())
    )

    loaded = load_public_key(certificate.public_bytes(serialization.Encoding.PEM))

    assert loaded.public_numbers() == channel_key.public_key().public_numbers()


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("not a key", id="garbage text"),
        pytest.param(b"\xff\xfe", id="binary"),
        pytest.param("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", id="broken PEM"),
    ],
)
def test_unloadable_key_is_a_configuration_error_not_a_silent_false(signed, key):
    with pytest.raises(SignatureError, match="key"):
        alipay_verify(signed, key)


def test_non_rsa_keys_are_refused():
    ec_key = ec.generate_private_key(ec.SECP256R1())

    with pytest.raises(SignatureError, match="not RSA"):
        load_public_key(
            ec_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    with pytest.raises(SignatureError, match="not RSA"):
        load_private_key(_pem_private(ec_key))


# --- independent check of the RSA scheme: the openssl command line ------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_signatures_match_openssl_dgst_sha256(tmp_path, channel_key, private_pem, public_pem, channel):
    """PKCS#1 v1.5 is deterministic: openssl must produce the very same bytes, and accept ours."""
    body = '{"id":"EV-2018022511223320873","event_type":"TRANSACTION.SUCCESS"}'
    if channel == "alipay":
        params = _notification()
        message = alipay_signing_string(params).encode()
        ours = alipay_sign(params, private_pem)
    else:
        message = wechat_message(str(NOW), "fdasflkja484w", body)
        ours = wechat_sign(str(NOW), "fdasflkja484w", body, private_pem)
    (tmp_path / "key.pem").write_bytes(private_pem)
    (tmp_path / "pub.pem").write_bytes(public_pem)
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "ours.sig").write_bytes(base64.b64decode(ours))

    theirs = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", tmp_path / "key.pem", tmp_path / "msg"],
        capture_output=True,
        check=True,
    ).stdout
    accepted = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            tmp_path / "pub.pem",
            "-signature",
            tmp_path / "ours.sig",
            tmp_path / "msg",
        ],
        capture_output=True,
        check=False,
    )

    assert base64.b64encode(theirs).decode() == ours
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    if channel == "alipay":
        assert alipay_verify({**params, "sign": base64.b64encode(theirs).decode()}, public_pem) is True
    else:
        headers = _wechat_headers(str(NOW), "fdasflkja484w", base64.b64encode(theirs).decode())
        assert wechat_verify(headers, body, public_pem, now=NOW) is True


# --- WeChat Pay v3: the signed message and the headers ------------------------------------------------


def test_wechat_message_is_timestamp_nonce_body_each_followed_by_newline():
    body = '{"id":"EV-1","summary":"支付成功"}'

    expected = b'1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{"id":"EV-1","summary":"\xe6\x94\xaf\xe4\xbb\x98\xe6\x88\x90\xe5\x8a\x9f"}\n'
    assert wechat_message("1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", body) == expected
    assert wechat_message("1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", body.encode()) == expected


SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F2DC59"
NONCE = "fdasflkja484w"


def _wechat_headers(timestamp: str, nonce: str, signature: str, serial: str = SERIAL) -> dict[str, str]:
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


@pytest.fixture
def wechat_body() -> bytes:
    return json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": "2025-03-01T10:15:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": "...",
                "nonce": "fdasfjihihihlkja484w",
            },
        },
        ensure_ascii=False,
    ).encode()


@pytest.fixture
def wechat_headers(private_pem, wechat_body) -> dict[str, str]:
    return _wechat_headers(str(NOW), NONCE, wechat_sign(str(NOW), NONCE, wechat_body, private_pem))


def test_wechat_good_signature_verifies(wechat_headers, wechat_body, public_pem):
    assert wechat_verify(wechat_headers, wechat_body, public_pem, now=NOW) is True


def test_wechat_changed_body_is_rejected(wechat_headers, wechat_body, public_pem):
    changed = wechat_body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESs")

    assert wechat_verify(wechat_headers, changed, public_pem, now=NOW) is False
    assert wechat_verify(wechat_headers, wechat_body + b" ", public_pem, now=NOW) is False


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(NOW + 300, True, id="5 min late: inside"),
        pytest.param(NOW - 300, True, id="5 min early: inside"),
        pytest.param(NOW + 301, False, id="replayed after the window"),
        pytest.param(NOW - 301, False, id="from the future"),
        pytest.param(NOW + 86_400, False, id="a day later"),
    ],
)
def test_wechat_replay_window(wechat_headers, wechat_body, public_pem, now, expected):
    assert wechat_verify(wechat_headers, wechat_body, public_pem, now=now) is expected


def test_wechat_max_skew_is_adjustable(wechat_headers, wechat_body, public_pem):
    assert wechat_verify(wechat_headers, wechat_body, public_pem, now=NOW + 60, max_skew=59) is False
    assert wechat_verify(wechat_headers, wechat_body, public_pem, now=NOW + 60, max_skew=60) is True


def test_wechat_timestamp_is_covered_by_the_signature(wechat_headers, wechat_body, public_pem):
    moved = {**wechat_headers, "Wechatpay-Timestamp": str(NOW + 10)}

    assert wechat_verify(moved, wechat_body, public_pem, now=NOW) is False


def test_wechat_nonce_is_covered_by_the_signature(wechat_headers, wechat_body, public_pem):
    assert (
        wechat_verify({**wechat_headers, "Wechatpay-Nonce": "other"}, wechat_body, public_pem, now=NOW)
        is False
    )


@pytest.mark.parametrize(
    "header", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"]
)
def test_wechat_missing_header_is_rejected(wechat_headers, wechat_body, public_pem, header):
    headers = {k: v for k, v in wechat_headers.items() if k != header}

    assert wechat_verify(headers, wechat_body, public_pem, now=NOW) is False


def test_wechat_lowercase_header_names_work(wechat_headers, wechat_body, public_pem):
    lowered = {k.lower(): v for k, v in wechat_headers.items()}

    assert wechat_verify(lowered, wechat_body, public_pem, now=NOW) is True


def test_wechat_django_request_headers_work(wechat_headers, wechat_body, public_pem):
    from django.http.request import HttpHeaders

    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in wechat_headers.items()}

    assert wechat_verify(HttpHeaders(meta), wechat_body, public_pem, now=NOW) is True


def test_wechat_serial_must_match_when_given(wechat_headers, wechat_body, public_pem):
    assert wechat_verify(wechat_headers, wechat_body, public_pem, now=NOW, serial=SERIAL) is True
    assert wechat_verify(wechat_headers, wechat_body, public_pem, now=NOW, serial="PUB_KEY_ID_0114") is False


def test_wechat_wrong_key_is_rejected(wechat_headers, wechat_body, other_key):
    assert wechat_verify(wechat_headers, wechat_body, _pem_public(other_key), now=NOW) is False


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("WECHATPAY/SIGNTEST/" + "A" * 325, id="WeChat's signature probe"),
        pytest.param("%%%not-base64%%%", id="not base64"),
        pytest.param("签名", id="non-ascii"),
    ],
)
def test_wechat_garbage_signature_is_rejected(wechat_headers, wechat_body, public_pem, signature):
    headers = {**wechat_headers, "Wechatpay-Signature": signature}

    assert wechat_verify(headers, wechat_body, public_pem, now=NOW) is False


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "1740795300.5", "-1740795300", "１７４０７９５３００", "9" * 5000]
)
def test_wechat_malformed_timestamp_is_rejected(private_pem, public_pem, wechat_body, timestamp):
    headers = _wechat_headers(timestamp, NONCE, wechat_sign(timestamp, NONCE, wechat_body, private_pem))

    assert wechat_verify(headers, wechat_body, public_pem, now=NOW) is False


def test_wechat_other_signature_type_is_rejected(wechat_headers, wechat_body, public_pem):
    headers = {**wechat_headers, "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}

    assert wechat_verify(headers, wechat_body, public_pem, now=NOW) is False


# --- WeChat Pay v3: the encrypted resource ------------------------------------------------------------

TRANSACTION = {
    "mchid": "1900000001",
    "appid": "wxd678efh567hg6787",
    "out_trade_no": "GC20250301000001",
    "transaction_id": "4200000000202503011234567890",
    "trade_type": "NATIVE",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "attach": "户号 0101234567",
    "success_time": "2025-03-01T10:15:00+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 8850, "payer_total": 8850, "currency": "CNY", "payer_currency": "CNY"},
}
GCM_NONCE = "fdasfjihihih"  # 12 characters = 12 bytes


def test_aead_round_trip():
    resource = wechat_encrypt_resource(TRANSACTION, API_V3_KEY, nonce=GCM_NONCE)

    assert set(resource) == {"original_type", "algorithm", "ciphertext", "associated_data", "nonce"}
    assert resource["algorithm"] == "AEAD_AES_256_GCM"
    assert resource["original_type"] == "transaction"
    assert resource["associated_data"] == "transaction"
    assert resource["nonce"] == GCM_NONCE
    assert "户号" not in resource["ciphertext"]
    assert wechat_decrypt_resource(resource, API_V3_KEY) == TRANSACTION
    assert wechat_decrypt_resource(resource, API_V3_KEY.encode()) == TRANSACTION


def test_aead_matches_aesgcm_used_directly_with_known_bytes():
    key = bytes(range(32))
    nonce = "0123456789ab"
    plaintext = json.dumps(TRANSACTION, ensure_ascii=False, separators=(",", ":")).encode()
    sealed = AESGCM(key).encrypt(nonce.encode(), plaintext, b"transaction")
    resource = {
        "original_type": "transaction",
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": "transaction",
        "nonce": nonce,
    }

    assert wechat_decrypt_resource(resource, key) == TRANSACTION
    assert wechat_encrypt_resource(TRANSACTION, key, nonce=nonce) == resource


def _gf128_multiply(x: int, y: int) -> int:
    """Multiplication in GF(2^128) as NIST SP 800-38D §6.3 defines it (bit 0 is the leftmost)."""
    r = 0xE1 << 120
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ r if v & 1 else v >> 1
    return z


def _textbook_gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-GCM written out from SP 800-38D over the bare AES block, independent of AESGCM."""

    def block(data: bytes) -> bytes:
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one raw AES block
        return encryptor.update(data) + encryptor.finalize()

    def ghash(h: int, data: bytes) -> int:
        y = 0
        for i in range(0, len(data), 16):
            y = _gf128_multiply(y ^ int.from_bytes(data[i : i + 16], "big"), h)
        return y

    def pad(data: bytes) -> bytes:
        return data + b"\x00" * (-len(data) % 16)

    assert len(iv) == 12
    h = int.from_bytes(block(b"\x00" * 16), "big")
    j0 = iv + b"\x00\x00\x00\x01"
    ciphertext = bytearray()
    for n, i in enumerate(range(0, len(plaintext), 16), start=2):
        stream = block(iv + n.to_bytes(4, "big"))
        chunk = plaintext[i : i + 16]
        ciphertext += bytes(a ^ b for a, b in zip(chunk, stream, strict=False))
    lengths = (len(aad) * 8).to_bytes(8, "big") + (len(ciphertext) * 8).to_bytes(8, "big")
    s = ghash(h, pad(aad) + pad(bytes(ciphertext)) + lengths)
    tag = (int.from_bytes(block(j0), "big") ^ s).to_bytes(16, "big")
    return bytes(ciphertext) + tag


def test_textbook_gcm_reproduces_the_published_test_vector():
    """McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 96-bit IV, AAD)."""
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    iv = bytes.fromhex("cafebabefacedbaddecaf888")
    plaintext = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    )
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    expected = bytes.fromhex(
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
        "76fc6ece0f4e1768cddf8853bb2d551b"
    )

    assert _textbook_gcm_encrypt(key, iv, plaintext, aad) == expected


def test_aead_agrees_with_a_textbook_gcm_both_ways():
    key = API_V3_KEY.encode()
    plaintext = json.dumps(TRANSACTION, ensure_ascii=False, separators=(",", ":")).encode()
    sealed = _textbook_gcm_encrypt(key, GCM_NONCE.encode(), plaintext, b"transaction")
    resource = {
        "original_type": "transaction",
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": "transaction",
        "nonce": GCM_NONCE,
    }

    assert wechat_decrypt_resource(resource, API_V3_KEY) == TRANSACTION
    assert (
        wechat_encrypt_resource(TRANSACTION, API_V3_KEY, nonce=GCM_NONCE)["ciphertext"]
        == resource["ciphertext"]
    )


def test_aead_empty_or_missing_associated_data():
    resource = wechat_encrypt_resource(TRANSACTION, API_V3_KEY, nonce=GCM_NONCE, associated_data="")
    missing = {k: v for k, v in resource.items() if k != "associated_data"}

    assert wechat_decrypt_resource(resource, API_V3_KEY) == TRANSACTION
    assert wechat_decrypt_resource(missing, API_V3_KEY) == TRANSACTION
    assert wechat_decrypt_resource({**resource, "associated_data": None}, API_V3_KEY) == TRANSACTION


def _flip(ciphertext_b64: str, index: int) -> str:
    raw = bytearray(base64.b64decode(ciphertext_b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.fixture
def resource() -> dict:
    return wechat_encrypt_resource(TRANSACTION, API_V3_KEY, nonce=GCM_NONCE)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda r: {**r, "ciphertext": _flip(r["ciphertext"], 40)}, id="ciphertext byte"),
        pytest.param(lambda r: {**r, "ciphertext": _flip(r["ciphertext"], -1)}, id="tag byte"),
        pytest.param(lambda r: {**r, "associated_data": "refund"}, id="associated_data"),
        pytest.param(lambda r: {**r, "associated_data": ""}, id="associated_data dropped"),
        pytest.param(lambda r: {**r, "nonce": "fdasfjihihii"}, id="nonce"),
    ],
)
def test_aead_tampering_is_a_signature_error(resource, tamper):
    with pytest.raises(SignatureError, match="authentication"):
        wechat_decrypt_resource(tamper(resource), API_V3_KEY)


def test_aead_wrong_key_is_a_signature_error(resource):
    with pytest.raises(SignatureError, match="authentication"):
        wechat_decrypt_resource(resource, "ZZZZ456789abcdefGHIJKLMNOPQRSTuv")


@pytest.mark.parametrize("key", [API_V3_KEY[:31], API_V3_KEY + "w", b"\x00" * 31, ""])
def test_aead_key_not_32_bytes_is_a_signature_error(resource, key):
    with pytest.raises(SignatureError, match="32 bytes"):
        wechat_decrypt_resource(resource, key)
    with pytest.raises(SignatureError, match="32 bytes"):
        wechat_encrypt_resource(TRANSACTION, key, nonce=GCM_NONCE)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"algorithm": "AEAD_AES_128_GCM"}, "algorithm", id="other algorithm"),
        pytest.param({"algorithm": None}, "algorithm", id="no algorithm"),
        pytest.param({"ciphertext": "***"}, "base64", id="ciphertext not base64"),
        pytest.param({"ciphertext": base64.b64encode(b"short").decode()}, "tag", id="shorter than the tag"),
        pytest.param({"ciphertext": None}, "ciphertext", id="no ciphertext"),
        pytest.param({"nonce": "short"}, "12 bytes", id="nonce too short"),
        pytest.param({"nonce": None}, "nonce", id="no nonce"),
        pytest.param({"associated_data": 7}, "associated_data", id="associated_data not a string"),
    ],
)
def test_aead_malformed_resource_is_a_signature_error(resource, change, message):
    with pytest.raises(SignatureError, match=message):
        wechat_decrypt_resource({**resource, **change}, API_V3_KEY)


@pytest.mark.parametrize(
    "plaintext",
    [b"not json", b'["a", "list"]', b"\xff\xfe not utf-8"],
    ids=["not JSON", "a list", "not UTF-8"],
)
def test_aead_plaintext_that_is_not_a_json_object_is_a_signature_error(plaintext):
    sealed = AESGCM(API_V3_KEY.encode()).encrypt(GCM_NONCE.encode(), plaintext, b"transaction")
    resource = {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": "transaction",
        "nonce": GCM_NONCE,
    }

    with pytest.raises(SignatureError, match="JSON"):
        wechat_decrypt_resource(resource, API_V3_KEY)


def test_signature_error_is_a_value_error():
    assert issubclass(SignatureError, ValueError)


# --- a whole WeChat notification, as the endpoint will see it ------------------------------------------


def test_wechat_notification_end_to_end(private_pem, public_pem):
    body = json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": "2025-03-01T10:15:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": wechat_encrypt_resource(TRANSACTION, API_V3_KEY, nonce=GCM_NONCE),
        },
        ensure_ascii=False,
    ).encode()
    headers = _wechat_headers(str(NOW), NONCE, wechat_sign(str(NOW), NONCE, body, private_pem))

    assert wechat_verify(headers, body, public_pem, now=NOW + 3, serial=SERIAL) is True
    transaction = wechat_decrypt_resource(json.loads(body)["resource"], API_V3_KEY)
    assert transaction["amount"]["total"] == 8850
    assert transaction["out_trade_no"] == "GC20250301000001"


@pytest.mark.parametrize("charset", ["idna", "punycode", "utf-7", "rot13"])
def test_alipay_a_charset_alipay_does_not_use_is_rejected_not_raised(signed, public_pem, charset):
    # idna raised a bare UnicodeError ("label too long") while encoding the signing string: a 500 before
    assert alipay_verify({**signed, "charset": charset, "subject": "x" * 80}, public_pem) is False
