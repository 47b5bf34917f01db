"""The public 户号 query served without the browser stack (core.middleware.LeanApiMiddleware, settings.LEAN_API_ROUTES):
the same bytes, the same headers, the same rate limit as through django-ninja, and everything out of the plain case
left to the whole stack.

3100000001 (张三, 东关镇人民路18号, 东关供电所) owes 2026-10 (500.00, due 20 Nov) and 2026-11 (95.11, due 20 Dec);
on 30 Nov the first is 10 days late: 500.00 × 0.001 × 10 = 5.00. Expected bodies are written out by hand.
"""

import json
from datetime import date

import pytest
from django.test import Client

from gridcare.payments.channels import public_pay
from gridcare.payments.channels.api import public as public_api
from tests.payments.ledger.test_ledger import issued_bill

QUERY = "/api/v1/public/accounts"
DEBTOR = {
    "found": True,
    "account_number": "3100000001",
    "name": "张*",
    "address": "东关镇人****",
    "supply_unit": "东关供电所",
    "amount_due": "600.11",
    "principal_due": "595.11",
    "late_fee": "5.00",
    "unpaid_periods": ["2026-10", "2026-11"],
    "prepaid_balance": None,
}
MISS = {"found": False, "message": "未查询到匹配的户号信息，请核对户号和户名后重试"}
LIMITED = {"found": False, "message": "查询过于频繁，请稍后再试"}


@pytest.fixture
def two_months(world, monkeypatch):
    issued_bill(world.acct_a, "2026-10", "500.00", date(2026, 11, 20), issued_on=date(2026, 11, 5))
    issued_bill(world.acct_a, "2026-11", "95.11", date(2026, 12, 20), issued_on=date(2026, 12, 5))
    monkeypatch.setattr(public_pay, "today", lambda: date(2026, 11, 30))


@pytest.fixture
def served(monkeypatch):
    """The answers the lean handler gave (a Client made after this fixture sees the spy)."""
    answers = []
    real = public_api.public_account_lean

    def spy(request, **kwargs):
        response = real(request, **kwargs)
        answers.append(None if response is None else response.status_code)
        return response

    monkeypatch.setattr(public_api, "public_account_lean", spy)
    return answers


def whole_stack(settings) -> Client:
    settings.LEAN_API_ROUTES = []
    return Client(REMOTE_ADDR="198.51.100.1")


def lean(settings) -> Client:
    assert settings.LEAN_API_ROUTES, "the public query is a lean route"
    return Client(REMOTE_ADDR="198.51.100.2")


def comparable(response) -> tuple:
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() != "x-request-id"}
    return response.status_code, response.content, headers


@pytest.mark.parametrize(
    ("path", "params", "status", "body"),
    [
        ("3100000001", {}, 200, DEBTOR),
        ("3100000001", {"name": "张三"}, 200, DEBTOR),
        ("3100000001", {"name": "张四"}, 404, MISS),
        ("9999999999", {}, 404, MISS),
        ("31000", {}, 404, MISS),
        ("张三", {}, 404, MISS),
    ],
)
def test_the_lean_answer_is_the_routes_byte_for_byte(
    two_months, settings, served, path, params, status, body
):
    fast = lean(settings).get(f"{QUERY}/{path}", params)
    assert served == [status]  # the lean handler answered
    assert fast.status_code == status and fast.json() == body
    full = whole_stack(settings).get(f"{QUERY}/{path}", params)
    assert served == [status]  # and the whole stack did not go through it
    assert comparable(fast) == comparable(full)


def test_the_lean_answer_keeps_every_security_header_and_the_request_id(two_months, settings, served):
    response = lean(settings).get(f"{QUERY}/3100000001")
    assert served == [200]
    assert response["Cache-Control"] == "no-store"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    assert response["Permissions-Policy"].startswith("accelerometer=()")
    assert len(response["X-Request-ID"]) == 32
    assert response["Content-Language"] == "zh-hans" and response["Vary"] == "Accept-Language, Cookie"
    assert response["Content-Type"] == "application/json"
    assert int(response["Content-Length"]) == len(response.content)
    # The JSON as the route has always written it (ASCII escapes, ", " and ": " separators).
    assert response.content.decode() == json.dumps(DEBTOR)


