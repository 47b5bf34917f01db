"""Alipay and WeChat Pay notifications, signed here exactly as the channels sign them, with keys made here.

Given an issued bill of 100.00 on 张三's account 3100000001 and an online order for it, when the channel
posts its notification, then one payment is recorded and the bill is paid — whatever the number of
repeats — and a notification that is forged, tampered, replayed or does not match its order writes nothing.
"""

import json
import logging
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.payments.channels import fastpath, gateways
from gridcare.payments.channels.signatures import alipay_sign, wechat_encrypt_resource, wechat_sign
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import Allocation, LedgerEntry, Payment, PaymentOrder, Receivable
from tests.payments.ledger.test_ledger import issued_bill

D = Decimal
SYSTEM = Actor()
ALIPAY_URL = "/api/v1/pay/alipay/notify"
WECHAT_URL = "/api/v1/pay/wechat/notify"
ALIPAY_APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"  # the merchant's PID, configured and sent in every notification
MCHID, APPID, SERIAL = "1900000001", "wx0000000000000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent requests need PostgreSQL's row locks"
)


# ---------------------------------------------------------------- keys and settings


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def keys():
    """Alipay's key pair, WeChat's platform key pair, a stranger's key, and the merchant's APIv3 key."""
    make = lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)  # noqa: E731
    alipay, platform, stranger = make(), make(), make()
    return {
        "alipay_private": _private_pem(alipay),
        "alipay_public": _public_pem(alipay),
        "platform_private": _private_pem(platform),
        "platform_public": _public_pem(platform),
        "stranger_private": _private_pem(stranger),
        "api_v3": secrets.token_hex(16),  # 32 random ASCII characters = 32 bytes, as the console sets it
    }


@pytest.fixture
def channels(settings, keys):
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "ALIPAY": {"APP_ID": ALIPAY_APP_ID, "SELLER_ID": SELLER_ID, "PUBLIC_KEY": keys["alipay_public"]},
        "WECHAT": {
            "MCHID": MCHID,
            "APPID": APPID,
            "PLATFORM_PUBLIC_KEY": keys["platform_public"],
            "PLATFORM_SERIAL": SERIAL,
            "API_V3_KEY": keys["api_v3"],
        },
    }
    return keys


@pytest.fixture
def bill(world):
    return issued_bill(world.acct_a, "2026-10", "100.00", timezone.localdate() + timedelta(days=30))


def order(world, channel: str, amount: str = "100.00") -> PaymentOrder:
    return gateways.order_create(actor=SYSTEM, account=world.acct_a, amount=amount, channel=channel)


def written() -> tuple:
    """Everything a notification could write."""
    return (
        Payment.objects.count(),
        LedgerEntry.objects.count(),
        Allocation.objects.count(),
        AuditEvent.objects.count(),
        sorted(PaymentOrder.objects.values_list("order_no", "status", "payment_id")),
        sorted(Receivable.objects.values_list("pk", "principal_paid", "fee_charged")),
    )


def bill_is_paid(bill) -> bool:
    r = Receivable.objects.get(bill=bill)
    return r.principal_paid == r.principal == bill.amount


# ---------------------------------------------------------------- Alipay as it signs


def alipay_params(
    o: PaymentOrder,
    trade_no: str = "2026112422001400001",
    *,
    amount: str | None = None,
    status: str = "TRADE_SUCCESS",
    key: str | None = None,
    keys=None,
    **extra,
) -> dict[str, str]:
    paid = timezone.localtime(timezone.now())
    params = {
        "notify_time": f"{paid:%Y-%m-%d %H:%M:%S}",
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "app_id": ALIPAY_APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": trade_no,
        "out_trade_no": o.order_no,
        "trade_status": status,
        "total_amount": amount or f"{o.amount}",
        "receipt_amount": amount or f"{o.amount}",
        "gmt_create": f"{paid:%Y-%m-%d %H:%M:%S}",
        "gmt_payment": f"{paid:%Y-%m-%d %H:%M:%S}",
        "subject": "电费 3100000001",
        "seller_id": SELLER_ID,
        "buyer_open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5",
        **extra,
    }
    params["sign"] = alipay_sign(params, key or keys["alipay_private"])
    return params


def post_alipay(client: Client, params: dict[str, str], charset: str = "utf-8"):
    return client.post(
        ALIPAY_URL, data=urlencode(params, encoding=charset), content_type="application/x-www-form-urlencoded"
    )


def test_a_good_alipay_notification_records_one_payment_and_pays_the_bill(client, channels, world, bill):
    o = order(world, "alipay")
    r = post_alipay(client, alipay_params(o, keys=channels))
    assert r.status_code == 200 and r.content == b"success" and r["Content-Type"].startswith("text/plain")
    p = Payment.objects.get()
    assert (p.channel, p.channel_txn_id, p.amount, p.account_id) == (
        "alipay",
        "2026112422001400001",
        D("100.00"),
        world.acct_a.pk,
    )
    o.refresh_from_db()
    assert (o.status, o.payment_id) == ("paid", p.pk)
    assert bill_is_paid(bill) and selectors.ledger_balance(world.acct_a.pk) == D("0.00")
    assert AuditEvent.objects.filter(action="payment.record", object_id=str(p.pk)).exists()
    assert AuditEvent.objects.filter(action="payment_order.paid", object_id=str(o.pk)).exists()


def test_gmt_payment_is_beijing_time(client, channels, world, bill):
    o = order(world, "alipay")
    post_alipay(client, alipay_params(o, keys=channels, gmt_payment="2026-11-24 08:30:00"))
    assert Payment.objects.get().paid_at.isoformat() == "2026-11-24T00:30:00+00:00"


def test_the_same_alipay_notification_ten_times_records_one_payment(client, channels, world, bill):
    o = order(world, "alipay")
    params = alipay_params(o, keys=channels)
    answers = [post_alipay(client, params).content for _ in range(10)]
    assert answers == [b"success"] * 10
    assert Payment.objects.count() == 1 and LedgerEntry.objects.filter(kind="payment").count() == 1
    assert AuditEvent.objects.filter(action="payment.record").count() == 1
    assert selectors.ledger_balance(world.acct_a.pk) == D("0.00")


