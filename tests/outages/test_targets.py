"""Reliability targets: validated Decimal ranges, audited writes, outage.approve on the unit, SPEC C5 defaults."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.scoping import PermissionDenied
from gridcare.outages.models import ReliabilityTarget
from gridcare.outages.targets import default_targets, reliability_target_set


def test_a_manager_sets_a_target_audited_and_replaces_it(world):
    actor = Actor(user=world.a_manager)
    row = reliability_target_set(
        actor=actor, unit=world.bureau_a, year=2025, area_group="urban", basis="lv", rs1_percent_min="99.95"
    )
    assert row.rs1_percent_min == Decimal("99.95") and row.saidi_hours_max is None
    reliability_target_set(
        actor=actor, unit=world.bureau_a, year=2025, area_group="urban", basis="lv", saidi_hours_max=3
    )
    row.refresh_from_db()
    assert (row.saidi_hours_max, row.rs1_percent_min) == (Decimal("3"), None)
    assert ReliabilityTarget.objects.count() == 1
    audits = AuditEvent.objects.filter(action="reliability.target").order_by("id")
    assert audits.count() == 2
    assert audits.last().changes["before"]["rs1_percent_min"] == "99.9500"


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"saidi_hours_max": "0"}, "saidi_hours_max"),  # must be > 0
        ({"saidi_hours_max": "8784.001"}, "saidi_hours_max"),
        ({"rs1_percent_min": "100.01"}, "rs1_percent_min"),
        ({"rs1_percent_min": "99.12345"}, "rs1_percent_min"),  # 5 decimals, 4 allowed
        ({"saifi_max": "-1"}, "saifi_max"),
        ({"saifi_max": 1.5}, "saifi_max"),  # a float is refused: send a string
        ({"saidi_hours_max": "abc"}, "saidi_hours_max"),
        ({}, "saidi_hours_max"),  # none of the three
        ({"saidi_hours_max": "1", "area_group": "suburb"}, "area_group"),
        ({"saidi_hours_max": "1", "basis": "hv"}, "basis"),
        ({"saidi_hours_max": "1", "year": 1999}, "year"),
    ],
)
def test_bad_values_name_the_field_and_write_nothing(world, kw, field):
    args = {"area_group": "all", "basis": "lv", "year": 2025} | kw
    with pytest.raises(ValidationError) as e:
        reliability_target_set(actor=Actor(user=world.admin), unit=world.bureau_a, **args)
    assert field in e.value.message_dict
    assert (
        not ReliabilityTarget.objects.exists()
        and not AuditEvent.objects.filter(action="reliability.target").exists()
    )


def test_only_outage_approve_on_the_unit_may_set(world):
    for user in (world.a_agent, world.a_clerk):  # no outage.approve
        with pytest.raises(PermissionDenied):
            reliability_target_set(
                actor=Actor(user=user),
                unit=world.bureau_a,
                year=2025,
                area_group="all",
                basis="lv",
                saidi_hours_max="9",
            )
    with pytest.raises(PermissionDenied):  # a manager of bureau A, not of B
        reliability_target_set(
            actor=Actor(user=world.a_manager),
            unit=world.bureau_b,
            year=2025,
            area_group="all",
            basis="lv",
            saidi_hours_max="9",
        )
    assert not ReliabilityTarget.objects.exists()


def test_default_targets_seed_spec_c5_once_and_keep_edits(world):
    reliability_target_set(
        actor=Actor(user=world.admin),
        unit=world.company,
        year=2026,
        area_group="centre",
        basis="lv",
        saidi_hours_max="0.5",
    )
    written = default_targets(world.company, 2026)
    assert sorted(r.area_group for r in written) == ["all", "rural", "urban"]  # centre already set
    got = {
        t.area_group: (t.saidi_hours_max, t.rs1_percent_min)
        for t in ReliabilityTarget.objects.filter(unit=world.company, year=2026)
    }
    assert got == {
        "all": (Decimal("15.6"), None),  # SPEC C5: all customers < 15.6 h/yr
        "centre": (Decimal("0.5"), None),  # edited, kept (the default would be 1 h)
        "urban": (None, Decimal("99.9")),
        "rural": (None, Decimal("99.8")),
    }
    assert default_targets(world.company, 2026) == []
