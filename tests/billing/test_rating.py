"""The rating engine on hand-computed bills (arithmetic in the comments, never the engine's output)."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridcare.billing.pf_table import adjustment_percent
from gridcare.billing.rating import (
    RatingError,
    Usage,
    VersionSpan,
    parse_params,
    rate,
    split_by_days,
    tier_quantities,
)

RES_TIERS = {"basis": "annual", "thresholds": ["2760", "4800"], "surcharges": ["0.05", "0.30"]}
RES_TIER = {"energy_price": "0.538", "tiers": RES_TIERS}
RES_TIER_TOU = {"tou_prices": {"peak": "0.568", "valley": "0.288"}, "tiers": RES_TIERS}
FUND = {"code": "gov_fund", "label": "政府性基金及附加", "price": "0.029"}
COM_FLAT = {"energy_price": "0.65", "funds": [FUND]}
COM_TOU = {"tou_prices": {"sharp": "1.18", "peak": "1.05", "flat": "0.65", "valley": "0.32"}, "funds": [FUND]}
LI = {
    "tou_prices": {"sharp": "1.14", "peak": "0.95", "flat": "0.62", "valley": "0.30"},
    "basic": {"per_kva": "30", "per_kw": "40"},
    "pf_target": "0.90",
    "funds": [FUND],
}
MARCH = (date(2025, 3, 1), date(2025, 3, 31))


def bill(params, start=MARCH[0], end=MARCH[1], *, ytd=D(0), **kw):
    usage = Usage.of(**{k: D(str(v)) for k, v in kw.pop("kwh").items()})
    span = VersionSpan(date(2020, 1, 1), None, parse_params(params))
    return rate(versions=[span], period_start=start, period_end=end, usage=usage, ytd_kwh_before=ytd, **kw)


def amounts(result):
    return [(ln.code, ln.amount) for ln in result.lines]


# ---------------------------------------------------------------- residential tiers


def test_res_tier_below_tier_one():
    r = bill(RES_TIER, kwh={"total": 200})
    # 200 × 0.538 = 107.60; ytd 0 → all in tier 1, no surcharge
    assert amounts(r) == [("energy", D("107.60"))]
    assert r.total == D("107.60")


def test_res_tier_crossing_into_tier_two():
    r = bill(RES_TIER, kwh={"total": 200}, ytd=D(2700))
    # (2700, 2900]: 60 kWh tier 1, 140 kWh tier 2 → 200 × 0.538 = 107.60, 140 × 0.05 = 7.00
    assert amounts(r) == [("energy", D("107.60")), ("tier2", D("7.00"))]
    assert r.lines[1].quantity == D(140)
    assert r.total == D("114.60")


def test_res_tier_crossing_both_thresholds():
    r = bill(RES_TIER, kwh={"total": 2200}, ytd=D(2700))
    # (2700, 4900]: tier 2 = 4800 − 2760 = 2040, tier 3 = 4900 − 4800 = 100
    # 2200 × 0.538 = 1183.60; 2040 × 0.05 = 102.00; 100 × 0.30 = 30.00 → 1315.60
    assert amounts(r) == [("energy", D("1183.60")), ("tier2", D("102.00")), ("tier3", D("30.00"))]
    assert r.total == D("1315.60")


def test_new_year_split_by_days_and_ytd_reset():
    # Days inclusive: 2025-12-17..12-31 = 15 days, 2026-01-01..01-15 = 15 days, 30 in all.
    r = bill(RES_TIER, date(2025, 12, 17), date(2026, 1, 15), kwh={"total": 300}, ytd=D(4790))
    # December: 300 × 15/30 = 150.00 kWh, ytd 4790 → 4940: tier 2 = 10, tier 3 = 140
    #   150 × 0.538 = 80.70; 10 × 0.05 = 0.50; 140 × 0.30 = 42.00
    # January: the remainder 150.00 kWh, ytd reset to 0 → tier 1 only: 150 × 0.538 = 80.70
    assert amounts(r) == [
        ("energy", D("80.70")),
        ("tier2", D("0.50")),
        ("tier3", D("42.00")),
        ("energy", D("80.70")),
    ]
    assert [(p.start, p.end, p.days, p.kwh, p.ytd_before) for p in r.parts] == [
        (date(2025, 12, 17), date(2025, 12, 31), 15, D("150.00"), D(4790)),
        (date(2026, 1, 1), date(2026, 1, 15), 15, D("150.00"), D(0)),
    ]
    assert r.total == D("203.90")


def test_new_year_split_rounds_kwh_to_hundredths_remainder_to_last():
    r = bill(RES_TIER, date(2025, 12, 31), date(2026, 1, 2), kwh={"total": 100})
    # 1 day of 3 in 2025: 100/3 = 33.333… → 33.33; 2026 gets the rest 66.67
    assert [p.kwh for p in r.parts] == [D("33.33"), D("66.67")]
    # 33.33 × 0.538 = 17.93154 → 17.93; 66.67 × 0.538 = 35.86846 → 35.87
    assert amounts(r) == [("energy", D("17.93")), ("energy", D("35.87"))]
    assert r.total == D("53.80")


def test_monthly_tiers_ignore_ytd():
    params = {
        "energy_price": "0.538",
        "tiers": {"basis": "monthly", "thresholds": ["230", "400"], "surcharges": ["0.05", "0.30"]},
    }
    r = bill(params, kwh={"total": 450}, ytd=D(5000))
    # 450 kWh this month: tier 2 = 400 − 230 = 170, tier 3 = 50
    # 450 × 0.538 = 242.10; 170 × 0.05 = 8.50; 50 × 0.30 = 15.00 → 265.60
    assert amounts(r) == [("energy", D("242.10")), ("tier2", D("8.50")), ("tier3", D("15.00"))]
    assert r.total == D("265.60")


def test_res_tier_tou_peak_valley_first_then_tiers():
    r = bill(RES_TIER_TOU, kwh={"peak": 120, "valley": 80}, ytd=D(2700))
    # 先峰谷: 120 × 0.568 = 68.16; 80 × 0.288 = 23.04
    # 后阶梯: total 200 from ytd 2700 → 140 kWh in tier 2 × 0.05 = 7.00 → 98.20
    assert amounts(r) == [("energy_peak", D("68.16")), ("energy_valley", D("23.04")), ("tier2", D("7.00"))]
    assert r.total == D("98.20")


def test_tou_tariff_refuses_total_only():
    with pytest.raises(RatingError) as e:
        bill(RES_TIER_TOU, kwh={"total": 200})
    assert "kwh" in e.value.errors


# ---------------------------------------------------------------- commercial


def test_commercial_flat_with_fund_line():
    r = bill(COM_FLAT, kwh={"total": 1000})
    # 1000 × 0.65 = 650.00; 政府性基金及附加 1000 × 0.029 = 29.00 → 679.00
    assert amounts(r) == [("energy", D("650.00")), ("fund_gov_fund", D("29.00"))]
    assert r.lines[1].label == "政府性基金及附加"
    assert r.total == D("679.00")


def test_commercial_tou():
    r = bill(COM_TOU, kwh={"sharp": 100, "peak": 300, "flat": 400, "valley": 200})
    # 100 × 1.18 = 118.00; 300 × 1.05 = 315.00; 400 × 0.65 = 260.00; 200 × 0.32 = 64.00
    # fund on all 1000 kWh × 0.029 = 29.00 → 786.00
    assert amounts(r) == [
        ("energy_sharp", D("118.00")),
        ("energy_peak", D("315.00")),
        ("energy_flat", D("260.00")),
        ("energy_valley", D("64.00")),
        ("fund_gov_fund", D("29.00")),
    ]
    assert r.total == D("786.00")


# ---------------------------------------------------------------- large industry two-part

LI_KWH = {"peak": 40000, "flat": 50000, "valley": 30000}


@pytest.mark.parametrize(
    ("pf", "pf_amount", "total"),
    [
        # basic 1000 kVA × 30 = 30000.00; energy 40000 × 0.95 = 38000.00, 50000 × 0.62 = 31000.00,
        # 30000 × 0.30 = 9000.00 → base 108000.00; fund 120000 × 0.029 = 3480.00
        (D("0.95"), D("-810.00"), D("110670.00")),  # −0.75 % × 108000 = −810.00
        (D("0.90"), D("0.00"), D("111480.00")),  # 0
        (D("0.85"), D("2700.00"), D("114180.00")),  # +2.5 % (5 × 0.5 %)
        (D("0.62"), D("22680.00"), D("134160.00")),  # 0.70 +10, 0.65 +15, 0.62 +21 %
        (D("0.854"), D("2700.00"), D("114180.00")),  # rounds half-up to 0.85
        (D("0.855"), D("2160.00"), D("113640.00")),  # rounds half-up to 0.86 → +2.0 %
    ],
)
def test_large_industry_capacity_basic_and_pf(pf, pf_amount, total):
    r = bill(LI, kwh=LI_KWH, capacity_kva=D(1000), power_factor=pf)
    assert amounts(r) == [
        ("basic_capacity", D("30000.00")),
        ("energy_peak", D("38000.00")),
        ("energy_flat", D("31000.00")),
        ("energy_valley", D("9000.00")),
        ("pf_adjust", pf_amount),
        ("fund_gov_fund", D("3480.00")),
    ]
    assert r.total == total


def test_large_industry_max_demand_basic():
    r = bill(LI, kwh=LI_KWH, max_demand_kw=D(800), capacity_kva=D(1000), power_factor=D("0.90"))
    # By demand when given: 800 kW × 40 = 32000.00; energy 78000.00; PF 0.90 → 0; fund 3480.00
    assert amounts(r)[0] == ("basic_demand", D("32000.00"))
    assert r.total == D("113480.00")


@pytest.mark.parametrize("missing", ["capacity", "pf"])
def test_large_industry_needs_capacity_and_pf(missing):
    kw = {"capacity_kva": D(1000), "power_factor": D("0.9")}
    kw.pop("capacity_kva" if missing == "capacity" else "power_factor")
    with pytest.raises(RatingError) as e:
        bill(LI, kwh=LI_KWH, **kw)
    assert ("capacity_kva" if missing == "capacity" else "power_factor") in e.value.errors


@pytest.mark.parametrize(
    ("target", "pf", "pf_amount"),
    [
        # energy 10000 × 1.00 = 10000.00 is the whole base
        ("0.85", "0.96", D("-110.00")),  # 0.94–1.00 → −1.10 %
        ("0.85", "0.90", D("-50.00")),  # −0.50 %
        ("0.85", "0.80", D("250.00")),  # 5 × 0.5 % = +2.5 %
        ("0.85", "0.62", D("1300.00")),  # 0.65 +10 %, then 3 × 1 % → +13 %
        ("0.80", "0.93", D("-130.00")),  # 0.92–1.00 → −1.30 %
        ("0.80", "0.91", D("-115.00")),  # −1.15 %
        ("0.80", "0.70", D("500.00")),  # 10 × 0.5 % = +5 %
        ("0.80", "0.53", D("1900.00")),  # 0.60 +10, 0.55 +15, 0.53 +19 %
    ],
)
def test_pf_targets_085_and_080(target, pf, pf_amount):
    r = bill({"energy_price": "1.00", "pf_target": target}, kwh={"total": 10000}, power_factor=D(pf))
    assert amounts(r) == [("energy", D("10000.00")), ("pf_adjust", pf_amount)]


# The national table written out row by row (percent; negative = 减收).
TABLE_090 = {
    "1.00": "-0.75",
    "0.95": "-0.75",
    "0.94": "-0.60",
    "0.93": "-0.45",
    "0.92": "-0.30",
    "0.91": "-0.15",
    "0.90": "0",
    "0.89": "0.5",
    "0.80": "5",
    "0.71": "9.5",
    "0.70": "10",
    "0.69": "11",
    "0.65": "15",
    "0.64": "17",
    "0.63": "19",
    "0.62": "21",
    "0.60": "25",
}
TABLE_085 = {
    "1.00": "-1.10",
    "0.94": "-1.10",
    "0.93": "-0.95",
    "0.92": "-0.80",
    "0.91": "-0.65",
    "0.90": "-0.50",
    "0.89": "-0.40",
    "0.88": "-0.30",
    "0.87": "-0.20",
    "0.86": "-0.10",
    "0.85": "0",
    "0.84": "0.5",
    "0.65": "10",
    "0.64": "11",
    "0.60": "15",
    "0.59": "17",
}
TABLE_080 = {
    "0.99": "-1.30",
    "0.92": "-1.30",
    "0.91": "-1.15",
    "0.90": "-1.00",
    "0.89": "-0.90",
    "0.85": "-0.50",
    "0.81": "-0.10",
    "0.80": "0",
    "0.79": "0.5",
    "0.60": "10",
    "0.59": "11",
    "0.55": "15",
    "0.54": "17",
}


@pytest.mark.parametrize(
    ("target", "pf", "percent"),
    [
        (t, pf, pc)
        for t, table in (("0.90", TABLE_090), ("0.85", TABLE_085), ("0.80", TABLE_080))
        for pf, pc in table.items()
    ],
)
def test_pf_table_rows(target, pf, percent):
    assert adjustment_percent(D(target), D(pf)) == D(percent)


# ---------------------------------------------------------------- rounding


def test_line_rounds_half_up_at_third_decimal():
    r = bill(RES_TIER, kwh={"total": "12.5"})
    # 12.5 × 0.538 = 6.725 → 6.73 half-up (banker's rounding would give 6.72)
    assert r.lines[0].amount == D("6.73")


def test_total_is_sum_of_rounded_lines():
    params = {"energy_price": "0.105", "funds": [{"code": "f", "label": "附加", "price": "0.105"}]}
    r = bill(params, kwh={"total": 1})
    # each line 0.105 → 0.11; total 0.22 (rounding the unrounded sum 0.21 would differ)
    assert amounts(r) == [("energy", D("0.11")), ("fund_f", D("0.11"))]
    assert r.total == D("0.22")


# ---------------------------------------------------------------- proration on a version change


def test_proration_on_version_change():
    a = VersionSpan(date(2025, 1, 1), date(2025, 6, 15), parse_params({"energy_price": "0.50"}))
    b = VersionSpan(date(2025, 6, 16), None, parse_params({"energy_price": "0.60"}))
    r = rate(
        versions=[b, a],
        period_start=date(2025, 6, 1),
        period_end=date(2025, 6, 30),
        usage=Usage.of(total=D(301)),
    )
    # 15 days each: 301 × 15/30 = 150.50 kWh per part
    # 150.50 × 0.50 = 75.25; 150.50 × 0.60 = 90.30 → 165.55
    assert amounts(r) == [("energy", D("75.25")), ("energy", D("90.30"))]
    assert (r.lines[0].part_end, r.lines[1].part_start) == (date(2025, 6, 15), date(2025, 6, 16))
    assert r.total == D("165.55")


def test_gap_in_versions_is_refused():
    a = VersionSpan(date(2025, 1, 1), date(2025, 6, 10), parse_params({"energy_price": "0.50"}))
    with pytest.raises(RatingError) as e:
        rate(
            versions=[a],
            period_start=date(2025, 6, 1),
            period_end=date(2025, 6, 30),
            usage=Usage.of(total=D(1)),
        )
    assert "period_start" in e.value.errors


# ---------------------------------------------------------------- parameters and input


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"energy_price": "-0.1"}, "params.energy_price"),
        ({}, "params.energy_price"),
        ({"energy_price": "0.5", "tou_prices": {"peak": "1"}}, "params.energy_price"),
        ({"tou_prices": {"noon": "1"}}, "params.tou_prices.noon"),
        ({"energy_price": "0.5", "pf_target": "0.95"}, "params.pf_target"),
        (
            {"energy_price": "0.5", "tiers": {"thresholds": ["4800", "2760"], "surcharges": ["0.05", "0.3"]}},
            "params.tiers.thresholds",
        ),
        (
            {"energy_price": "0.5", "funds": [{"code": "x", "label": "x", "price": "-1"}]},
            "params.funds.0.price",
        ),
        ({"energy_price": "abc"}, "params.energy_price"),
    ],
)
def test_bad_parameters(params, field):
    with pytest.raises(RatingError) as e:
        parse_params(params)
    assert field in e.value.errors


def test_negative_kwh_refused():
    with pytest.raises(RatingError) as e:
        Usage.of(total=D(-1))
    assert "kwh.total" in e.value.errors


# ---------------------------------------------------------------- properties

kwh = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)


@given(kwh, st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=4))
def test_split_sums_to_quantity(q, days):
    shares = split_by_days(q, days)
    assert sum(shares) == q and all(s >= 0 for s in shares)


@given(kwh, kwh)
def test_tiers_sum_to_kwh(ytd, q):
    assert sum(tier_quantities(ytd, q, [D(2760), D(4800)])) == q


@given(kwh, kwh, st.integers(min_value=0, max_value=60))
def test_total_is_sum_of_lines_and_lines_are_cents(q, ytd, extra_days):
    r = bill(
        RES_TIER, date(2025, 12, 1), date(2025, 12, 1) + timedelta(days=extra_days), kwh={"total": q}, ytd=ytd
    )
    assert r.total == sum(ln.amount for ln in r.lines)
    assert all(ln.amount == ln.amount.quantize(D("0.01")) for ln in r.lines)
    assert sum(p.kwh for p in r.parts) == q


def test_part_month_scales_monthly_tiers_and_basic_charge():
    """Move-in on 17 March: 15 of 31 days. Monthly thresholds 230 / 400 become 230 × 15/31 = 111.29… → 111.29 and
    400 × 15/31 = 193.548… → 193.55; 200 kWh: tier 2 = 193.55 − 111.29 = 82.26 kWh × 0.05 = 4.113 → 4.11,
    tier 3 = 200 − 193.55 = 6.45 kWh × 0.30 = 1.935 → 1.94; energy 200 × 0.5 = 100.00; total 106.05."""
    params = {
        "energy_price": "0.5",
        "tiers": {"basis": "monthly", "thresholds": ["230", "400"], "surcharges": ["0.05", "0.30"]},
    }
    r = bill(params, date(2025, 3, 17), date(2025, 3, 31), kwh={"total": 200}, month_days=31)
    assert [(ln.code, ln.quantity, ln.amount) for ln in r.lines] == [
        ("energy", D(200), D("100.00")),
        ("tier2", D("82.26"), D("4.11")),
        ("tier3", D("6.45"), D("1.94")),
    ]
    assert r.total == D("106.05")
    # Two-part: the month's basic charge 315 kVA × 30 = 9,450 shared 15/31 = 4,572.580… → 4,572.58
    r = bill(
        LI,
        date(2025, 3, 17),
        date(2025, 3, 31),
        kwh={"peak": 0},
        capacity_kva=D(315),
        power_factor=D("0.9"),
        month_days=31,
    )
    assert (r.lines[0].code, r.lines[0].amount) == ("basic_capacity", D("4572.58"))
    # Without month_days the same 15 days are a whole bill: the full 9,450.
    r = bill(
        LI, date(2025, 3, 17), date(2025, 3, 31), kwh={"peak": 0}, capacity_kva=D(315), power_factor=D("0.9")
    )
    assert r.lines[0].amount == D("9450.00")


def test_tou_bill_without_energy_still_has_its_energy_lines():
    """A month with 0 kWh on a TOU tariff: every priced period appears at 0 (a bill never has no lines)."""
    r = bill(RES_TIER_TOU, kwh={"peak": 0, "valley": 0})
    assert [(ln.code, ln.quantity, ln.amount) for ln in r.lines] == [
        ("energy_peak", D(0), D("0.00")),
        ("energy_valley", D(0), D("0.00")),
    ]
    assert r.total == D("0.00")
    r = bill(LI, kwh={"peak": 0}, capacity_kva=D(100), power_factor=D("0.9"))
    assert [ln.code for ln in r.lines][:5] == [
        "basic_capacity",
        "energy_sharp",
        "energy_peak",
        "energy_flat",
        "energy_valley",
    ]
    assert r.total == D("3000.00")  # 100 kVA × 30; PF 0.90 at target 0.90: no adjustment