def test_trade_finished_after_trade_success_is_the_same_payment(client, channels, world, bill):
    o = order(world, "alipay")
    assert post_alipay(client, alipay_params(o, keys=channels)).content == b"success"
    assert post_alipay(client, alipay_params(o, keys=channels, status="TRADE_FINISHED")).content == b"success"
    assert Payment.objects.count() == 1


def test_a_gbk_notification_is_verified_in_its_own_charset(client, channels, world, bill):
    o = order(world, "alipay")
    params = alipay_params(o, keys=channels, charset="gbk")
    assert post_alipay(client, params, charset="gbk").content == b"success"
    assert Payment.objects.count() == 1


def test_a_tampered_amount_is_refused_logged_and_nothing_written(client, channels, world, bill, caplog):
    o = order(world, "alipay")
    before = written()
    params = alipay_params(o, keys=channels)
    params["total_amount"] = "1.00"
    with caplog.at_level(logging.WARNING, logger="gridcare.payments"):
        r = post_alipay(client, params)
    assert r.content == b"failure"
    assert written() == before
    assert any(
        "bad signature" in rec.getMessage() and o.order_no in rec.getMessage() for rec in caplog.records
    )


@pytest.mark.parametrize("forge", ["stranger_key", "no_sign", "sign_type_rsa", "garbage_sign"])
def test_a_notification_not_signed_by_alipay_is_refused(client, channels, world, bill, forge):
    o = order(world, "alipay")
    before = written()
    if forge == "stranger_key":
        params = alipay_params(o, keys=channels, key=channels["stranger_private"])
    else:
        params = alipay_params(o, keys=channels)
        if forge == "no_sign":
            del params["sign"]
        elif forge == "sign_type_rsa":
            params["sign_type"] = "RSA"
        else:
            params["sign"] = "not base64 ✗"
    assert post_alipay(client, params).content == b"failure"
    assert written() == before


def test_another_apps_notification_is_refused(client, channels, world, bill):
    o = order(world, "alipay")
    before = written()
    assert (
        post_alipay(client, alipay_params(o, keys=channels, app_id="2021999999999999")).content == b"failure"
    )
    assert written() == before


@pytest.mark.parametrize("seller", ["2088999999999999", None], ids=["another merchant", "missing"])
def test_a_signed_notification_naming_another_seller_records_nothing(
    client, channels, world, bill, caplog, seller
):
    o = order(world, "alipay")
    params = alipay_params(
        o, keys=channels, seller_id=seller or ""
    )  # empty values are left out of the signing
    if seller is None:
        params = {k: v for k, v in params.items() if k != "seller_id"}
    before = written()
    with caplog.at_level(logging.WARNING, logger="gridcare.payments"):
        assert post_alipay(client, params).content == b"failure"
    assert written() == before and not Payment.objects.exists()
    assert any("seller_id" in r.getMessage() and o.order_no in r.getMessage() for r in caplog.records)


def test_without_a_configured_seller_id_only_app_id_is_checked(client, channels, settings, world, bill):
    settings.GRIDCARE["ALIPAY"] = {**settings.GRIDCARE["ALIPAY"], "SELLER_ID": ""}
    o = order(world, "alipay")
    assert (
        post_alipay(client, alipay_params(o, keys=channels, seller_id="2088999999999999")).content
        == b"success"
    )


@pytest.fixture
def refund_hook(monkeypatch):
    """What reaches the refund hook (the refund ledger is wired in later)."""
    calls = []
    monkeypatch.setattr(gateways, "_refund_hook", lambda refund, actor: calls.append((refund, actor)))
    return calls


def _paid_by_alipay(client, channels, world, trade_no="2026112422001400001") -> PaymentOrder:
    o = order(world, "alipay")
    assert post_alipay(client, alipay_params(o, trade_no, keys=channels)).content == b"success"
    return o


def test_an_alipay_full_refund_on_alipays_side_reaches_the_hook(client, channels, world, bill, refund_hook):
    o = _paid_by_alipay(client, channels, world)
    before = written()
    params = alipay_params(
        o,
        keys=channels,
        status="TRADE_CLOSED",
        refund_fee="100.00",
        gmt_refund="2026-11-25 09:15:30.250",
        out_biz_no="RF2026112500001",
        gmt_close="2026-11-25 09:15:30",
    )
    assert post_alipay(client, params).content == b"success"
    [(refund, actor)] = refund_hook
    assert (refund.channel, refund.order_no, refund.channel_txn_id, refund.refund_no) == (
        "alipay",
        o.order_no,
        "2026112422001400001",
        "RF2026112500001",
    )
    assert refund.amount == D("100.00") and refund.cumulative is True
    assert refund.refunded_at == datetime(2026, 11, 25, 1, 15, 30, 250000, tzinfo=UTC)  # Beijing 09:15:30.250
    assert actor.channel == "api"
    assert written() == before  # the hook writes; until the ledger is wired in, nothing is


def test_an_alipay_partial_refund_trade_success_reaches_the_hook_and_records_no_payment(
    client, channels, world, bill, refund_hook
):
    o = _paid_by_alipay(client, channels, world)
    params = alipay_params(o, keys=channels, refund_fee="30.50", gmt_refund="2026-11-25 10:00:00")
    assert post_alipay(client, params).content == b"success"
    assert Payment.objects.count() == 1 and [r.amount for r, _a in refund_hook] == [D("30.50")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"refund_fee": "100.01"}, "refund_fee"),
        ({"trade_no": "2026112422001499999"}, "trade_no"),
        ({"gmt_refund": "yesterday"}, "gmt_refund"),
    ],
)
def test_a_malformed_alipay_refund_is_refused(
    client, channels, world, bill, refund_hook, caplog, changes, field
):
    o = _paid_by_alipay(client, channels, world)
    params = alipay_params(
        o,
        keys=channels,
        status="TRADE_CLOSED",
        **{"refund_fee": "100.00", "gmt_refund": "2026-11-25 09:15:30", **changes},
    )
    before = written()
    with caplog.at_level(logging.WARNING, logger="gridcare.payments"):
        assert post_alipay(client, params).content == b"failure"
    assert written() == before and refund_hook == []
    assert any(field in r.getMessage() for r in caplog.records)


