"""WeChat Pay platform keys by serial (issue 13 §5): several valid at once while WeChat rotates them, chosen by
`Wechatpay-Serial`, downloaded from /v3/certificates by a job — never on a notification's path.

The channel's side is played here with `cryptography` alone: self-signed platform certificates with serials of
our choosing, sealed with AES-GCM under the APIv3 key, and a local HTTP server answering /v3/certificates
signed as WeChat signs, which checks GridCare's request signature itself (`METHOD\\nURL\\ntimestamp\\nnonce\\n
body\\n`, RSA-SHA256 with the merchant's key) without any of GridCare's code.
"""

import base64
import json
import logging
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from gridcare.core.models import AuditEvent
from gridcare.payments.channels import wechat_keys
from gridcare.payments.channels.wechat_keys import CertificateRefreshError, refresh_platform_certificates
from gridcare.payments.models import Payment, WechatPlatformKey

from .test_notify import (
    MCHID,
    bill,  # noqa: F401  (fixture)
    order,
    post_wechat,
    wechat_request,
    wechat_trade,
    written,
)

MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD"
SERIAL_OLD, SERIAL_NEW, SERIAL_THIRD = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1, 0x6A2B1C, 0x7F7F7F7F
PUB_KEY_ID = "PUB_KEY_ID_0114232134912410000000000001"


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_public(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _certificate(serial: int, *, days: int = 365) -> dict:
    """A self-signed platform certificate with `serial`, valid from yesterday for `days` days."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA test")])
    start = datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return {
        "serial": f"{serial:X}",
        "private": _pem_private(key),
        "pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "effective": start,
        "expires": start + timedelta(days=days),
    }


@pytest.fixture(scope="module")
def world_keys():
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "merchant_private": _pem_private(merchant),
        "merchant_public": merchant.public_key(),
        "stranger_private": _pem_private(stranger),
        "api_v3": secrets.token_hex(16),
        "old": _certificate(SERIAL_OLD),
        "new": _certificate(SERIAL_NEW),
        "third": _certificate(SERIAL_THIRD),
    }


def _seal(plaintext: str, api_v3: str) -> dict:
    nonce = secrets.token_hex(6)  # 12 ASCII bytes, as WeChat's nonces
    sealed = AESGCM(api_v3.encode()).encrypt(nonce.encode(), plaintext.encode(), b"certificate")
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "associated_data": "certificate",
        "nonce": nonce,
        "ciphertext": base64.b64encode(sealed).decode(),
    }


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.get_fixed_timezone(480)).isoformat(timespec="seconds")


def certificates_answer(certs: list[dict], api_v3: str) -> bytes:
    return json.dumps(
        {
            "data": [
                {
                    "serial_no": c["serial"],
                    "effective_time": _iso(c["effective"]),
                    "expire_time": _iso(c["expires"]),
                    "encrypt_certificate": _seal(c["pem"], api_v3),
                }
                for c in certs
            ]
        }
    ).encode()


def _sign(private_pem: str, message: bytes) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


AUTH = re.compile(
    r'^WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>[^"]*)",nonce_str="(?P<nonce>[^"]*)",'
    r'signature="(?P<signature>[^"]*)",timestamp="(?P<timestamp>[^"]*)",serial_no="(?P<serial>[^"]*)"$'
)


class FakeWechat:
    """WeChat's /v3/certificates on a free local port. `answer` is (status, body, signing private key, header
    serial); every request's Authorization is checked here with `cryptography` and kept in `seen`."""

    def __init__(self, merchant_public: rsa.RSAPublicKey):
        self.merchant_public = merchant_public
        self.answer: tuple[int, bytes, str | None, str] = (500, b"", None, "")
        self.seen: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                fake.seen.append(fake.check(self.command, self.path, self.headers.get("Authorization", "")))
                if not fake.seen[-1]["valid"]:
                    return self._send(401, b'{"code":"SIGN_ERROR","message":"bad merchant signature"}', {})
                status, body, signer, serial = fake.answer
                headers = {}
                if signer is not None:
                    ts, nonce = str(int(time.time())), secrets.token_hex(16)
                    message = f"{ts}\n{nonce}\n".encode() + body + b"\n"
                    headers = {
                        "Wechatpay-Timestamp": ts,
                        "Wechatpay-Nonce": nonce,
                        "Wechatpay-Serial": serial,
                        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
                        "Wechatpay-Signature": _sign(signer, message),
                    }
                return self._send(status, body, headers)

            def _send(self, status, body, headers):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def check(self, method: str, path: str, authorization: str) -> dict:
        """WeChat's check of a merchant's request, from its documentation, with cryptography directly."""
        m = AUTH.match(authorization)
        if m is None:
            return {"valid": False, "authorization": authorization}
        message = f"{method}\n{path}\n{m['timestamp']}\n{m['nonce']}\n\n".encode()
        try:
            self.merchant_public.verify(
                base64.b64decode(m["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
            )
            valid = abs(int(m["timestamp"]) - time.time()) <= 300
        except (InvalidSignature, ValueError):
            valid = False
        return {"valid": valid, "path": path, **m.groupdict()}


@pytest.fixture
def fake_wechat(world_keys):
    fake = FakeWechat(world_keys["merchant_public"])
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def wechat(settings, world_keys, fake_wechat):
    """The merchant's configuration in certificate mode (no WeChat Pay public key), pointed at the fake."""
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "WECHAT": {
            "MCHID": MCHID,
            "APPID": "wx0000000000000001",
            "CERT_SERIAL": MERCHANT_SERIAL,
            "PRIVATE_KEY": world_keys["merchant_private"],
            "API_V3_KEY": world_keys["api_v3"],
            "BASE_URL": fake_wechat.url,
            "PLATFORM_PUBLIC_KEY": "",
            "PLATFORM_SERIAL": "",
        },
        "PAY": {**settings.GRIDCARE["PAY"], "HTTP_TIMEOUT": 5},
    }
    return world_keys


def _serve(fake: FakeWechat, certs: list[dict], api_v3: str, *, signer: dict, status: int = 200):
    fake.answer = (status, certificates_answer(certs, api_v3), signer["private"], signer["serial"])


def stored() -> list[tuple]:
    return sorted(WechatPlatformKey.objects.values_list("serial", "certificate"))


def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the notification path must not use the network")

    monkeypatch.setattr(requests.Session, "request", refuse)


# ---------------------------------------------------------------- download


@pytest.mark.django_db
def test_first_download_stores_both_certificates_and_signs_the_request_as_wechat_checks(wechat, fake_wechat):
    old, new = wechat["old"], wechat["new"]
    _serve(fake_wechat, [old, new], wechat["api_v3"], signer=old)

    summary = refresh_platform_certificates()

    [request] = fake_wechat.seen
    assert request["valid"] is True
    assert (request["path"], request["mchid"], request["serial"]) == (
        "/v3/certificates",
        MCHID,
        MERCHANT_SERIAL,
    )
    assert sorted(summary.added) == sorted([old["serial"], new["serial"]])
    assert summary.bootstrap is True and summary.signed_by == old["serial"]
    assert stored() == sorted([(old["serial"], old["pem"]), (new["serial"], new["pem"])])
    row = WechatPlatformKey.objects.get(serial=new["serial"])
    assert row.expires_at == new["expires"].replace(microsecond=0)
    assert row.public_key == _pem_public(serialization.load_pem_private_key(new["private"].encode(), None))
    audit = AuditEvent.objects.get(action="wechat_platform_key.refresh")
    assert audit.channel == "job" and sorted(audit.changes["added"]) == sorted([old["serial"], new["serial"]])


@pytest.mark.django_db
def test_a_later_download_is_verified_by_the_known_key_or_by_a_sealed_certificate_it_brings(
    wechat, fake_wechat
):
    old, new, third = wechat["old"], wechat["new"], wechat["third"]
    _serve(fake_wechat, [old], wechat["api_v3"], signer=old)
    refresh_platform_certificates()

    # signed by the stored key: the new certificate is added, the old one left unchanged
    _serve(fake_wechat, [old, new], wechat["api_v3"], signer=old)
    summary = refresh_platform_certificates()
    assert (summary.added, summary.unchanged, summary.bootstrap) == ([new["serial"]], [old["serial"]], False)

    # signed by a certificate not among those it brings (nor known): refused, nothing written
    before = (stored(), AuditEvent.objects.count())
    _serve(fake_wechat, [old, new], wechat["api_v3"], signer=third)
    with pytest.raises(CertificateRefreshError):
        refresh_platform_certificates()
    assert (stored(), AuditEvent.objects.count()) == before

    # WeChat rolling out a new certificate and signing with it: it comes sealed under our APIv3 key and
    # verifies its own signature, so it is taken (as WeChat's own auto-updating verifier does)
    _serve(fake_wechat, [old, new, third], wechat["api_v3"], signer=third)
    summary = refresh_platform_certificates()
    assert (summary.added, summary.bootstrap) == ([third["serial"]], True)


@pytest.mark.django_db
def test_an_answer_with_a_bad_signature_stores_nothing(wechat, fake_wechat, caplog):
    old = wechat["old"]
    forged = {"private": wechat["stranger_private"], "serial": old["serial"]}
    _serve(fake_wechat, [old], wechat["api_v3"], signer=forged)
    with caplog.at_level(logging.ERROR, logger="gridcare.payments"), pytest.raises(CertificateRefreshError):
        refresh_platform_certificates()
    assert stored() == [] and not AuditEvent.objects.exists()
    assert any("bad signature" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_a_certificate_not_sealed_with_our_api_v3_key_stores_nothing(wechat, fake_wechat):
    old = wechat["old"]
    _serve(fake_wechat, [old], secrets.token_hex(16), signer=old)  # someone else's APIv3 key
    with pytest.raises(CertificateRefreshError):
        refresh_platform_certificates()
    assert stored() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(200, b"<html>gateway timeout</html>", id="not JSON"),
        pytest.param(200, b'{"data": []}', id="no certificates"),
        pytest.param(200, b'{"data": [{"serial_no": "ABC"}]}', id="no encrypt_certificate"),
        pytest.param(500, '{"code": "SYSTEM_ERROR", "message": "系统错误"}'.encode(), id="server error"),
    ],
)
def test_a_garbage_answer_is_a_clear_error_and_stores_nothing(wechat, fake_wechat, caplog, status, body):
    old = wechat["old"]
    fake_wechat.answer = (status, body, old["private"], old["serial"])
    with caplog.at_level(logging.ERROR, logger="gridcare.payments"), pytest.raises(CertificateRefreshError):
        refresh_platform_certificates()
    assert stored() == [] and not AuditEvent.objects.exists()
    assert any("wechat certificates refresh failed" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_a_channel_down_is_a_clear_error(wechat, settings, fake_wechat):
    fake_wechat.server.shutdown()
    fake_wechat.server.server_close()
    settings.GRIDCARE["WECHAT"]["BASE_URL"] = fake_wechat.url  # nothing listens there any more
    with pytest.raises(CertificateRefreshError, match="无法连接微信支付"):
        refresh_platform_certificates()
    assert stored() == []


@pytest.mark.django_db
def test_the_command_runs_the_job_and_prints_what_changed(wechat, fake_wechat):
    old, new = wechat["old"], wechat["new"]
    _serve(fake_wechat, [old, new], wechat["api_v3"], signer=old)
    from io import StringIO

    out = StringIO()
    call_command("wechat_certificates", "--inline", stdout=out)
    assert old["serial"] in out.getvalue() and new["serial"] in out.getvalue()
    assert len(stored()) == 2

    fake_wechat.answer = (200, b"garbage", old["private"], old["serial"])
    with pytest.raises(CommandError, match="payments.wechat_certificates"):
        call_command("wechat_certificates", "--inline", stdout=StringIO())


@pytest.mark.django_db
def test_the_job_skips_a_site_without_the_merchants_keys(settings):
    from io import StringIO

    settings.GRIDCARE = {**settings.GRIDCARE, "WECHAT": {**settings.GRIDCARE["WECHAT"], "MCHID": ""}}
    out = StringIO()
    call_command("wechat_certificates", "--inline", stdout=out)
    assert "skipped" in out.getvalue() and stored() == [] and not AuditEvent.objects.exists()
    with pytest.raises(CertificateRefreshError):  # asked directly, the service says what is missing
        refresh_platform_certificates()


def test_the_job_is_scheduled_every_12_hours():
    from gridcare.jobs import registry

    schedule = registry.SCHEDULES["payments.wechat_certificates"]
    assert (schedule.every, schedule.period) == (12, "hours")


# ---------------------------------------------------------------- the notification path


@pytest.fixture
def rotated(db, wechat, fake_wechat):
    """Two platform certificates stored by the job, as during WeChat's rotation."""
    _serve(fake_wechat, [wechat["old"], wechat["new"]], wechat["api_v3"], signer=wechat["old"])
    refresh_platform_certificates()
    fake_wechat.seen.clear()
    return wechat


def _keys_for(w: dict, cert: dict) -> dict:
    return {"api_v3": w["api_v3"], "platform_private": cert["private"]}


def test_notifications_signed_by_either_stored_key_are_accepted(client, rotated, world, bill, monkeypatch):  # noqa: F811
    no_network(monkeypatch)
    for cert, amount in ((rotated["old"], "60.00"), (rotated["new"], "40.00")):
        o = order(world, "wechat", amount)
        r = post_wechat(
            client,
            *wechat_request(
                wechat_trade(o, txn=f"42{o.order_no}"), _keys_for(rotated, cert), serial=cert["serial"]
            ),
        )
        assert r.status_code == 204, r.content
    assert Payment.objects.count() == 2


def test_an_unknown_serial_is_401_naming_it_logged_and_nothing_written(
    client,
    rotated,
    world,
    bill,  # noqa: F811
    monkeypatch,
    caplog,
):
    no_network(monkeypatch)
    third = rotated["third"]
    o = order(world, "wechat")
    before = written()
    with caplog.at_level(logging.WARNING, logger="gridcare.payments"):
        r = post_wechat(
            client, *wechat_request(wechat_trade(o), _keys_for(rotated, third), serial=third["serial"])
        )
    assert r.status_code == 401 and third["serial"] in r.json()["message"]
    assert written() == before and rotated and not Payment.objects.exists()
    assert any(
        "unknown platform serial" in rec.getMessage() and third["serial"] in rec.getMessage()
        for rec in caplog.records
    )


def test_an_expired_certificate_no_longer_verifies(client, rotated, world, bill):  # noqa: F811
    old = rotated["old"]
    WechatPlatformKey.objects.filter(serial=old["serial"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    wechat_keys.cache_clear()
    o = order(world, "wechat")
    r = post_wechat(client, *wechat_request(wechat_trade(o), _keys_for(rotated, old), serial=old["serial"]))
    assert r.status_code == 401 and not Payment.objects.exists()


def test_the_stored_keys_are_read_once_per_snapshot(rotated, django_assert_num_queries):
    wechat_keys.cache_clear()
    with django_assert_num_queries(1):
        for _ in range(20):
            assert wechat_keys.platform_key(rotated["new"]["serial"]) is not None
            assert wechat_keys.platform_key("00AA") is None


def test_the_configured_wechat_pay_public_key_still_works(client, wechat, settings, world, bill, monkeypatch):  # noqa: F811
    no_network(monkeypatch)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.GRIDCARE["WECHAT"] = {
        **settings.GRIDCARE["WECHAT"],
        "PLATFORM_PUBLIC_KEY": _pem_public(key),
        "PLATFORM_SERIAL": PUB_KEY_ID,
    }
    signer = {"api_v3": wechat["api_v3"], "platform_private": _pem_private(key)}
    o = order(world, "wechat")
    assert post_wechat(client, *wechat_request(wechat_trade(o), signer, serial=PUB_KEY_ID)).status_code == 204
    # the same key under another id is not it
    o2 = order(world, "wechat", "1.00")
    r = post_wechat(client, *wechat_request(wechat_trade(o2, txn="4299"), signer, serial="PUB_KEY_ID_OTHER"))
    assert r.status_code == 401 and Payment.objects.count() == 1
