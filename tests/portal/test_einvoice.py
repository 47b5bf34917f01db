"""Electronic invoices (电子发票) of paid bills in the portal: the tax arithmetic and the amount in capitals by
hand, the PDF's tax fields (pypdf text), one invoice per bill, refusals that write nothing, who may ask.

张三 (a person) holds 3100000001, bound to the portal user. His February bill: 200 kWh, 114.60 yuan, due
20 March 2026, paid in full on 10 March (before the due date: no late fee under any rule).
"""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.billing import einvoice
from gridcare.billing.models import Bill, BillStatus, Invoice
from gridcare.core.models import AuditEvent
from gridcare.core.money import rmb_upper
from gridcare.customers.choices import CustomerKind
from gridcare.customers.models import PortalBinding
from gridcare.payments.ledger import services as payment_services
from gridcare.portal import selectors as portal_selectors
from tests.factories import UserFactory, valid_uscc
from tests.payments.ledger.test_ledger import pay

D = Decimal


def make_bill(account, period: str, amount: str, kwh: str, due: date) -> Bill:
    y, m = (int(x) for x in period.split("-"))
    bill = Bill.objects.create(
        account=account,
        unit=account.unit,
        period_start=date(y, m, 1),
        period_end=date(y, m, 28),
        tariff_code="RES-TIER",
        kwh_total=D(kwh),
        amount=D(amount),
        status=BillStatus.ISSUED,
        due_date=due,
        issued_at=timezone.now(),
        created_at=timezone.now(),
    )
    payment_services.receivables_open([bill.pk], on=due.replace(day=5))
    return bill


def pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def customer(world, login, monkeypatch):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    monkeypatch.setattr(portal_selectors, "today", lambda: date(2026, 3, 12))
    return login(world.portal_user)


@pytest.fixture
def paid_bill(world):
    bill = make_bill(world.acct_a, "2026-02", "114.60", "200", date(2026, 3, 20))
    pay("114.60", date(2026, 3, 10), "P1")
    return bill


def issue_url(bill) -> str:
    return f"/portal/billing/bills/{bill.pk}/invoice/"


def pdf_url(bill) -> str:
    return f"/portal/billing/bills/{bill.pk}/invoice/pdf/"


# ---------------------------------------------------------------- arithmetic, by hand


@pytest.mark.parametrize(
    ("total", "amount", "tax"),
    [
        # 114.60 ÷ 1.13 = 101.41592… → 101.42; 114.60 − 101.42 = 13.18
        ("114.60", "101.42", "13.18"),
        # 942.76 ÷ 1.13 = 834.30088… → 834.30; 942.76 − 834.30 = 108.46
        ("942.76", "834.30", "108.46"),
        # 100.00 ÷ 1.13 = 88.49557… → 88.50 (half-up from …557); 100.00 − 88.50 = 11.50
        ("100.00", "88.50", "11.50"),
        # 1.13 ÷ 1.13 = 1.00 exactly; tax 0.13
        ("1.13", "1.00", "0.13"),
        # 0.01 ÷ 1.13 = 0.00885 → 0.01; tax 0.00 (the fen cannot be split)
        ("0.01", "0.01", "0.00"),
        # 0.05 ÷ 1.13 = 0.04424… → 0.04; tax 0.01
        ("0.05", "0.04", "0.01"),
    ],
)
def test_tax_split(total, amount, tax):
    assert einvoice.tax_split(D(total)) == (D(amount), D(tax))
    assert D(amount) + D(tax) == D(total)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("123.45", "壹佰贰拾叁元肆角伍分"),
        ("114.60", "壹佰壹拾肆元陆角"),
        ("942.76", "玖佰肆拾贰元柒角陆分"),
        ("100.00", "壹佰元整"),
        ("10.30", "壹拾元叁角"),
        ("1000.05", "壹仟元零伍分"),
        ("1005.00", "壹仟零伍元整"),
        ("1050.00", "壹仟零伍拾元整"),
        ("10010.00", "壹万零壹拾元整"),
        ("100100.00", "壹拾万零壹佰元整"),
        ("1010000.00", "壹佰零壹万元整"),
        ("100000001.00", "壹亿零壹元整"),
        ("20000000.10", "贰仟万元壹角"),
        ("0.50", "伍角"),
        ("0.05", "伍分"),
        ("0.00", "零元整"),
    ],
)
def test_amount_in_capitals(value, words):
    assert rmb_upper(D(value)) == words  # the one function (core.money), as the counter receipt uses