def test_an_alipay_refund_of_an_order_not_paid_here_is_refused(client, channels, world, bill, refund_hook):
    o = order(world, "alipay")
    params = alipay_params(
        o, keys=channels, status="TRADE_CLOSED", refund_fee="100.00", gmt_refund="2026-11-25 09:15:30"
    )
    assert post_alipay(client, params).content == b"failure"
    assert refund_hook == [] and not Payment.objects.exists()


def test_a_trade_closed_without_refund_is_still_acknowledged_without_the_hook(
    client, channels, world, bill, refund_hook
):
    o = order(world, "alipay")
    assert post_alipay(client, alipay_params(o, keys=channels, status="TRADE_CLOSED")).content == b"success"
    assert refund_hook == []


def test_an_amount_other_than_the_orders_is_recorded_with_a_reconciliation_exception(
    client, channels, world, bill
):
    """Issue 13 §2: a paid notification is never dropped. Correctly signed by Alipay, but 99.99 was paid for an
    order of 100.00: the money arrived, so it is recorded (once) and staff get an exception to refund or keep."""
    from gridcare.payments.models import ReconciliationException

    o = order(world, "alipay")
    params = alipay_params(o, keys=channels, amount="99.99")
    assert post_alipay(client, params).content == b"success"
    assert post_alipay(client, params).content == b"success"  # the repeat records nothing more
    p = Payment.objects.get()
    assert (p.amount, p.channel_txn_id, p.account_id) == (D("99.99"), "2026112422001400001", world.acct_a.pk)
    o.refresh_from_db()
    assert (o.status, o.payment_id) == ("paid", p.pk)
    exc = ReconciliationException.objects.get()
    assert (exc.kind, exc.source, exc.statement_id, exc.status) == (
        "amount_differs",
        "notification",
        None,
        "open",
    )
    assert (exc.our_amount, exc.their_amount, exc.order_id, exc.payment_id) == (
        D("100.00"),
        D("99.99"),
        o.pk,
        p.pk,
    )
    # 99.99 of the 100.00 bill is paid: 0.01 stays owed
    r = Receivable.objects.get(bill=bill)
    assert r.principal - r.principal_paid == D("0.01")
    # The low-level write itself still refuses it (the handler above decides to record it anyway).
    with pytest.raises(ValidationError) as err:
        gateways.notify_paid(
            channel="alipay", order_no=o.order_no, channel_txn_id="T1", amount=D("99.99"), paid_at=None
        )
    assert set(err.value.message_dict) <= {"amount", "channel_txn_id"}


def test_a_payment_for_a_closed_order_is_recorded_with_a_reconciliation_exception(
    client, channels, world, bill
):
    from gridcare.payments.models import ReconciliationException

    o = order(world, "alipay")
    PaymentOrder.objects.filter(pk=o.pk).update(status="closed")
    assert post_alipay(client, alipay_params(o, keys=channels)).content == b"success"
    p = Payment.objects.get()
    assert p.amount == D("100.00") and bill_is_paid(bill)
    o.refresh_from_db()
    assert (o.status, o.payment_id) == ("closed", p.pk)  # closed it stays; the payment is linked
    exc = ReconciliationException.objects.get()
    assert (exc.kind, exc.our_amount, exc.their_amount) == ("paid_closed", D("100.00"), D("100.00"))
    assert post_alipay(client, alipay_params(o, keys=channels)).content == b"success"
    assert (Payment.objects.count(), ReconciliationException.objects.count()) == (1, 1)


def test_an_unknown_order_is_refused_and_nothing_written(client, channels, world, bill):
    o = order(world, "alipay")
    before = written()
    params = alipay_params(o, keys=channels, out_trade_no="GC2026112400000099999999")
    assert post_alipay(client, params).content == b"failure"
    assert written() == before
    with pytest.raises(ValidationError) as exc:
        gateways.notify_paid(
            channel="alipay", order_no="GC-NOPE", channel_txn_id="T1", amount=D("100.00"), paid_at=None
        )
    assert list(exc.value.message_dict) == ["order_no"]


def test_wait_buyer_pay_is_acknowledged_without_a_payment(client, channels, world, bill):
    o = order(world, "alipay")
    before = written()
    assert post_alipay(client, alipay_params(o, keys=channels, status="WAIT_BUYER_PAY")).content == b"success"
    assert post_alipay(client, alipay_params(o, keys=channels, status="TRADE_CLOSED")).content == b"success"
    assert written() == before


def test_unconfigured_alipay_refuses_everything(client, channels, settings, world, bill):
    o = order(world, "alipay")
    params = alipay_params(o, keys=channels)
    settings.GRIDCARE = {**settings.GRIDCARE, "ALIPAY": {"APP_ID": "", "PUBLIC_KEY": ""}}
    before = written()
    assert post_alipay(client, params).content == b"failure"
    assert written() == before


def test_an_alipay_order_cannot_be_paid_through_wechat(channels, world, bill):
    o = order(world, "alipay")
    with pytest.raises(ValidationError) as exc:
        gateways.notify_paid(
            channel="wechat", order_no=o.order_no, channel_txn_id="W1", amount=D("100.00"), paid_at=None
        )
    assert "order_no" in exc.value.message_dict and not Payment.objects.exists()


def test_an_order_paid_by_one_transaction_refuses_another(channels, world, bill):
    o = order(world, "alipay")
    first = gateways.notify_paid(
        channel="alipay", order_no=o.order_no, channel_txn_id="A1", amount=D("100"), paid_at=None
    )
    again = gateways.notify_paid(
        channel="alipay", order_no=o.order_no, channel_txn_id="A1", amount=D("100.00"), paid_at=None
    )
    assert first.created and not again.created and again.payment.pk == first.payment.pk
    before = written()
    with pytest.raises(ValidationError) as exc:
        gateways.notify_paid(
            channel="alipay", order_no=o.order_no, channel_txn_id="A2", amount=D("100.00"), paid_at=None
        )
    assert "channel_txn_id" in exc.value.message_dict and written() == before


def test_one_transaction_cannot_pay_two_orders(channels, world, bill):
    a, b = order(world, "alipay", "50.00"), order(world, "alipay", "50.00")
    gateways.notify_paid(
        channel="alipay", order_no=a.order_no, channel_txn_id="A1", amount=D("50.00"), paid_at=None
    )
    before = written()
    with pytest.raises(ValidationError) as exc:
        gateways.notify_paid(
            channel="alipay", order_no=b.order_no, channel_txn_id="A1", amount=D("50.00"), paid_at=None
        )
    assert "channel_txn_id" in exc.value.message_dict and written() == before


