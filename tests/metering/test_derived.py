"""Per-TOU-period kWh, reactive energy and demand derived from register reads, wherever reads are made."""

from decimal import Decimal

from gridcare.core.audit import Actor
from gridcare.metering import services, vee
from gridcare.metering.choices import ReadSource, ReadStatus
from gridcare.metering.importer import import_readings
from gridcare.metering.models import MeterRead

from .conftest import SYSTEM, at, record

D = Decimal
T = vee.thresholds()


def derive(previous, registers, *, kwh, source="manual", digits=6, multiplier=1):
    return vee.derived(
        previous=previous,
        registers=registers,
        source=source,
        consumption_kwh=D(kwh),
        digits=digits,
        multiplier=multiplier,
        t=T,
    )


def test_tou_kwh_are_register_advances():
    prev = {"total": D("1000"), "sharp": D("100"), "peak": D("400"), "flat": D("300"), "valley": D("200")}
    cur = {"total": D("1250"), "sharp": D("120"), "peak": D("500"), "flat": D("380"), "valley": D("250")}
    out, flags = derive(prev, cur, kwh="250")
    assert flags == []
    assert (out["kwh_sharp"], out["kwh_peak"], out["kwh_flat"], out["kwh_valley"]) == (
        D(20),
        D(100),
        D(80),
        D(50),
    )
    assert out["kvarh"] is None and out["demand_kw"] is None


def test_rounding_difference_goes_to_the_largest_period():
    # Registers 20 + 100 + 80 + 50.01 = 250.01 against a total advance of 250.02: the 0.01 goes to peak (100).
    prev = {"total": D("1000"), "sharp": D("100"), "peak": D("400"), "flat": D("300"), "valley": D("200")}
    cur = {
        "total": D("1250.02"),
        "sharp": D("120"),
        "peak": D("500"),
        "flat": D("380"),
        "valley": D("250.01"),
    }
    out, _flags = derive(prev, cur, kwh="250.02")
    assert out["kwh_peak"] == D("100.01") and out["kwh_valley"] == D("50.01")
    assert out["kwh_sharp"] + out["kwh_peak"] + out["kwh_flat"] + out["kwh_valley"] == D("250.02")


def test_tie_for_largest_prefers_flat():
    assert vee.balance_tou({"peak": D(50), "flat": D(50)}, D("100.01")) == {"peak": D(50), "flat": D("50.01")}


def test_tou_register_rollover_and_multiplier():
    # Peak wraps at 10**6: 999,950 → 50 is 100 register units; × 倍率 40 = 4,000 kWh; valley 10 → 60 = 2,000 kWh.
    prev = {"total": D("500000"), "peak": D("999950"), "valley": D("10")}
    cur = {"total": D("500150"), "peak": D("50"), "valley": D("60")}
    out, flags = derive(prev, cur, kwh="6000", multiplier=40)
    assert flags == [] and (out["kwh_peak"], out["kwh_valley"]) == (D(4000), D(2000))


def test_tou_register_going_down_is_flagged_and_not_derived():
    prev = {"total": D("1000"), "peak": D("600"), "valley": D("400")}
    cur = {"total": D("1100"), "peak": D("500"), "valley": D("600")}
    out, flags = derive(prev, cur, kwh="100")
    assert (
        [f["code"] for f in flags] == ["negative"] and out["kwh_peak"] is None and out["kwh_valley"] is None
    )


def test_reactive_and_demand_use_the_multiplier():
    prev = {"total": D("100"), "reactive": D("100.00")}
    cur = {"total": D("125"), "reactive": D("112.50"), "max_demand": D("2.35")}
    out, flags = derive(prev, cur, kwh="1000", multiplier=40)
    assert flags == [] and out["kvarh"] == D("500.00") and out["demand_kw"] == D("94.00")


def test_exchange_initial_starts_at_zero_and_first_read_has_none():
    cur = {"total": D("5"), "peak": D("3"), "valley": D("2"), "reactive": D("1")}
    out, _ = derive(None, cur, kwh="0", source="exchange_initial")
    assert (out["kwh_peak"], out["kwh_valley"], out["kvarh"], out["kwh_sharp"]) == (D(0), D(0), D(0), None)
    out, _ = vee.derived(
        previous=None, registers=cur, source="manual", consumption_kwh=None, digits=6, multiplier=1, t=T
    )
    assert all(v is None for v in out.values())


