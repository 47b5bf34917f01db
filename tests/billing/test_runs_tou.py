"""Billing runs for TOU and two-part tariffs (kWh per period, demand, power factor) and move-in / move-out.

Every expected amount is worked out by hand in the comments from the demo catalogue's prices:
RES-TIER-TOU peak 0.568 / valley 0.288, annual tiers 2760 / 4800 with +0.05 / +0.30;
LI-TWO-PART basic 30 yuan/kVA·month or 40 yuan/kW·month, sharp 1.14 / peak 0.95 / flat 0.62 / valley 0.30,
PF target 0.90 (215号 table: +0.5 % per 0.01 below 0.90; 0.95–1.00 −0.75 %), government fund 0.029 yuan/kWh.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from gridcare.billing import services
from gridcare.billing.models import Bill, BillingException, BillStatus
from gridcare.customers.models import Meter
from gridcare.metering.choices import ReadSource, ReadStatus
from gridcare.metering.models import MeterRead
from tests.billing.test_runs import SYSTEM, at, start

D = Decimal


def tou_read(account, when, *, sharp=None, peak=None, flat=None, valley=None, kvarh=None, demand=None):
    """A read whose derived quantities are set directly (the metering tests cover how they are derived)."""
    parts = [v for v in (sharp, peak, flat, valley) if v is not None]
    kwh = sum((D(v) for v in parts), D(0))
    meter = Meter.objects.get(service_point__account=account)
    return MeterRead.objects.create(
        meter=meter,
        account=account,
        unit=account.unit,
        read_at=when,
        total=D("1000") + kwh,
        consumption=kwh,
        kwh_sharp=sharp,
        kwh_peak=peak,
        kwh_flat=flat,
        kwh_valley=valley,
        kvarh=kvarh,
        demand_kw=demand,
        source=ReadSource.AMI,
        status=ReadStatus.VALID,
        created_at=timezone.now(),
    )


def lines(bill):
    return [(ln.code, ln.quantity, ln.amount) for ln in bill.lines.all()]


def two_part(account, *, kva="400", by_demand=False):
    account.service_points.update(
        tariff_code="LI-TWO-PART", contract_capacity_kva=D(kva), basic_by_demand=by_demand
    )


def test_residential_tou_with_tier_crossing(world, route):
    acct = world.acct_a
    acct.service_points.update(tariff_code="RES-TIER-TOU")
    Bill.objects.create(  # September's bill brings the year to 2,700 kWh
        account=acct,
        unit=acct.unit,
        period_start=date(2026, 9, 1),
        period_end=date(2026, 9, 30),
        tariff_code="RES-TIER-TOU",
        kwh_total=D("2700"),
        amount=D("0"),
        status=BillStatus.ISSUED,
        created_at=timezone.now(),
    )
    tou_read(acct, at(2026, 10, 5), peak="100", valley="60")
    services.billing_run_execute(start(route).pk)
    bill = Bill.objects.get(account=acct, period_start=date(2026, 10, 1))
    # peak 100 × 0.568 = 56.80; valley 60 × 0.288 = 17.28; 2,700 + 160 crosses 2,760 by 100 kWh → 100 × 0.05 = 5.00
    assert lines(bill) == [
        ("energy_peak", D(100), D("56.80")),
        ("energy_valley", D(60), D("17.28")),
        ("tier2", D(100), D("5.00")),
    ]
    assert bill.amount == D("79.08")
    assert (bill.kwh_total, bill.kwh_peak, bill.kwh_valley, bill.ytd_kwh_before) == (
        D(160),
        D(100),
        D(60),
        D(2700),
    )


def test_tou_sums_the_periods_of_every_read(world, route):
    acct = world.accts[1]
    acct.service_points.update(tariff_code="COM-TOU")
    tou_read(acct, at(2026, 10, 5), sharp="10", peak="40", flat="30", valley="20")
    tou_read(acct, at(2026, 10, 20), sharp="5", peak="10", flat="10.5", valley="4.5")
    services.billing_run_execute(start(route).pk)
    bill = Bill.objects.get(account=acct)
    # sharp 15 × 1.18 = 17.70; peak 50 × 1.05 = 52.50; flat 40.5 × 0.65 = 26.325 → 26.33; valley 24.5 × 0.32 = 7.84;
    # fund 130 × 0.029 = 3.77; total 108.14
    assert lines(bill) == [
        ("energy_sharp", D(15), D("17.70")),
        ("energy_peak", D(50), D("52.50")),
        ("energy_flat", D("40.5"), D("26.33")),
        ("energy_valley", D("24.5"), D("7.84")),
        ("fund_gov_fund", D(130), D("3.77")),
    ]
    assert bill.amount == D("108.14") and bill.kwh_total == D(130)


def test_large_industry_by_capacity_with_power_factor(world, route):
    acct = world.accts[2]
    two_part(acct, kva="400")
    # 10,000 kWh and 7,500 kvarh: PF = 10000 / √(10000² + 7500²) = 10000 / 12500 = 0.80 → +5.0 % (10 × 0.5 %)
    tou_read(acct, at(2026, 10, 5), sharp="1000", peak="3000", flat="4000", valley="2000", kvarh="7500")
    services.billing_run_execute(start(route).pk)
    bill = Bill.objects.get(account=acct)
    # basic 400 × 30 = 12,000; 1000 × 1.14 = 1,140; 3000 × 0.95 = 2,850; 4000 × 0.62 = 2,480; 2000 × 0.30 = 600
    # adjusted base 19,070 × 5 % = 953.50; fund 10,000 × 0.029 = 290; total 19,070 + 953.50 + 290 = 20,313.50
    assert lines(bill) == [
        ("basic_capacity", D(400), D("12000.00")),
        ("energy_sharp", D(1000), D("1140.00")),
        ("energy_peak", D(3000), D("2850.00")),
        ("energy_flat", D(4000), D("2480.00")),
        ("energy_valley", D(2000), D("600.00")),
        ("pf_adjust", D("19070"), D("953.50")),
        ("fund_gov_fund", D(10000), D("290.00")),
    ]
    assert bill.amount == D("20313.50")
    assert (bill.power_factor, bill.kvarh, bill.max_demand_kw) == (D("0.80"), D(7500), None)


def test_large_industry_by_maximum_demand(world, route):
    acct = world.accts[2]
    two_part(acct, by_demand=True)
    # Two reads; the period's demand is the larger, 310.5 kW; no reactive energy: PF 1.00 → −0.75 %
    tou_read(
        acct, at(2026, 10, 5), sharp="500", peak="1500", flat="2000", valley="1000", kvarh="0", demand="250"
    )
    tou_read(
        acct,
        at(2026, 10, 25),
        sharp="500",
        peak="1500",
        flat="2000",
        valley="1000",
        kvarh="0",
        demand="310.5",
    )
    services.billing_run_execute(start(route).pk)
    bill = Bill.objects.get(account=acct)
    # basic 310.5 × 40 = 12,420; energy as above 7,070; base 19,490 × −0.75 % = −146.175 → −146.18 (half away from 0)
    # total 19,490 − 146.18 + 290 = 19,633.82
    assert lines(bill)[0] == ("basic_demand", D("310.5"), D("12420.00"))
    assert lines(bill)[5] == ("pf_adjust", D("19490"), D("-146.18"))
    assert (
        bill.amount == D("19633.82") and bill.max_demand_kw == D("310.5") and bill.power_factor == D("1.00")
    )


@pytest.mark.parametrize(
    "setup, read_kw, message",
    [
        ("RES-TIER-TOU", {}, "没有分时段电量"),  # a read without TOU kWh under a TOU tariff
        ("LI", {"sharp": "1", "peak": "1", "flat": "1", "valley": "1"}, "无功电量"),  # no kvarh for the PF
        ("LI-DEMAND", {"sharp": "1", "peak": "1", "flat": "1", "valley": "1", "kvarh": "1"}, "最大需量"),
    ],
)
def test_missing_meter_data_is_an_exception(world, route, setup, read_kw, message):
    acct = world.acct_a
    if setup == "RES-TIER-TOU":
        acct.service_points.update(tariff_code="RES-TIER-TOU")
        MeterRead.objects.create(
            meter=Meter.objects.get(service_point__account=acct),
            account=acct,
            unit=acct.unit,
            read_at=at(2026, 10, 5),
            total=D("1100"),
            consumption=D("100"),
            created_at=timezone.now(),
        )
    else:
        two_part(acct, by_demand=setup == "LI-DEMAND")
        tou_read(acct, at(2026, 10, 5), **read_kw)
    run = services.billing_run_execute(start(route).pk)
    exc = BillingException.objects.get(run=run, account=acct)
    assert exc.reason == "meter_data" and message in exc.message
    assert not Bill.objects.filter(account=acct).exists()


def test_move_in_prorates_the_basic_charge(world, route):
    acct = world.accts[2]
    two_part(acct, kva="400")
    acct.opened_on = date(2026, 10, 11)  # 11–31 October: 21 of 31 days
    acct.save()
    tou_read(acct, at(2026, 10, 25), sharp="1000", peak="3000", flat="4000", valley="2000", kvarh="7500")
    services.billing_run_execute(start(route).pk)
    bill = Bill.objects.get(account=acct)
    # basic 400 × 30 × 21 / 31 = 8,129.032… → 8,129.03; base 8,129.03 + 7,070 = 15,199.03; × 5 % = 759.9515 → 759.95
    # total 15,199.03 + 759.95 + 290 = 16,248.98
    first = bill.lines.first()
    assert (first.code, first.amount, first.part_start, first.part_end) == (
        "basic_capacity",
        D("8129.03"),
        date(2026, 10, 11),
        date(2026, 10, 31),
    )
    assert "21/31" in first.note
    assert bill.amount == D("16248.98") and (bill.period_start, bill.period_end) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
    )


def test_move_out_rates_only_the_days_held_and_closed_accounts_are_skipped(world, route):
    leaving, gone = world.accts[1], world.accts[2]
    leaving.closed_on = date(2026, 10, 20)
    leaving.save()
    gone.closed_on = date(2026, 9, 15)  # closed before the period: no bill and no exception
    gone.save()
    tou_read(
        leaving, at(2026, 10, 20, 8), peak="150"
    )  # RES-TIER: 150 × 0.538 = 80.70, lines end on 20 October
    run = services.billing_run_execute(start(route).pk)
    bill = Bill.objects.get(account=leaving)
    assert bill.amount == D("80.70") and bill.lines.get().part_end == date(2026, 10, 20)
    assert not Bill.objects.filter(account=gone).exists()
    assert not BillingException.objects.filter(run=run, account=gone).exists()
    # 4 accounts: 1 billed (leaving), 1 skipped (gone), 2 without reads (exceptions): nothing unaccounted for
    assert (run.total_count, run.billed_count, run.skipped_count, run.exception_count) == (4, 1, 1, 2)
    with pytest.raises(ValidationError):  # nor can a cancelled bill of such an account be re-rated
        Bill.objects.create(
            account=gone,
            unit=gone.unit,
            period_start=date(2026, 10, 1),
            period_end=date(2026, 10, 31),
            tariff_code="RES-TIER",
            kwh_total=D(0),
            amount=D(0),
            created_at=timezone.now(),
        )
        services.bill_cancel_rebill(actor=SYSTEM, bill=Bill.objects.get(account=gone), reason="测试")


def test_line_text_with_tabs_and_backslashes_is_stored_as_is(world, route):
    """The run writes lines with COPY on PostgreSQL: text from the catalogue must survive its escaping."""
    from gridcare.billing.models import Tariff, TariffVersion

    tariff = Tariff.objects.create(
        code="ODD\\1", name="x", kind="commercial_flat", customer_class="commercial"
    )
    label = "基金\t附加\\说明\n第二行"
    TariffVersion.objects.create(
        tariff=tariff,
        valid_from=date(2020, 1, 1),
        parameters={"energy_price": "0.5", "funds": [{"code": "odd", "label": label, "price": "0.01"}]},
    )
    acct = world.acct_a
    acct.service_points.update(tariff_code="ODD\\1")
    tou_read(acct, at(2026, 10, 5), flat="100")
    services.billing_run_execute(start(route).pk)
    bill = Bill.objects.get(account=acct)
    assert bill.tariff_code == "ODD\\1"
    assert [(ln.label, ln.amount) for ln in bill.lines.all()][1] == (label, D("1.00"))  # 100 × 0.01


def test_new_account_with_only_its_installation_read_is_skipped_not_an_exception(world, route):
    acct = world.accts[3]
    acct.opened_on = date(2026, 10, 12)
    acct.save()
    MeterRead.objects.create(  # the installation read: no consumption yet
        meter=Meter.objects.get(service_point__account=acct),
        account=acct,
        unit=acct.unit,
        read_at=at(2026, 10, 12),
        total=D("0"),
        consumption=None,
        created_at=timezone.now(),
    )
    run = services.billing_run_execute(start(route).pk)
    assert not BillingException.objects.filter(run=run, account=acct).exists()
    assert run.skipped_count == 1 and not Bill.objects.filter(account=acct).exists()
    # An account opened before the period without a read is still an exception (nobody read its meter).
    assert BillingException.objects.get(run=run, account=world.acct_a).reason == "no_read"