# ---------------------------------------------------------------- orders


def test_order_numbers_are_unique_short_and_audited(world):
    orders = [order(world, ch, "12.30") for ch in ("portal", "alipay", "wechat") for _ in range(5)]
    numbers = {o.order_no for o in orders}
    assert len(numbers) == 15
    assert all(len(n) == 24 and n.startswith("GC") and n[2:].isdigit() for n in numbers)
    assert {o.amount for o in orders} == {D("12.30")}
    assert AuditEvent.objects.filter(action="payment_order.create").count() == 15


@pytest.mark.parametrize(
    "amount, channel, field",
    [
        ("0", "alipay", "amount"),
        ("-1", "alipay", "amount"),
        ("1.001", "wechat", "amount"),
        ("abc", "portal", "amount"),
        ("10.00", "counter_cash", "channel"),
        ("10.00", "bitcoin", "channel"),
    ],
)
def test_bad_orders_are_refused(world, amount, channel, field):
    with pytest.raises(ValidationError) as exc:
        gateways.order_create(actor=SYSTEM, account=world.acct_a, amount=amount, channel=channel)
    assert field in exc.value.message_dict and not PaymentOrder.objects.exists()


# ---------------------------------------------------------------- WeChat Pay v3 as it signs


def wechat_trade(o: PaymentOrder, txn: str = "4200001234202611241234567890", **changes) -> dict:
    trade = {
        "mchid": MCHID,
        "appid": APPID,
        "out_trade_no": o.order_no,
        "transaction_id": txn,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": timezone.localtime(timezone.now()).isoformat(timespec="seconds"),
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {
            "total": int(o.amount * 100),
            "payer_total": int(o.amount * 100),
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    trade.update(changes)
    return trade


def wechat_request(
    trade: dict,
    keys,
    *,
    signing_key: str | None = None,
    timestamp: int | None = None,
    api_v3: str | None = None,
    serial: str = SERIAL,
    tamper=None,
    event_type: str = "TRANSACTION.SUCCESS",
    original_type: str = "transaction",
) -> tuple[bytes, dict]:
    """The body and headers WeChat sends: the transaction sealed with the APIv3 key, the body signed."""
    resource = wechat_encrypt_resource(
        trade,
        api_v3 or keys["api_v3"],
        nonce=secrets.token_hex(6),
        associated_data=original_type,
        original_type=original_type,
    )
    if tamper:
        resource = tamper(resource)
    body = json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": timezone.localtime(timezone.now()).isoformat(),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": resource,
        },
        ensure_ascii=False,
    ).encode()
    ts, nonce = str(timestamp if timestamp is not None else int(time.time())), secrets.token_hex(16)
    headers = {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Wechatpay-Signature": wechat_sign(ts, nonce, body, signing_key or keys["platform_private"]),
    }
    return body, headers


def post_wechat(client: Client, body: bytes, headers: dict):
    return client.post(WECHAT_URL, data=body, content_type="application/json", headers=headers)


def test_a_good_wechat_notification_answers_204_and_records_one_payment(client, channels, world, bill):
    o = order(world, "wechat")
    r = post_wechat(client, *wechat_request(wechat_trade(o), channels))
    assert r.status_code == 204 and r.content == b""
    p = Payment.objects.get()
    assert (p.channel, p.channel_txn_id, p.amount) == ("wechat", "4200001234202611241234567890", D("100.00"))
    o.refresh_from_db()
    assert (o.status, o.payment_id) == ("paid", p.pk) and bill_is_paid(bill)


def test_fen_become_yuan_exactly_and_success_time_keeps_its_offset(client, channels, world, bill):
    o = order(world, "wechat", "0.01")
    trade = wechat_trade(o, success_time="2026-11-24T08:30:05+08:00")
    assert trade["amount"]["total"] == 1
    assert post_wechat(client, *wechat_request(trade, channels)).status_code == 204
    p = Payment.objects.get()
    assert p.amount == D("0.01") and p.paid_at.isoformat() == "2026-11-24T00:30:05+00:00"


def test_the_same_wechat_notification_ten_times_records_one_payment(client, channels, world, bill):
    o = order(world, "wechat")
    body, headers = wechat_request(wechat_trade(o), channels)
    assert [post_wechat(client, body, headers).status_code for _ in range(10)] == [204] * 10
    assert Payment.objects.count() == 1 and AuditEvent.objects.filter(action="payment.record").count() == 1


def test_a_replay_outside_five_minutes_is_refused(client, channels, world, bill):
    o = order(world, "wechat")
    before = written()
    for skew in (-400, 400, -86400):  # the exact ±300 s boundary is tested with an injected clock
        r = post_wechat(client, *wechat_request(wechat_trade(o), channels, timestamp=int(time.time()) + skew))
        assert r.status_code == 401 and r.json()["code"] == "FAIL"
    assert written() == before


def test_a_bad_wechat_signature_is_refused_and_logged(client, channels, world, bill, caplog):
    o = order(world, "wechat")
    before = written()
    with caplog.at_level(logging.WARNING, logger="gridcare.payments"):
        r = post_wechat(
            client, *wechat_request(wechat_trade(o), channels, signing_key=channels["stranger_private"])
        )
    assert r.status_code == 401 and r.json() == {"code": "FAIL", "message": "签名验证失败"}
    assert written() == before and any("refused (401)" in rec.getMessage() for rec in caplog.records)


def test_a_body_changed_after_signing_is_refused(client, channels, world, bill):
    o = order(world, "wechat")
    body, headers = wechat_request(wechat_trade(o), channels)
    before = written()
    assert post_wechat(client, body.replace(b"TRANSACTION", b"TRANSACTIOM"), headers).status_code == 401
    assert post_wechat(client, body + b" ", headers).status_code == 401
    assert written() == before


def test_another_platform_serial_is_refused(client, channels, world, bill):
    o = order(world, "wechat")
    before = written()
    assert post_wechat(client, *wechat_request(wechat_trade(o), channels, serial="0" * 40)).status_code == 401
    assert written() == before


