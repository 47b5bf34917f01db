"""Hall set-up writes (hall.manage, audited) and the greeter's front-desk writes: validation names the field and
writes nothing; another unit's hall is refused."""

from datetime import date, time

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.models import AuditEvent
from gridcare.core.scoping import PermissionDenied
from gridcare.hall import services, setup
from gridcare.hall.choices import TicketSource, TicketStatus, TriageOutcome
from gridcare.hall.models import CounterSetup, GreeterTriage, HallCategory, HallClosure, HallProfile

from ..factories import valid_id_number
from .conftest import at


def test_profile_update_validates_and_audits(hw):
    actor = hw.actor(hw.a_manager)
    with pytest.raises(ValidationError) as e:
        setup.profile_update(
            hall=hw.hall_a,
            actor=actor,
            values={
                "max_recalls": 0,
                "opens_at": time(18, 0),
                "closes_at": time(9, 0),
                "open_weekdays": "189",
            },
        )
    assert set(e.value.message_dict) == {"max_recalls", "closes_at", "open_weekdays"}
    assert HallProfile.objects.get(pk=hw.hall_a.pk).max_recalls == 3
    assert not AuditEvent.objects.filter(action="hall.profile_update").exists()
    with pytest.raises(ValidationError) as e:
        setup.profile_update(hall=hw.hall_a, actor=actor, values={"bogus": 1})
    setup.profile_update(
        hall=hw.hall_a,
        actor=actor,
        values={"max_recalls": 2, "call_ahead_places": 5, "open_weekdays": "51234"},
    )
    p = HallProfile.objects.get(pk=hw.hall_a.pk)
    assert (p.max_recalls, p.call_ahead_places, p.open_weekdays) == (2, 5, "12345")
    ev = AuditEvent.objects.get(action="hall.profile_update")
    assert ev.changes["max_recalls"] == [3, 2] and ev.changes["open_weekdays"] == ["1234567", "12345"]
    # Nothing changed: no second row.
    setup.profile_update(hall=hw.hall_a, actor=actor, values={"max_recalls": 2})
    assert AuditEvent.objects.filter(action="hall.profile_update").count() == 1


def test_other_unit_and_clerk_refused(hw):
    with pytest.raises(PermissionDenied):
        setup.profile_update(hall=hw.hall_b, actor=hw.actor(hw.a_manager), values={"max_recalls": 2})
    with pytest.raises(PermissionDenied):
        setup.closure_add(hall=hw.hall_a, actor=hw.actor(hw.a_clerk), day=date(2026, 5, 1))
    assert not HallClosure.objects.exists()


def test_counter_categories_and_offered(hw):
    actor = hw.actor(hw.a_manager)
    cats = hw.cat
    setup.counter_categories_set(
        counter=hw.c1, actor=actor, category_ids=[cats["payment"].pk, cats["invoice"].pk]
    )
    assert set(CounterSetup.objects.get(pk=hw.c1.pk).categories.values_list("code", flat=True)) == {
        "payment",
        "invoice",
    }
    ev = AuditEvent.objects.get(action="hall.counter_categories")
    assert ev.changes["categories"][1] == ["invoice", "payment"]
    with pytest.raises(ValidationError) as e:
        setup.counter_categories_set(counter=hw.c1, actor=actor, category_ids=[])
    assert "categories" in e.value.message_dict
    with pytest.raises(ValidationError):
        setup.counter_categories_set(counter=hw.c1, actor=actor, category_ids=["x"])
    # The hall stops offering invoices: dropped from the counter too.
    keep = [c.pk for code, c in cats.items() if code != "invoice"]
    setup.hall_categories_set(hall=hw.hall_a, actor=actor, category_ids=keep)
    assert not HallCategory.objects.filter(hall=hw.hall_a, category=cats["invoice"]).exists()
    assert list(CounterSetup.objects.get(pk=hw.c1.pk).categories.values_list("code", flat=True)) == [
        "payment"
    ]
    assert AuditEvent.objects.get(action="hall.categories").changes == {"added": [], "removed": ["invoice"]}
    with pytest.raises(ValidationError):
        setup.counter_categories_set(counter=hw.c1, actor=actor, category_ids=[cats["invoice"].pk])
    with pytest.raises(ValidationError):
        setup.hall_categories_set(hall=hw.hall_a, actor=actor, category_ids=[])


def test_closures(hw):
    actor = hw.actor(hw.a_manager)
    c = setup.closure_add(hall=hw.hall_a, actor=actor, day=date(2026, 3, 10), reason="装修")
    with pytest.raises(ValidationError) as e:
        setup.closure_add(hall=hw.hall_a, actor=actor, day=date(2026, 3, 10))
    assert "day" in e.value.message_dict
    # The hall is closed that day: no ticket.
    with pytest.raises(ValidationError):
        services.ticket_issue(hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(0))
    setup.closure_remove(closure=c, actor=actor)
    assert not HallClosure.objects.exists()
    assert [
        e.action for e in AuditEvent.objects.filter(action__startswith="hall.closure").order_by("id")
    ] == [
        "hall.closure_add",
        "hall.closure_remove",
    ]


def test_greeter_ticket_and_self_service_triage(hw):
    actor = hw.actor(hw.a_clerk)
    t = setup.greeter_issue(
        hall=hw.hall_a,
        category="new_connection",
        actor=actor,
        now=at(0),
        id_number=valid_id_number(1, birth="19500101"),
    )
    assert t.source == "greeter" and t.priority_reason == "elderly"
    g = GreeterTriage.objects.get(ticket=t)
    assert (g.outcome, g.category.code, g.actor) == (TriageOutcome.TICKET, "new_connection", hw.a_clerk)
    s = setup.greeter_self_service(hall=hw.hall_a, category="payment", actor=actor, now=at(1))
    assert s.outcome == TriageOutcome.SELF_SERVICE and s.ticket is None
    with pytest.raises(ValidationError) as e:
        setup.greeter_self_service(hall=hw.hall_a, category="new_connection", actor=actor, now=at(1))
    assert "category" in e.value.message_dict
    # A bad ID number: no ticket, no triage.
    before = GreeterTriage.objects.count()
    with pytest.raises(ValidationError) as e:
        setup.greeter_issue(hall=hw.hall_a, category="payment", actor=actor, now=at(2), id_number="123")
    assert "id_number" in e.value.message_dict
    assert GreeterTriage.objects.count() == before
    with pytest.raises(PermissionDenied):
        setup.greeter_issue(hall=hw.hall_b, category="payment", actor=actor, now=at(2))


def test_remote_check_in_by_number_and_phone(hw):
    r = services.ticket_issue(
        hall=hw.hall_a, category="payment", source=TicketSource.PORTAL, phone="13900000001", now=at(0)
    )
    with pytest.raises(ValidationError):
        setup.remote_check_in(hall=hw.hall_a, number=r.number, phone="13900000002", now=at(1))
    with pytest.raises(ValidationError):
        setup.remote_check_in(hall=hw.hall_b, number=r.number, phone="13900000001", now=at(1))
    t = setup.remote_check_in(hall=hw.hall_a, number=r.number.lower(), phone="13900000001", now=at(1))
    assert t.checked_in_at == at(1) and t.status == TicketStatus.WAITING
    with pytest.raises(ValidationError):  # already checked in
        setup.remote_check_in(hall=hw.hall_a, phone="13900000001", now=at(2), actor=hw.actor(hw.a_clerk))
