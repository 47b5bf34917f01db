"""The electronic bill 电子账单: its contents for bills made by real billing runs, the PDF, and who may open it."""

import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.billing import ebill, services
from gridcare.billing.models import Bill, BillStatus
from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.customers.models import Meter, PortalBinding
from gridcare.metering import services as metering
from gridcare.metering.models import Route, RouteMembership
from tests.factories import CustomerFactory, UserFactory, make_account

SYSTEM = Actor()
D = Decimal


def at(y: int, m: int, d: int, h: int = 9) -> datetime:
    return timezone.make_aware(datetime(y, m, d, h))  # noqa: DTZ001


def record(meter, when, total, **tou):
    return metering.read_record(actor=SYSTEM, meter=meter, read_at=when, registers={"total": total, **tou})


def bill_period(route, period: str, *, issue: bool = True):
    run = services.billing_run_start(actor=SYSTEM, period=period, route=route)
    run = services.billing_run_execute(run.pk)
    if issue:
        services.bills_issue(actor=SYSTEM, run=run)
    return run


@pytest.fixture
def route(world):
    """Route R01 in station A: acct_a (张三, 3100000001) and a TOU-metered account 3100000009."""
    r = Route.objects.create(
        code="R01", name="东关一段", unit=world.station_a, reading_day=5, created_at=timezone.now()
    )
    world.acct_tou = make_account(
        CustomerFactory(name="王五", unit=world.station_a), "3100000009", world.area_a, tou=True
    )
    for seq, acct in enumerate([world.acct_a, world.acct_tou], start=1):
        RouteMembership.objects.create(account=acct, route=r, sequence=seq)
    world.meter_a = Meter.objects.get(asset_number="M3100000001")
    world.meter_tou = Meter.objects.get(asset_number="M3100000009")
    return r


@pytest.fixture
def feb_bill(world, route):
    """January 2700 kWh, then February 200 kWh across the 2760 kWh tier-1 limit; both issued."""
    record(world.meter_a, at(2025, 12, 5), "1000")
    record(world.meter_a, at(2026, 1, 5), "3700")  # 2700 kWh
    bill_period(route, "2026-01")
    record(world.meter_a, at(2026, 2, 5), "3900")  # 200 kWh
    bill_period(route, "2026-02")
    return Bill.objects.get(account=world.acct_a, period_start=date(2026, 2, 1))


def portal_client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def bind(user, account):
    return PortalBinding.objects.create(user=user, account=account, created_at=timezone.now())


# ---------------------------------------------------------------- the document


def test_document_of_a_billed_month(world, feb_bill, django_assert_max_num_queries):
    bill = ebill.bill_get(user=world.a_clerk, pk=feb_bill.pk)
    with django_assert_max_num_queries(5):  # lines, tariff version, reads, reads before, history
        doc = ebill.bill_document(bill)
    assert (doc["account_number"], doc["customer_name"], doc["address"], doc["supply_unit"]) == (
        "3100000001",
        "张*",
        "东关镇人民路18号",
        "东关供电所",
    )
    assert (doc["period"], doc["period_start"], doc["period_end"]) == (
        "2026-02",
        date(2026, 2, 1),
        date(2026, 2, 28),
    )
    assert (doc["tariff_code"], doc["tariff_name"]) == ("RES-TIER", "居民生活阶梯电价")
    # The reads: 3700.00 on 5 January (the read before the period) → 3900.00 on 5 February.
    [reading] = doc["readings"]
    assert reading["meter"] == "M3100000001" and reading["kwh"] == D("200.00") and not reading["estimated"]
    assert reading["previous"]["read_at"] == at(2026, 1, 5) and reading["current"]["read_at"] == at(
        2026, 2, 5
    )
    assert reading["current"]["source"] == "人工抄表"
    assert [(r["name"], r["previous"], r["current"]) for r in reading["registers"]] == [
        ("total", D("3700.00"), D("3900.00"))
    ]
    assert doc["kwh_total"] == D("200.00") and doc["tou"] is None
    # YTD 2700 + 200 = 2900: 60 kWh left in tier 1, 140 kWh in tier 2; 4800 − 2900 = 1900 to the tier-2 limit.
    tiers = doc["tiers"]
    assert (
        tiers["basis"],
        tiers["before"],
        tiers["kwh"],
        tiers["after"],
        tiers["tier"],
        tiers["remaining"],
    ) == ("annual", D("2700"), D("200"), D("2900"), 2, D("1900"))
    assert [
        (b["tier"], b["start"], b["end"], b["surcharge"], b["kwh"], b["current"]) for b in tiers["bands"]
    ] == [
        (1, D(0), D("2760"), D(0), D("60"), False),
        (2, D("2760"), D("4800"), D("0.05"), D("140"), True),
        (3, D("4800"), None, D("0.30"), D(0), False),
    ]
    # 200 × 0.538 = 107.60; 140 × 0.05 = 7.00; total 114.60.
    assert [
        (ln["seq"], ln["code"], ln["quantity"], ln["unit_price"], ln["amount"]) for ln in doc["lines"]
    ] == [
        (1, "energy", D("200"), D("0.538"), D("107.60")),
        (2, "tier2", D("140"), D("0.05"), D("7.00")),
    ]
    assert str(doc["lines"][0]["quantity"]) == "200" and str(doc["lines"][0]["unit_price"]) == "0.538"
    # due 15 days after the day it was issued (the day the test ran: read back, so midnight cannot split them)
    issued_on = timezone.localdate(feb_bill.issued_at)
    assert doc["amount"] == D("114.60") and doc["due_date"] == issued_on + timedelta(days=15)
    assert (doc["status"], doc["estimated"], doc["estimated_notice"]) == ("issued", False, "")
    pay = " ".join(f"{w['title']} {w['text']}" for w in doc["how_to_pay"])
    assert all(word in pay for word in ("网上国网", "95598", "营业厅", "代扣"))
    assert [(h["period"], h["kwh_total"], h["current"]) for h in doc["history"]] == [
        ("2026-01", D("2700.00"), False),
        ("2026-02", D("200.00"), True),
    ]
    assert doc["chart"]["months"] == ["2026-01", "2026-02"]
    assert doc["chart"]["series"] == [{"key": "total", "name": "总电量", "data": [2700.0, 200.0]}]