def test_a_stale_timestamp_is_logged_as_clock_skew_not_as_a_forgery(client, channels, world, bill, caplog):
    o = order(world, "wechat")
    before = written()
    sent = int(time.time()) - 400
    with caplog.at_level(logging.WARNING, logger="gridcare.payments"):
        r = post_wechat(client, *wechat_request(wechat_trade(o), channels, timestamp=sent))
    assert r.status_code == 401 and written() == before
    [record] = [rec for rec in caplog.records if "refused (401)" in rec.getMessage()]
    message = record.getMessage()
    skew = int(re.search(r"clock skew of \+(\d+) s", message).group(1))
    assert record.levelno == logging.WARNING and "bad signature" not in message
    assert 400 <= skew <= 400 + 5  # our clock minus the timestamp, the seconds of this test aside


def test_a_stale_timestamp_with_a_bad_signature_is_a_forgery(client, channels, world, bill, caplog):
    o = order(world, "wechat")
    request = wechat_request(
        wechat_trade(o), channels, timestamp=int(time.time()) - 400, signing_key=channels["stranger_private"]
    )
    with caplog.at_level(logging.WARNING, logger="gridcare.payments"):
        assert post_wechat(client, *request).status_code == 401
    messages = [rec.getMessage() for rec in caplog.records if "refused (401)" in rec.getMessage()]
    assert len(messages) == 1 and "bad signature" in messages[0] and "clock skew" not in messages[0]


def wechat_refund(o: PaymentOrder, **changes) -> dict:
    """The resource of a refund notification, as WeChat sends it: no appid."""
    refund = {
        "mchid": MCHID,
        "out_trade_no": o.order_no,
        "transaction_id": "4200001234202611241234567890",
        "out_refund_no": "RF2026112500001",
        "refund_id": "50000000382019052709732678859",
        "refund_status": "SUCCESS",
        "success_time": "2026-11-25T09:15:30+08:00",
        "user_received_account": "招商银行信用卡0403",
        "amount": {"total": 10000, "refund": 2550, "payer_total": 10000, "payer_refund": 2550},
    }
    refund.update(changes)
    return refund


def test_a_refund_success_without_appid_is_204_and_reaches_the_hook(
    client, channels, world, bill, refund_hook
):
    o = order(world, "wechat")
    before = written()
    body, headers = wechat_request(
        wechat_refund(o), channels, event_type="REFUND.SUCCESS", original_type="refund"
    )
    r = post_wechat(client, body, headers)
    assert r.status_code == 204 and r.content == b""
    [(refund, actor)] = refund_hook
    assert (refund.channel, refund.order_no, refund.refund_no, refund.channel_refund_id, refund.status) == (
        "wechat",
        o.order_no,
        "RF2026112500001",
        "50000000382019052709732678859",
        "SUCCESS",
    )
    assert (refund.amount, refund.total, refund.cumulative) == (D("25.50"), D("100.00"), False)
    assert refund.refunded_at.isoformat() == "2026-11-25T09:15:30+08:00" and actor.channel == "api"
    assert written() == before


@pytest.mark.parametrize(("event", "status"), [("REFUND.ABNORMAL", "ABNORMAL"), ("REFUND.CLOSED", "CLOSED")])
def test_abnormal_and_closed_refunds_are_accepted_too(
    client, channels, world, bill, refund_hook, event, status
):
    o = order(world, "wechat")
    request = wechat_request(
        wechat_refund(o, refund_status=status, success_time=None),
        channels,
        event_type=event,
        original_type="refund",
    )
    assert post_wechat(client, *request).status_code == 204
    assert [r.status for r, _a in refund_hook] == [status]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"amount": {"total": 10000, "refund": 0, "payer_total": 10000, "payer_refund": 0}}, "amount.refund"),
        (
            {"amount": {"total": 100, "refund": 2550, "payer_total": 100, "payer_refund": 2550}},
            "amount.refund",
        ),
        ({"amount": "25.50"}, "amount"),
        ({"out_refund_no": ""}, "out_refund_no"),
        ({"success_time": "2026-11-25 09:15:30"}, "success_time"),
        ({"refund_status": "PROCESSING"}, "refund_status"),
        ({"mchid": "1900000999"}, "商户号"),
    ],
)
def test_a_malformed_refund_resource_is_a_clear_400(
    client, channels, world, bill, refund_hook, changes, named
):
    o = order(world, "wechat")
    before = written()
    request = wechat_request(
        wechat_refund(o, **changes), channels, event_type="REFUND.SUCCESS", original_type="refund"
    )
    r = post_wechat(client, *request)
    assert r.status_code == 400 and named in r.json()["message"]
    assert written() == before and refund_hook == []


def test_a_refund_notification_is_verified_like_any_other(client, channels, world, bill, refund_hook):
    o = order(world, "wechat")
    request = wechat_request(
        wechat_refund(o),
        channels,
        event_type="REFUND.SUCCESS",
        original_type="refund",
        signing_key=channels["stranger_private"],
    )
    assert post_wechat(client, *request).status_code == 401 and refund_hook == []


def test_a_refund_made_on_wechats_side_reaches_the_ledger_once(client, channels, world, bill):
    """REFUND.SUCCESS for a paid order, no refund of ours: recorded as the channel's refund (no approval),
    25.50 of the 100.00 taken back (the bill re-opens by 25.50); the same notification again changes nothing."""
    from gridcare.payments.models import Refund

    o = order(world, "wechat")
    paid = post_wechat(client, *wechat_request(wechat_trade(o), channels))
    assert paid.status_code == 204
    body, headers = wechat_request(
        wechat_refund(o), channels, event_type="REFUND.SUCCESS", original_type="refund"
    )
    assert post_wechat(client, body, headers).status_code == 204
    body, headers = wechat_request(
        wechat_refund(o), channels, event_type="REFUND.SUCCESS", original_type="refund"
    )
    assert post_wechat(client, body, headers).status_code == 204
    refund = Refund.objects.get()
    assert (refund.origin, refund.method, refund.amount, refund.refund_no, refund.channel_status) == (
        "channel",
        "original",
        D("25.50"),
        "RF2026112500001",
        "success",
    )
    assert refund.payment_id == Payment.objects.get().pk and refund.decided_by_id is None
    r = Receivable.objects.get(bill=bill)
    assert r.principal - r.principal_paid == D("25.50")


