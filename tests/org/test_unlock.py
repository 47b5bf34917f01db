"""Unlocking an account locked after failed logins: a console page and an API route for the admin role, audited;
everyone else learns nothing (404 like a missing user)."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.audit_display import action_label
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.org import services as org_services
from gridcare.org.models import User

from ..factories import UserFactory

API = "/api/v1"
PAGE = reverse("org:locked_users")


@pytest.fixture
def locked(world, settings):
    """a_clerk (bureau A) and the portal customer locked by real failed logins; b_clerk locked as well."""
    for name, url in (
        ("a_clerk", reverse("console:login")),
        ("b_clerk", reverse("console:login")),
        (world.portal_user.username, reverse("portal:login")),
    ):
        for _ in range(settings.GRIDCARE["LOGIN_MAX_FAILURES"]):
            Client().post(url, {"username": name, "password": "wrong"})
    assert User.objects.filter(locked_until__gt=timezone.now()).count() == 3
    return world


def can_log_in(username, password, portal=False) -> bool:
    url = reverse("portal:login" if portal else "console:login")
    return Client().post(url, {"username": username, "password": password}).status_code == 302


def test_admin_sees_locked_accounts_and_unlocks_one(client, locked):
    w = locked
    client.force_login(w.admin)
    page = client.get(PAGE).content.decode()
    for user in (w.a_clerk, w.b_clerk, w.portal_user):
        assert f'data-user="{user.pk}"' in page
    assert f'data-user="{w.a_agent.pk}"' not in page  # not locked

    resp = client.post(reverse("org:user_unlock", args=[w.a_clerk.pk]))

    assert resp.status_code == 302 and resp["Location"] == PAGE
    assert f'data-user="{w.a_clerk.pk}"' not in client.get(PAGE).content.decode()
    user = User.objects.get(pk=w.a_clerk.pk)
    assert (user.locked_until, user.failed_logins) == (None, 0)
    event = AuditEvent.objects.get(action="user.unlock")
    assert (event.actor, event.channel, event.object_id, event.unit_id) == (
        w.admin,
        "console",
        str(w.a_clerk.pk),
        w.bureau_a.pk,
    )
    assert event.changes["locked_until"][1] is None
    assert action_label("user.unlock") == "账号解锁"
    assert can_log_in("a_clerk", w.password)
    assert not can_log_in("b_clerk", w.password)  # the others stay locked


def test_unlocking_an_account_that_is_not_locked_writes_nothing(client, world):
    client.force_login(world.admin)
    resp = client.post(reverse("org:user_unlock", args=[world.a_clerk.pk]), follow=True)
    assert resp.status_code == 200 and "当前未锁定" in resp.content.decode()
    assert not AuditEvent.objects.filter(action="user.unlock").exists()


def test_the_menu_offers_the_page_to_admins_only(client, world):
    client.force_login(world.admin)
    assert f'href="{PAGE}"' in client.get(reverse("console:search")).content.decode()
    client.force_login(world.a_manager)
    assert f'href="{PAGE}"' not in client.get(reverse("console:search")).content.decode()


@pytest.mark.parametrize("who", ["a_clerk", "a_manager", "portal_user"])
def test_other_roles_get_404_and_change_nothing(client, locked, who):
    client.force_login(getattr(locked, who))
    assert client.get(PAGE).status_code == 404
    assert client.post(reverse("org:user_unlock", args=[locked.b_clerk.pk])).status_code == 404
    assert User.objects.get(pk=locked.b_clerk.pk).locked_until is not None
    assert not AuditEvent.objects.filter(action="user.unlock").exists()


def test_anonymous_goes_to_the_login_page(client, locked):
    resp = client.post(reverse("org:user_unlock", args=[locked.b_clerk.pk]))
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("console:login"))
    assert User.objects.get(pk=locked.b_clerk.pk).locked_until is not None


def test_an_admin_of_one_bureau_reaches_its_staff_and_the_customers_only(client, locked):
    w = locked
    b_admin = UserFactory(username="b_admin", role=Role.ADMIN, unit=w.bureau_b)
    client.force_login(b_admin)
    page = client.get(PAGE).content.decode()
    assert f'data-user="{w.b_clerk.pk}"' in page and f'data-user="{w.portal_user.pk}"' in page
    assert f'data-user="{w.a_clerk.pk}"' not in page
    assert client.post(reverse("org:user_unlock", args=[w.a_clerk.pk])).status_code == 404
    assert User.objects.get(pk=w.a_clerk.pk).locked_until is not None
    assert client.post(reverse("org:user_unlock", args=[w.portal_user.pk])).status_code == 302
    assert can_log_in(w.portal_user.username, w.password, portal=True)


# ---------------------------------------------------------------- API


def test_api_unlock_by_admin(login, locked):
    w = locked
    resp = login(w.admin).post(f"{API}/users/{w.a_clerk.pk}/unlock", content_type="application/json")
    assert resp.status_code == 200
    assert resp.json() == {"id": w.a_clerk.pk, "username": "a_clerk", "unlocked": True}
    event = AuditEvent.objects.get(action="user.unlock")
    assert (event.actor, event.channel) == (w.admin, "api")
    assert can_log_in("a_clerk", w.password)

    again = login(w.admin).post(f"{API}/users/{w.a_clerk.pk}/unlock", content_type="application/json")
    assert again.json()["unlocked"] is False
    assert AuditEvent.objects.filter(action="user.unlock").count() == 1


def test_api_lists_the_locked_accounts_the_admin_may_unlock(login, locked):
    w = locked
    body = login(w.admin).get(f"{API}/users/locked").json()
    phone = w.portal_user.username  # a customer's user name is their mobile number: listed masked
    masked = phone[:3] + "****" + phone[-4:]
    assert {u["username"] for u in body} == {"a_clerk", "b_clerk", masked}
    assert phone not in str(body)
    row = next(u for u in body if u["username"] == "a_clerk")
    assert (row["id"], row["role"], row["unit_id"]) == (w.a_clerk.pk, "counter_clerk", w.bureau_a.pk)
    b_admin = UserFactory(username="b_admin3", role=Role.ADMIN, unit=w.bureau_b)
    assert {u["username"] for u in login(b_admin).get(f"{API}/users/locked").json()} == {
        "b_clerk",
        masked,
    }
    assert login(w.a_manager).get(f"{API}/users/locked").status_code == 403


def test_api_unlock_with_an_admin_token(locked):
    _token, key = org_services.api_token_create(actor=Actor(), user=locked.admin, name="ops")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    resp = api.post(f"{API}/users/{locked.portal_user.pk}/unlock", content_type="application/json")
    assert resp.status_code == 200 and resp.json()["unlocked"] is True


def test_api_unlock_refusals(login, locked):
    w = locked
    path = f"{API}/users/{w.b_clerk.pk}/unlock"
    missing = login(w.admin).post(f"{API}/users/999999/unlock", content_type="application/json")
    assert missing.status_code == 404
    assert login().post(path, content_type="application/json").status_code == 401
    for user in (w.portal_user, w.a_clerk, w.b_clerk, w.a_manager):
        resp = login(user).post(path, content_type="application/json")
        assert resp.status_code == 404 and resp.content == missing.content
    b_admin = UserFactory(username="b_admin2", role=Role.ADMIN, unit=w.bureau_b)
    resp = login(b_admin).post(f"{API}/users/{w.a_clerk.pk}/unlock", content_type="application/json")
    assert resp.status_code == 404 and resp.content == missing.content
    assert User.objects.filter(locked_until__gt=timezone.now()).count() == 3
    assert not AuditEvent.objects.filter(action="user.unlock").exists()