# ---------------------------------------------------------------- through the services


def test_read_record_stores_tou_kwh(w):
    record(w.meter_a, at(2026, 1, 1), "1000", peak="600", valley="400")
    read = record(w.meter_a, at(2026, 2, 1), "1250", peak="760", valley="490")
    read.refresh_from_db()
    assert (read.consumption, read.kwh_peak, read.kwh_valley, read.kwh_sharp) == (D(250), D(160), D(90), None)


def test_correcting_a_read_recomputes_it_and_the_next_one(w):
    record(w.meter_a, at(2026, 1, 1), "1000", peak="600", valley="400")
    bad = record(w.meter_a, at(2026, 2, 1), "900", peak="540", valley="360")
    assert bad.status == ReadStatus.FLAGGED
    nxt = record(w.meter_a, at(2026, 3, 1), "1300", peak="780", valley="520")
    assert (nxt.consumption, nxt.kwh_peak, nxt.kwh_valley) == (D(400), D(240), D(160))  # from 900 / 540 / 360
    fixed = services.read_correct(
        actor=SYSTEM, read=bad, registers={"total": "1100", "peak": "660", "valley": "440"}
    )
    assert (fixed.consumption, fixed.kwh_peak, fixed.kwh_valley) == (D(100), D(60), D(40))
    nxt.refresh_from_db()
    assert (nxt.consumption, nxt.kwh_peak, nxt.kwh_valley) == (D(200), D(120), D(80))


def test_estimate_splits_by_history_shares(w):
    # Jan→Feb 310 kWh (peak 190, valley 120, reactive 155); Feb→Mar 280 kWh (peak 170, valley 110, reactive 140).
    record(w.meter_a, at(2025, 1, 1), "1000", peak="600", valley="400", reactive="100")
    record(w.meter_a, at(2025, 2, 1), "1310", peak="790", valley="520", reactive="255")
    record(w.meter_a, at(2025, 3, 1), "1590", peak="960", valley="630", reactive="395")
    bad = record(w.meter_a, at(2025, 3, 31), "1500", peak="900", valley="600", reactive="390")
    assert bad.status == ReadStatus.FLAGGED
    read = services.read_estimate(actor=Actor(user=w.a_reader), read=bad)
    # 590 kWh / 59 days × 30 days = 300 kWh. Shares: peak 360/590, valley 230/590 of 300 kWh:
    # 183.050… → 183.05 and 116.949… → 116.95 (sum 300.00). Reactive 295/590 = 0.5 kvarh per kWh → 150.
    assert read.consumption == D(300) and (read.kwh_peak, read.kwh_valley) == (D("183.05"), D("116.95"))
    assert (read.peak, read.valley, read.total) == (D("1143.05"), D("746.95"), D("1890.00"))
    assert (read.kvarh, read.reactive) == (D("150.00"), D("545.00"))
    assert read.source == ReadSource.ESTIMATED


def test_estimate_without_tou_history_leaves_tou_empty(w):
    record(w.meter_a, at(2025, 1, 1), "1000")
    record(w.meter_a, at(2025, 2, 1), "1310")
    bad = record(w.meter_a, at(2025, 3, 1), "100")
    read = services.read_estimate(actor=SYSTEM, read=bad)
    assert read.kwh_peak is None and read.peak is None and read.consumption == D(280)  # 310/31 × 28


def test_import_reads_reactive_and_demand_columns(w):
    text = (
        "户号,电能表资产编号,抄表时间,总,峰,谷,无功,最大需量,来源\n"
        "3100000001,M3100000001,2026-01-01 09:00,1000,600,400,100,1.5,ami\n"
        "3100000001,M3100000001,2026-02-01 09:00,1250,760,490,180,2.25,ami\n"
    )
    result = import_readings(data=text.encode(), actor=SYSTEM)
    assert result.ok and result.written
    read = MeterRead.objects.get(read_at=at(2026, 2, 1))
    assert (read.consumption, read.kwh_peak, read.kwh_valley) == (D(250), D(160), D(90))
    assert (read.kvarh, read.demand_kw, read.reactive, read.max_demand) == (
        D(80),
        D("2.25"),
        D(180),
        D("2.25"),
    )