def test_the_lean_and_the_whole_stack_count_in_one_bucket(two_months, settings, served):
    settings.GRIDCARE = {**settings.GRIDCARE, "PUBLIC_QUERY_RATE": 3}
    fast = Client(REMOTE_ADDR="203.0.113.50")
    statuses = [fast.get(f"{QUERY}/3100000001").status_code for _ in range(2)]
    assert served == [200, 200]
    # The third query of the window, through the whole stack (a cookie), is still allowed; the fourth is not,
    # whichever way it comes.
    cookie = Client(REMOTE_ADDR="203.0.113.50")
    cookie.cookies["django_language"] = "zh-hans"
    statuses.append(cookie.get(f"{QUERY}/3100000001").status_code)
    statuses.append(fast.get(f"{QUERY}/3100000001").status_code)
    statuses.append(cookie.get(f"{QUERY}/3100000001").status_code)
    assert statuses == [200, 200, 200, 429, 429]
    assert served == [200, 200, 429]
    limited = fast.get(f"{QUERY}/3100000001")
    assert limited.json() == LIMITED and "amount_due" not in limited.content.decode()


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("cookie", 200),  # a session, CSRF or language cookie: the stack honours it
        ("unknown parameter", 200),  # django-ninja ignores it
        ("name twice", 200),  # django-ninja picks one
        ("trailing slash", 404),  # no such route
        ("head", 405),  # django-ninja routes GET only
    ],
)
def test_anything_but_the_plain_case_goes_through_the_whole_stack(
    two_months, settings, served, how, expected
):
    client = Client(REMOTE_ADDR="198.51.100.3")
    path, params = f"{QUERY}/3100000001", {}
    if how == "cookie":
        client.cookies["sessionid"] = "not-a-session"
    elif how == "unknown parameter":
        params = {"page": "1"}
    elif how == "name twice":
        path += "?name=张三&name=张三"
    elif how == "trailing slash":
        path += "/"
    response = client.head(path) if how == "head" else client.get(path, params)
    assert response.status_code == expected
    assert 200 not in served and 404 not in served  # never answered by the lean handler
    assert response["X-Request-ID"] and response["Content-Security-Policy"]


def test_a_nul_in_the_query_is_the_apis_422(two_months, settings, served):
    response = Client().get(f"{QUERY}/3100000001", {"name": "张\x00三"})
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": "name", "message": "不能包含空字符（NUL）"}]}
    assert served == []


def test_a_failure_in_the_lean_handler_is_the_apis_500_with_the_request_id(
    world, settings, served, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("store down")

    monkeypatch.setattr(public_pay, "public_account_query", broken)
    response = Client(raise_request_exception=False).get(f"{QUERY}/3100000001")
    assert response.status_code == 500 and served == [500]
    assert response.json() == {"detail": "系统繁忙，请稍后再试", "request_id": response["X-Request-ID"]}
    assert response["Content-Security-Policy"] and response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_lean_route_is_the_documented_route():
    # The pattern in settings.LEAN_API_ROUTES must match the path django-ninja serves the query on.
    import re

    from django.conf import settings
    from django.urls import reverse

    path = reverse("api:public_account", kwargs={"account_number": "3100000001"})
    pattern, handler = settings.LEAN_API_ROUTES[0]
    assert re.fullmatch(pattern, path).groupdict() == {"account_number": "3100000001"}
    assert handler == "gridcare.payments.channels.api.public.public_account_lean"


def test_the_lookup_statement_is_prepared_on_postgresql(two_months):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (psycopg prepare_threshold)")
    client = Client()
    for _ in range(8):
        assert client.get(f"{QUERY}/3100000001").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%%pub_name%%'")
        assert cursor.fetchall(), "the public lookup is re-planned on every query"