def test_unit_price_without_tax():
    # 101.42 ÷ 200 kWh = 0.5071 exactly; 834.30 ÷ 1500 = 0.55620000; 0 kWh: no unit price
    assert einvoice.unit_price(D("101.42"), D("200")) == D("0.50710000")
    assert einvoice.unit_price(D("834.30"), D("1500")) == D("0.55620000")
    # 88.50 ÷ 3 = 29.5 exactly; 100.00 ÷ 3 = 33.333333333… → 33.33333333
    assert einvoice.unit_price(D("100.00"), D("3")) == D("33.33333333")
    assert einvoice.unit_price(D("101.42"), D("0")) is None


# ---------------------------------------------------------------- issuing and downloading


def test_a_paid_bill_gets_a_demo_invoice_with_the_tax_fields(world, customer, paid_bill):
    page = customer.get(f"/portal/billing/bills/{paid_bill.pk}/").content.decode()
    assert 'data-testid="einvoice-issue"' in page  # offered for a paid bill

    r = customer.post(issue_url(paid_bill))

    assert r.status_code == 302 and r["Location"] == pdf_url(paid_bill)
    inv = Invoice.objects.get(bill=paid_bill)
    assert (inv.invoice_code, inv.invoice_number) == ("099992600011", "00000001")
    assert (inv.amount, inv.tax_amount, inv.total, inv.tax_rate) == (
        D("101.42"),
        D("13.18"),
        D("114.60"),
        D("0.13"),
    )
    assert inv.is_demo and inv.issued_on == date(2026, 3, 12) and len(inv.check_code) == 20
    event = AuditEvent.objects.get(action="invoice.issue", object_id=str(inv.pk))
    assert event.actor_id == world.portal_user.pk and event.customer_id == world.cust_a.pk

    resp = customer.get(pdf_url(paid_bill))
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    assert "einvoice-099992600011-00000001.pdf" in resp["Content-Disposition"]
    text = pdf_text(resp.content)
    check = inv.check_code
    for expected in (
        "电子发票（增值税普通发票）",
        "发票代码",
        "099992600011",
        "发票号码",
        "00000001",
        "2026年03月12日",
        f"{check[:5]} {check[5:10]} {check[10:15]} {check[15:]}",
        "张三（个人）",  # a person: no taxpayer id
        "示范供电公司",  # the seller is the company of the bill's unit
        einvoice.DEMO_TAX_ID,
        einvoice.DEMO_ADDRESS,
        einvoice.DEMO_BANK,
        "*供电*电费",
        "千瓦时",
        "200.00",  # kWh
        "0.50710000",  # 101.42 ÷ 200
        "101.42",
        "13%",
        "13.18",
        "¥114.60",
        "壹佰壹拾肆元陆角",
        "GridCare",  # 开票人
        "3100000001",
        "2026-02",
        "演示发票，不作报销凭证",
    ):
        assert expected in text, expected


def test_the_same_invoice_and_pdf_come_back_each_time(world, customer, paid_bill):
    customer.post(issue_url(paid_bill))
    first = customer.get(pdf_url(paid_bill)).content
    assert customer.post(issue_url(paid_bill)).status_code == 302
    assert Invoice.objects.count() == 1
    assert AuditEvent.objects.filter(action="invoice.issue").count() == 1
    assert customer.get(pdf_url(paid_bill)).content == first


def test_invoices_are_numbered_in_order(world, customer, paid_bill):
    march = make_bill(world.acct_a, "2026-03", "80.00", "150", date(2026, 4, 20))
    pay("80.00", date(2026, 3, 11), "P2")
    customer.post(issue_url(march))
    customer.post(issue_url(paid_bill))
    assert list(Invoice.objects.order_by("invoice_number").values_list("bill_id", "invoice_number")) == [
        (march.pk, "00000001"),
        (paid_bill.pk, "00000002"),
    ]


def test_an_organisation_is_invoiced_with_its_uscc(world, customer, paid_bill):
    uscc = valid_uscc(7)
    world.cust_a.__class__.objects.filter(pk=world.cust_a.pk).update(
        kind=CustomerKind.ORGANISATION, name="东关五金店", id_number=uscc
    )
    customer.post(issue_url(paid_bill))
    inv = Invoice.objects.get(bill=paid_bill)
    assert (inv.buyer_name, inv.buyer_tax_id) == ("东关五金店", uscc)
    text = pdf_text(customer.get(pdf_url(paid_bill)).content)
    assert uscc in text and "（个人）" not in text


