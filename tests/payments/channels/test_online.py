"""Orders with the real channels, end to end against the channel simulator (`simulated.py`): placing them,
the simulator's signed notifications coming back over HTTP, the query job settling a lost notification with an
injected clock, expired orders closed with the channel first, a channel down or answering garbage, WeChat
platform-key rotation, statements downloaded into the reconciliation — and GridCare's outgoing requests checked
independently of GridCare's code: Alipay's with python-alipay-sdk's own verify, WeChat's with `cryptography`
over ``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n`` as the channel documents it.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
import requests
from alipay import AliPay
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import load_pem_x509_certificate
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.payments.channels import online, providers, statements, wechat_keys
from gridcare.payments.channels.providers import base
from gridcare.payments.models import Payment, PaymentOrder, Receivable, ReconciliationException
from tests.payments.ledger.test_ledger import issued_bill

D = Decimal
SYSTEM = Actor()
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bill(world):
    return issued_bill(world.acct_a, "2026-10", "100.00", timezone.localdate() + timedelta(days=30))


def place(world, channel: str, scene: str, amount: str = "100.00", **kw) -> online.Placed:
    return online.place(actor=SYSTEM, account=world.acct_a, amount=amount, channel=channel, scene=scene, **kw)


def wait_until(check, seconds: float = 8.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def delivered(simulated) -> None:
    """Wait until every notification the simulator queued was answered. Checked over HTTP, not in the database:
    with SQLite's in-memory test database the live server's threads share the test's connection, so the test
    must not query while a notification is still being handled (PostgreSQL would not mind)."""
    wait_until(lambda: (notes := simulated.notifications()) and all(n["state"] == "done" for n in notes))


def order_status(order: PaymentOrder) -> str:
    return PaymentOrder.objects.get(pk=order.pk).status


# ---------------------------------------------------------------- paying, notified over HTTP


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_a_qr_order_paid_at_the_channel_is_notified_and_recorded_once(simulated, world, bill, channel):
    placed = place(world, channel, base.QR)
    assert placed.placement is not None and placed.placement.url.startswith(simulated.sim.url)
    order = placed.order
    assert (order.scene, order.status, order.pay_url) == ("qr", "created", placed.placement.url)
    assert order.expires_at - order.created_at == timedelta(minutes=15)
    simulated.pay(channel, order.order_no)
    delivered(simulated)
    assert order_status(order) == "paid"
    p = Payment.objects.get()
    assert (p.channel, p.amount, p.account_id) == (channel, D("100.00"), world.acct_a.pk)
    r = Receivable.objects.get(bill=bill)
    assert r.principal_paid == r.principal == D("100.00")
    # The query job afterwards has nothing to do: the order is paid (one trade, one payment).
    assert online.sweep(now=order.created_at + timedelta(minutes=6)).queried == 0
    assert Payment.objects.count() == 1
    note = wait_until(lambda: next((n for n in simulated.notifications() if n["state"] == "done"), None))
    assert note["attempt_log"][-1]["status"] in (200, 204), note


def test_alipay_amounts_go_as_yuan_and_wechat_as_fen(simulated, world, bill):
    place(world, "alipay", base.QR, "12.30")
    place(world, "wechat", base.QR, "12.30")
    [alipay] = simulated.requests_to("/alipay/gateway.do")
    form = dict(parse_qsl(alipay["body"]))
    assert '"total_amount":"12.30"' in form["biz_content"]
    [wechat] = simulated.requests_to("/wechat/v3/pay/transactions/native")
    assert '"amount":{"total":1230,"currency":"CNY"}' in wechat["body"]
    assert '"notify_url":"' + simulated.live_url + '/api/v1/pay/wechat/notify"' in wechat["body"]


def test_an_order_above_the_maximum_or_a_scene_the_channel_lacks_is_refused_and_nothing_written(
    simulated, world, bill, settings
):
    settings.GRIDCARE["PAY"]["ORDER_MAX"] = "500.00"
    with pytest.raises(ValidationError) as exc:
        place(world, "alipay", base.QR, "500.01")
    assert list(exc.value.message_dict) == ["amount"] and "500.00" in exc.value.message_dict["amount"][0]
    with pytest.raises(ValidationError) as exc:
        place(world, "alipay", base.H5)
    assert list(exc.value.message_dict) == ["scene"]
    with pytest.raises(ValidationError) as exc:
        place(world, "wechat", base.JSAPI)
    assert list(exc.value.message_dict) == ["openid"]
    assert not PaymentOrder.objects.exists()


# ---------------------------------------------------------------- the query job, with an injected clock


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_a_lost_notification_is_settled_by_the_query_job_after_five_minutes(
    simulated, world, bill, channel, settings
):
    settings.GRIDCARE["PAY"]["NOTIFY_BASE_URL"] = (
        "http://127.0.0.1:9"  # nobody listens: every notification lost
    )
    order = place(world, channel, base.QR).order
    simulated.pay(channel, order.order_no)
    assert order_status(order) == "created"
    at = order.created_at
    r = online.sweep(now=at + timedelta(minutes=4, seconds=59))
    assert (r.queried, r.paid) == (0, 0) and order_status(order) == "created"  # not due yet
    r = online.sweep(now=at + timedelta(minutes=5))
    assert (r.queried, r.paid, r.errors) == (1, 1, 0)
    order.refresh_from_db()
    assert order.status == "paid" and order.payment.amount == D("100.00")
    assert order.payment.channel_txn_id == simulated.trade(channel, order.order_no)["trade_no"]
    # The notification arriving late afterwards settles nothing more.
    settings.GRIDCARE["PAY"]["NOTIFY_BASE_URL"] = simulated.live_url
    assert online.sweep(now=at + timedelta(minutes=6)).queried == 0
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("channel, scene", [("alipay", base.QR), ("alipay", base.WAP), ("wechat", base.QR)])
def test_an_expired_order_is_closed_with_the_channel_before_it_is_closed_here(
    simulated, world, bill, channel, scene
):
    order = place(world, channel, scene).order
    r = online.sweep(now=order.created_at + timedelta(minutes=10))
    assert (r.queried, r.closed) == (1, 0) and order_status(order) == "created"  # not expired: left waiting
    r = online.sweep(now=order.expires_at + timedelta(seconds=1))
    assert (r.queried, r.closed, r.errors) == (1, 1, 0)
    order.refresh_from_db()
    assert (order.status, order.channel_state) == ("closed", "expired")
    trade = simulated.trade(channel, order.order_no)
    # An Alipay wap order the payer never opened does not exist at Alipay: "trade does not exist" counts as
    # closed. The others were closed at the channel first.
    assert trade == {} or trade["status"] in ("TRADE_CLOSED", "CLOSED"), trade


def test_a_payment_at_the_channel_for_an_order_closed_here_is_recorded_with_an_exception(
    simulated, world, bill
):
    order = place(world, "wechat", base.QR).order
    PaymentOrder.objects.filter(pk=order.pk).update(status="closed")  # closed here, still open at WeChat
    simulated.pay("wechat", order.order_no)
    delivered(simulated)
    exc = ReconciliationException.objects.get(order=order)
    assert (exc.kind, exc.source, exc.their_amount, exc.status) == (
        "paid_closed",
        "notification",
        D("100.00"),
        "open",
    )
    assert Payment.objects.get().amount == D("100.00")


# ---------------------------------------------------------------- a channel down or answering garbage


@pytest.mark.parametrize("mode", ["down", "garbage"])
@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_a_channel_down_or_answering_garbage_leaves_the_order_payable(simulated, world, bill, channel, mode):
    simulated.mode(mode)
    placed = place(world, channel, base.QR)
    assert placed.placement is None and "稍后重试" in placed.error
    assert (placed.order.status, placed.order.pay_url) == ("created", "")
    assert online.sweep(now=placed.order.created_at + timedelta(minutes=6)).errors == 1
    assert order_status(placed.order) == "created"
    simulated.mode("normal")
    again = online.place_again(PaymentOrder.objects.get(pk=placed.order.pk))
    assert again.placement is not None and again.order.order_no == placed.order.order_no
    assert PaymentOrder.objects.count() == 1 and not Payment.objects.exists()


# ---------------------------------------------------------------- WeChat platform keys, rotated


def test_wechat_notifications_signed_by_either_platform_key_during_rotation_are_accepted(
    simulated, world, bill
):
    first = simulated.sim.keys.wechat_platform[-1].serial
    r = requests.post(f"{simulated.sim.url}/_sim/wechat/rotate", timeout=5)
    second = r.json()["serial"]
    assert second != first
    summary = wechat_keys.refresh_platform_certificates()
    assert summary.added == [second]
    wechat_keys.cache_clear()
    assert wechat_keys.platform_key(first) is not None and wechat_keys.platform_key(second) is not None
    order = place(world, "wechat", base.QR).order  # the answer is signed with the new key: verified
    simulated.pay("wechat", order.order_no)
    delivered(simulated)
    assert order_status(order) == "paid"
    note = wait_until(lambda: next((n for n in simulated.notifications() if n["state"] == "done"), None))
    assert note["attempt_log"][-1]["status"] == 204, note


# ---------------------------------------------------------------- statements into the reconciliation


def test_the_days_statements_are_downloaded_and_reconciled_with_unknown_trades_as_exceptions(
    simulated, world, bill
):
    paid = []
    for channel in ("alipay", "wechat"):
        order = place(world, channel, base.QR, "40.00").order
        simulated.pay(channel, order.order_no)
        delivered(simulated)
        assert order_status(order) == "paid"
        paid.append(order)
    # A trade GridCare never recorded (its order number is not ours): the statement shows it.
    stranger = providers.get("alipay").place(
        base.OrderRequest(
            order_no="XX2026120700000001",
            amount=D("9.99"),
            subject="x",
            notify_url="http://127.0.0.1:9/lost",
            expires_at=timezone.now() + timedelta(minutes=15),
            scene=base.QR,
        )
    )
    assert stranger.url
    simulated.pay("alipay", "XX2026120700000001")
    day = timezone.localdate()
    result = statements.download_and_reconcile(day)
    assert result["failed"] == []
    a, w = result["channels"]["alipay"], result["channels"]["wechat"]
    assert (a["state"], a["rows"], a["matched"], a["exceptions"]) == ("imported", 2, 1, 1)
    assert (w["state"], w["rows"], w["matched"], w["exceptions"]) == ("imported", 1, 1, 0)
    e = ReconciliationException.objects.get(statement__isnull=False)
    assert (e.kind, e.their_amount, e.order_no) == ("theirs_only", D("9.99"), "XX2026120700000001")
    again = statements.download_and_reconcile(day)
    assert again["channels"]["alipay"]["state"] == "unchanged"


def test_a_statement_that_cannot_be_downloaded_is_reported_and_the_other_channel_goes_on(
    simulated, world, settings
):
    settings.GRIDCARE["ALIPAY"]["GATEWAY_URL"] = "http://127.0.0.1:9/gateway.do"
    result = statements.download_and_reconcile(timezone.localdate() - timedelta(days=1))
    assert result["failed"] == ["alipay"] and "alipay" in result["channels"]
    assert result["channels"]["wechat"]["state"] in ("imported", "failed")


# ---------------------------------------------------------------- our requests, verified independently


def test_alipay_requests_verify_with_the_sdks_own_verify_and_the_merchants_public_key(simulated, world, bill):
    place(world, "alipay", base.QR, "12.30")
    [req] = simulated.requests_to("/alipay/gateway.do")
    params = dict(parse_qsl(req["body"]))
    sign = params.pop("sign")
    keys = simulated.sim.keys
    # The SDK verifies with "alipay_public_key_string": here, the merchant's app public key (as Alipay does).
    verifier = AliPay(
        appid=params["app_id"],
        app_private_key_string=keys.alipay_private_pem,
        alipay_public_key_string=keys.alipay_app_public_pem,
        sign_type="RSA2",
    )
    assert params.pop("sign_type") == "RSA2"
    signed = {**params}
    assert verifier._verify(
        "&".join(f"{k}={v}" for k, v in sorted({**signed, "sign_type": "RSA2"}.items())), sign
    )
    assert not verifier._verify(
        "&".join(f"{k}={v}" for k, v in sorted({**signed, "sign_type": "RSA2", "method": "x"}.items())), sign
    )
    assert (
        params["method"] == "alipay.trade.precreate"
        and params["app_id"] == settings.GRIDCARE["ALIPAY"]["APP_ID"]
    )


def test_wechat_requests_carry_a_signature_over_method_url_timestamp_nonce_body(simulated, world, bill):
    place(world, "wechat", base.QR, "12.30")
    [req] = simulated.requests_to("/wechat/v3/pay/transactions/native")
    auth = req["headers"]["Authorization"]
    assert auth.startswith("WECHATPAY2-SHA256-RSA2048 ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
    conf = settings.GRIDCARE["WECHAT"]
    assert (fields["mchid"], fields["serial_no"]) == (conf["MCHID"], conf["CERT_SERIAL"])
    message = (
        f"POST\n/v3/pay/transactions/native\n{fields['timestamp']}\n{fields['nonce_str']}\n{req['body']}\n"
    )
    cert = load_pem_x509_certificate(simulated.sim.keys.wechat_merchant_cert_pem.encode())
    cert.public_key().verify(
        base64.b64decode(fields["signature"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert abs(int(fields["timestamp"]) - time.time()) < 60


# ---------------------------------------------------------------- paying by 户号 without logging in


def test_the_public_page_pays_with_a_real_wallet_qr_on_a_computer_and_its_cashier_on_a_phone(
    simulated, world, bill, client
):
    from django.test import Client

    form = {"account_number": world.acct_a.account_number, "amount": "100.00", "channel": "alipay"}
    desktop = client.post("/portal/query/pay/", form, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64)")
    assert desktop.status_code == 200 and desktop["Cache-Control"] == "no-store"
    page = desktop.content.decode()
    order = PaymentOrder.objects.get()
    assert (order.channel, order.scene, order.wallet) == ("alipay", "qr", "alipay")
    assert order.public_token_hash and "<svg" in page and order.pay_url in page
    token = re.search(r"/portal/pay/public/([^/]+)/status/", page)[1]
    simulated.pay("alipay", order.order_no)
    delivered(simulated)
    assert order_status(order) == "paid"
    status = client.get(f"/portal/pay/public/{token}/status/")
    assert status.status_code == 286 and "支付成功" in status.content.decode()  # 286: htmx stops polling
    phone = Client().post(
        "/portal/query/pay/",
        {**form, "channel": "wechat", "amount": "10.00"},
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
    )
    assert phone.status_code == 302 and phone["Location"].startswith(f"{simulated.sim.url}/wechat/h5/")
    assert "redirect_url=" in phone["Location"]  # back to the public receipt after paying
    assert PaymentOrder.objects.get(channel="wechat").scene == "h5"


def test_the_public_api_answers_the_qr_content_and_503_when_the_channel_is_down(simulated, world, bill):
    from django.test import Client

    body = {"account_number": world.acct_a.account_number, "amount": "80.70", "channel": "wechat"}
    r = Client().post("/api/v1/public/orders", data=body, content_type="application/json")
    assert r.status_code == 201, r.content
    data = r.json()
    order = PaymentOrder.objects.get()
    assert (data["scene"], data["pay_url"], data["order_no"]) == ("qr", order.pay_url, order.order_no)
    assert data["pay_url"].startswith(f"{simulated.sim.url}/wechat/pay/")
    simulated.mode("down")
    r = Client().post("/api/v1/public/orders", data=body, content_type="application/json")
    assert r.status_code == 503 and "稍后重试" in r.json()["detail"]


# ---------------------------------------------------------------- the self-service terminal's QR code


def test_the_terminal_shows_a_qr_code_that_the_simulator_pays(simulated, world, bill, client):
    import json as _json

    from gridcare.payments.channels import terminals
    from tests.payments.channels.test_terminal import signed

    private, public = terminals.generate_key_pair()
    terminals.terminal_add(actor=SYSTEM, code="T001", unit=world.bureau_a, public_key=public, name="自助机")
    path = "/api/v1/terminal/orders"
    body = _json.dumps(
        {"account_number": world.acct_a.account_number, "amount": "100.00", "channel": "alipay"}
    )
    r = client.post(
        path, body, content_type="application/json", headers=signed(private, "POST", path, body.encode())
    )
    assert r.status_code == 201, r.content
    data = r.json()
    assert (data["status"], data["channel"], data["amount"]) == ("created", "alipay", "100.00")
    assert data["qr_code"].startswith(f"{simulated.sim.url}/alipay/qr/")
    simulated.pay("alipay", data["order_no"])
    delivered(simulated)
    assert PaymentOrder.objects.get(order_no=data["order_no"]).status == "paid"
    get_path = f"{path}/{data['order_no']}"
    r = client.get(get_path, headers=signed(private, "GET", get_path))
    assert r.status_code == 200 and r.json()["status"] == "paid"
    # An account outside the terminal's units: 404, nothing written
    other = _json.dumps({"account_number": "3200000001", "amount": "1.00", "channel": "alipay"})
    r = client.post(
        path, other, content_type="application/json", headers=signed(private, "POST", path, other.encode())
    )
    assert r.status_code == 404 and PaymentOrder.objects.count() == 1


# ---------------------------------------------------------------- WeChat JSAPI inside WeChat, after OAuth


WECHAT_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 MicroMessenger/8.0.50"


def test_inside_wechat_the_portal_gets_the_openid_by_oauth_then_pays_by_jsapi(simulated, world, bill, login):
    from urllib.parse import parse_qs, urlsplit

    from gridcare.customers.models import PortalBinding

    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    customer = login(world.portal_user)
    pay_url = f"/portal/pay/{world.acct_a.account_number}/"
    r = customer.post(pay_url, {"amount": "100.00", "method": "wechat"}, HTTP_USER_AGENT=WECHAT_UA)
    assert r.status_code == 302 and r["Location"].startswith("/portal/pay/wechat/oauth/?next=")
    assert not PaymentOrder.objects.exists()  # no order before the openid is known
    r = customer.get(r["Location"], HTTP_USER_AGENT=WECHAT_UA)
    authorize = r["Location"]
    assert authorize.startswith(f"{simulated.sim.url}/wechat-open/connect/oauth2/authorize?")
    assert "scope=snsapi_base" in authorize and authorize.endswith("#wechat_redirect")
    at_wechat = requests.get(authorize.split("#")[0], allow_redirects=False, timeout=5)  # WeChat's side
    back = urlsplit(at_wechat.headers["Location"])
    assert back.path == "/portal/pay/wechat/oauth/back/" and parse_qs(back.query)["code"]
    r = customer.get(f"{back.path}?{back.query}", HTTP_USER_AGENT=WECHAT_UA)
    assert r.status_code == 302 and "go=1" in r["Location"]
    openid = customer.session["wechat_openid"]
    assert openid
    r = customer.get(r["Location"], HTTP_USER_AGENT=WECHAT_UA)  # back on the pay page: the order goes on
    assert r.status_code == 200 and 'data-testid="pay-jsapi"' in r.content.decode()
    order = PaymentOrder.objects.get()
    assert (order.channel, order.scene, order.openid) == ("wechat", "jsapi", openid) and order.prepay_id
    [req] = simulated.requests_to("/wechat/v3/pay/transactions/jsapi")
    assert f'"payer":{{"openid":"{openid}"}}' in req["body"]
    # The wx.requestPayment parameters are signed with the merchant key over appId\ntimeStamp\nnonceStr\npackage\n
    params = json.loads(
        re.search(r'<script id="wxpay-params" type="application/json">(.*?)</script>', r.content.decode())[1]
    )
    assert params["package"] == f"prepay_id={order.prepay_id}" and params["signType"] == "RSA"
    cert = load_pem_x509_certificate(simulated.sim.keys.wechat_merchant_cert_pem.encode())
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    cert.public_key().verify(
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    simulated.pay("wechat", order.order_no)
    delivered(simulated)
    assert order_status(order) == "paid"
    # A code used twice is refused by WeChat: the payer is told, nothing breaks
    r = customer.get(f"{back.path}?{back.query}", HTTP_USER_AGENT=WECHAT_UA)
    assert r.status_code == 302


def test_a_statement_downloaded_twice_is_the_same_file_whatever_its_export_time():
    first = "#支付宝业务明细查询\r\n支付宝交易号,商户订单号\r\nT1,GC1\r\n#导出时间：[2026年12月07日 10:30:01]\r\n".encode(
        "gbk"
    )
    again = first.replace("10:30:01".encode("gbk"), "10:31:59".encode("gbk"))
    assert statements.without_comments(first) == statements.without_comments(again)
    assert statements.without_comments(first) == "支付宝交易号,商户订单号\r\nT1,GC1\r\n".encode("gbk")
