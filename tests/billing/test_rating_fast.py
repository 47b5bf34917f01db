"""The billing run's integer rater (`rating.compile_prepared` / `Compiled.rate`) against the reference engine
(`rating.rate_prepared`): for every tariff of the demo catalogue and of the test fixtures, and more shapes
(monthly and three-step tiers, several funds, four-decimal prices), on any usage, either the reference refuses
the input and the integer rater declines it, or both give the same lines (code, label, quantity, unit price,
amount, part dates, note), the same parts and the same total, down to the text of every amount. Then a billing
run over a varied set of accounts, once with the integer rater and once without, writes the same bills and
lines (on PostgreSQL through COPY, on SQLite through bulk_create)."""

import importlib
import random
from datetime import date
from decimal import Decimal as D

import pytest
from django.apps import apps
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gridcare.billing import rating, runs, services
from gridcare.billing.models import Bill, BillingException, BillLine, BillStatus, Tariff, TariffVersion
from gridcare.billing.rating import (
    TOU_PERIODS,
    RatingError,
    Usage,
    VersionSpan,
    compile_prepared,
    line_labels,
    parse_params,
    prepare,
    rate_prepared,
)
from gridcare.metering.choices import ReadSource, ReadStatus
from tests.billing.test_runs import SYSTEM, at, start
from tests.billing.test_runs_tou import tou_read
from tests.factories import CustomerFactory, make_account

CATALOGUE = importlib.import_module("gridcare.billing.migrations.0002_demo_catalogue").CATALOGUE
FUND = {"code": "gov_fund", "label": "政府性基金及附加", "price": "0.029"}
EXTRA = {
    "MONTHLY-3": {
        "energy_price": "0.5383",
        "tiers": {
            "basis": "monthly",
            "thresholds": ["180", "280.5", "400"],
            "surcharges": ["0.05", "0.3", "0.0001"],
        },
        "funds": [FUND, {"code": "rural", "label": "农网还贷资金", "price": "0.0195"}],
    },
    "TOU-SOME": {"tou_prices": {"peak": "0.6173", "flat": "0.5", "valley": "0.3333"}, "funds": [FUND]},
    "TOU-TIER-MONTHLY": {
        "tou_prices": {"sharp": "1.2", "peak": "0.9", "flat": "0.6", "valley": "0.3"},
        "tiers": {"basis": "monthly", "thresholds": ["50"], "surcharges": ["0.1"]},
    },
    "ODD": {
        "energy_price": "0.5",
        "funds": [{"code": "odd", "label": "基金\t附加\\说明\n第二行", "price": "0.01"}],
    },
    "FREE": {"energy_price": "0"},
}
TARIFFS = {code: params for code, _name, _kind, _klass, _desc, params in CATALOGUE} | EXTRA
COMPILED = [code for code, params in TARIFFS.items() if "basic" not in params and "pf_target" not in params]
MONTHS = [(date(2025, 3, 1), date(2025, 3, 31)), (date(2026, 12, 1), date(2026, 12, 31))]


def plan_of(code, month=0):
    period_start, period_end = MONTHS[month]
    span = VersionSpan(date(2020, 1, 1), None, parse_params(TARIFFS[code]), label=f"{code}@2020-01-01")
    return prepare(
        versions=[span],
        period_start=period_start,
        period_end=period_end,
        month_days=(period_end - period_start).days + 1,
    )


def units(n):
    return D(n).scaleb(-2)


def same(fast, ref):
    """Everything a bill keeps of a rating, compared as values and as the text of the money."""
    assert fast is not None
    assert [tuple(ln) for ln in fast.lines] == [tuple(ln) for ln in ref.lines]
    assert [str(ln.amount) for ln in fast.lines] == [str(ln.amount) for ln in ref.lines]
    assert [tuple(p) for p in fast.parts] == [tuple(p) for p in ref.parts]
    assert fast.total == ref.total and str(fast.total) == str(ref.total)


centi_kwh = st.one_of(
    st.integers(min_value=0, max_value=2_000_000),  # up to 20,000 kWh
    st.integers(min_value=0, max_value=300),
    st.sampled_from([0, 1, 49, 50, 51, 5000, 18000, 28050, 40000, 276000, 480000]),
)