class FakeTaxPlatform:
    """A configured issuing service: it returns the numbers; its invoices are real, so not marked demo."""

    name = "fake-platform"
    demo = False

    def issue(self, draft):
        assert (draft.amount, draft.tax_amount, draft.total) == (D("101.42"), D("13.18"), D("114.60"))
        return einvoice.IssuedNumbers(
            invoice_code="044002600111", invoice_number="12345678", check_code="1" * 20
        )


def test_a_configured_issuing_service_numbers_the_invoice_and_it_is_not_marked_demo(
    world, customer, paid_bill, settings
):
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "EINVOICE": {
            "BACKEND": "tests.portal.test_einvoice.FakeTaxPlatform",
            "SELLER_NAME": "国网示范市供电公司",
            "SELLER_TAX_ID": valid_uscc(3),
            "SELLER_ADDRESS": "示范市电力路8号 0571-95598",
            "SELLER_BANK": "工商银行示范支行 1202020202020202020",
            "ISSUER": "李会计",
        },
    }
    customer.post(issue_url(paid_bill))
    inv = Invoice.objects.get(bill=paid_bill)
    assert (inv.backend, inv.is_demo, inv.invoice_code, inv.invoice_number) == (
        "fake-platform",
        False,
        "044002600111",
        "12345678",
    )
    text = pdf_text(customer.get(pdf_url(paid_bill)).content)
    assert "国网示范市供电公司" in text and valid_uscc(3) in text and "李会计" in text
    assert "演示发票" not in text
    assert "演示发票" not in customer.get(f"/portal/billing/bills/{paid_bill.pk}/").content.decode()


# ---------------------------------------------------------------- refusals write nothing


@pytest.mark.parametrize("paid", [None, "50.00"])
def test_a_bill_not_fully_paid_is_refused_with_a_clear_message(world, customer, paid):
    bill = make_bill(world.acct_a, "2026-02", "114.60", "200", date(2026, 3, 20))
    if paid:
        pay(paid, date(2026, 3, 10), "P1")
    page = customer.get(f"/portal/billing/bills/{bill.pk}/").content.decode()
    assert 'data-testid="einvoice-issue"' not in page and 'data-testid="einvoice-unavailable"' in page

    r = customer.post(issue_url(bill))

    assert r.status_code == 400
    assert "该账单尚未缴清，缴清后方可开具电子发票" in r.content.decode()
    r = customer.get(pdf_url(bill))
    assert r.status_code == 400 and "该账单尚未缴清" in r.content.decode()
    assert not Invoice.objects.exists()
    assert not AuditEvent.objects.filter(action="invoice.issue").exists()


def test_a_payment_short_by_the_late_fee_is_not_fully_paid(world, customer):
    # Due 20 January, paid 114.60 on 2 February: 13 days late, 114.60 × 0.001 × 13 = 1.4898 → 1.49 charged
    # and paid first, so 113.11 went to the principal and 1.49 of it is still owed: not fully paid.
    bill = make_bill(world.acct_a, "2025-12", "114.60", "200", date(2026, 1, 20))
    pay("114.60", date(2026, 2, 2), "P1")
    assert not einvoice.bill_is_paid(bill)
    assert customer.post(issue_url(bill)).status_code == 400
    assert not Invoice.objects.exists()


def test_downloading_before_issuing_says_so_and_issues_nothing(world, customer, paid_bill):
    r = customer.get(pdf_url(paid_bill))
    assert r.status_code == 404 and "尚未开具电子发票" in r.content.decode()
    assert not Invoice.objects.exists()


def test_get_never_issues(world, customer, paid_bill):
    assert customer.get(issue_url(paid_bill)).status_code == 405
    assert not Invoice.objects.exists()


def test_who_may_ask(world, login, paid_bill):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    other = UserFactory(username="13600000009", role="customer", unit=None)
    PortalBinding.objects.create(user=other, account=world.acct_b, created_at=timezone.now())
    anonymous = login().post(issue_url(paid_bill))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/portal/login/")
    assert login(other).post(issue_url(paid_bill)).status_code == 404
    assert login(other).get(pdf_url(paid_bill)).status_code == 404
    for staff in (world.a_clerk, world.admin, world.a_manager):
        assert login(staff).post(issue_url(paid_bill)).status_code == 404
    assert login(other).post("/portal/billing/bills/999999/invoice/").status_code == 404
    assert not Invoice.objects.exists()
    assert not AuditEvent.objects.filter(action="invoice.issue").exists()
    # The owner may, and then the invoice exists only for them.
    login(world.portal_user).post(issue_url(paid_bill))
    assert login(other).get(pdf_url(paid_bill)).status_code == 404
