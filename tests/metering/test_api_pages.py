"""Permission matrix of the metering API and pages; the route walk page."""

from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.metering import services
from gridcare.metering.choices import ReadStatus
from gridcare.metering.models import MeterRead

from .conftest import at, record

API = "/api/v1"


def state():
    return (list(MeterRead.objects.order_by("pk").values()), AuditEvent.objects.count())


@pytest.fixture
def flagged(w):
    record(w.meter_a, at(2025, 1, 1), "1000")
    record(w.meter_a, at(2025, 2, 1), "1310")
    read = record(w.meter_a, at(2025, 3, 1), "1200")
    assert read.status == ReadStatus.FLAGGED
    return read


def post(c, path, body=None):
    return c.post(path, data=body or {}, content_type="application/json")


def test_api_reader_enters_and_handles(w, login, flagged):
    c = login(w.a_reader)
    resp = post(c, f"{API}/meters/M3100000001/reads", {"read_at": "2025-04-01T09:00:00", "total": "1500"})
    assert resp.status_code == 201, resp.content
    assert resp.json()["consumption"] == "300.00" or Decimal(resp.json()["consumption"]) == Decimal(300)
    assert c.get(f"{API}/reads/exceptions").json()["count"] == 1
    resp = post(c, f"{API}/reads/{flagged.pk}/accept")
    assert resp.status_code == 200 and resp.json()["status"] == "accepted"
    assert c.get(f"{API}/meters/M3100000001/reads").json()["count"] == 4
    assert c.get(f"{API}/routes").status_code == 200


def test_api_correct_and_estimate(w, login, flagged):
    c = login(w.a_reader)
    resp = post(c, f"{API}/reads/{flagged.pk}/correct", {"total": "x"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "total"
    resp = post(c, f"{API}/reads/{flagged.pk}/estimate")
    assert resp.status_code == 200 and resp.json()["status"] == "estimated"


def test_api_older_read_is_422(w, login, flagged):
    before = state()
    resp = post(
        login(w.a_reader),
        f"{API}/meters/M3100000001/reads",
        {"read_at": "2024-12-01T09:00:00", "total": "900"},
    )
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "read_at"
    assert state() == before


@pytest.mark.parametrize(
    "who,collection,obj",
    [
        (None, 401, 401),
        ("portal_user", 403, 404),
        ("a_agent", 403, 404),
        ("b_clerk", 403, 404),
    ],
)
def test_api_refusals_change_nothing(w, login, flagged, who, collection, obj):
    c = login(getattr(w, who) if who else None)
    before = state()
    assert c.get(f"{API}/reads/exceptions").status_code == collection
    assert c.get(f"{API}/routes").status_code == collection
    for action in ("accept", "estimate"):
        assert post(c, f"{API}/reads/{flagged.pk}/{action}").status_code == obj
    assert post(c, f"{API}/reads/{flagged.pk}/correct", {"total": "1400"}).status_code == obj
    assert (
        post(
            c, f"{API}/meters/M3100000001/reads", {"read_at": "2025-04-01T09:00:00", "total": "1"}
        ).status_code
        == obj
    )
    assert state() == before


def test_api_other_unit_sees_own_only(w, login, flagged):
    # b_clerk may view customers: reading history of a B meter yes, of an A meter 404.
    c = login(w.b_clerk)
    assert c.get(f"{API}/meters/M3100000001/reads").status_code == 404
    assert c.get(f"{API}/meters/M3200000001/reads").status_code == 200


# ---------------------------------------------------------------- pages


@pytest.fixture
def route(w):
    r = services.route_create(
        actor=Actor(),
        data={
            "code": "R01",
            "name": "东关一段",
            "unit_id": w.station_a.pk,
            "reading_day": 5,
            "reader_id": w.a_reader.pk,
        },
    )
    from tests.factories import CustomerFactory, make_account

    second = make_account(CustomerFactory(unit=w.station_a), "3100000002", w.area_a)
    services.route_assign(actor=Actor(), route=r, account=w.acct_a, sequence=1)
    services.route_assign(actor=Actor(), route=r, account=second, sequence=2)
    return r


@pytest.mark.parametrize("who,status", [("a_agent", 404), ("portal_user", 404), ("b_clerk", 404)])
def test_pages_refused(w, login, route, flagged, who, status):
    c = login(getattr(w, who))
    before = state()
    for path in ("/metering/routes/", f"/metering/routes/{route.pk}/walk/", "/metering/exceptions/"):
        assert c.get(path).status_code == status
    assert c.post(f"/metering/reads/{flagged.pk}/accept/").status_code == 404
    assert c.post(f"/metering/routes/{route.pk}/walk/?pos=1", {"total": "2000"}).status_code == 404
    assert state() == before


def test_pages_anonymous_redirected(w, login, route):
    resp = login().get(f"/metering/routes/{route.pk}/walk/")
    assert resp.status_code == 302 and "login" in resp["Location"]


def test_route_walk(w, login, route):
    c = login(w.a_reader)
    record(w.meter_a, timezone.now() - timezone.timedelta(days=30), "100")
    assert "东关一段" in c.get("/metering/routes/").content.decode()
    page = c.get(f"/metering/routes/{route.pk}/walk/").content.decode()
    assert "3100000001" in page and "100.00" in page
    resp = c.post(f"/metering/routes/{route.pk}/walk/?pos=1", {"total": "180"})
    assert resp.status_code == 302 and resp["Location"].endswith("?pos=2")
    assert MeterRead.objects.filter(meter=w.meter_a).latest("read_at").consumption == Decimal("80.00")
    page = c.get(resp["Location"]).content.decode()
    assert "3100000002" in page
    resp = c.post(f"/metering/routes/{route.pk}/walk/?pos=2", {"total": "abc"})
    assert resp.status_code == 200 and "必须是数字" in resp.content.decode()
    assert "全部走完" in c.get(f"/metering/routes/{route.pk}/walk/?pos=3").content.decode()


def test_exceptions_page_actions(w, login, flagged):
    c = login(w.a_reader)
    assert "1200.00" in c.get("/metering/exceptions/").content.decode()
    resp = c.post(f"/metering/reads/{flagged.pk}/correct/", {"total": "1400"})
    assert resp.status_code == 302
    flagged.refresh_from_db()
    assert (flagged.status, flagged.consumption) == (ReadStatus.CORRECTED, Decimal("90.00"))
    assert AuditEvent.objects.filter(action="meter_read.correct", channel="console").exists()
