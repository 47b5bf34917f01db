"""Every payment has a receipt (`/payments/{id}/receipt/`), whatever its channel; a counter receipt prints the
cash tendered (实收), the change (找零) and the amount in capitals (人民币大写); the counter form is idempotent
(Back and submit again, a double click, two submits at once: one payment, the first receipt).

张三's account 3100000001 owes one bill of 80.00 due far ahead (2099): no late fee, whatever the test day.
Every figure below is worked out by hand in the comments.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.payments.channels import gateways, terminals
from gridcare.payments.channels import withholding as wh
from gridcare.payments.counter import services as counter
from gridcare.payments.ledger import refunds, services
from gridcare.payments.models import CounterReceipt, LedgerEntry, Payment
from tests.factories import CustomerFactory, UserFactory, make_account
from tests.payments.counter.test_counter import counter_form, form_fields
from tests.payments.counter.test_shifts import open_shift
from tests.payments.ledger.test_ledger import issued_bill

D = Decimal
API = "/api/v1"


@pytest.fixture
def cashier(world):
    user = UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)
    open_shift(user)
    return user


@pytest.fixture
def debt(world):
    return issued_bill(world.acct_a, "2026-09", "80.00", date(2099, 1, 20), issued_on=date(2026, 10, 5))


def pay_at_counter(c, amount: str, tendered: str = "", channel: str = "counter_cash", number="3100000001"):
    """Look the account up, fill the form, submit it: (the response, the form's address and fields)."""
    url, _page, fields = counter_form(c, number)
    resp = c.post(url, {**fields, "amount": amount, "tendered": tendered, "channel": channel})
    return resp, url, fields


def receipt_text(c, payment) -> str:
    resp = c.get(f"/payments/{payment.pk}/receipt/")
    assert resp.status_code == 200
    return resp.content.decode()


def cell(page: str, testid: str) -> str:
    return page.split(f'data-testid="{testid}">', 1)[1].split("<", 1)[0]


# ---------------------------------------------------------------- every channel has a receipt


@pytest.mark.parametrize(
    ("channel", "label"),
    [
        ("portal", "网上国网/门户在线支付"),
        ("alipay", "支付宝"),
        ("wechat", "微信支付"),
        ("bank", "银行代扣"),
        ("terminal", "自助缴费终端"),
    ],
)
def test_receipt_of_a_payment_without_a_cashier_answers_200(world, debt, login, channel, label):
    """Was 500: the template asked for the cashier's name of a payment nobody took at a counter."""
    p = services.payment_record(
        actor=Actor(), channel=channel, channel_txn_id="X-1", account_number="3100000001", amount="10.00"
    ).payment
    assert p.received_by is None
    page = receipt_text(login(world.a_clerk), p)
    assert "缴费凭证" in page and cell(page, "receipt-channel") == label
    assert cell(page, "receipt-amount") == "10.00"
    assert cell(page, "receipt-amount-upper") == "壹拾元整"  # 10.00: 壹拾, 元, no 角/分 → 整
    assert cell(page, "receipt-status") == "已入账"
    assert "收费员" not in page and "receipt-tendered" not in page  # no counter figures
    # 80.00 owed − 10.00 paid = 70.00 still owed, as of today (no snapshot outside the counter)
    assert "截至今日仍欠：70.00" in page


def test_online_order_receipt_shows_the_order_number(world, debt, login):
    order = gateways.order_create(actor=Actor(), account=world.acct_a, amount="80.00", channel="alipay")
    rec = gateways.notify_paid(
        channel="alipay",
        order_no=order.order_no,
        channel_txn_id="2026ALI001",
        amount=D("80.00"),
        paid_at=None,
    )
    page = receipt_text(login(world.a_clerk), rec.payment)
    assert cell(page, "receipt-order-no") == order.order_no and cell(page, "receipt-no") == "2026ALI001"
    assert cell(page, "receipt-amount-upper") == "捌拾元整"


def test_bank_withholding_receipt_names_the_bank_and_batch(world, login):
    from tests.payments.channels.test_withholding import CARD_A, result_file

    # A bill of 100.00 due 2026-09-20; debited on 2026-10-10, 20 days late: 100.00 × 0.1 % × 20 = 2.00 late fee
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    cashier = UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)
    wh.agreement_create(
        actor=Actor(),
        account_number="3100000001",
        bank_code="105",
        bank_account=CARD_A,
        holder_name="张三",
        signed_on=date(2026, 1, 5),
    )
    batch = wh.withholding_export(actor=Actor(user=cashier), bank_code="105", as_of=date(2026, 10, 10))
    wh.withholding_import(
        actor=Actor(user=cashier), data=result_file(batch, [("1", "3100000001", "102.00", "0000", "成功")])
    )
    p = Payment.objects.get(channel="bank")
    page = receipt_text(login(world.a_clerk), p)
    assert batch.batch_no in page and "建设银行" in page
    assert CARD_A not in page  # no bank account on a receipt
    assert cell(page, "receipt-amount-upper") == "壹佰零贰元整"  # 102: 壹佰, a zero 拾 → 零, 贰


