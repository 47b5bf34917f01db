"""The sandbox keys: made once, consistent pairs, private files 0600, rotation, GridCare's settings overlay."""

import json
import re
import stat
import threading

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gridcare.channelsim import keys


def _public_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_ensure_creates_the_documented_files_once(tmp_path):
    first = keys.ensure(tmp_path)
    second = keys.ensure(tmp_path)

    assert first == second
    names = {p.name for p in tmp_path.iterdir()}
    serial = first.wechat_platform[0].serial
    assert {
        "alipay_app_private.pem", "alipay_app_public.pem", "alipay_private.pem", "alipay_public.pem",
        "wechat_merchant_private.pem", "wechat_merchant_cert.pem", "ids.json",
        f"wechat_platform_{serial}.key", f"wechat_platform_{serial}.pem",
    } <= names  # fmt: skip
    for name in ("alipay_app_private.pem", "alipay_private.pem", "wechat_merchant_private.pem"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / f"wechat_platform_{serial}.key").stat().st_mode) == 0o600
    assert first.alipay_app_public_pem == _public_of(first.alipay_app_private_pem)
    assert first.alipay_public_pem == _public_of(first.alipay_private_pem)


def test_ids_and_certificates_look_like_the_channels(tmp_path):
    sandbox = keys.ensure(tmp_path)
    ids = json.loads((tmp_path / "ids.json").read_text())

    assert set(ids) == {
        "alipay_app_id", "alipay_seller_id", "wechat_mchid", "wechat_appid", "wechat_app_secret",
        "wechat_api_v3_key", "wechat_cert_serial",
    }  # fmt: skip
    assert re.fullmatch(r"20\d{14}", sandbox.alipay_app_id)
    assert re.fullmatch(r"2088\d{12}", sandbox.alipay_seller_id)
    assert sandbox.wechat_mchid == "1900000001"
    assert re.fullmatch(r"wx[0-9a-f]{16}", sandbox.wechat_appid)
    assert len(sandbox.wechat_api_v3_key) == 32 and sandbox.wechat_api_v3_key.isascii()
    cert = x509.load_pem_x509_certificate(sandbox.wechat_merchant_cert_pem.encode())
    assert sandbox.wechat_cert_serial == format(cert.serial_number, "X")
    assert (
        cert.public_key().public_numbers()
        == serialization.load_pem_private_key(sandbox.wechat_merchant_private_pem.encode(), password=None)
        .public_key()
        .public_numbers()
    )
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert validity.days >= 5 * 365


def test_two_processes_racing_end_with_one_consistent_set(tmp_path):
    results = []
    threads = [threading.Thread(target=lambda: results.append(keys.ensure(tmp_path))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = keys.ensure(tmp_path)
    assert final.alipay_app_public_pem == _public_of(final.alipay_app_private_pem)
    assert final.alipay_public_pem == _public_of(final.alipay_private_pem)
    assert all(r.alipay_app_private_pem == final.alipay_app_private_pem for r in results)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_rotation_adds_a_newest_platform_certificate_and_keeps_the_old(tmp_path):
    old = keys.ensure(tmp_path).wechat_platform[0].serial

    new = keys.rotate_wechat_platform(tmp_path)

    serials = [cert.serial for cert in keys.ensure(tmp_path).wechat_platform]
    assert new != old
    assert serials == [old, new]


def test_settings_overlay_points_both_channels_at_the_simulator(tmp_path):
    overlay = keys.settings_overlay(tmp_path, "http://127.0.0.1:8010")
    sandbox = keys.ensure(tmp_path)

    assert overlay["ALIPAY"] == {
        "APP_ID": sandbox.alipay_app_id,
        "SELLER_ID": sandbox.alipay_seller_id,
        "PRIVATE_KEY": sandbox.alipay_app_private_pem,
        "PUBLIC_KEY": sandbox.alipay_public_pem,
        "GATEWAY_URL": "http://127.0.0.1:8010/alipay/gateway.do",
    }
    wechat = overlay["WECHAT"]
    assert "PLATFORM_PUBLIC_KEY" not in wechat
    assert wechat["PRIVATE_KEY"] == sandbox.wechat_merchant_private_pem
    assert wechat["CERT_SERIAL"] == sandbox.wechat_cert_serial
    assert (wechat["BASE_URL"], wechat["OAUTH_URL"], wechat["SNS_URL"]) == (
        "http://127.0.0.1:8010/wechat",
        "http://127.0.0.1:8010/wechat-open",
        "http://127.0.0.1:8010/wechat-api",
    )
    assert {"MCHID", "APPID", "APP_SECRET", "API_V3_KEY"} <= set(wechat)