@pytest.mark.parametrize("month", [0, 1])
@pytest.mark.parametrize("code", COMPILED)
@settings(max_examples=150, deadline=None)
@given(
    kwh=centi_kwh,
    periods=st.lists(st.one_of(st.none(), centi_kwh), min_size=4, max_size=4),
    ytd=st.one_of(centi_kwh, st.integers(min_value=0, max_value=1_000_000)),
    near=st.integers(min_value=-3, max_value=3),
)
@example(kwh=0, periods=[None, 0, None, 0], ytd=0, near=0)  # a TOU bill without kWh: zero lines
@example(kwh=100, periods=[None, None, None, None], ytd=0, near=0)  # no TOU kWh at all: refused
@example(kwh=100, periods=[100, None, None, None], ytd=275_950, near=0)  # a period the tariff may not price
@example(kwh=20000, periods=[None, 15000, None, 5000], ytd=266_000, near=0)  # ends exactly on 2,760 kWh
def test_integer_rater_matches_the_engine(code, month, kwh, periods, ytd, near):
    plan = plan_of(code, month)
    compiled = compile_prepared(plan)
    assert compiled is not None
    if near:  # put the year's kWh around a tier bound, where the rounding and the cut matter
        bounds = plan.spans[0][2].params.tiers
        if bounds is not None:
            ytd = max(0, int(bounds.thresholds[0] * 100) - kwh + near)
    if compiled.tou:
        given_periods = {p: units(q) for p, q in zip(TOU_PERIODS, periods, strict=True) if q is not None}
        usage = Usage(sum(given_periods.values(), D("0.00")), given_periods)
        kwh = sum(q for q in periods if q is not None)
        fast = compiled.rate(kwh, tuple(periods), ytd)
    else:
        usage = Usage(units(kwh))
        fast = compiled.rate(kwh, None, ytd)
    try:
        ref = rate_prepared(plan, usage, ytd_kwh_before=units(ytd), labels=line_labels())
    except RatingError:
        assert fast is None  # the reference's error stands
        return
    same(fast, ref)


def test_integer_rater_declines_what_it_does_not_cover():
    assert compile_prepared(plan_of("LI-TWO-PART")) is None  # basic charge and power factor
    versions = [
        VersionSpan(date(2020, 1, 1), date(2025, 3, 15), parse_params(TARIFFS["COM-FLAT"])),
        VersionSpan(date(2025, 3, 16), None, parse_params({"energy_price": "0.7"})),
    ]
    assert (
        compile_prepared(prepare(versions=versions, period_start=MONTHS[0][0], period_end=MONTHS[0][1]))
        is None
    )
    span = [VersionSpan(date(2020, 1, 1), None, parse_params(TARIFFS["RES-TIER"]))]
    moved_in = prepare(
        versions=span, period_start=date(2025, 3, 12), period_end=date(2025, 3, 31), month_days=31
    )
    assert compile_prepared(moved_in) is None  # fewer days than its month
    year_end = prepare(versions=span, period_start=date(2025, 12, 17), period_end=date(2026, 1, 15))
    assert compile_prepared(year_end) is None  # cut at 1 January
    fine = VersionSpan(date(2020, 1, 1), None, rating.TariffParams(energy_price=D("0.53835")))
    assert (
        compile_prepared(prepare(versions=[fine], period_start=MONTHS[0][0], period_end=MONTHS[0][1])) is None
    )
    compiled = compile_prepared(plan_of("RES-TIER"))
    assert compiled.rate(-1, None, 0) is None  # negative kWh: the reference refuses it


# ---------------------------------------------------------------- a run, with and without the integer rater


