"""`hall.expire_remote`: remote tickets not checked in within the hall's remote_checkin_minutes of being told to
come expire (set-based, idempotent), with an injected clock."""

from gridcare.hall import services
from gridcare.hall.choices import TicketSource, TicketStatus, TicketStep
from gridcare.hall.jobs_queue import remote_expire
from gridcare.hall.models import Ticket, TicketEvent
from gridcare.jobs.registry import KINDS, SCHEDULES

from .conftest import at


def _remote(w, phone, minutes, hall=None):
    return services.ticket_issue(
        hall=hall or w.hall_a, category="payment", source=TicketSource.PORTAL, phone=phone, now=at(minutes)
    )


def test_expiry_after_the_halls_minutes_only(hw):
    late = _remote(hw, "13900000001", 0)
    edge = _remote(hw, "13900000002", 0)
    checked = _remote(hw, "13900000003", 0)
    never_called = _remote(hw, "13900000004", 0)
    other = _remote(hw, "13900000005", 0, hall=hw.hall_b)
    Ticket.objects.filter(pk=late.pk).update(remote_called_at=at(10))
    Ticket.objects.filter(pk=edge.pk).update(remote_called_at=at(11))
    Ticket.objects.filter(pk=checked.pk).update(remote_called_at=at(10), checked_in_at=at(20))
    # Hall B gives 60 minutes.
    pb = services.hall_profile(hw.hall_b)
    pb.remote_checkin_minutes = 60
    pb.save()
    Ticket.objects.filter(pk=other.pk).update(remote_called_at=at(10))

    # At 09:41: late was called at 09:10 (31 > 30 minutes) → expired; edge at 09:11 (exactly 30) stays.
    assert remote_expire(now=at(41)) == {"expired": 1}
    status = dict(Ticket.objects.values_list("pk", "status"))
    assert status[late.pk] == TicketStatus.EXPIRED
    assert {status[t.pk] for t in (edge, checked, never_called, other)} == {TicketStatus.WAITING}
    assert Ticket.objects.get(pk=late.pk).closed_at == at(41)
    assert TicketEvent.objects.filter(ticket=late, kind=TicketStep.EXPIRED).count() == 1

    # Idempotent: again at the same instant nothing changes.
    assert remote_expire(now=at(41)) == {"expired": 0}
    assert TicketEvent.objects.filter(kind=TicketStep.EXPIRED).count() == 1

    # 09:42: edge expires; hall B's ticket (called 09:10, 60 minutes) only after 10:10.
    assert remote_expire(now=at(42)) == {"expired": 1}
    assert remote_expire(now=at(70)) == {"expired": 0}
    assert remote_expire(now=at(71)) == {"expired": 1}
    assert Ticket.objects.get(pk=other.pk).status == TicketStatus.EXPIRED
    # The phone may take a new remote ticket once its old one expired.
    assert _remote(hw, "13900000001", 72).status == TicketStatus.WAITING


def test_job_kind_registered_every_minute():
    assert "hall.expire_remote" in KINDS
    sched = SCHEDULES["hall.expire_remote"]
    assert (sched.every, sched.period) == (1, "minutes")


def test_past_days_open_tickets_are_closed_and_never_head_the_next_day(hw):
    from gridcare.hall import services
    from gridcare.hall.choices import TicketSource, TicketStatus
    from gridcare.hall.jobs_queue import past_days_close
    from gridcare.hall.models import CounterSetup, Ticket

    from .conftest import at

    CounterSetup.objects.get(pk=hw.c1.pk)
    services.counter_open(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(0))
    old = services.ticket_issue(
        hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(480)
    )  # 17:00
    new = services.ticket_issue(
        hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(24 * 60 + 10)
    )  # next day 09:10
    # Next morning the old ticket has waited hours, but it is not in today's line: the call takes today's.
    got = services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(24 * 60 + 11)).ticket
    assert got.pk == new.pk
    assert past_days_close(now=at(24 * 60 + 12)) == {"closed": 1}
    assert Ticket.objects.get(pk=old.pk).status == TicketStatus.EXPIRED
    assert past_days_close(now=at(24 * 60 + 13)) == {"closed": 0}
