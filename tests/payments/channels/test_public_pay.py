"""Query and pay by 户号 without logging in (issue 10 §2): the API contract, the query page, the sandbox and the
receipt opened by its unguessable link.

张三's account 3100000001 is residential (late fee 0.1 % a day after the due date). Figures are computed by
hand in each test. The day the amounts are computed for is pinned by replacing `public_pay.today`; tests that
record a payment (paid "now") use bills due in 2099, so no late fee depends on the day they run.
"""

import hashlib
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.customers.choices import AccountStatus
from gridcare.payments.channels import gateways, public_pay
from gridcare.payments.channels.views import sandbox
from gridcare.payments.models import Allocation, LedgerEntry, Payment, PaymentOrder, Receivable
from gridcare.payments.prepaid import services as prepaid
from tests.factories import make_account
from tests.payments.ledger.test_ledger import issued_bill, pay
from tests.payments.prepaid.test_prepaid import bill as prepaid_bill

D = Decimal
API = "/api/v1"
QUERY = f"{API}/public/accounts"
ORDERS = f"{API}/public/orders"
PAGE = "/portal/query/"
PAGE_PAY = "/portal/query/pay/"


@pytest.fixture(autouse=True)
def sandbox_on(settings):
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "SANDBOX_PAY": {"ENABLED": True, "PRIVATE_KEY": "", "PUBLIC_KEY": ""},
    }


@pytest.fixture
def conf(settings):
    def set_conf(**values):
        settings.GRIDCARE = {**settings.GRIDCARE, **values}

    return set_conf


@pytest.fixture
def on_day(monkeypatch):
    """`on_day(date)`: the public query and the order limits compute amounts as of that day."""

    def pin(day: date):
        monkeypatch.setattr(public_pay, "today", lambda: day)

    return pin


@pytest.fixture
def two_months(world, on_day):
    """3100000001 owes 2026-10 (500.00, due 20 Nov) and 2026-11 (95.11, due 20 Dec); today is 30 Nov."""
    issued_bill(world.acct_a, "2026-10", "500.00", date(2026, 11, 20), issued_on=date(2026, 11, 5))
    issued_bill(world.acct_a, "2026-11", "95.11", date(2026, 12, 20), issued_on=date(2026, 12, 5))
    on_day(date(2026, 11, 30))


@pytest.fixture
def debt(world):
    """3100000001 owes one bill of 80.70 due in 2099: no late fee whatever the day."""
    return issued_bill(world.acct_a, "2026-09", "80.70", date(2099, 1, 20), issued_on=date(2026, 10, 5))


@pytest.fixture
def closed(world):
    acct = make_account(world.cust_a, "3100000002", world.area_a, address="东关镇人民路20号")
    issued_bill(acct, "2026-09", "10.00", date(2099, 1, 20), issued_on=date(2026, 10, 5))
    acct.status = AccountStatus.CLOSED
    acct.save(update_fields=["status"])
    return acct


def written() -> tuple:
    """Everything an order, a payment or a notification could write."""
    return (
        Payment.objects.count(),
        LedgerEntry.objects.count(),
        Allocation.objects.count(),
        AuditEvent.objects.count(),
        sorted(PaymentOrder.objects.values_list("order_no", "status", "payment_id")),
        sorted(Receivable.objects.values_list("pk", "principal_paid", "fee_charged")),
    )


def order(client=None, **body):
    body = {"account_number": "3100000001", "amount": "80.70", "channel": "alipay", **body}
    return (client or Client()).post(ORDERS, data=body, content_type="application/json")


def token_of(url: str) -> str:
    return re.search(r"/public/([^/]+)/", url)[1]


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


# ---------------------------------------------------------------- GET /public/accounts/{户号}


def test_query_shows_principal_late_fee_and_unpaid_months(two_months):
    resp = Client().get(f"{QUERY}/3100000001")
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store"
    # On 30 Nov, 2026-10 is 10 days late: 500.00 × 0.001 × 10 = 5.00 (above the 1.00 minimum under any rule);
    # 2026-11 is not due until 20 Dec: no fee. Principal 500.00 + 95.11 = 595.11; due 595.11 + 5.00 = 600.11.
    assert resp.json() == {
        "found": True,
        "account_number": "3100000001",
        "name": "张*",
        "address": "东关镇人****",
        "supply_unit": "东关供电所",
        "amount_due": "600.11",
        "principal_due": "595.11",
        "late_fee": "5.00",
        "unpaid_periods": ["2026-10", "2026-11"],
        "prepaid_balance": None,
    }


