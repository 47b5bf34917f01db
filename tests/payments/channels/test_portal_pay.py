"""Portal online payment through the local sandbox gateway: 户号 → amount due → order → sandbox → receipt.

Given 张三's account 3100000001 bound to the portal user and one issued bill of 80.70 due in 2099 (so no late
fee depends on the day the test runs), when the customer pays on the portal and confirms in the sandbox,
then one portal payment is recorded and the bill is paid — however often the confirmation is posted — and
every refusal (unbound account, bad amount, cancel, tampered notification, disabled sandbox) writes nothing.
"""

from datetime import date
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.models import PortalBinding
from gridcare.payments.channels import gateways, signatures
from gridcare.payments.channels.views import sandbox
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import Allocation, LedgerEntry, Payment, PaymentOrder, Receivable
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill

D = Decimal
PAY_URL = "/portal/pay/3100000001/"


@pytest.fixture
def sandbox_on(settings):
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "SANDBOX_PAY": {"ENABLED": True, "PRIVATE_KEY": "", "PUBLIC_KEY": ""},
    }


@pytest.fixture
def sandbox_off(settings):
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "SANDBOX_PAY": {"ENABLED": False, "PRIVATE_KEY": "", "PUBLIC_KEY": ""},
    }


@pytest.fixture
def bound(world):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    return world.portal_user


@pytest.fixture
def debt(world):
    return issued_bill(world.acct_a, "2026-09", "80.70", date(2099, 1, 20), issued_on=date(2026, 10, 5))


@pytest.fixture
def customer(login, bound):
    return login(bound)


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


def start_order(client, amount: str = "80.70") -> PaymentOrder:
    resp = client.post(PAY_URL, {"amount": amount})
    order = PaymentOrder.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/payments/sandbox/{order.order_no}/"
    return order


def page(resp) -> str:
    return resp.content.decode()


# ---------------------------------------------------------------- the pay page


def test_pay_page_shows_the_masked_account_the_open_bill_and_the_amount_due(sandbox_on, debt, customer):
    resp = customer.get(PAY_URL)
    html = page(resp)
    assert resp.status_code == 200
    assert 'data-testid="amount-due">80.70<' in html and 'name="amount" value="80.70"' in html
    # 95598 shows the holder masked: 张三 → 张*, 东关镇人民路18号 → 东关镇人****
    assert "张*" in html and "张三" not in html and "东关镇人****" in html and "人民路18号" not in html
    assert "东关供电所" in html and "2026-09" in html and "2099-01-20" in html


def test_the_account_page_and_the_query_result_link_to_the_pay_page(sandbox_on, world, debt, customer, login):
    assert f'href="{PAY_URL}"' in page(customer.get("/portal/accounts/3100000001/"))
    # The public query offers 去缴费 only to a customer the 户号 is bound to.
    assert f'href="{PAY_URL}"' in page(customer.post("/portal/query/", {"account_number": "3100000001"}))
    other = page(customer.post("/portal/query/", {"account_number": "3200000001"}))
    assert "李*" in other and "/portal/pay/" not in other
    assert "/portal/pay/" not in page(login().post("/portal/query/", {"account_number": "3100000001"}))


def test_an_unbound_account_is_not_found_and_nothing_written(sandbox_on, world, debt, customer, login):
    before = written()
    assert customer.get("/portal/pay/3200000001/").status_code == 404
    assert customer.post("/portal/pay/3200000001/", {"amount": "10.00"}).status_code == 404
    assert customer.get("/portal/pay/9999999999/").status_code == 404
    assert login(world.a_clerk).post(PAY_URL, {"amount": "10.00"}).status_code == 404  # staff use the counter
    assert written() == before


def test_anonymous_is_sent_to_the_portal_login(sandbox_on, debt, bound, login):
    resp = login().post(PAY_URL, {"amount": "80.70"})
    assert resp.status_code == 302 and resp["Location"] == f"/portal/login/?next={PAY_URL}"
    assert login().get("/portal/pay/receipt/GC1/")["Location"].startswith("/portal/login/")
    assert not PaymentOrder.objects.exists()


@pytest.mark.parametrize("amount", ["0", "0.00", "-5", "abc", "1.001", "", "NaN", "1e3", "１０"])
def test_a_bad_amount_is_shown_and_no_order_is_made(sandbox_on, debt, customer, amount):
    resp = customer.post(PAY_URL, {"amount": amount})
    assert resp.status_code == 400 and "errorlist" in page(resp)
    assert not PaymentOrder.objects.exists()