@pytest.fixture
def varied(world, route):
    """40 accounts on the route over every tariff kind, with the reads and year-to-date kWh that exercise them:
    tier crossings, TOU periods missing or zero, no kWh, estimated reads, move-in, basic charge by capacity
    and by demand with power factor, a tariff with tabs and backslashes in a label, and one with no version."""
    if not Tariff.objects.exists():  # a transactional test before this one flushed it
        importlib.import_module("gridcare.billing.migrations.0002_demo_catalogue").load(apps, None)
    for code, params in EXTRA.items():
        tariff = Tariff.objects.create(
            code=code, name=code, kind="commercial_flat", customer_class="commercial"
        )
        TariffVersion.objects.create(tariff=tariff, valid_from=date(2020, 1, 1), parameters=params)
    rnd = random.Random(20261007)  # noqa: S311 — test data
    accts = list(world.accts)
    for n in range(36):
        acct = make_account(CustomerFactory(unit=world.station_a), f"31000002{n:02d}", world.area_a)
        route.memberships.create(account=acct, sequence=10 + n)
        accts.append(acct)
    codes = [*TARIFFS, "NO-SUCH"]
    for n, acct in enumerate(accts):
        code = codes[n % len(codes)]
        by_demand = code == "LI-TWO-PART" and n % 2 == 0
        acct.service_points.update(
            tariff_code=code, contract_capacity_kva=D("315"), basic_by_demand=by_demand
        )
        if n % 3 == 0:  # the year so far, some right under a tier bound
            Bill.objects.create(
                account=acct,
                unit=acct.unit,
                period_start=date(2026, 9, 1),
                period_end=date(2026, 9, 30),
                tariff_code=code,
                kwh_total=D(rnd.choice(["2700", "2759.99", "2760", "4799.5", "120.07"])),
                amount=D("0"),
                status=BillStatus.ISSUED,
                created_at=timezone.now(),
            )
        if n == 7:
            acct.opened_on = date(2026, 10, 12)  # moved in: rated over its own days
            acct.save()
        params = TARIFFS.get(code, {})
        prices = params.get("tou_prices") or {"flat": "1"}
        for r in range(1 + n % 2):
            kwh = {p: D(rnd.randrange(0, 90_000)).scaleb(-2) for p in prices}
            if n % 5 == 1:
                kwh = dict.fromkeys(prices, D("0"))
            tou = {} if "energy_price" in params else kwh
            read = tou_read(
                acct,
                at(2026, 10, 13 + r * 5),
                **tou,
                kvarh=D(rnd.randrange(0, 40_000)).scaleb(-2),
                demand=D(rnd.randrange(1, 9_000)).scaleb(-1),
            )
            if "energy_price" in params:
                read.consumption = sum(kwh.values(), D(0))
                read.kwh_flat = None
            if n % 4 == 2:
                read.source = ReadSource.ESTIMATED
                read.status = ReadStatus.ESTIMATED
            read.save()
    return accts


def snapshot(run):
    """Every column of the run's bills, lines and exceptions but ids and times, by account."""
    bills = sorted(
        tuple(sorted((k, v) for k, v in b.items() if k not in ("id", "run_id", "created_at")))
        for b in Bill.objects.filter(run=run).values()
    )
    lines = sorted(
        (ln.bill.account_id, ln.seq, ln.code, ln.label, ln.quantity, ln.unit_price, ln.amount)
        + (ln.part_start, ln.part_end, ln.note)
        for ln in BillLine.objects.filter(bill__run=run).select_related("bill")
    )
    exceptions = sorted(
        BillingException.objects.filter(run=run).values_list("account_id", "reason", "message")
    )
    return bills, lines, exceptions


def test_a_run_bills_the_same_with_and_without_the_integer_rater(varied, route, monkeypatch):
    rated = []
    real = rating.Compiled.rate

    def counting(self, *a):
        result = real(self, *a)
        rated.append(result is not None)
        return result

    monkeypatch.setattr(rating.Compiled, "rate", counting)
    run = services.billing_run_execute(start(route).pk, chunk_size=7)
    fast = snapshot(run)
    services.billing_run_delete(actor=SYSTEM, run=run)
    monkeypatch.setattr(runs, "compile_prepared", lambda *a, **k: None)
    run = services.billing_run_execute(start(route).pk, chunk_size=7)
    reference = snapshot(run)
    bills, lines, exceptions = fast
    assert len(bills) >= 30 and len(lines) >= 80 and exceptions  # the set is varied
    assert {dict(b)["tariff_code"] for b in bills} == set(TARIFFS)
    assert sum(rated) >= 25 and len(rated) == sum(rated)  # most bills went through the integer rater
    assert fast[0] == reference[0]
    assert fast[1] == reference[1]
    assert fast[2] == reference[2]