def test_a_part_paid_bill_shows_what_is_left_and_its_fee(world, two_months):
    pay("100.00", date(2026, 11, 10), "P1")  # before the due date: no fee, 2026-10 keeps 400.00
    body = Client().get(f"{QUERY}/3100000001").json()
    # 400.00 × 0.001 × 10 days = 4.00; principal 400.00 + 95.11 = 495.11; due 499.11
    assert (body["principal_due"], body["late_fee"], body["amount_due"]) == ("495.11", "4.00", "499.11")
    pay("499.11", date(2026, 11, 30), "P2")  # paying today's amount due settles everything
    body = Client().get(f"{QUERY}/3100000001").json()
    assert (body["amount_due"], body["principal_due"], body["late_fee"], body["unpaid_periods"]) == (
        "0.00",
        "0.00",
        "0.00",
        [],
    )


def test_a_bill_not_yet_due_has_no_late_fee(world, on_day):
    issued_bill(world.acct_a, "2026-11", "95.11", date(2026, 12, 20), issued_on=date(2026, 12, 5))
    on_day(date(2026, 12, 20))  # the due date itself: not late
    body = Client().get(f"{QUERY}/3100000001").json()
    assert (body["amount_due"], body["principal_due"], body["late_fee"]) == ("95.11", "95.11", "0.00")
    assert body["unpaid_periods"] == ["2026-11"]


def test_a_prepaid_account_shows_its_estimated_balance(world, on_day):
    # 300.00 prepaid on 1 Aug; the August bill (1–31 Aug, 31 days) of 62.00 is paid from it when issued.
    # Available 300.00 − 62.00 = 238.00; daily cost 62.00 / 31 = 2.00; on 10 Sep, 10 days after 31 Aug:
    # spend 2.00 × 10 = 20.00, estimated balance 238.00 − 20.00 = 218.00. Nothing is owed.
    pay("300.00", date(2026, 8, 1), "PRE-1")
    prepaid_bill(world.acct_a, date(2026, 8, 1), date(2026, 8, 31), "62.00")
    prepaid.prepaid_enrol(actor=Actor(user=world.a_clerk), account=world.acct_a, today=date(2026, 8, 1))
    on_day(date(2026, 9, 10))
    body = Client().get(f"{QUERY}/3100000001").json()
    assert (body["prepaid_balance"], body["amount_due"], body["unpaid_periods"]) == ("218.00", "0.00", [])
    # Another account, not prepaid: null.
    assert Client().get(f"{QUERY}/3200000001").json()["prepaid_balance"] is None


def test_the_estimate_is_read_for_an_enrolled_account_only(world, on_day, django_assert_num_queries):
    # The same account and figures as above (218.00 on 10 Sep): the 户号 with its open bills and the prepaid
    # flag, then the estimate — two statements. Unenrolled, the flag is false: one statement and null.
    pay("300.00", date(2026, 8, 1), "PRE-1")
    prepaid_bill(world.acct_a, date(2026, 8, 1), date(2026, 8, 31), "62.00")
    prepaid.prepaid_enrol(actor=Actor(user=world.a_clerk), account=world.acct_a, today=date(2026, 8, 1))
    on_day(date(2026, 9, 10))
    with django_assert_num_queries(2):
        body = Client().get(f"{QUERY}/3100000001").json()
    assert body["prepaid_balance"] == "218.00"
    prepaid.prepaid_unenrol(actor=Actor(user=world.a_clerk), account=world.acct_a, today=date(2026, 9, 10))
    with django_assert_num_queries(1):
        body = Client().get(f"{QUERY}/3100000001").json()
    assert (body["prepaid_balance"], body["amount_due"]) == (None, "0.00")


