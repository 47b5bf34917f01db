"""Browser tests in real Chromium against the channel simulator (issue 13's "Done when").

The simulator (`gridcare.channelsim`) runs on a free port with its own sandbox keys and stands in for Alipay
and WeChat Pay; GridCare runs on `live_server` and the simulator's signed notifications come back to it over
HTTP (`tests/payments/channels/simulated.py`).

- A customer on a phone pays a bill on the portal with Alipay wap pay, and with WeChat H5: the channel's cashier,
  its pay button, back to the portal's receipt, which says 缴费成功.
- A cashier opens an Alipay QR code at the counter; the customer's phone pays it (the simulator's pay endpoint,
  as after scanning) and the counter's page turns to 支付成功 by itself.
- A cashier asks for a refund of an Alipay payment to the original channel from the ledger, a manager approves
  it in the refund queue, and the refund reaches the simulator's trade and GridCare's ledger.

张三's account 3100000001 owes one bill of 80.70, due in 2099 so that no late fee depends on the test's day.
"""

import re
import time
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.customers.models import PortalBinding
from gridcare.payments.channels import online
from gridcare.payments.channels.providers import base
from gridcare.payments.models import LedgerEntry, Payment, PaymentOrder, Receivable, Refund
from tests.browser.test_portal_pay import log_in_and_open_pay_page
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = Decimal
PHONE = {
    "locale": "zh-CN",
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "user_agent": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1"
    ),
}


@pytest.fixture
def debt(world):
    return issued_bill(world.acct_a, "2026-09", "80.70", date(2099, 1, 20), issued_on=date(2026, 10, 5))


@pytest.fixture
def cashier(world):
    return UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)


@pytest.fixture
def channels(simulated):
    """The simulator. On SQLite in memory, live_server's request threads share the test's one connection and
    two requests at once trip over each other ("database table is locked"), so the simulator's notifications
    wait for `notifications_delivered`, made while the browser is idle; on PostgreSQL (or a SQLite file) they
    go out at once, as the channels send them, racing the pages' own queries."""
    if shared_connection():
        simulated.sim.app.deliverer.stop()
    return simulated


def shared_connection() -> bool:
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


def notifications_delivered(channels) -> None:
    """Every notification the simulator queued has been answered by GridCare (accepted: the retries stop)."""
    if shared_connection():
        channels.deliver()
    wait_until(lambda: all(n["state"] == "done" for n in channels.notifications()))