def test_a_refund_notification_for_an_unpaid_order_is_a_400_and_nothing_written(
    client, channels, world, bill
):
    o = order(world, "wechat")
    before = written()
    body, headers = wechat_request(
        wechat_refund(o), channels, event_type="REFUND.SUCCESS", original_type="refund"
    )
    r = post_wechat(client, body, headers)
    assert r.status_code == 400 and r.json()["code"] == "FAIL"
    assert written() == before


def _flip_ciphertext(resource: dict) -> dict:
    import base64

    sealed = bytearray(base64.b64decode(resource["ciphertext"]))
    sealed[5] ^= 0x01
    return {**resource, "ciphertext": base64.b64encode(bytes(sealed)).decode()}


@pytest.mark.parametrize("case", ["ciphertext", "associated_data", "api_v3_key"])
def test_a_resource_that_does_not_decrypt_is_refused(client, channels, world, bill, case):
    # The body is signed with the platform key after tampering, so the AEAD tag is what catches it
    o = order(world, "wechat")
    before = written()
    kwargs = {
        "ciphertext": {"tamper": _flip_ciphertext},
        "associated_data": {"tamper": lambda res: {**res, "associated_data": "refund"}},
        "api_v3_key": {"api_v3": secrets.token_hex(16)},
    }[case]
    r = post_wechat(client, *wechat_request(wechat_trade(o), channels, **kwargs))
    assert r.status_code == 401 and r.json()["code"] == "FAIL" and "解密失败" in r.json()["message"]
    assert written() == before


@pytest.mark.parametrize("changes", [{"mchid": "1900000002"}, {"appid": "wx9999999999999999"}])
def test_another_merchants_notification_is_refused(client, channels, world, bill, changes):
    o = order(world, "wechat")
    before = written()
    r = post_wechat(client, *wechat_request(wechat_trade(o, **changes), channels))
    assert r.status_code == 400 and r.json()["code"] == "FAIL"
    assert written() == before


def test_wechat_paid_with_another_amount_is_recorded_with_a_reconciliation_exception(
    client, channels, world, bill
):
    from gridcare.payments.models import ReconciliationException

    o = order(world, "wechat")
    r = post_wechat(
        client, *wechat_request(wechat_trade(o, amount={"total": 9999, "currency": "CNY"}), channels)
    )
    assert r.status_code == 204
    p = Payment.objects.get()
    assert (p.channel, p.amount) == ("wechat", D("99.99"))
    exc = ReconciliationException.objects.get()
    assert (exc.kind, exc.our_amount, exc.their_amount, exc.payment_id) == (
        "amount_differs",
        D("100.00"),
        D("99.99"),
        p.pk,
    )


def test_wechat_malformed_amount_or_order_mismatch_is_a_400(client, channels, world, bill):
    o = order(world, "wechat")
    cases = [
        wechat_trade(o, amount={"total": "10000", "currency": "CNY"}),
        wechat_trade(o, amount={"total": 10000, "currency": "USD"}),
        wechat_trade(o, out_trade_no="GC2026112400000099999999"),
        wechat_trade(o, success_time="2026-11-24 08:30:05"),
        wechat_trade(order(world, "alipay")),  # an Alipay order
    ]
    before = written()
    answers = [post_wechat(client, *wechat_request(t, channels)) for t in cases]
    assert [a.status_code for a in answers] == [400] * len(cases)
    assert "订单不存在" in answers[2].json()["message"]
    assert written() == before


def test_an_unpaid_trade_state_is_acknowledged_without_a_payment(client, channels, world, bill):
    o = order(world, "wechat")
    before = written()
    r = post_wechat(client, *wechat_request(wechat_trade(o, trade_state="NOTPAY"), channels))
    assert r.status_code == 204 and written() == before


@pytest.mark.parametrize(
    ("setting", "value", "logged"),
    [
        ("API_V3_KEY", "", "WECHAT settings missing: API_V3_KEY"),
        ("MCHID", "", "WECHAT settings missing: MCHID"),
        ("API_V3_KEY", "short", "API_V3_KEY must be 32 bytes"),
        ("PLATFORM_PUBLIC_KEY", "not a key", "cannot load WECHAT PLATFORM_PUBLIC_KEY"),
    ],
)
def test_unconfigured_wechat_answers_404_channel_not_enabled_logs_an_error_and_writes_nothing(
    client, channels, settings, world, bill, caplog, setting, value, logged
):
    o = order(world, "wechat")
    request = wechat_request(wechat_trade(o), channels)
    settings.GRIDCARE = {**settings.GRIDCARE, "WECHAT": {**settings.GRIDCARE["WECHAT"], setting: value}}
    before = written()
    with caplog.at_level(logging.WARNING, logger="gridcare.payments"):
        r = post_wechat(client, *request)
    assert r.status_code == 404 and r.json() == {"code": "FAIL", "message": "微信支付渠道未启用"}
    assert written() == before
    errors = [
        rec for rec in caplog.records if rec.levelno == logging.ERROR and rec.name == "gridcare.payments"
    ]
    assert len(errors) == 1 and logged in errors[0].getMessage()
    # what is missing is for the operator's log, not for the caller
    assert setting not in r.content.decode()


def test_a_wechat_notification_to_an_unconfigured_site_is_404_not_500(client, db):
    r = post_wechat(client, b"{}", {})
    assert r.status_code == 404 and r.json()["message"] == "微信支付渠道未启用"


# ---------------------------------------------------------------- charsets a notification may name