def test_misses_stay_one_identical_404_and_show_no_money(world, closed):
    client = Client()
    misses = [
        client.get(f"{QUERY}/9999999999"),
        client.get(f"{QUERY}/31000"),
        client.get(f"{QUERY}/3100000002"),  # closed, with a bill
        client.get(f"{QUERY}/3100000001", {"name": "张四"}),
    ]
    assert {r.status_code for r in misses} == {404}
    assert len({r.content for r in misses}) == 1
    assert set(misses[0].json()) == {"found", "message"}


def test_the_query_limit_still_applies(world, conf):
    conf(PUBLIC_QUERY_RATE=2)
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert [client.get(f"{QUERY}/3100000001").status_code for _ in range(2)] == [200, 200]
    limited = client.get(f"{QUERY}/3100000001")
    assert limited.status_code == 429 and "amount_due" not in limited.json()


def test_every_caller_gets_the_same_masked_answer(world, debt, login):
    # Public: a customer, staff of the unit, staff of another unit and nobody see the same masked body.
    bodies = [
        c.get(f"{QUERY}/3100000001").content
        for c in (login(), login(world.portal_user), login(world.a_clerk), login(world.b_clerk))
    ]
    assert len(set(bodies)) == 1
    text = bodies[0].decode()
    assert "张三" not in text and "人民路18号" not in text and "13812345678" not in text


# ---------------------------------------------------------------- POST /public/orders


def test_an_order_answers_its_links_and_expiry(world, debt, conf):
    conf(PUBLIC_ORDER_MINUTES=30)
    resp = order()
    assert resp.status_code == 201 and resp["Cache-Control"] == "no-store"
    body = resp.json()
    assert set(body) == {"order_no", "scene", "pay_url", "expires_at", "receipt_url"}
    assert body["scene"] == "sandbox"  # no real channel configured here
    o = PaymentOrder.objects.get()
    token = token_of(body["receipt_url"])
    assert body["order_no"] == o.order_no
    assert body["pay_url"] == f"http://testserver/payments/sandbox/public/{token}/"
    assert body["receipt_url"] == f"http://testserver/portal/pay/public/{token}/receipt/"
    # The secret: 32 random bytes (256 bits) in URL-safe base64; only its SHA-256 is stored.
    assert len(token) >= 43 and o.public_token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(v) for v in PaymentOrder.objects.values().get().values()]
    stored += [str(a.changes) for a in AuditEvent.objects.all()]
    assert not any(token in v for v in stored)
    expires = datetime.fromisoformat(body["expires_at"])
    assert body["expires_at"].endswith("+08:00") and expires == o.expires_at
    assert timedelta(minutes=29, seconds=59) <= o.expires_at - o.created_at <= timedelta(minutes=30)
    # On channel portal (the sandbox's) with the wallet the payer chose; no user; audited.
    assert (o.channel, o.wallet, o.amount, o.status, o.created_by_id, o.account_id) == (
        "portal",
        "alipay",
        D("80.70"),
        "created",
        None,
        world.acct_a.pk,
    )
    event = AuditEvent.objects.get(action="payment_order.create")
    assert (event.channel, event.changes["public"], event.changes["amount"]) == ("api", True, "80.70")


def test_two_orders_get_different_secrets(world, debt):
    a, b = order().json(), order().json()
    assert token_of(a["receipt_url"]) != token_of(b["receipt_url"]) and a["order_no"] != b["order_no"]


@pytest.mark.parametrize(
    "amount",
    ["0", "0.00", 0, "-5", -5, "1.001", 1.001, "abc", "", "1e3", "NaN", True],
    ids=[
        "zero",
        "zero-str",
        "zero-num",
        "neg",
        "neg-num",
        "3dp",
        "3dp-num",
        "abc",
        "empty",
        "exp",
        "nan",
        "bool",
    ],
)
def test_a_bad_amount_is_422_on_amount_and_writes_nothing(world, debt, amount):
    before = written()
    resp = order(amount=amount)
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["detail"]] == ["amount"]
    assert written() == before