def wait_until(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def console_login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


# ---------------------------------------------------------------- the portal on a phone


@pytest.mark.parametrize(
    ("browser_context_args", "method", "cashier_url", "pay_button"),
    [
        (PHONE, "支付宝", r"/alipay/gateway\.do\?", "确认付款"),
        (PHONE, "微信支付", r"/wechat/h5/[\w-]+\?redirect_url=", "确认支付"),
    ],
    ids=["alipay-wap", "wechat-h5"],
)
def test_customer_pays_on_a_phone_at_the_channels_cashier_and_sees_it_paid(
    browser_page, live_server, world, debt, channels, method, cashier_url, pay_button
):
    channel = "alipay" if method == "支付宝" else "wechat"
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    page = browser_page
    log_in_and_open_pay_page(page, live_server, world)
    assert page.input_value("#id_amount") == "80.70"

    page.get_by_label(method, exact=True).check()
    page.get_by_role("button", name="支付").click()
    page.wait_for_url(re.compile(re.escape(channels.sim.url) + cashier_url))
    order = PaymentOrder.objects.get()
    assert (order.channel, order.scene, order.amount) == (
        channel,
        "wap" if channel == "alipay" else "h5",
        D("80.70"),
    )
    assert "80.70" in page.inner_text("body")

    page.get_by_role("button", name=pay_button).click()
    page.wait_for_url(re.compile(re.escape(f"{live_server.url}/portal/pay/receipt/{order.order_no}/")))
    expect(page.locator("h1")).to_have_text("缴费成功")
    assert page.inner_text("[data-testid=receipt-amount]") == "80.70"
    assert page.inner_text("[data-testid=receipt-order-no]") == order.order_no
    assert page.inner_text("[data-testid=receipt-owed]") == "已缴清"

    payment = Payment.objects.get()
    assert (payment.channel, payment.amount) == (channel, D("80.70"))
    assert page.inner_text("[data-testid=receipt-txn]") == payment.channel_txn_id
    assert Receivable.objects.get(bill=debt).principal_paid == D("80.70")
    # The simulator's notification arrives as well (before or after the receipt asked): still one payment.
    notifications_delivered(channels)
    assert Payment.objects.count() == 1 and channels.notifications()


# ---------------------------------------------------------------- the counter's QR code


def test_counter_shows_a_qr_the_phone_pays_and_the_counter_sees_it_paid(
    browser_page, live_server, world, cashier, debt, channels
):
    page = browser_page
    console_login(page, live_server, "a_cashier", world.password)
    page.goto(f"{live_server.url}/payments/counter/?account_number=3100000001")
    page.wait_for_selector("[data-testid=counter-account]")

    form = page.locator("[data-testid=counter-qr-form]")
    assert form.locator("input[name=amount]").input_value() == "80.70"
    form.get_by_label("支付宝").check()
    form.get_by_role("button", name="扫码支付").click()
    page.wait_for_url("**/payments/online/*/")
    order = PaymentOrder.objects.get()
    assert (order.channel, order.scene, order.amount) == ("alipay", "qr", D("80.70"))
    expect(page.locator("h1")).to_have_text("请使用支付宝扫码支付")
    assert page.inner_text("[data-testid=qr-amount]") == "80.70"
    assert page.inner_text("[data-testid=qr-order-no]") == order.order_no
    expect(page.locator(".qr svg")).to_be_visible()
    assert page.inner_text("[data-testid=qr-content]") == order.pay_url
    expect(page.locator("[data-testid=pay-status]")).to_have_attribute("data-state", "created")

    channels.pay("alipay", order.order_no)  # the customer's phone, after scanning

    # htmx polls the status every 2 s; the page turns to 支付成功 by itself.
    expect(page.locator("[data-testid=pay-status]")).to_have_attribute("data-state", "paid", timeout=15000)
    expect(page.locator("[data-testid=pay-status]")).to_contain_text("支付成功")
    notifications_delivered(channels)  # the notification after the page's query: still one payment
    payment = Payment.objects.get()
    assert (payment.channel, payment.amount) == ("alipay", D("80.70"))
    assert Receivable.objects.get(bill=debt).principal_paid == D("80.70")
    page.get_by_role("link", name="查看收据").click()
    page.wait_for_url(f"**/payments/{payment.pk}/receipt/")
    assert "80.70" in page.inner_text("[data-testid=receipt]")


# ---------------------------------------------------------------- a refund to the original channel


def test_a_refund_to_the_original_channel_is_approved_and_reaches_the_simulator(
    browser_page, live_server, world, cashier, debt, channels
):
    placed = online.place(
        actor=Actor(), account=world.acct_a, amount="80.70", channel="alipay", scene=base.QR
    )
    order_no = placed.order.order_no
    channels.pay("alipay", order_no)
    notifications_delivered(channels)
    payment = Payment.objects.get(channel="alipay", amount=D("80.70"))

    page = browser_page
    console_login(page, live_server, "a_cashier", world.password)
    page.goto(f"{live_server.url}/payments/accounts/3100000001/ledger/")
    form = page.locator(f"[data-testid=refund-form-{payment.pk}]")
    form.locator("input[name=amount]").fill("30.00")
    form.locator("input[name=reason]").fill("重复缴费")
    form.get_by_role("button", name="退款（原路退回）").click()
    expect(page.locator("ul.messages")).to_contain_text("原路退款申请已提交")
    refund = Refund.objects.get()
    assert (refund.amount, refund.status) == (D("30.00"), "pending")
    assert channels.trade("alipay", order_no)["refunds"] == []  # nothing reaches the channel before approval

    page.context.clear_cookies()
    console_login(page, live_server, world.a_manager.username, world.password)
    page.goto(f"{live_server.url}/payments/refunds/")
    row = page.locator("[data-testid=refund-list] tr", has_text=refund.refund_no)
    row.get_by_role("button", name="批准").click()
    page.wait_for_url("**/payments/refunds/")
    expect(page.locator("ul.messages li.success")).to_have_text(
        f"已原路退回 30.00 元（退款单号 {refund.refund_no}）"
    )

    notifications_delivered(channels)  # Alipay's refund notification (refund_fee) for our own refund
    assert [n["event"] for n in channels.notifications()].count("refund") == 1
    trade = channels.trade("alipay", order_no)
    assert [(r["out_refund_no"], r["amount"]) for r in trade["refunds"]] == [(refund.refund_no, 3000)]
    assert trade["refunded"] == 3000
    refund.refresh_from_db()
    assert (refund.status, refund.channel_status) == ("approved", "success")
    page.goto(f"{live_server.url}/payments/refunds/?status=approved")
    expect(page.locator(f"[data-testid=channel-status-{refund.pk}]")).to_contain_text("成功")

    page.context.clear_cookies()
    console_login(page, live_server, "a_cashier", world.password)
    page.goto(f"{live_server.url}/payments/accounts/3100000001/ledger/")
    expect(page.locator(f"[data-testid=refunded-{payment.pk}]")).to_have_text("已退款 30.00 元")
    expect(page.locator("[data-testid=entries]")).to_contain_text("原路退回：重复缴费")
    assert LedgerEntry.objects.get(kind="refund").amount == D("30.00") and Refund.objects.count() == 1
    assert Receivable.objects.get(bill=debt).principal_paid == D("50.70")  # the bill reopens by the refund