def test_a_new_order_is_audited(sandbox_on, world, debt, customer):
    order = start_order(customer, "80.70")
    assert (order.channel, order.amount, order.status, order.account_id, order.created_by_id) == (
        "portal",
        D("80.70"),
        "created",
        world.acct_a.pk,
        world.portal_user.pk,
    )
    assert AuditEvent.objects.filter(action="payment_order.create", object_id=str(order.pk)).exists()


# ---------------------------------------------------------------- the sandbox gateway


def test_confirm_in_the_sandbox_pays_the_bill_and_shows_the_receipt(sandbox_on, world, debt, customer):
    order = start_order(customer)
    gate = page(customer.get(f"/payments/sandbox/{order.order_no}/"))
    assert "模拟支付网关（测试环境）" in gate and 'data-testid="sandbox-amount">80.70<' in gate
    assert order.order_no in gate and "GridCare 电费缴费（东关供电所）" in gate

    resp = customer.post(f"/payments/sandbox/{order.order_no}/confirm/")
    assert resp.status_code == 302 and resp["Location"] == f"/portal/pay/receipt/{order.order_no}/"
    p = Payment.objects.get()
    order.refresh_from_db()
    assert (p.channel, p.amount, p.unallocated, p.account_id) == (
        "portal",
        D("80.70"),
        D("0.00"),
        world.acct_a.pk,
    )
    assert p.channel_txn_id.startswith("SB") and (order.status, order.payment_id) == ("paid", p.pk)
    r = Receivable.objects.get(bill=debt)
    assert r.principal_paid == r.principal == D("80.70")
    assert selectors.ledger_balance(world.acct_a.pk) == D("0.00")
    assert AuditEvent.objects.filter(action="payment_order.paid", object_id=str(order.pk)).exists()

    receipt = page(customer.get(resp["Location"]))
    assert 'data-testid="receipt-amount">80.70<' in receipt and order.order_no in receipt
    assert p.channel_txn_id in receipt and "2026-09" in receipt and "已缴清" in receipt


def test_overpayment_becomes_credit_and_a_part_payment_leaves_the_rest_owed(sandbox_on, debt, customer):
    order = start_order(customer, "100")
    customer.post(f"/payments/sandbox/{order.order_no}/confirm/")
    receipt = page(customer.get(f"/portal/pay/receipt/{order.order_no}/"))
    # 100.00 − 80.70 = 19.30 kept as credit; nothing owed
    assert 'data-testid="receipt-credit">19.30<' in receipt and "已缴清" in receipt
    assert Payment.objects.get().unallocated == D("19.30")


def test_a_part_payment_leaves_the_rest_owed(sandbox_on, debt, customer):
    order = start_order(customer, "50.00")
    customer.post(f"/payments/sandbox/{order.order_no}/confirm/")
    receipt = page(customer.get(f"/portal/pay/receipt/{order.order_no}/"))
    assert "仍欠合计：<strong>30.70</strong>" in receipt and "已缴清" not in receipt  # 80.70 − 50.00
    assert 'data-testid="amount-due">30.70<' in page(customer.get(PAY_URL))


def test_confirming_the_same_order_twice_records_one_payment(sandbox_on, debt, customer):
    order = start_order(customer)
    first = customer.post(f"/payments/sandbox/{order.order_no}/confirm/")
    after_first = written()
    again = customer.post(f"/payments/sandbox/{order.order_no}/confirm/")  # a double click
    back = customer.get(f"/payments/sandbox/{order.order_no}/")  # the back button
    assert (
        first["Location"] == again["Location"] == back["Location"] == f"/portal/pay/receipt/{order.order_no}/"
    )
    assert written() == after_first and Payment.objects.count() == 1


def test_two_notifications_for_one_order_pay_it_once(sandbox_on, debt, customer):
    # Two confirmations racing past the status check: two sandbox transactions for one order.
    order = start_order(customer)
    one, two = sandbox.notification_for(order), sandbox.notification_for(order)
    assert one["trade_no"] != two["trade_no"]
    assert gateways.sandbox_notification(one) == "success"
    after = written()
    assert gateways.sandbox_notification(two) == "failure" and written() == after
    assert gateways.sandbox_notification(one) == "success" and written() == after  # a repeat: same answer


def test_cancel_goes_back_to_the_pay_page_and_writes_nothing(sandbox_on, debt, customer):
    order = start_order(customer)
    before = written()
    resp = customer.post(f"/payments/sandbox/{order.order_no}/cancel/", follow=True)
    assert resp.redirect_chain == [(PAY_URL, 302)] and "您已取消支付" in page(resp)
    assert written() == before and PaymentOrder.objects.get().status == "created"