def test_numbers_and_strings_are_both_amounts(world, debt):
    assert order(amount=10).status_code == 201
    assert order(amount=0.01).status_code == 201
    assert order(amount="96.1").status_code == 201
    assert sorted(PaymentOrder.objects.values_list("amount", flat=True)) == [
        D("0.01"),
        D("10.00"),
        D("96.10"),
    ]


def test_the_limit_is_the_amount_due_plus_the_margin(world, debt, conf):
    # Owed 80.70; default margin 1,000.00 → at most 1,080.70.
    assert order(amount="1080.70").status_code == 201
    resp = order(amount="1080.71")
    assert resp.status_code == 422 and resp.json()["detail"] == [
        {"field": "amount", "message": "本次最多可缴 1,080.70 元"}
    ]
    conf(PUBLIC_PAY_MARGIN="20.00")  # 80.70 + 20.00 = 100.70
    assert order(amount="100.71").status_code == 422
    assert order(amount="100.70").status_code == 201
    assert PaymentOrder.objects.count() == 2


def test_an_account_owing_nothing_may_pay_up_to_the_margin(world, conf):
    conf(PUBLIC_PAY_MARGIN="50.00")
    assert order(amount="50.01").status_code == 422
    assert order(amount="50.00").status_code == 201


def test_a_prepaid_account_may_top_up_to_the_cap(world, conf):
    prepaid.prepaid_enrol(actor=Actor(user=world.a_clerk), account=world.acct_a, today=date(2026, 8, 1))
    # Nothing owed: the cap (5,000.00 by default) is above 0.00 + the 1,000.00 margin.
    assert order(amount="5000.00").status_code == 201
    resp = order(amount="5000.01")
    assert resp.status_code == 422 and resp.json()["detail"][0]["message"] == "本次最多可缴 5,000.00 元"
    conf(PUBLIC_PREPAID_CAP="200.00", PUBLIC_PAY_MARGIN="0.00")
    assert order(amount="200.01").status_code == 422
    assert order(amount="200.00").status_code == 201


def test_no_reauthentication_above_any_threshold_only_the_cap(world, conf):
    # A large top-up by someone not logged in is an order like any other, up to the cap.
    prepaid.prepaid_enrol(actor=Actor(user=world.a_clerk), account=world.acct_a, today=date(2026, 8, 1))
    conf(PUBLIC_PREPAID_CAP="20000.00")
    assert order(amount="19999.99").status_code == 201


def test_unknown_closed_and_malformed_accounts_get_one_message(world, closed):
    before = written()
    answers = [order(account_number=n) for n in ("9999999999", "3100000002", "31000", "", "x" * 40)]
    assert {r.status_code for r in answers} == {422}
    assert len({r.content for r in answers}) == 1
    assert answers[0].json()["detail"] == [
        {"field": "account_number", "message": "未查询到该户号，请核对后重试"}
    ]
    assert written() == before


@pytest.mark.parametrize("channel", ["bitcoin", "counter_cash", "bank", "", "ALIPAY"])
def test_an_unknown_channel_is_422_on_channel(world, debt, channel):
    before = written()
    resp = order(channel=channel)
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["detail"]] == ["channel"]
    assert written() == before


def test_wechat_and_portal_are_channels_too(world, debt):
    assert order(channel="wechat").status_code == 201 and order(channel="portal").status_code == 201
    assert sorted(PaymentOrder.objects.values_list("wallet", flat=True)) == ["portal", "wechat"]


def test_every_bad_field_is_named_at_once(world):
    resp = order(account_number="9999999999", amount="0", channel="cash")
    assert resp.status_code == 422
    assert sorted(e["field"] for e in resp.json()["detail"]) == ["account_number", "amount", "channel"]


@pytest.mark.parametrize("missing", ["account_number", "amount", "channel"])
def test_a_missing_field_is_422_naming_it(world, debt, missing):
    body = {"account_number": "3100000001", "amount": "1.00", "channel": "alipay"}
    del body[missing]
    resp = Client().post(ORDERS, data=body, content_type="application/json")
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["detail"]] == [missing]
    assert not PaymentOrder.objects.exists()