@pytest.mark.parametrize("charset", ["punycode", "idna", "utf-7", "rot13", "base64", "x-unknown"])
def test_a_charset_alipay_does_not_use_is_422_on_the_charset_field(client, channels, world, bill, charset):
    o = order(world, "alipay")
    params = alipay_params(o, keys=channels)
    body = urlencode({**params, "charset": charset})
    before = written()
    r = client.post(ALIPAY_URL, data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 422
    [error] = r.json()["detail"]
    assert error["field"] == "charset" and charset in error["message"] and "UTF-8、GBK" in error["message"]
    assert written() == before


@pytest.mark.parametrize("body", ["charset=punycode&a=.", "charset=idna&a=%80", "charset=punycode&x=%FF%FE"])
def test_a_body_punycode_or_idna_cannot_decode_is_422_without_channels_configured(client, db, body):
    r = client.post(ALIPAY_URL, data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "charset"


def test_bytes_that_are_not_text_in_the_named_charset_are_422_on_that_field(client, channels, world, bill):
    before = written()
    r = client.post(
        ALIPAY_URL, data="charset=utf-8&subject=%FF%FE", content_type="application/x-www-form-urlencoded"
    )
    assert r.status_code == 422
    assert r.json()["detail"] == [{"field": "subject", "message": "不是有效的 utf-8 文本"}]
    assert written() == before


def test_charset_names_are_matched_as_codecs_so_gbk_aliases_still_verify(client, channels, world, bill):
    o = order(world, "alipay")
    params = alipay_params(o, keys=channels, charset="GBK")
    assert post_alipay(client, params, charset="gbk").content == b"success"


def test_notification_urls_need_no_login_and_no_csrf(channels, world, bill):
    o = order(world, "alipay")
    c = Client(enforce_csrf_checks=True)
    assert post_alipay(c, alipay_params(o, keys=channels)).content == b"success"
    w = order(world, "wechat")
    assert post_wechat(c, *wechat_request(wechat_trade(w), channels)).status_code == 204


def test_the_notification_urls_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "post" in paths[ALIPAY_URL] and "post" in paths[WECHAT_URL]
    # 422: a NUL character anywhere in the body is refused before the route reads it (core.middleware)
    assert set(paths[WECHAT_URL]["post"]["responses"]) == {"204", "400", "401", "404", "422"}


# ---------------------------------------------------------------- at the same moment (PostgreSQL)


def _at_once(posts: list) -> list:
    """Run each `post(client)` in its own thread, all released together; their responses in order."""
    barrier, answers = threading.Barrier(len(posts)), [None] * len(posts)

    def run(i, post):
        try:
            c = Client()
            barrier.wait(timeout=30)
            answers[i] = post(c)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(posts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_ten_copies_at_once_record_one_payment(channels, world, bill):
    o = order(world, "alipay")
    params = alipay_params(o, keys=channels)
    answers = _at_once([lambda c: post_alipay(c, params)] * 10)
    assert [a.content for a in answers] == [b"success"] * 10
    assert Payment.objects.count() == 1 and LedgerEntry.objects.filter(kind="payment").count() == 1
    assert bill_is_paid(bill) and selectors.ledger_balance(world.acct_a.pk) == D("0.00")
    # And the same for WeChat
    w = order(world, "wechat", "20.00")
    body, headers = wechat_request(wechat_trade(w), channels)
    answers = _at_once([lambda c: post_wechat(c, body, headers)] * 10)
    assert [a.status_code for a in answers] == [204] * 10
    assert Payment.objects.filter(channel="wechat").count() == 1
    assert selectors.ledger_balance(world.acct_a.pk) == D("-20.00")  # overpaid: kept as credit


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_channels_paying_the_same_account_at_once_both_land(channels, world, bill):
    second = issued_bill(world.acct_a, "2026-11", "80.00", timezone.localdate() + timedelta(days=60))
    ali, wx = order(world, "alipay", "100.00"), order(world, "wechat", "80.00")
    ali_params = alipay_params(ali, keys=channels)
    wx_body, wx_headers = wechat_request(wechat_trade(wx), channels)
    for _round in range(2):  # the second round repeats both: nothing more is written
        answers = _at_once(
            [lambda c: post_alipay(c, ali_params), lambda c: post_wechat(c, wx_body, wx_headers)]
        )
        assert (answers[0].content, answers[1].status_code) == (b"success", 204)
    assert sorted(Payment.objects.values_list("channel", "amount")) == [
        ("alipay", D("100.00")),
        ("wechat", D("80.00")),
    ]
    bills = sum(
        LedgerEntry.objects.filter(account=world.acct_a, kind="bill").values_list("amount", flat=True)
    )
    payments = sum(Payment.objects.filter(account=world.acct_a).values_list("amount", flat=True))
    assert bills == D("180.00") and payments == D("180.00")
    assert selectors.ledger_balance(world.acct_a.pk) == bills - payments == D("0.00")
    assert bill_is_paid(bill) and bill_is_paid(second)


# ---------------------------------------------------------------- the hot path's cost (issue 12 §3)


def _statements(client, params) -> list[str]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert post_alipay(client, params).content == b"success"
    return [q["sql"] for q in ctx.captured_queries]


def test_a_notification_costs_a_fixed_number_of_statements_whatever_the_bills(client, channels, world):
    # Three open bills, the oldest two overdue (late fees charged): the statements do not grow with them.
    # PostgreSQL (`notify_pg`): BEGIN, the order and account locked, the open receivables (with whether a
    # disconnection case is open), one statement writing the payment and every row beside it (order,
    # receivables, entries, allocations, audit, receipt), COMMIT = 5; a duplicate: BEGIN, the order, COMMIT.
    # SQLite writes each table on its own.
    today = timezone.localdate()
    for months, due in ((3, -40), (2, -10), (1, 20)):
        issued_bill(world.acct_a, f"2026-{months:02d}", "100.00", today + timedelta(days=due))
    o = order(world, "alipay", "350.00")
    params = alipay_params(o, keys=channels)
    new = _statements(client, params)
    again = _statements(client, params)
    if connection.vendor == "postgresql":
        assert len(new) == 5, new
        assert len(again) == 3, again
    else:
        assert len(new) <= 12, new
        assert len(again) <= 3, again
    p = Payment.objects.get()
    # Oldest debt first, late fee before principal; what is left is credit
    allocs = list(Allocation.objects.filter(payment=p).order_by("receivable__due_date"))
    assert [a.principal for a in allocs] == [D("100.00")] * 3
    fees = [a.late_fee for a in allocs]
    # 40 days × 0.1 % (residential) of 100.00 = 4.00; 10 days = 1.00; the third bill is not due yet
    assert fees == [D("4.00"), D("1.00"), D("0.00")]
    assert p.unallocated == D("350.00") - D("300.00") - D("5.00")
    assert LedgerEntry.objects.filter(kind="late_fee").count() == 2
    assert sorted(Receivable.objects.values_list("principal_paid", "fee_charged", "fee_paid")) == sorted(
        [
            (D("100.00"), D("4.00"), D("4.00")),
            (D("100.00"), D("1.00"), D("1.00")),
            (D("100.00"), D("0"), D("0")),
        ]
    )
    assert AuditEvent.objects.filter(action__in=["payment.record", "payment_order.paid"]).count() == 2


def test_the_receipt_is_a_pending_row_rendered_later(client, channels, world, bill):
    from gridcare.notify.models import Notification, PendingNotice
    from gridcare.payments.notices import render_pending_receipts

    o = order(world, "alipay")
    post_alipay(client, alipay_params(o, keys=channels))
    p = Payment.objects.get()
    assert list(PendingNotice.objects.values_list("kind", "dedupe_key")) == [
        ("payment_receipt", f"receipt:{p.pk}")
    ]
    assert not Notification.objects.filter(kind="payment_receipt").exists()
    assert render_pending_receipts() == 1
    assert Notification.objects.filter(
        kind="payment_receipt", dedupe_key__startswith=f"receipt:{p.pk}:"
    ).exists()
    assert not PendingNotice.objects.exists()


# ---------------------------------------------------------------- the short way through Django (issue 12 §3)
# `channels.fastpath.ChannelNotifyMiddleware` answers a notification itself (no session, locale, CSRF, auth or
# messages middleware) with the same status, body and headers the full stack gives; anything unusual — a NUL
# character, a query string, an undecodable body, another method — takes the full stack and its answer.

FULL_STACK = [m for m in django_settings.MIDDLEWARE if not m.endswith("ChannelNotifyMiddleware")]


@pytest.fixture
def short_path_calls(monkeypatch):
    """How many requests the middleware answered itself."""
    calls = []
    handler = fastpath.ROUTES[fastpath.ALIPAY_PATH]

    def spy(request, body):
        response = handler(request, body)
        calls.append(response is not None)
        return response

    monkeypatch.setitem(fastpath.ROUTES, fastpath.ALIPAY_PATH, spy)
    return calls


def _headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k != "X-Request-ID"}


def test_the_middleware_sits_after_django_security_middleware():
    # The request id, the security headers and the HTTPS redirect still apply to the short path.
    mw = django_settings.MIDDLEWARE
    here = mw.index("gridcare.payments.channels.fastpath.ChannelNotifyMiddleware")
    assert mw[here - 1] == "django.middleware.security.SecurityMiddleware"
    assert here < mw.index("django.contrib.sessions.middleware.SessionMiddleware")


def test_the_path_it_answers_is_the_api_route():
    from django.urls import resolve

    assert fastpath.ALIPAY_PATH == ALIPAY_URL
    assert resolve(fastpath.ALIPAY_PATH).url_name == "alipay_notify"
    assert resolve(fastpath.WECHAT_PATH).url_name == "wechat_notify"


def test_a_notification_gets_the_same_answer_as_through_the_full_stack(
    client, channels, world, bill, short_path_calls
):
    short = post_alipay(client, alipay_params(order(world, "alipay", "40.00"), "T1", keys=channels))
    assert short_path_calls == [True]
    with override_settings(MIDDLEWARE=FULL_STACK):
        full = post_alipay(Client(), alipay_params(order(world, "alipay", "60.00"), "T2", keys=channels))
    assert short_path_calls == [True]  # the full stack did not go through the middleware
    assert (short.status_code, short.content) == (full.status_code, full.content) == (200, b"success")
    assert _headers(short) == _headers(full)
    assert short["X-Request-ID"] and short["Content-Length"] == "7"
    assert sorted(Payment.objects.values_list("channel_txn_id", flat=True)) == ["T1", "T2"]
    # A refusal (a forged signature) is the same "failure" either way.
    forged = alipay_params(order(world, "alipay", "10.00"), "T3", keys=channels)
    forged["total_amount"] = "1.00"
    short = post_alipay(client, forged)
    with override_settings(MIDDLEWARE=FULL_STACK):
        full = post_alipay(Client(), forged)
    assert short.content == full.content == b"failure" and _headers(short) == _headers(full)


def test_a_nul_character_goes_through_the_full_stack(client, channels, world, bill, short_path_calls):
    params = alipay_params(order(world, "alipay"), keys=channels)
    params["subject"] = "电费\x00"
    r = post_alipay(client, params)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "subject"
    assert short_path_calls == [] and not Payment.objects.exists()


def test_an_undecodable_body_goes_through_the_full_stack(client, channels, world, bill, short_path_calls):
    r = client.post(ALIPAY_URL, data=b"charset=latin-9&a=b", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 422 and "charset" in r.content.decode()
    assert short_path_calls == [False]  # tried, declined: the API answered


def test_a_query_string_or_another_method_goes_through_the_full_stack(
    client, channels, world, bill, short_path_calls
):
    params = alipay_params(order(world, "alipay"), keys=channels)
    r = client.post(
        f"{ALIPAY_URL}?x=1", data=urlencode(params), content_type="application/x-www-form-urlencoded"
    )
    assert r.content == b"success"
    assert client.get(ALIPAY_URL).status_code == 405
    assert short_path_calls == []


def test_a_failure_inside_the_short_path_is_the_api_json_500(channels, world, bill, monkeypatch):
    """An unexpected error answers what the API answers for it (its JSON 500 with the request id), not the
    HTML error page, and writes nothing."""

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(gateways, "alipay_notification", broken)
    client = Client(raise_request_exception=False)
    r = post_alipay(client, alipay_params(order(world, "alipay"), keys=channels))
    assert r.status_code == 500 and r["Content-Type"].startswith("application/json")
    assert r.json() == {"detail": "系统繁忙，请稍后再试", "request_id": r["X-Request-ID"]}
    assert not Payment.objects.exists()


def test_a_host_not_allowed_goes_through_the_full_stack(channels, world, bill, short_path_calls):
    """ALLOWED_HOSTS holds on the short way too: the stack answers its 400 and nothing is paid."""
    client = Client(HTTP_HOST="evil.example", raise_request_exception=False)
    r = post_alipay(client, alipay_params(order(world, "alipay"), keys=channels))
    assert r.status_code == 400 and short_path_calls == [] and not Payment.objects.exists()