def test_account_holder_sees_own_name(world, feb_bill):
    assert ebill.bill_document(feb_bill, holder=True)["customer_name"] == "张三"


def test_estimated_read_marks_the_bill(world, route):
    # December: 300 kWh in 30 days (10 kWh a day); January's read is missing and estimated at 00:00 on 31 January:
    # 31 days × 10 = 310 kWh, register 1300 + 310 = 1610. 310 × 0.538 = 166.78, all in tier 1.
    record(world.meter_a, at(2025, 12, 1), "1000")
    record(world.meter_a, at(2025, 12, 31), "1300")
    est = metering.read_estimate_missing(actor=SYSTEM, account=world.acct_a, period_end=date(2026, 1, 31))
    assert (est.consumption, est.total) == (D("310.00"), D("1610.00"))
    bill_period(route, "2026-01")
    bill = Bill.objects.get(account=world.acct_a)
    doc = ebill.bill_document(bill)
    assert doc["estimated"] is True and doc["estimated_notice"] == "本账单含估算电量"
    [reading] = doc["readings"]
    assert reading["estimated"] and reading["current"]["estimated"] and reading["current"]["source"] == "估算"
    assert not reading["previous"]["estimated"] and reading["previous"]["read_at"] == at(2025, 12, 31)
    assert [(r["previous"], r["current"]) for r in reading["registers"]] == [(D("1300.00"), D("1610.00"))]
    assert (doc["kwh_total"], doc["amount"]) == (D("310.00"), D("166.78"))
    assert (
        doc["tiers"]["before"],
        doc["tiers"]["after"],
        doc["tiers"]["tier"],
        doc["tiers"]["remaining"],
    ) == (D(0), D("310.00"), 1, D("2450.00"))
    assert doc["history"][0]["estimated"] is True
    body = portal_client(world.a_clerk).get(f"/billing/bills/{bill.pk}/").content.decode()
    assert 'data-testid="ebill-estimated">本账单含估算电量<' in body and 'class="tag est">估算<' in body