def test_closed_online_payment_is_422_on_channel(world, debt, settings):
    settings.GRIDCARE = {**settings.GRIDCARE, "SANDBOX_PAY": {"ENABLED": False}}
    resp = order()
    assert resp.status_code == 422 and resp.json()["detail"] == [
        {"field": "channel", "message": "在线支付暂未开通，请到营业厅或通过其他渠道缴费"}
    ]
    assert not PaymentOrder.objects.exists()


def test_orders_are_rate_limited_per_client(world, debt, conf):
    conf(PUBLIC_QUERY_RATE=2)
    client = Client(REMOTE_ADDR="203.0.113.8")
    assert order(client).status_code == 201
    assert order(client, account_number="9999999999").status_code == 422  # a miss counts too
    before = written()
    limited = order(client)
    assert limited.status_code == 429 and limited.json() == {"detail": "操作过于频繁，请稍后再试"}
    assert written() == before
    assert order(Client(REMOTE_ADDR="203.0.113.9")).status_code == 201  # another client is not affected


def test_anyone_may_order_without_csrf_and_credentials_are_not_read(world, debt, login):
    session = login(world.portal_user)
    session.handler.enforce_csrf_checks = True
    assert order(session).status_code == 201  # a session cookie, no CSRF token: the API needs none
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(world.b_clerk)  # staff of another unit: the same public answer
    assert order(staff).status_code == 201
    assert order(Client(HTTP_AUTHORIZATION="Bearer garbage")).status_code == 201
    assert PaymentOrder.objects.count() == 3


def test_the_openapi_document_lists_both_public_routes_without_security(db):
    doc = Client().get(f"{API}/openapi.json").json()
    assert "security" not in doc["paths"]["/api/v1/public/orders"]["post"]
    assert "security" not in doc["paths"]["/api/v1/public/accounts/{account_number}"]["get"]
    props = doc["components"]["schemas"]["PublicAccountOut"]["properties"]
    assert {"amount_due", "principal_due", "late_fee", "unpaid_periods", "prepaid_balance"} <= set(props)


# ---------------------------------------------------------------- the sandbox and the receipt


def test_paying_through_the_sandbox_records_one_payment_and_the_receipt_shows_it(world, debt):
    body = order(amount="100.00", channel="wechat").json()
    pay_path, receipt_path = path_of(body["pay_url"]), path_of(body["receipt_url"])
    client = Client()  # nobody logged in
    gate = client.get(pay_path)
    assert gate.status_code == 200 and 'data-testid="sandbox-amount">100.00<' in gate.content.decode()
    assert gate["Referrer-Policy"] == "same-origin"

    pending = client.get(receipt_path).content.decode()
    assert "支付处理中" in pending and "receipt-txn" not in pending

    resp = client.post(f"{pay_path}confirm/")
    assert resp.status_code == 302 and resp["Location"] == receipt_path
    p = Payment.objects.get()
    o = PaymentOrder.objects.get()
    # 100.00 pays the 80.70 bill; 100.00 − 80.70 = 19.30 stays as credit.
    assert (p.channel, p.amount, p.unallocated, o.status, o.payment_id) == (
        "portal",
        D("100.00"),
        D("19.30"),
        "paid",
        p.pk,
    )
    assert Receivable.objects.get(bill=debt).principal_paid == D("80.70")

    receipt = client.get(receipt_path)
    html = receipt.content.decode()
    assert receipt.status_code == 200 and receipt["Cache-Control"] == "no-store"
    assert "缴费成功" in html and "支付处理中" not in html
    assert 'data-testid="receipt-amount">100.00<' in html and 'data-testid="receipt-credit">19.30<' in html
    assert f'data-testid="receipt-txn">{p.channel_txn_id}<' in html and o.order_no in html
    assert 'data-testid="receipt-channel">微信支付（模拟支付网关）<' in html
    assert "2026-09" in html and "80.70" in html
    assert "张*" in html and "东关镇人****" in html
    assert "张三" not in html and "人民路18号" not in html and "13812345678" not in html

    # Again (a double click) and back to the gateway: still one payment, the receipt again.
    again = client.post(f"{pay_path}confirm/")
    back = client.get(pay_path)
    assert again["Location"] == back["Location"] == receipt_path
    assert Payment.objects.count() == 1


