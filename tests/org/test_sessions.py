"""Session lifetime: staff until the browser closes and at most 8 hours after login however active (absolute);
portal customers 30 days; API bearer tokens untouched. The clock of `gridcare.org.sessions` is moved, not waited.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from gridcare.core.audit import Actor
from gridcare.org import services as org_services
from gridcare.org import sessions

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Beijing, a Monday
COOKIE = settings.SESSION_COOKIE_NAME


@pytest.fixture
def clock(monkeypatch):
    """`clock(dt)` sets the session module's "now"."""
    state = {"now": T0}
    monkeypatch.setattr(sessions, "now", lambda: state["now"])

    def set_to(dt):
        state["now"] = dt

    return set_to


def staff_login(client, world, url=None):
    url = url or reverse("console:login")
    resp = client.post(url, {"username": "a_clerk", "password": world.password})
    assert resp.status_code == 302
    return resp


def test_staff_session_cookie_ends_with_the_browser_and_has_an_8_hour_deadline(client, world, clock):
    resp = staff_login(client, world)

    cookie = resp.cookies[COOKIE]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    assert client.session.get_expire_at_browser_close()
    # 2026-03-02 01:30 UTC + 8 h = 09:30 UTC
    assert client.session[sessions.DEADLINE_KEY] == int(datetime(2026, 3, 2, 9, 30, tzinfo=UTC).timestamp())


def test_staff_session_ends_8_hours_after_login_however_active(client, world, clock):
    staff_login(client, world)
    search = reverse("console:search")
    deadline = client.session[sessions.DEADLINE_KEY]

    for hours, minutes in ((0, 1), (1, 0), (4, 0), (7, 59)):  # busy all day
        clock(T0 + timedelta(hours=hours, minutes=minutes))
        assert client.get(search).status_code == 200
    assert client.session[sessions.DEADLINE_KEY] == deadline  # activity never moves it (not sliding)

    clock(T0 + timedelta(hours=8))
    resp = client.get(search)
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("console:login"))
    assert "_auth_user_id" not in client.session  # the session was flushed, not just refused once
    clock(T0 + timedelta(hours=8, minutes=1))
    assert client.get(search).status_code == 302


def test_the_api_with_an_expired_console_session_answers_401(client, world, clock):
    staff_login(client, world)
    assert client.get("/api/v1/units").status_code == 200
    clock(T0 + timedelta(hours=8, seconds=1))
    assert client.get("/api/v1/units").status_code == 401


def test_a_new_login_starts_a_new_deadline(client, world, clock):
    staff_login(client, world)
    clock(T0 + timedelta(hours=9))
    assert client.get(reverse("console:search")).status_code == 302
    staff_login(client, world)
    assert client.session[sessions.DEADLINE_KEY] == int((T0 + timedelta(hours=17)).timestamp())
    assert client.get(reverse("console:search")).status_code == 200


def test_admin_login_gets_the_same_staff_deadline(client, world, clock):
    world.admin.is_staff = True
    world.admin.save(update_fields=["is_staff"])
    resp = client.post(
        reverse("admin:login"),
        {"username": world.admin.username, "password": world.password, "next": "/admin/"},
    )
    assert resp.status_code == 302 and client.get("/admin/").status_code == 200
    assert client.session.get_expire_at_browser_close()
    clock(T0 + timedelta(hours=8))
    assert client.get("/admin/").status_code == 302


def test_staff_session_hours_come_from_the_setting(client, world, clock, settings):
    settings.GRIDCARE = {**settings.GRIDCARE, "STAFF_SESSION_HOURS": 2}
    staff_login(client, world)
    assert client.session[sessions.DEADLINE_KEY] == int((T0 + timedelta(hours=2)).timestamp())


def test_portal_session_lasts_30_days(client, world, clock):
    resp = client.post(
        reverse("portal:login"), {"username": world.portal_user.username, "password": world.password}
    )
    assert resp.status_code == 302

    max_age = int(resp.cookies[COOKIE]["max-age"])
    # 30 days = 2,592,000 s, less the moments between setting the expiry and writing the cookie
    assert 30 * 86400 - 5 <= max_age <= 30 * 86400
    assert not client.session.get_expire_at_browser_close()
    assert sessions.DEADLINE_KEY not in client.session
    clock(T0 + timedelta(days=2))  # no staff deadline applies to customers
    assert client.get(reverse("portal:accounts")).status_code == 200


def test_bearer_tokens_have_no_session_and_no_deadline(world, clock):
    _token, key = org_services.api_token_create(actor=Actor(), user=world.a_clerk, name="ci")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    for moment in (T0, T0 + timedelta(hours=9), T0 + timedelta(days=40)):
        clock(moment)
        resp = api.get("/api/v1/units")
        assert resp.status_code == 200
        assert COOKIE not in resp.cookies