def test_tou_registers_and_split(world, route):
    # 先峰谷后阶梯 (RES-TIER-TOU): peak 300 → 480 and valley 200 → 320 are 180 + 120 = 300 kWh (total 500 → 800);
    # 180 × 0.568 = 102.24 and 120 × 0.288 = 34.56, 136.80 in all; 300 kWh a year is within tier 1.
    world.acct_tou.service_points.update(tariff_code="RES-TIER-TOU")
    record(world.meter_tou, at(2025, 12, 5), "500", peak="300", valley="200")
    record(world.meter_tou, at(2026, 1, 5), "800", peak="480", valley="320")
    bill_period(route, "2026-01")
    bill = Bill.objects.get(account=world.acct_tou)
    doc = ebill.bill_document(bill)
    assert (doc["tariff_name"], doc["amount"], doc["tiers"]["tier"]) == (
        "居民生活阶梯分时电价",
        D("136.80"),
        1,
    )
    [reading] = doc["readings"]
    assert [(r["name"], r["label"], r["previous"], r["current"]) for r in reading["registers"]] == [
        ("total", "总", D("500.00"), D("800.00")),
        ("peak", "峰", D("300.00"), D("480.00")),
        ("valley", "谷", D("200.00"), D("320.00")),
    ]
    assert [(t["period"], t["label"], t["kwh"]) for t in doc["tou"]] == [
        ("peak", "高峰", D("180")),
        ("valley", "低谷", D("120")),
    ]
    assert [(ln["code"], ln["amount"]) for ln in doc["lines"]] == [
        ("energy_peak", D("102.24")),
        ("energy_valley", D("34.56")),
    ]
    assert [(s["name"], s["data"]) for s in doc["chart"]["series"]] == [("高峰", [180.0]), ("低谷", [120.0])]
    body = portal_client(world.a_clerk).get(f"/billing/bills/{bill.pk}/").content.decode()
    assert 'data-testid="ebill-tou"' in body and 'data-register="valley"' in body