def test_the_notification_delivered_twice_records_the_payment_once(world, debt):
    body = order().json()
    o = PaymentOrder.objects.get()
    note = sandbox.notification_for(o)
    assert gateways.sandbox_notification(note) == "success"
    after = written()
    assert gateways.sandbox_notification(note) == "success"  # a repeat: same answer, nothing new
    assert written() == after and Payment.objects.count() == 1
    other = sandbox.notification_for(o)  # a second transaction for the same order is refused
    assert gateways.sandbox_notification(other) == "failure" and written() == after
    assert "缴费成功" in Client().get(path_of(body["receipt_url"])).content.decode()


def test_the_receipt_link_is_the_only_way_in(world, debt):
    body = order().json()
    token = token_of(body["receipt_url"])
    o = PaymentOrder.objects.get()
    client = Client()
    for wrong in (
        token[:-1],
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        o.order_no,
        o.public_token_hash,
        "x",
    ):
        assert client.get(f"/portal/pay/public/{wrong}/receipt/").status_code == 404
        assert client.get(f"/payments/sandbox/public/{wrong}/").status_code == 404
    # The customer pages by order number do not open it for anonymous visitors either.
    assert client.get(f"/portal/pay/receipt/{o.order_no}/").status_code == 302
    assert client.get(f"/payments/sandbox/{o.order_no}/").status_code == 302


def test_a_receipt_lists_nothing_of_other_orders(world, debt):
    mine = order(amount="10.00").json()
    theirs = order(account_number="3200000001", amount="20.00").json()
    other_same_account = order(amount="30.00").json()
    html = Client().get(path_of(mine["receipt_url"])).content.decode()
    assert mine["order_no"] in html
    assert theirs["order_no"] not in html and other_same_account["order_no"] not in html
    assert "李*" not in html and "30.00" not in html and "20.00" not in html
    assert token_of(theirs["receipt_url"]) not in html


def test_an_expired_order_cannot_be_paid_in_the_sandbox(world, debt):
    body = order().json()
    PaymentOrder.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    pay_path = path_of(body["pay_url"])
    before = written()
    client = Client()
    assert client.get(pay_path).status_code == 409
    resp = client.post(f"{pay_path}confirm/")
    assert resp.status_code == 409 and "订单已超时关闭" in resp.content.decode()
    assert written() == before
    assert "订单已超时关闭" in client.get(path_of(body["receipt_url"])).content.decode()


def test_cancel_goes_back_to_the_query_and_writes_nothing(world, debt):
    pay_path = path_of(order().json()["pay_url"])
    before = written()
    resp = Client().post(f"{pay_path}cancel/", follow=True)
    assert resp.redirect_chain == [(PAGE, 302)] and "您已取消支付" in resp.content.decode()
    assert written() == before


def test_a_disabled_sandbox_hides_the_gateway_but_not_the_receipt(world, debt, settings):
    body = order().json()
    settings.GRIDCARE = {**settings.GRIDCARE, "SANDBOX_PAY": {"ENABLED": False}}
    assert Client().get(path_of(body["pay_url"])).status_code == 404
    assert Client().post(f"{path_of(body['pay_url'])}confirm/").status_code == 404
    assert Client().get(path_of(body["receipt_url"])).status_code == 200


# ---------------------------------------------------------------- the query page


def test_the_page_shows_the_amounts_months_and_a_prefilled_pay_form(two_months):
    resp = Client().post(PAGE, {"account_number": "3100000001"})
    html = resp.content.decode()
    assert resp.status_code == 200
    # The same figures as the API: 595.11 principal + 5.00 late fee = 600.11
    assert 'data-testid="amount-due">600.11<' in html
    assert 'data-testid="principal-due">595.11<' in html and 'data-testid="late-fee">5.00<' in html
    assert 'data-testid="unpaid-periods">2026-10、2026-11<' in html
    assert 'name="amount" value="600.11"' in html
    assert 'value="alipay"' in html and 'value="wechat"' in html
    assert 'action="/portal/query/pay/"' in html
    assert "可缴 0.01 至 1,600.11 元" in html  # 600.11 + 1,000.00
    assert "prepaid-balance" not in html


