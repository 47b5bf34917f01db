"""The portal credit page: the customer's events that count against them (or are contested), the grade from
`CreditStanding` when rated, and a 申诉 per event; anonymous → the portal login, staff → 404, another customer's
event → 404."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.credit.events import event_create
from gridcare.credit.models import CreditContest, CreditRun, CreditScore, CreditStanding
from gridcare.customers.models import PortalBinding

from .conftest import NOW


@pytest.fixture
def bound(cw):
    PortalBinding.objects.create(user=cw.portal_user, account=cw.acct_a, created_at=NOW)
    return cw


def make(cw, customer, code, status, **kw):
    return event_create(
        actor=Actor(),
        customer_id=customer.pk,
        unit_id=customer.unit_id,
        code=code,
        day=kw.pop("day", date(2026, 9, 21)),
        source=kw.pop("source", "staff"),
        status=status,
        **kw,
    )


def test_access(cw, login):
    url = reverse("portal_credit:index")
    r = login().get(url)
    assert r.status_code == 302 and "/portal/login/" in r["Location"]
    assert login(cw.a_manager).get(url).status_code == 404
    page = login(cw.portal_user).get(url)
    assert page.status_code == 200 and 'data-testid="no-events"' in page.content.decode()


def test_lists_counting_events_and_grade(bound, login):
    cw = bound
    active = make(cw, cw.cust_a, "arrears", "active", severity=2, source="ledger", account_id=cw.acct_a.pk)
    pending = make(cw, cw.cust_a, "theft", "pending")
    other = make(cw, cw.cust_b, "theft", "active")
    run = CreditRun.objects.create(kind="single", period="2026-11", as_of=date(2026, 11, 30), created_at=NOW)
    score = CreditScore.objects.create(
        run=run,
        customer=cw.cust_a,
        unit_id_at=cw.cust_a.unit_id,
        as_of=date(2026, 11, 30),
        rated_class="lighting",
        payment=Decimal("30"),
        legal=Decimal("30"),
        total=Decimal("80"),
        grade="AA",
        digest="x",
    )
    CreditStanding.objects.create(
        customer=cw.cust_a,
        score=score,
        unit_id_at=cw.cust_a.unit_id,
        grade="AA",
        total=Decimal("80"),
        as_of=date(2026, 11, 30),
    )
    page = login(cw.portal_user).get(reverse("portal_credit:index")).content.decode()
    assert f'data-testid="event-{active.pk}"' in page
    assert f'data-testid="event-{pending.pk}"' not in page  # not approved: does not count
    assert f'data-testid="event-{other.pk}"' not in page  # another customer's
    assert f'data-testid="contest-form-{active.pk}"' in page
    assert 'data-testid="grade">AA<' in page


def test_contest_from_the_portal(bound, login):
    cw = bound
    e = make(cw, cw.cust_a, "arrears", "active", severity=1, source="ledger")
    c = login(cw.portal_user)
    url = reverse("portal_credit:contest", args=[e.pk])
    empty = c.post(url, {"reason": "  "})
    assert empty.status_code == 400 and 'data-testid="contest-errors"' in empty.content.decode()
    assert not CreditContest.objects.exists()
    r = c.post(url, {"reason": "我已在截止日前缴费"})
    assert r.status_code == 302 and r["Location"] == reverse("portal_credit:index")
    e.refresh_from_db()
    contest = CreditContest.objects.get()
    assert (e.status, contest.channel, contest.raised_by_id) == ("contested", "portal", cw.portal_user.pk)
    row = AuditEvent.objects.get(action="credit.contest_raise")
    assert row.channel == "portal" and row.customer_id == cw.cust_a.pk
    page = c.get(reverse("portal_credit:index")).content.decode()
    assert f'data-testid="contest-form-{e.pk}"' not in page and "申诉处理中" in page
    again = c.post(url, {"reason": "再次"})
    assert again.status_code == 400


def test_other_customers_event_is_404(bound, login):
    cw = bound
    other = make(cw, cw.cust_b, "theft", "active")
    url = reverse("portal_credit:contest", args=[other.pk])
    assert login(cw.portal_user).post(url, {"reason": "x"}).status_code == 404
    assert login(cw.a_clerk).post(url, {"reason": "x"}).status_code == 404
    assert (
        login(cw.portal_user)
        .post(reverse("portal_credit:contest", args=[987654]), {"reason": "x"})
        .status_code
        == 404
    )
    assert not CreditContest.objects.exists()


def test_my_events_api_query_count_does_not_grow_and_hides_staff(bound, login, django_assert_max_num_queries):
    """GET /api/v1/my/credit/events: no query per row (no staff user is read for the portal), no staff names and no
    internal approval note in the answer."""
    cw = bound
    client = login(cw.portal_user)
    first = make(cw, cw.cust_a, "theft", "active")
    first.decision_note = "内部：证据见检查记录"
    first.decided_by = cw.a_manager
    first.save(update_fields=["decision_note", "decided_by"])
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/my/credit/events").status_code == 200
    for k in range(12):
        make(cw, cw.cust_a, "violation", "active", day=date(2026, 1 + k % 9, 1 + k))
    with django_assert_max_num_queries(len(one)):
        body = client.get("/api/v1/my/credit/events").json()
    assert len(body["items"]) == 13
    row = body["items"][0]
    assert row["recorded_by"] is None and row["decided_by"] is None and row["decision_note"] == ""
