"""Terminal monitoring services with an injected clock (issue 16 §7): offline detection at exactly 5:00 and 5:01,
online time within opening hours and the availability worked out by hand, faults → one maintenance task, the
offline sweep, idempotent transactions, ID-card reads (accounts found, masked event, PII audit), task closing.

Hall A opens 08:30–17:30 every day (the defaults: 540 minutes a day); T0 is Tuesday 2026-03-10 09:00 China time.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.core.validators import id_check_digit
from gridcare.hall import idcard
from gridcare.hall import terminals_monitor as tm
from gridcare.hall.models import HallClosure, MaintenanceTask, TerminalDay, TerminalEvent, TerminalState
from gridcare.jobs import registry
from gridcare.payments.channels import terminals
from tests.factories import UserFactory

from .conftest import CHINA, T0, at

pytestmark = pytest.mark.django_db


def valid_id(first17: str) -> str:
    return first17 + id_check_digit(first17)


@pytest.fixture
def term(hw):
    t = terminals.terminal_add(
        actor=Actor(),
        code="TA1",
        unit=hw.bureau_a,
        public_key=terminals.generate_key_pair()[1],
        name="大厅1号机",
    )
    t.hall = hw.hall_a
    t.save(update_fields=["hall"])
    return t


def beat(term, minutes, **kw):
    return tm.terminal_heartbeat(terminal=term, now=at(minutes), **kw)


def kinds(term):
    return list(TerminalEvent.objects.filter(terminal=term).order_by("id").values_list("kind", flat=True))


# ---------------------------------------------------------------- the pure rules


def test_offline_after_more_than_five_minutes():
    assert not tm.is_offline(T0, T0 + timedelta(minutes=5))  # exactly 5:00: still online
    assert tm.is_offline(T0, T0 + timedelta(minutes=5, seconds=1))
    assert tm.is_offline(T0, T0 + timedelta(minutes=5, seconds=60))  # 5:01
    assert tm.is_offline(None, T0)


def test_online_seconds_by_day_rule():
    opening = tm.Opening(
        T0.time().replace(hour=8, minute=30), T0.time().replace(hour=17, minute=30), "1234567"
    )
    day = date(2026, 3, 10)
    assert tm.online_seconds_by_day(at(0), at(5), opening) == {day: 300}
    assert tm.online_seconds_by_day(at(0), at(5.5), opening) == {}  # a gap over 5 minutes was an outage
    assert tm.online_seconds_by_day(None, at(1), opening) == {}
    assert tm.online_seconds_by_day(at(1), at(0), opening) == {}
    # 17:28 → 17:32: only the two minutes before closing count
    assert tm.online_seconds_by_day(at(8 * 60 + 28), at(8 * 60 + 32), opening) == {day: 120}
    # 08:27 → 08:31: one minute after opening
    assert tm.online_seconds_by_day(at(-33), at(-29), opening) == {day: 60}
    # A closed day counts nothing; no hall counts everything, split at midnight
    closed = tm.Opening(opening.opens_at, opening.closes_at, "1234567", frozenset({day}))
    assert tm.online_seconds_by_day(at(0), at(5), closed) == {}
    midnight = datetime(2026, 3, 11, 0, 0, tzinfo=CHINA)
    assert tm.online_seconds_by_day(
        midnight - timedelta(minutes=2), midnight + timedelta(minutes=3), None
    ) == {
        day: 120,
        date(2026, 3, 11): 180,
    }


def test_availability_percent_by_hand():
    assert tm.availability_percent(6 * 3600, 9 * 60) == Decimal("66.67")  # 360 ÷ 540
    assert tm.availability_percent(0, 540) == Decimal("0.00")
    assert tm.availability_percent(100, 0) is None


# ---------------------------------------------------------------- heartbeats, availability


def test_heartbeats_covering_six_of_nine_hours(hw, term):
    # A heartbeat every 5 minutes from 09:00 to 15:00: 72 gaps of 300 s = 21,600 s = 6 h
    for k in range(0, 73):
        beat(term, 5 * k)
    day = date(2026, 3, 10)
    assert TerminalDay.objects.get(terminal=term, day=day).online_seconds == 21600
    # The day alone: 360 of 540 minutes
    assert tm.terminal_availability(term, first=day, last=day) == (21600, 540, Decimal("66.67"))
    # March 2026: 31 open days × 540 = 16,740 minutes; 360 ÷ 16,740 = 2.1505 %
    assert tm.terminal_availability(term, first=date(2026, 3, 1), last=date(2026, 3, 31)) == (
        21600,
        16740,
        Decimal("2.15"),
    )
    # To 15:00 of the 10th: 9 days × 540 + (15:00 − 08:30 = 390) = 5,250 minutes; 360 ÷ 5,250 = 6.857 %
    assert tm.terminal_availability(term, first=date(2026, 3, 1), last=date(2026, 3, 31), now=at(360)) == (
        21600,
        5250,
        Decimal("6.86"),
    )
    # A closure day leaves the month: 30 × 540 = 16,200
    HallClosure.objects.create(hall=hw.hall_a, day=date(2026, 3, 1))
    assert tm.terminal_availability(term, first=date(2026, 3, 1), last=date(2026, 3, 31))[1] == 16200
    rows = tm.monitor_rows(tm.terminals_for(hw.a_manager), now=at(360))
    # The monitor at 15:00 of the 10th, the 1st closed: 8 days × 540 + 390 = 4,710 minutes; 360 ÷ 4,710 = 7.643 %
    assert (rows[0].availability, rows[0].online_minutes_month, rows[0].opening_minutes_month) == (
        Decimal("7.64"),
        360,
        4710,
    )


def test_heartbeat_levels_and_online_event(hw, term):
    s = beat(term, 0, cash_box_percent=40)
    assert (s.online, s.cash_box_percent, s.last_heartbeat_at) == (True, 40, at(0))
    assert kinds(term) == ["online"]
    beat(term, 1)  # no level given: kept
    assert TerminalState.objects.get(terminal=term).cash_box_percent == 40
    assert kinds(term) == ["online"]


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"cash_box_percent": 101}, "cash_box_percent"),
        ({"cash_box_percent": -1}, "cash_box_percent"),
        ({"cash_box_percent": True}, "cash_box_percent"),
        ({"cash_box_percent": "50"}, "cash_box_percent"),
        ({"printer_fault": "yes"}, "printer_fault"),
    ],
)
def test_bad_heartbeat_writes_nothing(hw, term, kw, field):
    with pytest.raises(ValidationError) as exc:
        beat(term, 0, **kw)
    assert field in exc.value.message_dict
    assert not TerminalState.objects.exists() and not TerminalEvent.objects.exists()


def test_fault_opens_one_task_and_clears(hw, term):
    beat(term, 0, printer_fault=True)
    beat(term, 1, printer_fault=True)  # reported again: no second event, no second task
    assert MaintenanceTask.objects.filter(terminal=term, fault="printer", status="open").count() == 1
    beat(term, 2, printer_fault=False)
    assert kinds(term) == ["online", "printer_fault", "fault_cleared"]
    assert TerminalEvent.objects.get(kind="fault_cleared").detail == {"fault": "printer"}
    beat(term, 3, printer_fault=True)  # back while its task is still open: still one task
    assert MaintenanceTask.objects.filter(terminal=term, fault="printer").count() == 1
    assert kinds(term).count("printer_fault") == 2
    # Cash box: 79 % is no alert, 80 % is
    beat(term, 4, cash_box_percent=79)
    assert not MaintenanceTask.objects.filter(fault="cash_box").exists()
    beat(term, 5, cash_box_percent=80, acceptor_fault=True, paper_low=True)
    assert set(MaintenanceTask.objects.filter(terminal=term).values_list("fault", flat=True)) == {
        "printer",
        "cash_box",
        "acceptor",
        "paper",
    }
    state = TerminalState.objects.get(terminal=term)
    assert tm.alerts_of(state, at(5)) == ["cash_box", "paper", "printer", "acceptor"]
    assert tm.alerts_of(
        state,
        at(
            10,
        )
        + timedelta(seconds=1),
    ) == ["offline", "cash_box", "paper", "printer", "acceptor"]


# ---------------------------------------------------------------- the offline sweep


def test_sweep_marks_offline_once_then_heartbeat_online(hw, term):
    beat(term, 0)
    assert tm.terminals_sweep(now=at(5)) == {"offline": 0, "tasks": 0}  # exactly 5:00
    assert tm.terminals_sweep(now=at(5) + timedelta(seconds=60)) == {"offline": 1, "tasks": 1}  # 5:01
    assert tm.terminals_sweep(now=at(7)) == {"offline": 0, "tasks": 0}  # idempotent
    s = TerminalState.objects.get(terminal=term)
    assert not s.online
    assert kinds(term) == ["online", "offline"]
    assert MaintenanceTask.objects.filter(terminal=term, fault="offline", status="open").count() == 1
    # Back: `online`, and no online time for the outage
    beat(term, 20)
    assert kinds(term) == ["online", "offline", "online"]
    assert not TerminalDay.objects.filter(terminal=term, online_seconds__gt=0).exists()
    # A second outage while the task is open: an event, no second task
    assert tm.terminals_sweep(now=at(26)) == {"offline": 1, "tasks": 0}
    assert MaintenanceTask.objects.filter(terminal=term, fault="offline").count() == 1
    assert AuditEvent.objects.filter(action="hall.terminals_sweep").count() == 2


def test_outage_the_sweep_missed_is_recorded(hw, term):
    beat(term, 0)
    beat(term, 6)  # 6 minutes silent, no sweep in between
    assert kinds(term) == ["online", "offline", "online"]
    off = TerminalEvent.objects.get(kind="offline")
    assert off.at == at(5)
    assert MaintenanceTask.objects.filter(terminal=term, fault="offline").count() == 1


def test_sweep_job_kind_and_schedule(hw, term):
    from gridcare.jobs import services as jobs

    tm.terminal_heartbeat(terminal=term, now=datetime(2020, 1, 1, 9, 0, tzinfo=CHINA))
    job = jobs.start("hall.terminals_sweep", inline=True)
    assert job.result == {"offline": 1, "tasks": 1}
    assert registry.SCHEDULES["hall.terminals_sweep"].every == 1


# ---------------------------------------------------------------- transactions


def test_transactions_counted_once(hw, term):
    a, created = tm.terminal_transaction_record(
        terminal=term, kind="payment", terminal_txn_id="TX-1", amount="12.5", now=at(0)
    )
    b, again = tm.terminal_transaction_record(
        terminal=term, kind="payment", terminal_txn_id="TX-1", amount="12.50", now=at(1)
    )
    assert (created, again, a, a["amount"]) == (True, False, b, "12.50")
    tm.terminal_transaction_record(terminal=term, kind="bill_query", terminal_txn_id="TX-2", now=at(2))
    assert TerminalDay.objects.get(terminal=term).transactions == 2
    with pytest.raises(ValidationError) as exc:
        tm.terminal_transaction_record(
            terminal=term, kind="payment", terminal_txn_id="TX-1", amount="13", now=at(3)
        )
    assert "terminal_txn_id" in exc.value.message_dict
    for kw, field in [
        ({"kind": "refund"}, "kind"),
        ({"terminal_txn_id": "bad id!"}, "terminal_txn_id"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1e3"}, "amount"),
    ]:
        with pytest.raises(ValidationError) as exc:
            tm.terminal_transaction_record(
                terminal=term, **{"kind": "other", "terminal_txn_id": "TX-9", **kw}, now=at(4)
            )
        assert field in exc.value.message_dict
    assert TerminalDay.objects.get(terminal=term).transactions == 2


# ---------------------------------------------------------------- ID-card reads


def test_id_read_finds_accounts_masks_and_audits(hw, term):
    number = valid_id("11010519800101123")
    hw.cust_a.id_number = number
    hw.cust_a.save(update_fields=["id_number"])
    out = tm.terminal_id_read(
        terminal=term,
        reader=idcard.PostedReader(name="张三", id_number=number.lower(), address="东关镇人民路18号"),
        ip="10.0.0.9",
        now=at(0),
    )
    assert out["name"] == "张*" and out["id_number"] == number[:6] + "********" + number[-4:]
    assert [a["account_number"] for a in out["accounts"]] == ["3100000001"]
    assert out["accounts"][0]["name"] == "张*" and "18号" not in out["accounts"][0]["address"]
    ev = TerminalEvent.objects.get(terminal=term, kind="id_read")
    assert (
        number not in str(ev.detail)
        and ev.detail["id_number"] == out["id_number"]
        and ev.detail["accounts"] == 1
    )
    assert TerminalDay.objects.get(terminal=term).id_reads == 1
    audit = AuditEvent.objects.get(action="customer.view_pii")
    assert audit.customer_id == hw.cust_a.pk and audit.unit_id == hw.bureau_a.pk
    assert audit.changes["source"] == "terminal.id_read:TA1" and audit.ip == "10.0.0.9"
    assert number not in str(audit.changes)


def test_id_read_outside_the_terminals_units_finds_nothing(hw, term):
    number = valid_id("11010519800101123")
    hw.cust_b.id_number = number  # bureau B: not the terminal's units
    hw.cust_b.save(update_fields=["id_number"])
    out = tm.terminal_id_read(
        terminal=term,
        reader=idcard.SimulatedReader({"name": "李四", "id_number": number, "address": ""}),
        now=at(0),
    )
    assert out["accounts"] == []
    assert not AuditEvent.objects.filter(action="customer.view_pii").exists()
    assert TerminalEvent.objects.get(kind="id_read").detail["accounts"] == 0


def test_bad_card_writes_nothing(hw, term):
    bad = valid_id("11010519800101123")[:-1] + ("0" if valid_id("11010519800101123")[-1] != "0" else "1")
    for fields, field in [
        ({"id_number": bad}, "id_number"),
        ({"id_number": "12345"}, "id_number"),
        ({"name": " "}, "name"),
        ({"address": "路" * 200}, "address"),
    ]:
        card = {"name": "张三", "id_number": valid_id("11010519800101123"), "address": "", **fields}
        with pytest.raises(ValidationError) as exc:
            tm.terminal_id_read(terminal=term, reader=idcard.PostedReader(**card), now=at(0))
        assert field in exc.value.message_dict
    reader = idcard.SimulatedReader()
    reader.remove()
    with pytest.raises(ValidationError):
        tm.terminal_id_read(terminal=term, reader=reader, now=at(0))
    assert not TerminalEvent.objects.exists() and not TerminalDay.objects.exists()


# ---------------------------------------------------------------- staff: tasks and the hall


def test_close_task_audited_and_scoped(hw, term):
    beat(term, 0, printer_fault=True)
    task = MaintenanceTask.objects.get()
    b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=hw.bureau_b)
    with pytest.raises(PermissionDenied):
        tm.maintenance_task_close(actor=hw.actor(b_manager), task=task)
    with pytest.raises(PermissionDenied):
        tm.maintenance_task_close(actor=hw.actor(hw.a_clerk), task=task)
    tm.maintenance_task_close(actor=hw.actor(hw.a_manager), task=task, note="换了打印头", now=at(30))
    task.refresh_from_db()
    assert (task.status, task.closed_at, task.closed_by, task.note) == (
        "done",
        at(30),
        hw.a_manager,
        "换了打印头",
    )
    assert AuditEvent.objects.filter(action="hall.maintenance_close", object_id=str(task.pk)).count() == 1
    with pytest.raises(ValidationError) as exc:
        tm.maintenance_task_close(actor=hw.actor(hw.a_manager), task=task)
    assert "status" in exc.value.message_dict
    # After closing, the fault turning on again opens a new task
    beat(term, 31, printer_fault=False)
    beat(term, 32, printer_fault=True)
    assert MaintenanceTask.objects.filter(fault="printer", status="open").count() == 1


def test_terminal_hall_set(hw, term):
    with pytest.raises(ValidationError) as exc:
        tm.terminal_hall_set(actor=hw.actor(hw.a_manager), terminal=term, hall_id=hw.hall_b.pk)
    assert "hall" in exc.value.message_dict
    tm.terminal_hall_set(actor=hw.actor(hw.a_manager), terminal=term, hall_id="")
    term.refresh_from_db()
    assert term.hall_id is None
    assert AuditEvent.objects.get(action="hall.terminal_hall_set").changes == {"hall": [hw.hall_a.pk, None]}


def test_simulated_reader_demo_card_is_valid():
    card = idcard.SimulatedReader().read()
    assert card is not None and card.id_number == idcard.DEMO_CARD["id_number"]
    assert id_check_digit(card.id_number[:17]) == card.id_number[17]