def _bill(account, period_start: date, kwh: str, status=BillStatus.ISSUED, **tou) -> Bill:
    end = (period_start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return Bill.objects.create(
        account=account,
        unit=account.unit,
        period_start=period_start,
        period_end=end,
        tariff_code="RES-TIER",
        kwh_total=D(kwh),
        amount=D(kwh) * D("0.5"),
        status=status,
        created_at=timezone.now(),
        **tou,
    )


def test_history_is_last_13_issued_months_oldest_first(world, django_assert_max_num_queries):
    a = world.acct_a
    months = [date(2024 + (11 + n) // 12, (11 + n) % 12 + 1, 1) for n in range(18)]  # 2024-12 … 2026-05
    bills = {}
    for n, m in enumerate(months):
        status = BillStatus.DRAFT if m == date(2025, 6, 1) else BillStatus.ISSUED
        tou = {"kwh_peak": D(60 + n), "kwh_valley": D(40)} if m.month == 1 else {}
        bills[m] = _bill(a, m, str(100 + n), status, **tou)
    _bill(a, date(2025, 10, 1), "999", BillStatus.CANCELLED)  # replaced by the issued 2025-10 bill
    _bill(world.acct_b, date(2026, 2, 1), "777")  # another account
    this = bills[date(2026, 3, 1)]
    with django_assert_max_num_queries(1):
        history = ebill._history(this)
    expected = [m for m in months if m <= date(2026, 3, 1) and m != date(2025, 6, 1)][-13:]
    assert [h["period_start"] for h in history] == expected
    assert (
        expected[0] == date(2025, 2, 1)
        and history[-1]["current"]
        and not any(h["current"] for h in history[:-1])
    )
    assert [h["kwh_total"] for h in history] == [bills[m].kwh_total for m in expected]
    jan = [i for i, h in enumerate(history) if h["tou"] is not None]
    assert jan == [10] and history[10]["period"] == "2026-01"
    assert history[10]["tou"] == {
        "sharp": None,
        "peak": D(73),
        "flat": None,
        "valley": D(40),
    }  # 2026-01 is the 14th month made
    # The chart: a stacked TOU bar for the TOU month, the total for the others.
    chart = ebill.usage_chart(history)
    assert [s["name"] for s in chart["series"]] == ["高峰", "低谷", "总电量"]
    peak, valley, total = (s["data"] for s in chart["series"])
    assert (peak[10], valley[10], total[10]) == (73.0, 40.0, None)
    assert (peak[0], valley[0], total[0]) == (None, None, float(bills[date(2025, 2, 1)].kwh_total))
    # A draft bill viewed in the console shows itself as the last month, after the issued ones.
    draft = ebill._history(bills[date(2025, 6, 1)])
    assert draft[-1]["period_start"] == date(2025, 6, 1) and draft[-1]["current"]
    assert [h["period_start"] for h in draft[:-1]] == months[:6]


# ---------------------------------------------------------------- PDF


def test_pdf_has_the_account_and_amount(world, feb_bill):
    from pypdf import PdfReader

    pdf = ebill.ebill_pdf(feb_bill)
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "3100000001" in text and "114.60" in text and "2026-02" in text
    assert "电子账单" in text and "第2档" in text and "张三" not in text


def test_pdf_renderer_fetches_no_url():
    fetcher = ebill.refusing_url_fetcher()
    for url in ("https://example.com/x.css", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="protocol|not fetched"):
            fetcher(url)


# ---------------------------------------------------------------- console access


def test_console_page_and_pdf(world, feb_bill):
    c = portal_client(world.a_clerk)
    resp = c.get(f"/billing/bills/{feb_bill.pk}/")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert 'data-testid="ebill-amount">114.60<' in body and 'data-testid="ebill-tier">第2档<' in body
    assert 'data-testid="ebill-customer-name">张*<' in body and "张三" not in body
    assert f'href="/billing/bills/{feb_bill.pk}/pdf/"' in body and "vendor/echarts/echarts.min.js" in body
    pdf = c.get(f"/billing/bills/{feb_bill.pk}/pdf/")
    assert (
        pdf.status_code == 200
        and pdf["Content-Type"] == "application/pdf"
        and pdf.content.startswith(b"%PDF")
    )
    disposition = pdf["Content-Disposition"]
    assert disposition.startswith("inline;") and "3100000001" in disposition and "2026-02" in disposition


@pytest.mark.parametrize("suffix", ["", "pdf/"])
def test_console_refuses_other_unit_customers_and_anonymous(world, feb_bill, suffix):
    url = f"/billing/bills/{feb_bill.pk}/{suffix}"
    assert portal_client(world.b_clerk).get(url).status_code == 404
    bind(world.portal_user, world.acct_a)
    assert portal_client(world.portal_user).get(url).status_code == 404  # customers use the portal
    resp = Client().get(url)
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")
    assert portal_client(world.a_clerk).get(f"/billing/bills/{feb_bill.pk + 999}/{suffix}").status_code == 404
    assert portal_client(world.admin).get(url).status_code == 200


def test_console_shows_draft_bills(world, route):
    record(world.meter_a, at(2025, 12, 5), "1000")
    record(world.meter_a, at(2026, 1, 5), "1150")
    bill_period(route, "2026-01", issue=False)
    bill = Bill.objects.get(account=world.acct_a)
    resp = portal_client(world.a_clerk).get(f"/billing/bills/{bill.pk}/")
    assert resp.status_code == 200 and "草稿" in resp.content.decode()


def test_run_page_lists_bills_with_links(world, feb_bill):
    clerk = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    body = portal_client(clerk).get(f"/billing/runs/{feb_bill.run_id}/").content.decode()
    assert f'<a href="/billing/bills/{feb_bill.pk}/">3100000001</a>' in body


# ---------------------------------------------------------------- portal access


def test_portal_bill_page_and_pdf(world, feb_bill, django_assert_max_num_queries):
    bind(world.portal_user, world.acct_a)
    c = portal_client(world.portal_user)
    detail = c.get("/portal/accounts/3100000001/").content.decode()
    assert f'href="/portal/billing/bills/{feb_bill.pk}/"' in detail
    # Session, user, the bill, the document's five, then its payment status: the receivable, what is still
    # owed on it, its payments, its electronic invoice.
    with django_assert_max_num_queries(12):
        resp = c.get(f"/portal/billing/bills/{feb_bill.pk}/")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert 'data-testid="ebill-amount">114.60<' in body and 'data-testid="ebill-customer-name">张三<' in body
    assert (
        'id="usage-chart"' in body and 'id="usage-data"' in body and "vendor/echarts/echarts.min.js" in body
    )
    assert f'href="/portal/billing/bills/{feb_bill.pk}/pdf/"' in body
    pdf = c.get(f"/portal/billing/bills/{feb_bill.pk}/pdf/")
    assert (
        pdf.status_code == 200
        and pdf["Content-Type"] == "application/pdf"
        and pdf.content.startswith(b"%PDF")
    )
    assert "3100000001" in pdf["Content-Disposition"]


@pytest.mark.parametrize("suffix", ["", "pdf/"])
def test_portal_refuses_what_is_not_the_users_issued_bill(world, feb_bill, suffix):
    url = f"/portal/billing/bills/{feb_bill.pk}/{suffix}"
    bind(world.portal_user, world.acct_a)
    other = UserFactory(username="13600000001", role=Role.CUSTOMER, unit=None, phone="13600000001")
    bind(other, world.acct_b)
    assert portal_client(other).get(url).status_code == 404  # bound to another account
    assert portal_client(world.a_clerk).get(url).status_code == 404  # staff use the console
    resp = Client().get(url)
    assert resp.status_code == 302 and resp["Location"].startswith("/portal/login/")
    mine = portal_client(world.portal_user)
    assert mine.get(url).status_code == 200
    for status in (BillStatus.DRAFT, BillStatus.CANCELLED):
        Bill.objects.filter(pk=feb_bill.pk).update(status=status)
        assert mine.get(url).status_code == 404
    Bill.objects.filter(pk=feb_bill.pk).update(status=BillStatus.ISSUED)
    PortalBinding.objects.filter(user=world.portal_user).delete()  # unbound: gone too
    assert mine.get(url).status_code == 404