def test_a_miss_on_the_page_shows_no_pay_form(world):
    html = Client().post(PAGE, {"account_number": "9999999999"}).content.decode()
    assert "/portal/query/pay/" not in html and "amount-due" not in html


def test_paying_from_the_page_goes_to_the_gateway(world, debt):
    resp = Client().post(PAGE_PAY, {"account_number": "3100000001", "amount": "80.70", "channel": "wechat"})
    o = PaymentOrder.objects.get()
    assert resp.status_code == 302 and resp["Location"].startswith("/payments/sandbox/public/")
    assert o.public_token_hash == hashlib.sha256(token_of(resp["Location"]).encode()).hexdigest()
    assert (o.amount, o.wallet, o.created_by_id) == (D("80.70"), "wechat", None)
    assert AuditEvent.objects.get(action="payment_order.create").channel == "portal"


def test_a_bad_amount_on_the_page_shows_the_error_and_the_amounts_again(world, debt):
    resp = Client().post(PAGE_PAY, {"account_number": "3100000001", "amount": "5000", "channel": "alipay"})
    html = resp.content.decode()
    assert resp.status_code == 400 and "本次最多可缴 1,080.70 元" in html  # 80.70 + 1,000.00
    assert 'data-testid="amount-due">80.70<' in html and 'name="amount" value="5000"' in html
    assert not PaymentOrder.objects.exists()


def test_an_unknown_account_on_the_page_shows_one_message(world, closed):
    pages = [
        Client().post(PAGE_PAY, {"account_number": n, "amount": "1.00", "channel": "alipay"})
        for n in ("9999999999", "3100000002", "31")
    ]
    assert {p.status_code for p in pages} == {400}
    assert all("未查询到该户号，请核对后重试" in p.content.decode() for p in pages)
    assert all("amount-due" not in p.content.decode() for p in pages)
    assert not PaymentOrder.objects.exists()


def test_the_page_pay_is_rate_limited_before_anything_is_shown(world, debt, conf):
    conf(PUBLIC_QUERY_RATE=1)
    client = Client()
    assert (
        client.post(PAGE_PAY, {"account_number": "3100000001", "amount": "0", "channel": "x"}).status_code
        == 400
    )
    resp = client.post(PAGE_PAY, {"account_number": "3100000001", "amount": "0", "channel": "x"})
    assert resp.status_code == 429 and "amount-due" not in resp.content.decode()


def test_the_page_pay_is_csrf_protected(world, debt):
    resp = Client(enforce_csrf_checks=True).post(
        PAGE_PAY, {"account_number": "3100000001", "amount": "1.00", "channel": "alipay"}
    )
    assert resp.status_code == 403 and not PaymentOrder.objects.exists()


def test_a_logged_in_payer_reaches_a_public_order_only_by_its_link(world, debt, login):
    customer = login(world.portal_user)
    resp = customer.post(PAGE_PAY, {"account_number": "3100000001", "amount": "80.70", "channel": "alipay"})
    o = PaymentOrder.objects.get()
    assert o.created_by_id == world.portal_user.pk
    assert (
        customer.get(f"/payments/sandbox/{o.order_no}/").status_code == 404
    )  # the portal's own gateway path
    assert customer.get(resp["Location"]).status_code == 200


def test_query_a_bill_one_day_late_shows_the_one_yuan_minimum(world, on_day):
    """供电营业规则 art. 98 as issue 10 §3 states it: a bill 1 day late shows 1.00 as its late fee.

    60.00 residential due 20 Nov, queried 21 Nov: accrued 60.00 × 0.001 × 1 = 0.06 < 1.00 → 1.00 is due.
    amount_due = 60.00 + 1.00 = 61.00."""
    issued_bill(world.acct_a, "2026-10", "60.00", date(2026, 11, 20), issued_on=date(2026, 11, 5))
    on_day(date(2026, 11, 21))
    body = Client().get(f"{QUERY}/3100000001").json()
    assert (body["principal_due"], body["late_fee"], body["amount_due"]) == ("60.00", "1.00", "61.00")
    assert body["unpaid_periods"] == ["2026-10"]