def test_terminal_receipt_names_the_terminal(world, debt, login):
    terminals.terminal_add(
        actor=Actor(),
        code="T001",
        unit=world.bureau_a,
        public_key=terminals.generate_key_pair()[1],
        name="城东营业厅",
    )
    p = services.payment_record(
        actor=Actor(),
        channel="terminal",
        channel_txn_id="T001:88",
        account_number="3100000001",
        amount="0.50",
    ).payment
    page = receipt_text(login(world.a_clerk), p)
    assert "T001 城东营业厅" in page
    assert cell(page, "receipt-amount-upper") == "伍角"  # under one yuan: no 元; 角 with no 分 → no 整


def test_reversed_payment_receipt_says_reversed(world, debt, cashier, login):
    resp, _url, _fields = pay_at_counter(login(cashier), "50.00", "100.00")
    p = Payment.objects.get()
    clerk = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    services.payment_reverse(actor=Actor(user=clerk), payment=p, reason="假币退回")
    page = receipt_text(login(world.a_clerk), p)
    assert cell(page, "receipt-reversed") == "已冲正"
    assert cell(page, "receipt-status").startswith("已冲正") and "假币退回" in page
    assert "2026-09" in page and page.count("已冲正") >= 3  # stamp, status and the undone bill line
    # What was printed when it was taken stays as it was
    assert cell(page, "receipt-tendered") == "100.00" and cell(page, "receipt-change") == "50.00"


def test_refunded_credit_is_listed_on_the_payment_receipt(world, debt, login):
    # 100.00 paid on 80.00 owed → 20.00 credit; 15.00 of it refunded
    p = services.payment_record(
        actor=Actor(), channel="wechat", channel_txn_id="WX-1", account_number="3100000001", amount="100.00"
    ).payment
    clerk = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    refund = refunds.refund_request(
        actor=Actor(user=clerk), account=world.acct_a, amount="15.00", reason="多缴", method="cash"
    )
    refunds.refund_decide(actor=Actor(user=world.a_manager), refund=refund, approve=True)
    page = receipt_text(login(world.a_clerk), p)
    refunds_block = page.split('data-testid="receipt-refunds">', 1)[1].split("</ul>", 1)[0]
    assert "现金退还" in refunds_block and "15.00" in refunds_block
    # credit left: 20.00 − 15.00 = 5.00
    assert "转为预存：5.00" in page


# ---------------------------------------------------------------- the counter receipt: tendered, change, capitals


def test_cash_receipt_shows_tendered_change_and_capitals(world, debt, cashier, login):
    c = login(cashier)
    resp, _url, _fields = pay_at_counter(c, "50.00", "100.00")
    p = Payment.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/payments/{p.pk}/receipt/"
    page = receipt_text(c, p)
    assert "电费收据" in page
    assert cell(page, "receipt-amount") == "50.00"
    assert cell(page, "receipt-tendered") == "100.00"
    assert cell(page, "receipt-change") == "50.00"  # 100.00 − 50.00
    assert cell(page, "receipt-amount-upper") == "伍拾元整"
    assert "仍欠合计：30.00" in page  # 80.00 − 50.00
    r = CounterReceipt.objects.get()
    assert (r.payment_id, r.tendered, r.change, r.owed_after, r.to_credit) == (
        p.pk,
        D("100.00"),
        D("50.00"),
        D("30.00"),
        D("0.00"),
    )
    # The receipt number counts the shift's payments: C + yymmdd + shift id (6 digits) + 0001
    assert p.channel_txn_id == f"C{timezone.localtime(p.paid_at):%y%m%d}{p.shift_id:06d}0001"
    audit = AuditEvent.objects.get(action="payment.counter_receipt", object_id=str(p.pk))
    assert (audit.changes["tendered"], audit.changes["change"], audit.changes["owed_after"]) == (
        "100.00",
        "50.00",
        "30.00",
    )
    assert AuditEvent.objects.filter(action="payment.record", object_id=str(p.pk)).count() == 1


