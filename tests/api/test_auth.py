"""Authentication: bearer tokens for integrations, the console session with CSRF, 401 for the rest."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.core.models import AuditEvent
from gridcare.org.models import ApiToken

from .conftest import API, send
from .test_permissions import CASES

CSRF_SECRET = "a" * 32  # a well-formed CSRF cookie value; the header may carry the same secret


TOKEN_CASES = [c for c in CASES if c.name != "token_create"]  # tokens come from a console session only


@pytest.mark.parametrize("case", TOKEN_CASES, ids=[c.name for c in TOKEN_CASES])
def test_every_route_accepts_a_valid_token_of_a_permitted_user(w, bearer, case):
    _key, client = bearer(getattr(w, case.allowed))
    resp = send(client, case.method, case.path(w), case.body(w) if case.body else None)
    assert resp.status_code == case.ok, resp.content


def test_token_write_is_attributed_to_its_user_through_the_api_channel(w, bearer):
    _key, client = bearer(w.a_clerk)
    resp = client.patch(
        f"{API}/customers/{w.cust_a.pk}", data={"phone2": "13900001111"}, content_type="application/json"
    )
    assert resp.status_code == 200
    event = AuditEvent.objects.get(action="customer.update")
    assert (event.actor, event.actor_label, event.channel) == (w.a_clerk, "a_clerk", "api")
    assert event.changes == {"phone2": ["", "13900001111"]}


@pytest.mark.parametrize(
    "header",
    ["Bearer gc_not-a-real-key", "Bearer ", "Bearer", "Token abc", "Basic dXNlcjpwYXNz", "gc_abc"],
)
def test_garbage_credentials_get_401(w, header):
    resp = Client(HTTP_AUTHORIZATION=header).get(f"{API}/customers")
    assert resp.status_code == 401
    assert resp.json()["detail"]
    assert resp["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_gets_401(w, bearer):
    key, client = bearer(w.a_clerk)
    assert client.get(f"{API}/customers").status_code == 200
    ApiToken.objects.filter(key_hash=ApiToken.hash_key(key)).update(revoked=True)
    assert client.get(f"{API}/customers").status_code == 401


def test_token_of_deactivated_user_gets_401(w, bearer):
    _key, client = bearer(w.a_clerk)
    w.a_clerk.is_active = False
    w.a_clerk.save(update_fields=["is_active"])
    assert client.get(f"{API}/customers").status_code == 401


def test_bad_token_never_falls_back_to_the_session(w, login):
    client = login(w.a_clerk)
    assert client.get(f"{API}/customers").status_code == 200
    assert client.get(f"{API}/customers", HTTP_AUTHORIZATION="Bearer gc_wrong").status_code == 401


def test_only_the_hash_of_a_key_is_stored(w, bearer):
    key, _client = bearer(w.a_clerk)
    token = ApiToken.objects.get(user=w.a_clerk)
    assert token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
    assert token.prefix == key[3:11]


def test_last_used_at_is_written_at_most_once_a_minute(w, bearer):
    key, client = bearer(w.a_clerk)
    token = ApiToken.objects.get(key_hash=ApiToken.hash_key(key))
    assert token.last_used_at is None
    client.get(f"{API}/units")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None

    client.get(f"{API}/units")
    token.refresh_from_db()
    assert token.last_used_at == first  # within the minute: no second write

    stale = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=stale)
    client.get(f"{API}/units")
    token.refresh_from_db()
    assert token.last_used_at > stale


def test_token_lookup_costs_one_query_and_no_session(w, bearer, django_assert_num_queries):
    _key, client = bearer(w.a_clerk)
    client.get(f"{API}/units")  # first use writes last_used_at
    # token+user, unit subtree (2), units
    with django_assert_num_queries(4):
        assert client.get(f"{API}/units").status_code == 200


def test_anonymous_gets_401_on_reads_and_writes(w):
    client = Client(enforce_csrf_checks=True)
    assert client.get(f"{API}/customers").status_code == 401
    resp = client.post(f"{API}/customers", data={}, content_type="application/json")
    assert resp.status_code == 401  # not a CSRF 403: there is no session to protect


def test_session_writes_need_the_csrf_token(w):
    client = Client(enforce_csrf_checks=True)
    client.force_login(w.a_clerk)
    path = f"{API}/customers/{w.cust_a.pk}"
    assert client.get(path).status_code == 200  # safe methods need no token
    resp = client.patch(path, data={"name": "张三丰"}, content_type="application/json")
    assert resp.status_code == 403
    assert not AuditEvent.objects.filter(action="customer.update").exists()

    client.cookies["csrftoken"] = CSRF_SECRET
    resp = client.patch(
        path, data={"name": "张三丰"}, content_type="application/json", HTTP_X_CSRFTOKEN=CSRF_SECRET
    )
    assert resp.status_code == 200
    assert AuditEvent.objects.filter(action="customer.update", channel="api", actor=w.a_clerk).count() == 1


def test_token_writes_need_no_csrf_token(w):
    from gridcare.core.audit import Actor
    from gridcare.org.services import api_token_create

    _token, key = api_token_create(actor=Actor(), user=w.a_clerk, name="ci")
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {key}")
    resp = client.patch(
        f"{API}/customers/{w.cust_a.pk}", data={"name": "张三丰"}, content_type="application/json"
    )
    assert resp.status_code == 200


def test_staff_creates_a_token_from_the_console_session_and_uses_it(w, login):
    resp = login(w.a_clerk).post(
        f"{API}/tokens", data={"name": "营销系统对接"}, content_type="application/json"
    )
    assert resp.status_code == 201
    body = resp.json()
    assert (
        body["key"].startswith("gc_")
        and body["prefix"] == body["key"][3:11]
        and body["name"] == "营销系统对接"
    )
    event = AuditEvent.objects.get(action="api_token.create")
    assert (event.actor, event.channel, event.unit_id) == (w.a_clerk, "api", w.bureau_a.pk)
    assert body["key"] not in str(event.changes)

    client = Client(HTTP_AUTHORIZATION=f"Bearer {body['key']}")
    assert client.get(f"{API}/customers").status_code == 200
    # a token cannot mint more tokens: that route takes the console session only
    assert (
        client.post(f"{API}/tokens", data={"name": "x"}, content_type="application/json").status_code == 401
    )


def test_token_name_is_required(w, login):
    client = login(w.a_clerk)
    for body in ({}, {"name": ""}, {"name": "   "}):
        resp = client.post(f"{API}/tokens", data=body, content_type="application/json")
        assert resp.status_code == 422
        assert resp.json()["detail"][0]["field"] == "name"
    assert not ApiToken.objects.exists()


def test_a_token_expires_and_its_owner_lists_and_revokes_it(world, login, settings):
    """Review finding: tokens never expired and could not be revoked, so a stolen session became permanent access."""
    from gridcare.core.audit import Actor
    from gridcare.org import services as org_services

    token, key = org_services.api_token_create(actor=Actor(), user=world.a_clerk, name="营销系统")
    other, _other_key = org_services.api_token_create(actor=Actor(), user=world.b_clerk, name="别人的")
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bearer.get(f"{API}/customers").status_code == 200

    # expiry: 90 days by default, from creation
    settings.GRIDCARE = {**settings.GRIDCARE, "API_TOKEN_DAYS": 90}
    ApiToken.objects.filter(pk=token.pk).update(created_at=timezone.now() - timedelta(days=89, hours=23))
    assert bearer.get(f"{API}/customers").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(created_at=timezone.now() - timedelta(days=90, minutes=1))
    assert bearer.get(f"{API}/customers").status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(created_at=timezone.now())

    # the owner lists their own tokens (never the key) and revokes one; another user's token is a 404
    rows = bearer.get(f"{API}/tokens").json()
    assert [r["id"] for r in rows] == [token.pk] and key not in str(rows)
    assert bearer.delete(f"{API}/tokens/{other.pk}").status_code == 404
    assert ApiToken.objects.get(pk=other.pk).revoked is False
    resp = bearer.delete(f"{API}/tokens/{token.pk}")
    assert resp.status_code == 200 and resp.json() == {"id": token.pk, "revoked": True}
    assert bearer.get(f"{API}/customers").status_code == 401
    again = login(world.a_clerk).delete(f"{API}/tokens/{token.pk}", content_type="application/json")
    assert again.json()["revoked"] is False
    assert AuditEvent.objects.filter(action="api_token.revoke", object_id=token.pk).count() == 1
