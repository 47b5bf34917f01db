"""Exceptions queue (accept / correct / estimate) and missing-read estimation, with audit rows."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.scoping import PermissionDenied
from gridcare.metering import services
from gridcare.metering.choices import ReadSource, ReadStatus

from .conftest import SYSTEM, at, record


@pytest.fixture
def flagged(w):
    """History 1 Jan 1000 → 1 Feb 1310 (310 kWh / 31 d) → 1 Mar 1590 (280 kWh / 28 d); 31 Mar 1500 is negative."""
    record(w.meter_a, at(2025, 1, 1), "1000")
    record(w.meter_a, at(2025, 2, 1), "1310")
    record(w.meter_a, at(2025, 3, 1), "1590")
    read = record(w.meter_a, at(2025, 3, 31), "1500")
    assert read.status == ReadStatus.FLAGGED
    return read


def test_accept(w, flagged):
    read = services.read_accept(actor=Actor(user=w.a_reader), read=flagged)
    assert read.status == ReadStatus.ACCEPTED
    event = AuditEvent.objects.get(action="meter_read.accept")
    assert (event.actor, event.object_id) == (w.a_reader, str(read.pk))
    with pytest.raises(ValidationError):
        services.read_accept(actor=Actor(user=w.a_reader), read=read)  # no longer flagged


def test_correct_recomputes_consumption(w, flagged):
    read = services.read_correct(actor=Actor(user=w.a_reader), read=flagged, registers={"total": "1890"})
    assert (read.status, read.total, read.consumption, read.flags) == (
        ReadStatus.CORRECTED,
        Decimal("1890.00"),
        Decimal("300.00"),
        [],
    )
    event = AuditEvent.objects.get(action="meter_read.correct")
    assert event.changes["total"] == ["1500.00", "1890.00"]


def test_estimate_from_history(w, flagged):
    # 590 kWh / 59 days = 10 kWh/day; 1 Mar → 31 Mar = 30 days → 300 kWh; register 1590 + 300 = 1890
    read = services.read_estimate(actor=Actor(user=w.a_reader), read=flagged)
    assert (read.status, read.source, read.total, read.consumption) == (
        ReadStatus.ESTIMATED,
        ReadSource.ESTIMATED,
        Decimal("1890.00"),
        Decimal("300.00"),
    )
    assert AuditEvent.objects.filter(action="meter_read.estimate", object_id=str(read.pk)).exists()


def test_estimate_missing(w, flagged):
    services.read_accept(actor=SYSTEM, read=flagged)  # 31 Mar: −90 kWh accepted
    # history: (31, 310), (28, 280), (30, −90) = 500 / 89 days; 31 Mar → 30 Apr = 30 days → 168.54 kWh
    read = services.read_estimate_missing(
        actor=Actor(user=w.a_reader), account=w.acct_a, period_end=date(2025, 4, 30)
    )
    assert read.consumption == (Decimal(500) / 89 * 30).quantize(Decimal("0.01")) == Decimal("168.54")
    assert read.total == Decimal("1668.54") and read.status == ReadStatus.ESTIMATED
    assert AuditEvent.objects.filter(action="meter_read.estimate_missing").count() == 1
    with pytest.raises(ValidationError):
        services.read_estimate_missing(actor=SYSTEM, account=w.acct_a, period_end=date(2025, 4, 30))


def test_estimate_without_history_is_refused(w):
    read = record(w.meter_a, at(2025, 1, 1), "100")
    with pytest.raises(ValidationError):
        services.read_estimate_missing(actor=SYSTEM, account=w.acct_a, period_end=date(2025, 2, 1))
    assert read.status == ReadStatus.VALID


def test_staff_of_other_unit_cannot_handle(w, flagged):
    with pytest.raises(PermissionDenied):
        services.read_accept(actor=Actor(user=w.b_clerk), read=flagged)
    with pytest.raises(PermissionDenied):
        services.read_accept(actor=Actor(user=w.a_agent), read=flagged)
    flagged.refresh_from_db()
    assert flagged.status == ReadStatus.FLAGGED


def test_routes_create_and_assign(w):
    route = services.route_create(
        actor=Actor(user=w.a_reader),
        data={
            "code": "R01",
            "name": "东关一段",
            "unit_id": w.station_a.pk,
            "reading_day": 5,
            "reader_id": w.a_reader.pk,
        },
    )
    m = services.route_assign(actor=Actor(user=w.a_reader), route=route, account=w.acct_a, sequence=10)
    assert (m.route, m.sequence) == (route, 10)
    assert AuditEvent.objects.filter(action__in=["route.create", "route.assign"]).count() == 2
    with pytest.raises(ValidationError):
        services.route_create(
            actor=SYSTEM, data={"code": "R02", "name": "x", "unit_id": w.station_a.pk, "reading_day": 29}
        )
    with pytest.raises(PermissionDenied):
        services.route_assign(actor=Actor(user=w.a_reader), route=route, account=w.acct_b, sequence=1)