def test_receipt_reprints_the_same_after_later_payments_and_bills(world, debt, cashier, login):
    c = login(cashier)
    pay_at_counter(c, "50.00", "100.00")  # 80.00 − 50.00 = 30.00 still owed
    pay_at_counter(c, "40.00", "40.00")  # 30.00 to the bill, 10.00 credit
    first, second = Payment.objects.order_by("id")
    assert second.channel_txn_id.endswith("0002")
    # A new bill of 25.00: the 10.00 credit pays 10.00 of it at once
    issued_bill(world.acct_a, "2026-10", "25.00", date(2099, 2, 20), issued_on=date(2026, 11, 5))
    reprint = receipt_text(c, first)
    assert "仍欠合计：30.00" in reprint  # as printed, not today's 15.00
    assert cell(reprint, "receipt-tendered") == "100.00" and cell(reprint, "receipt-change") == "50.00"
    reprint2 = receipt_text(c, second)
    assert "仍欠合计：0.00" in reprint2 and "转为预存：10.00" in reprint2
    assert "2026-10" not in reprint2  # the later bill is not on this receipt


def test_cash_receipt_with_jiao_and_fen(world, cashier, login):
    issued_bill(world.acct_a, "2026-09", "123.45", date(2099, 1, 20), issued_on=date(2026, 10, 5))
    c = login(cashier)
    pay_at_counter(c, "123.45", "200.00")
    page = receipt_text(c, Payment.objects.get())
    assert cell(page, "receipt-change") == "76.55"  # 200.00 − 123.45
    assert cell(page, "receipt-amount-upper") == "壹佰贰拾叁元肆角伍分"
    assert "仍欠合计：0.00" in page


def test_blank_tendered_is_the_exact_amount(world, debt, cashier, login):
    c = login(cashier)
    pay_at_counter(c, "80.00", "")
    page = receipt_text(c, Payment.objects.get())
    assert cell(page, "receipt-tendered") == "80.00" and cell(page, "receipt-change") == "0.00"


def test_card_tendered_is_the_amount(world, debt, cashier, login):
    c = login(cashier)
    resp, _url, _fields = pay_at_counter(c, "80.00", "100.00", channel="counter_card")
    assert resp.status_code == 400 and "刷卡缴费的实收金额就是缴费金额" in resp.content.decode()
    assert not Payment.objects.exists() and not CounterReceipt.objects.exists()
    pay_at_counter(c, "80.00", "", channel="counter_card")
    page = receipt_text(c, Payment.objects.get())
    assert cell(page, "receipt-channel") == "柜台刷卡"
    assert cell(page, "receipt-tendered") == "80.00" and cell(page, "receipt-change") == "0.00"


@pytest.mark.parametrize(
    ("tendered", "message"),
    [
        ("50.00", "实收金额不能少于缴费金额 80.00 元"),
        ("79.99", "实收金额不能少于缴费金额 80.00 元"),
        ("abc", "金额必须是数字"),
        ("-100", "金额必须大于 0"),
        ("0", "金额必须大于 0"),
        ("100.001", "金额最多两位小数"),
    ],
)
def test_bad_tendered_is_a_field_error_and_nothing_written(world, debt, cashier, login, tendered, message):
    audits = AuditEvent.objects.count()
    resp, _url, _fields = pay_at_counter(login(cashier), "80.00", tendered)
    page = resp.content.decode()
    assert resp.status_code == 400 and message in page
    # the error sits under the 实收金额 field
    assert message in page.split('for="id_tendered"', 1)[1].split("</div>", 1)[0]
    assert not Payment.objects.exists() and not CounterReceipt.objects.exists()
    assert AuditEvent.objects.count() == audits


