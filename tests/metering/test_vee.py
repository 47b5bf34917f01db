"""VEE rules with hand-computed examples, as pure functions and through read_record."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from gridcare.core.models import AuditEvent
from gridcare.metering import vee
from gridcare.metering.choices import ReadSource, ReadStatus
from gridcare.metering.models import MeterRead

from .conftest import at, record

T = vee.thresholds()


def codes(flags):
    return [f["code"] for f in flags]


def test_rollover_at_six_digits():
    # (1,000,000 − 999,950 + 30) × 1 = 80 kWh
    kwh, flags = vee.consumption(Decimal("999950"), Decimal("30"), digits=6, multiplier=1, t=T)
    assert (kwh, flags) == (Decimal("80.00"), [])


def test_rollover_with_multiplier():
    kwh, flags = vee.consumption(Decimal("999950"), Decimal("30"), digits=6, multiplier=50, t=T)
    assert (kwh, flags) == (Decimal("4000.00"), [])


def test_negative_without_plausible_rollover_is_flagged():
    kwh, flags = vee.consumption(Decimal("500"), Decimal("400"), digits=6, multiplier=1, t=T)
    assert kwh == Decimal("-100.00") and codes(flags) == ["negative"]
    # Previous high but new read not in the bottom 10 %: not a rollover.
    _kwh, flags = vee.consumption(Decimal("950000"), Decimal("200000"), digits=6, multiplier=1, t=T)
    assert codes(flags) == ["negative"]


def test_multiplier_applied():
    kwh, _ = vee.consumption(Decimal("100"), Decimal("112.5"), digits=6, multiplier=50, t=T)
    assert kwh == Decimal("625.00")  # 12.5 × 50


def test_zero_for_three_periods():
    assert codes(vee.check_history(Decimal(0), [Decimal(5), Decimal(0), Decimal(0)], T)) == ["zero"]
    assert vee.check_history(Decimal(0), [Decimal(5), Decimal(0)], T) == []


def test_spike_factor_three_over_trailing_average():
    history = [Decimal(100)] * 6  # average 100
    assert codes(vee.check_history(Decimal(301), history, T)) == ["spike"]
    assert vee.check_history(Decimal(300), history, T) == []


def test_spike_window_is_trailing_six():
    history = [Decimal(1000)] + [Decimal(100)] * 6  # the 1000 falls outside the window
    assert codes(vee.check_history(Decimal(301), history, T)) == ["spike"]


@override_settings(GRIDCARE={"VEE": {"SPIKE_FACTOR": "4", "SPIKE_WINDOW": 3}, "IMPORT_MAX_BYTES": 1000})
def test_thresholds_are_configurable():
    t = vee.thresholds()
    assert (t.spike_factor, t.spike_window) == (Decimal(4), 3)
    assert vee.check_history(Decimal(301), [Decimal(100)] * 3, t) == []
    assert codes(vee.check_history(Decimal(401), [Decimal(100)] * 3, t)) == ["spike"]


def test_tou_sum_mismatch_with_tolerance():
    ok = {
        "total": Decimal("100.00"),
        "sharp": Decimal("10"),
        "peak": Decimal("30"),
        "flat": Decimal("40"),
        "valley": Decimal("20.04"),
    }  # off by 0.04 = 4 × 0.01: within tolerance
    assert vee.check_tou(ok, T) == []
    bad = {**ok, "valley": Decimal("20.05")}
    assert codes(vee.check_tou(bad, T)) == ["tou_mismatch"]


def test_estimate_average_daily():
    # 310 kWh in 31 days + 280 kWh in 28 days = 590 / 59 = 10 kWh/day → 30 days = 300
    assert vee.estimate_kwh([(31, Decimal(310)), (28, Decimal(280))], 30, T) == Decimal("300.00")
    assert vee.estimate_kwh([], 30, T) is None


# ---------------------------------------------------------------- through the service


def test_read_record_rollover_and_negative(w):
    w.meter_a.multiplier = 1
    w.meter_a.save()
    record(w.meter_a, at(2025, 1, 1), "999950")
    r = record(w.meter_a, at(2025, 2, 1), "30")
    assert (r.consumption, r.status) == (Decimal("80.00"), ReadStatus.VALID)
    r = record(w.meter_a, at(2025, 3, 1), "20")
    assert r.status == ReadStatus.FLAGGED and codes(r.flags) == ["negative"]
    assert AuditEvent.objects.filter(action="meter_read.create").count() == 3


def test_read_record_multiplier_50(w):
    w.meter_a.multiplier = 50
    w.meter_a.save()
    record(w.meter_a, at(2025, 1, 1), "500")
    assert record(w.meter_a, at(2025, 2, 1), "502").consumption == Decimal("100.00")


def test_zero_three_periods_through_service(w):
    for month, total in [(1, 100), (2, 200), (3, 200), (4, 200)]:
        r = record(w.meter_a, at(2025, month, 1), str(total))
    assert r.status == ReadStatus.VALID  # two zero periods
    r = record(w.meter_a, at(2025, 5, 1), "200")
    assert codes(r.flags) == ["zero"]


def test_spike_through_service(w):
    total = 0
    record(w.meter_a, at(2024, 1, 1), "0")
    for month in range(2, 8):
        total += 100
        record(w.meter_a, at(2024, month, 1), str(total))
    r = record(w.meter_a, at(2024, 8, 1), str(total + 300))
    assert r.status == ReadStatus.VALID
    # trailing 6 = 100,100,100,100,100,300 → avg 133.33, × 3 = 400: 400 passes, 401 is a spike
    r = record(w.meter_a, at(2024, 9, 1), str(total + 300 + 400))
    assert r.status == ReadStatus.VALID
    r = record(w.meter_a, at(2024, 10, 1), str(total + 300 + 400 + 1000))  # avg (4×100+300+400)/6 = 183.33
    assert r.status == ReadStatus.FLAGGED and codes(r.flags) == ["spike"]


def test_meter_exchange_no_negative_and_period_consumption(w):
    from gridcare.customers.models import Meter
    from gridcare.metering.selectors import account_period_consumption

    old = w.meter_a
    record(old, at(2025, 1, 1), "5000")
    final = record(old, at(2025, 1, 15), "5120", source=ReadSource.EXCHANGE_FINAL)
    old.removed_on = at(2025, 1, 15).date()
    old.save()
    new = Meter.objects.create(
        asset_number="MNEW1",
        service_point=old.service_point,
        unit=old.unit,
        installed_on=at(2025, 1, 15).date(),
    )
    initial = record(new, at(2025, 1, 15, 10), "12", source=ReadSource.EXCHANGE_INITIAL)
    nxt = record(new, at(2025, 2, 1), "92")
    assert (final.consumption, initial.consumption, nxt.consumption) == (
        Decimal("120.00"),
        Decimal("0.00"),
        Decimal("80.00"),
    )
    assert [r.status for r in (final, initial, nxt)] == [ReadStatus.VALID] * 3
    # (5120 − 5000) + (92 − 12) = 200
    assert account_period_consumption(account=w.acct_a, start=at(2025, 1, 1), end=at(2025, 2, 1)) == Decimal(
        "200.00"
    )


def test_older_read_is_refused_and_nothing_written(w):
    record(w.meter_a, at(2025, 2, 1), "100")
    before = (MeterRead.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError) as e:
        record(w.meter_a, at(2025, 1, 1), "90")
    assert "read_at" in e.value.message_dict
    with pytest.raises(ValidationError):
        record(w.meter_a, at(2025, 2, 1), "100")  # same time: duplicate
    assert (MeterRead.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize("value", ["abc", "1e3x", "", "-5", "1000000", "1.234"])
def test_bad_registers_are_refused(w, value):
    with pytest.raises(ValidationError) as e:
        record(w.meter_a, at(2025, 1, 1), value)
    assert "total" in e.value.message_dict
    assert MeterRead.objects.count() == 0