def test_the_sandbox_refuses_an_order_that_is_not_waiting_for_payment(
    sandbox_on, world, debt, customer, login
):
    order = start_order(customer)
    PaymentOrder.objects.filter(pk=order.pk).update(status="closed")
    before = written()
    assert customer.post(f"/payments/sandbox/{order.order_no}/confirm/").status_code == 409
    assert gateways.sandbox_notification(sandbox.notification_for(order)) == "failure"
    assert written() == before
    # Not the customer's order, not a portal order, no such order: not found.
    stranger = UserFactory(username="13600000000", role=Role.CUSTOMER, unit=None, phone="13600000000")
    assert login(stranger).get(f"/payments/sandbox/{order.order_no}/").status_code == 404
    alipay = gateways.order_create(actor=Actor(), account=world.acct_a, amount="1.00", channel="alipay")
    assert customer.post(f"/payments/sandbox/{alipay.order_no}/confirm/").status_code == 404
    assert customer.get("/payments/sandbox/GC0000/").status_code == 404
    assert login().get(f"/payments/sandbox/{order.order_no}/").status_code == 302  # anonymous → login


def test_a_tampered_or_forged_notification_is_refused_and_nothing_written(sandbox_on, debt, customer):
    order = start_order(customer, "80.70")
    signed = sandbox.notification_for(order)
    before = written()
    for name, value in [
        ("total_amount", "0.01"),
        ("trade_no", "SB-other"),
        ("trade_status", "TRADE_SUCCESS "),
    ]:
        assert gateways.sandbox_notification({**signed, name: value}) == "failure"
    assert gateways.sandbox_notification({k: v for k, v in signed.items() if k != "sign"}) == "failure"
    assert gateways.sandbox_notification({**signed, "sign_type": "RSA"}) == "failure"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {k: v for k, v in signed.items() if k != "sign"}
    forged["sign"] = signatures.alipay_sign(forged, stranger)
    assert gateways.sandbox_notification(forged) == "failure"
    # Signed by the sandbox, but for another merchant: refused too.
    foreign = {k: v for k, v in signed.items() if k != "sign"} | {"app_id": "2021000000000001"}
    foreign["sign"] = signatures.alipay_sign(foreign, gateways.sandbox_keys()[0])
    assert gateways.sandbox_notification(foreign) == "failure"
    assert written() == before
    assert gateways.sandbox_notification(signed) == "success" and Payment.objects.get().channel == "portal"


def test_a_disabled_sandbox_answers_404_and_no_order_is_made(sandbox_off, world, debt, bound, customer):
    order = gateways.order_create(
        actor=Actor(user=bound), account=world.acct_a, amount="80.70", channel="portal"
    )
    before = written()
    assert customer.get(f"/payments/sandbox/{order.order_no}/").status_code == 404
    assert customer.post(f"/payments/sandbox/{order.order_no}/confirm/").status_code == 404
    assert customer.post(f"/payments/sandbox/{order.order_no}/cancel/").status_code == 404
    signed = sandbox.notification_for(order)
    assert gateways.sandbox_notification(signed) == "failure"
    resp = customer.post(PAY_URL, {"amount": "80.70"})
    assert resp.status_code == 400 and "在线支付暂未开通" in page(resp)
    assert written() == before


def test_receipts_are_only_for_the_customer_the_account_is_bound_to(sandbox_on, debt, customer, login):
    order = start_order(customer)
    unpaid = page(customer.get(f"/portal/pay/receipt/{order.order_no}/"))
    assert "支付未完成" in unpaid and "receipt-amount" not in unpaid
    stranger = UserFactory(username="13600000000", role=Role.CUSTOMER, unit=None, phone="13600000000")
    assert login(stranger).get(f"/portal/pay/receipt/{order.order_no}/").status_code == 404
    assert customer.get("/portal/pay/receipt/GC0000/").status_code == 404


# ---------------------------------------------------------------- sandbox keys


def _pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_generated_keys_are_kept_for_the_process_and_configured_keys_win(
    settings, sandbox_on, debt, customer
):
    assert gateways.sandbox_keys() == gateways.sandbox_keys()
    private, public = _pem_pair()
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "SANDBOX_PAY": {"ENABLED": True, "PRIVATE_KEY": private, "PUBLIC_KEY": public},
    }
    assert gateways.sandbox_keys() == (private, public)
    order = start_order(customer)
    assert customer.post(f"/payments/sandbox/{order.order_no}/confirm/").status_code == 302
    assert Payment.objects.count() == 1
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "SANDBOX_PAY": {"ENABLED": True, "PRIVATE_KEY": private, "PUBLIC_KEY": ""},
    }
    with pytest.raises(ImproperlyConfigured):
        gateways.sandbox_keys()