def test_api_counter_payment_gets_a_receipt_with_the_exact_amount(world, debt, cashier, login):
    c = login(cashier)
    body = {
        "account_number": "3100000001",
        "amount": "30.00",
        "channel": "counter_cash",
        "channel_txn_id": "R1",
    }
    assert c.post(f"{API}/payments", body, content_type="application/json").status_code == 201
    r = CounterReceipt.objects.get()
    assert (r.form_token, r.tendered, r.change, r.owed_after) == (None, D("30.00"), D("0.00"), D("50.00"))


# ---------------------------------------------------------------- the idempotent counter form


def test_back_and_submit_again_records_once_and_shows_the_first_receipt(world, debt, cashier, login):
    """Back re-fetches the counter page (as Chromium does): the page's address keeps the form's token, so the
    form submitted again is the same form, and shows the first receipt."""
    c = login(cashier)
    url, _page, fields = counter_form(c)
    first = c.post(url, {**fields, "amount": "50.00", "tendered": "100.00", "channel": "counter_cash"})
    p = Payment.objects.get()
    # Back: the same address again
    back = c.get(url)
    page = back.content.decode()
    again_fields = form_fields(page)
    again = c.post(url, {**again_fields, "amount": "50.00", "tendered": "100.00", "channel": "counter_cash"})
    assert Payment.objects.count() == 1 and LedgerEntry.objects.filter(kind="payment").count() == 1
    assert CounterReceipt.objects.count() == 1
    assert AuditEvent.objects.filter(action="payment.record").count() == 1
    assert first["Location"] == again["Location"] == f"/payments/{p.pk}/receipt/"
    assert again_fields["form_token"] == fields["form_token"]
    assert p.channel_txn_id in page.split('data-testid="counter-submitted"', 1)[1].split("</div>", 1)[0]
    shown = c.get(again["Location"]).content.decode()
    assert "此收费表单已提交过，没有重复收费" in shown and cell(shown, "receipt-change") == "50.00"


def test_a_new_lookup_is_a_new_form(world, debt, cashier, login):
    c = login(cashier)
    pay_at_counter(c, "30.00", "30.00")
    pay_at_counter(c, "30.00", "30.00")  # the customer pays twice on purpose: two lookups, two forms
    assert Payment.objects.count() == 2 and "仍欠合计：20.00" in receipt_text(c, Payment.objects.latest("id"))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"amount": "60.00"}, "本次提交的户号、金额或收费方式"),
        ({"channel": "counter_card", "tendered": ""}, "本次提交的户号、金额或收费方式"),
        ({"account_number": "3100000002"}, "本次提交的户号、金额或收费方式"),
    ],
)
def test_token_reused_for_another_payment_is_refused(world, debt, cashier, login, change, expected):
    make_account(CustomerFactory(name="王五", unit=world.station_a), "3100000002", world.area_a)
    c = login(cashier)
    url, _page, fields = counter_form(c)
    base = {**fields, "amount": "50.00", "tendered": "100.00", "channel": "counter_cash"}
    c.post(url, base)
    p = Payment.objects.get()
    audits = AuditEvent.objects.count()
    resp = c.post(url, {**base, **change})
    page = resp.content.decode()
    assert resp.status_code == 400 and expected in page and p.channel_txn_id in page
    assert Payment.objects.count() == 1 and CounterReceipt.objects.count() == 1
    assert AuditEvent.objects.count() == audits


def test_missing_or_malformed_token_is_refused(world, debt, cashier, login):
    c = login(cashier)
    url, _page, fields = counter_form(c)
    for token in ("", "short", "有中文的令牌有中文的令牌有中文的令牌"):
        resp = c.post(url, {**fields, "form_token": token, "amount": "10.00", "channel": "counter_cash"})
        assert resp.status_code == 400 and "收费表单已失效" in resp.content.decode()
    assert not Payment.objects.exists()


