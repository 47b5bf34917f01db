"""Outage pages: the dispatcher drafts through the console form, the manager approves and publishes, the customer
finds the outage in the portal by 户号, the public notice page shows places and times only; refusals and bad input
answer 400/404 with the reason and change nothing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from gridcare.core.permissions import Role
from gridcare.customers.models import PortalBinding
from gridcare.notify.models import Notification
from gridcare.outages.models import AffectedAccount, OutageEvent
from tests.factories import UserFactory

CN = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def dispatcher(world):
    return UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=world.bureau_a)


def local(dt: datetime) -> str:
    return dt.astimezone(CN).strftime("%Y-%m-%dT%H:%M")


def draft(client, start, hours=4, **extra):
    data = {
        "kind": "planned",
        "cause_category": "maintenance",
        "title": "10kV东关一线检修",
        "feeders": "",
        "areas": "T1 T2",
        "planned_start": local(start),
        "planned_end": local(start + timedelta(hours=hours)),
        "work_content": "更换柱上开关",
    }
    data.update(extra)
    return client.post("/outages/new/", data)


def test_draft_approve_publish_then_the_customer_finds_it_by_account_number(grid, login, dispatcher):
    w = grid.world
    start = (timezone.now() + timedelta(days=9)).replace(second=0, microsecond=0)
    r = draft(login(dispatcher), start)
    assert r.status_code == 302, r.content.decode()[:2000]
    event = OutageEvent.objects.get()
    assert (event.status, event.kind) == ("draft", "planned")
    assert r["Location"] == f"/outages/{event.number}/"
    d = login(dispatcher)
    assert d.post(f"/outages/{event.number}/submit/").status_code == 302
    m = login(w.a_manager)
    page = m.get(f"/outages/{event.number}/").content.decode()
    assert 'data-testid="approve-form"' in page
    assert (
        m.post(
            f"/outages/{event.number}/approve/", {"merge_note": "", "budget_override_reason": ""}
        ).status_code
        == 302
    )
    assert m.post(f"/outages/{event.number}/publish/").status_code == 302
    event.refresh_from_db()
    assert event.status == "published"
    # T1 has 4 accounts and T2 3: 7 frozen, each queued a notice
    assert AffectedAccount.objects.filter(event=event).count() == 7
    assert (
        Notification.objects.filter(dedupe_key__startswith=f"outage:{event.pk}:").exclude(channel="-").count()
        >= 1
    )
    account = grid.accounts["T2"][1]
    PortalBinding.objects.create(user=w.portal_user, account=account, created_at=timezone.now())
    portal = login(w.portal_user)
    r = portal.get("/portal/outages/", {"account": account.account_number})
    body = r.content.decode()
    assert r.status_code == 200 and f'data-testid="outage-{event.number}"' in body
    assert "10kV东关一线检修" in body
    # an account that is not bound tells nothing
    r = portal.get("/portal/outages/", {"account": grid.accounts["T1"][0].account_number})
    assert r.status_code == 404 and event.number not in r.content.decode()


def test_the_form_names_each_bad_field_and_writes_nothing(grid, login, dispatcher):
    c = login(dispatcher)
    start = timezone.now() + timedelta(days=9)
    r = draft(c, start, areas="NOPE")
    assert r.status_code == 400 and "NOPE" in r.content.decode()
    r = draft(c, start, planned_end="2026-13-01T00:00")
    assert r.status_code == 400 and 'data-testid="errors-planned_end"' in r.content.decode()
    r = draft(c, start, areas="")
    assert r.status_code == 400 and 'data-testid="errors-scope"' in r.content.decode()
    assert not OutageEvent.objects.exists()


def test_publishing_too_late_is_refused_on_the_page_and_nothing_is_queued(grid, login, dispatcher):
    w = grid.world
    start = (timezone.now() + timedelta(days=9)).replace(second=0, microsecond=0)
    assert draft(login(dispatcher), start).status_code == 302
    event = OutageEvent.objects.get()
    login(dispatcher).post(f"/outages/{event.number}/submit/")
    m = login(w.a_manager)
    m.post(f"/outages/{event.number}/approve/")
    OutageEvent.objects.filter(pk=event.pk).update(
        planned_start=timezone.now() + timedelta(days=3),
        planned_end=timezone.now() + timedelta(days=3, hours=4),
    )
    r = m.post(f"/outages/{event.number}/publish/")
    assert r.status_code == 400 and "168" in r.content.decode()
    event.refresh_from_db()
    assert event.status == "approved"
    assert not Notification.objects.filter(dedupe_key__startswith=f"outage:{event.pk}:").exists()
    assert not AffectedAccount.objects.filter(event=event).exists()


def test_who_may_do_what_on_the_pages(grid, login, dispatcher):
    w = grid.world
    start = timezone.now() + timedelta(days=9)
    # an agent views, may not draft; a customer and anonymous see nothing
    assert login(w.a_agent).get("/outages/").status_code == 200
    assert login(w.a_agent).get("/outages/new/").status_code == 404
    assert draft(login(w.a_agent), start).status_code == 404
    assert login(w.portal_user).get("/outages/").status_code == 404
    assert login().get("/outages/").status_code == 302
    assert not OutageEvent.objects.exists()
    assert draft(login(dispatcher), start).status_code == 302
    event = OutageEvent.objects.get()
    # the dispatcher may not approve; bureau B's clerk does not even see the event
    login(dispatcher).post(f"/outages/{event.number}/submit/")
    r = login(dispatcher).post(f"/outages/{event.number}/approve/")
    assert r.status_code in (400, 404)
    assert login(w.b_clerk).get(f"/outages/{event.number}/").status_code == 404
    event.refresh_from_db()
    assert event.status == "submitted"


def test_the_public_page_shows_places_and_times_but_no_customer(grid, login, dispatcher):
    w = grid.world
    start = (timezone.now() + timedelta(days=9)).replace(hour=2, minute=0, second=0, microsecond=0)
    draft(login(dispatcher), start)
    event = OutageEvent.objects.get()
    login(dispatcher).post(f"/outages/{event.number}/submit/")
    login(w.a_manager).post(f"/outages/{event.number}/approve/")
    login(w.a_manager).post(f"/outages/{event.number}/publish/")
    day = event.planned_start.astimezone(CN).date().isoformat()
    r = login().get("/outages/public/", {"area": "东关", "date": day})
    body = r.content.decode()
    assert r.status_code == 200 and "东关1号台区" in body and "10kV东关一线检修" in body
    acct = grid.accounts["T1"][0]
    assert acct.account_number not in body and acct.customer.name not in body
    assert login().get("/outages/public/", {"date": "2026-02-30"}).status_code == 400
    other = (event.planned_start + timedelta(days=2)).astimezone(CN).date().isoformat()
    assert (
        event.number not in login().get("/outages/public/", {"area": "东关", "date": other}).content.decode()
    )