def test_another_cashiers_token_is_refused(world, debt, cashier, login):
    c = login(cashier)
    url, _page, fields = counter_form(c)
    c.post(url, {**fields, "amount": "10.00", "channel": "counter_cash"})
    other = UserFactory(username="a_cashier2", role=Role.CASHIER, unit=world.bureau_a)
    open_shift(other, "2号窗口")
    c2 = login(other)
    # Opening the page with it gives a fresh token; posting it is refused and records nothing
    resp = c2.get(url)
    assert resp.status_code == 302 and fields["form_token"] not in resp["Location"]
    posted = c2.post(url, {**fields, "amount": "10.00", "channel": "counter_cash"})
    assert posted.status_code == 400 and "收费表单已失效" in posted.content.decode()
    assert Payment.objects.count() == 1


def test_second_submit_that_passed_both_checks_is_stopped_by_the_unique_token(
    world, debt, cashier, monkeypatch
):
    """Two submits at the same moment both find no payment for the token before either commits: the unique
    token lets one receipt in; the other's payment is rolled back and it answers the first payment."""
    args = {
        "actor": Actor(user=cashier),
        "channel": "counter_cash",
        "account_number": "3100000001",
        "amount": "50.00",
        "tendered": "100.00",
        "form_token": "tok-concurrent-0000001",
    }
    first = counter.counter_payment_record(**args)
    real = counter._first_of_token
    calls = []

    def blind_then_real(*a, **kw):
        calls.append(1)
        return None if len(calls) <= 2 else real(*a, **kw)  # both pre-checks miss the first submit

    monkeypatch.setattr(counter, "_first_of_token", blind_then_real)
    second = counter.counter_payment_record(**args)
    assert (first.created, second.created, second.payment.pk) == (True, False, first.payment.pk)
    assert len(calls) == 3
    assert Payment.objects.count() == 1 and CounterReceipt.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert AuditEvent.objects.filter(action="payment.record").count() == 1


def test_service_refuses_bad_tendered_before_writing(world, debt, cashier):
    with pytest.raises(ValidationError) as exc:
        counter.counter_payment_record(
            actor=Actor(user=cashier),
            channel="counter_cash",
            account_number="3100000001",
            amount="80.00",
            tendered="79.99",
            form_token="tok-0123456789abcdef",
        )
    assert list(exc.value.message_dict) == ["tendered"] and not Payment.objects.exists()


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_submits_of_one_form_at_once_record_one_payment(world, debt, cashier):
    from tests.payments.ledger.test_refunds import _at_once

    def submit():
        return counter.counter_payment_record(
            actor=Actor(user=cashier),
            channel="counter_cash",
            account_number="3100000001",
            amount="50.00",
            tendered="100.00",
            form_token="tok-at-once-000000001",
        )

    results = _at_once([submit, submit])
    assert sorted(r.created for r in results) == [False, True], results
    assert results[0].payment.pk == results[1].payment.pk
    assert Payment.objects.count() == 1 and CounterReceipt.objects.count() == 1


# ---------------------------------------------------------------- who may see a receipt


def test_receipt_permission_matrix(world, debt, cashier, login):
    p = services.payment_record(
        actor=Actor(), channel="alipay", channel_txn_id="A-1", account_number="3100000001", amount="10.00"
    ).payment
    b = services.payment_record(
        actor=Actor(), channel="alipay", channel_txn_id="B-1", account_number="3200000001", amount="10.00"
    ).payment
    before = (
        Payment.objects.values_list("id", "status", "unallocated").order_by("id"),
        AuditEvent.objects.count(),
    )
    before = (list(before[0]), before[1])
    url = f"/payments/{p.pk}/receipt/"
    anon = login().get(url)
    assert anon.status_code == 302 and "/login/" in anon["Location"]
    assert login(world.portal_user).get(url).status_code == 404  # a customer: the staff receipt is not theirs
    assert login(world.b_clerk).get(url).status_code == 404  # another unit's payment
    assert login(cashier).get(f"/payments/{b.pk}/receipt/").status_code == 404  # bureau B's, for bureau A
    assert login(world.a_clerk).get(url).status_code == 200
    assert login(world.b_clerk).get(f"/payments/{b.pk}/receipt/").status_code == 200
    assert login(world.a_clerk).get("/payments/999999/receipt/").status_code == 404  # missing = forbidden
    after = (
        list(Payment.objects.values_list("id", "status", "unallocated").order_by("id")),
        AuditEvent.objects.count(),
    )
    assert after == before
