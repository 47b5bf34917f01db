"""`POST /api/v1/late-fee/calculate` (issue 10 §3): the late-fee what-if. Stores nothing; any staff role;
422 naming the field; never 5xx. Expected figures are worked out by hand (see test_latefee_bill.py for
the rule itself)."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import STAFF_ROLES
from gridcare.org import services as org_services
from gridcare.payments.models import Allocation, LedgerEntry, Payment, Receivable
from tests.factories import UserFactory

URL = "/api/v1/late-fee/calculate"

EXAMPLE = {
    "customer_class": "residential",
    "period": "2026-10",
    "due_date": "2026-11-20",
    "principal": "100.00",
    "as_of": "2026-12-20",
    "payments": [{"date": "2026-11-21", "amount": "1.00"}, {"date": "2026-12-20", "amount": "101.97"}],
}


def post(client: Client, body):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json")


def state():
    """Rows the endpoint must never write."""
    return [m.objects.count() for m in (Receivable, Payment, Allocation, LedgerEntry, AuditEvent)]


def test_the_issue_example(world, login):
    resp = post(login(world.a_clerk), EXAMPLE)
    assert resp.status_code == 200, resp.content
    # 21 Nov: 100.00 × 0.001 × 1 = 0.10 fee, 0.90 principal → 99.10 left
    # 20 Dec: 99.10 × 0.001 × 29 = 2.8739 → 2.87 fee, 101.97 − 2.87 = 99.10 principal; 0.10 + 2.87 = 2.97
    assert resp.json() == {
        "charges": [
            {"date": "2026-11-21", "late_fee": "0.10", "principal": "0.90"},
            {"date": "2026-12-20", "late_fee": "2.87", "principal": "99.10"},
        ],
        "late_fee_total": "2.97",
        "principal_outstanding": "0.00",
        "late_fee_due": "0.00",
        "credit": "0.00",
    }


def _body(**kw):
    return {**EXAMPLE, **kw}


@pytest.mark.parametrize(
    "body, expected",
    [
        # Nothing paid, 1 day late: max(0.10, 1.00) − 0 = 1.00 due
        (
            _body(as_of="2026-11-21", payments=[]),
            {
                "charges": [],
                "late_fee_total": "0.00",
                "principal_outstanding": "100.00",
                "late_fee_due": "1.00",
            },
        ),
        # as_of before the due date is allowed: nothing is overdue
        (
            _body(as_of="2026-11-01", payments=[]),
            {"late_fee_total": "0.00", "principal_outstanding": "100.00", "late_fee_due": "0.00"},
        ),
        # Paid on the due date: no fee
        (
            _body(as_of="2026-11-20", payments=[{"date": "2026-11-20", "amount": "100.00"}]),
            {
                "charges": [{"date": "2026-11-20", "late_fee": "0.00", "principal": "100.00"}],
                "credit": "0.00",
            },
        ),
        # 1 day late, paid in full: 0.10 accrued + 0.90 shortfall with the payoff; 150 − 101 = 49.00 credit
        (
            _body(as_of="2026-11-21", payments=[{"date": "2026-11-21", "amount": "150.00"}]),
            {
                "charges": [{"date": "2026-11-21", "late_fee": "1.00", "principal": "100.00"}],
                "late_fee_total": "1.00",
                "credit": "49.00",
            },
        ),
        # Partial: 25 Nov 0.50 fee + 29.50; 30 Nov 70.50 × 0.001 × 5 = 0.35, 0.50 + 0.35 < 1 → +0.15 = 0.50
        (
            _body(as_of="2026-11-30", payments=[{"date": "2026-11-25", "amount": "30.00"}]),
            {"late_fee_total": "0.50", "principal_outstanding": "70.50", "late_fee_due": "0.50"},
        ),
        # Commercial 2026-11 bill due 20 Dec, 500.00 on 10 Jan 2027: 1000 × (0.002 × 11 + 0.003 × 10) = 52.00
        # fee, 448.00 principal; as of 20 Jan: 552 × 0.003 × 10 = 16.56
        (
            _body(
                customer_class="commercial",
                period="2026-11",
                due_date="2026-12-20",
                principal="1000",
                as_of="2027-01-20",
                payments=[{"date": "2027-01-10", "amount": "500"}],
            ),
            {
                "charges": [{"date": "2027-01-10", "late_fee": "52.00", "principal": "448.00"}],
                "principal_outstanding": "552.00",
                "late_fee_due": "16.56",
            },
        ),
    ],
)
def test_cases_worked_out_by_hand(world, login, body, expected):
    got = post(login(world.a_clerk), body).json()
    assert {k: got[k] for k in expected} == expected


# ---------------------------------------------------------------- who may call it


@pytest.mark.parametrize("role", [r.value for r in STAFF_ROLES])
def test_every_staff_role_may_use_it_with_a_token(world, role):
    user = UserFactory(username=f"lf_{role}", role=role, unit=world.station_a)
    _token, key = org_services.api_token_create(actor=Actor(), user=user, name="what-if")
    before = state()
    resp = post(Client(HTTP_AUTHORIZATION=f"Bearer {key}"), EXAMPLE)
    assert resp.status_code == 200 and resp.json()["late_fee_total"] == "2.97"
    assert state() == before


def test_staff_of_any_unit_and_the_console_session_may_use_it(world, login):
    for user in (world.b_clerk, world.admin, world.a_agent):
        assert post(login(user), EXAMPLE).status_code == 200


def test_refusals_change_nothing(world, login):
    before = state()
    anon = post(Client(), EXAMPLE)
    assert anon.status_code == 401 and anon.json()["detail"]
    assert post(Client(HTTP_AUTHORIZATION="Bearer gc_not-a-key"), EXAMPLE).status_code == 401
    portal = post(login(world.portal_user), EXAMPLE)
    assert portal.status_code == 403 and portal.json()["detail"] == "违约金试算仅供工作人员使用"
    _token, key = org_services.api_token_create(actor=Actor(), user=world.portal_user, name="x")
    before = state()
    assert post(Client(HTTP_AUTHORIZATION=f"Bearer {key}"), EXAMPLE).status_code == 403
    nounit = UserFactory(username="lf_nounit", role="counter_clerk", unit=None)  # not placed in a unit yet
    assert post(login(nounit), EXAMPLE).status_code == 403
    assert state() == before


def test_it_stores_nothing(world, login):
    before = state()
    for _ in range(2):
        assert post(login(world.a_clerk), EXAMPLE).status_code == 200
    assert state() == before


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "change, field",
    [
        ({"customer_class": "household"}, "customer_class"),
        ({"customer_class": ""}, "customer_class"),
        ({"period": "2026-13"}, "period"),
        ({"period": "2026/10"}, "period"),
        ({"period": "0000-10"}, "period"),
        ({"due_date": "2026-02-30"}, "due_date"),
        ({"due_date": "20261120"}, "due_date"),
        ({"due_date": "2026-09-30"}, "due_date"),  # before the 2026-10 period
        ({"as_of": "yesterday"}, "as_of"),
        ({"principal": "0"}, "principal"),
        ({"principal": "-100.00"}, "principal"),
        ({"principal": "100.001"}, "principal"),
        ({"principal": "1e2"}, "principal"),
        ({"principal": "NaN"}, "principal"),
        ({"principal": 100}, "principal"),  # money is a string
        ({"payments": [{"date": "2026-11-21", "amount": "0.00"}]}, "payments.0.amount"),
        ({"payments": [{"date": "2026-11-21", "amount": "-1"}]}, "payments.0.amount"),
        ({"payments": [{"date": "2026-11-21", "amount": "1.005"}]}, "payments.0.amount"),
        (
            {"payments": [{"date": "2026-11-21", "amount": "1"}, {"date": "2026-12-21", "amount": "1"}]},
            "payments.1.date",
        ),
        ({"payments": [{"date": "2026-11-31", "amount": "1"}]}, "payments.0.date"),
        ({"payments": [{"amount": "1"}]}, "payments.0.date"),
        ({"payments": [{"date": "2026-11-21", "amount": "1"}] * 367}, "payments"),
        ({"payments": "none"}, "payments"),
    ],
)
def test_bad_input_is_422_naming_the_field(world, login, change, field):
    before = state()
    resp = post(login(world.a_clerk), {**EXAMPLE, **change})
    assert resp.status_code == 422, resp.content
    fields = [e["field"] for e in resp.json()["detail"]]
    assert field in fields and all(e["message"] for e in resp.json()["detail"])
    assert state() == before


def test_366_payments_are_accepted(world, login):
    body = {**EXAMPLE, "as_of": "2027-11-30", "payments": [{"date": "2026-11-21", "amount": "0.01"}] * 366}
    resp = post(login(world.a_clerk), body)
    assert resp.status_code == 200
    got = resp.json()
    # 21 Nov: 100 × 0.001 × 1 = 0.10 accrued; the first ten payments pay it a fen each, the other 356 pay
    # 3.56 of principal → 96.44 left. 30 Nov 2027 is 9 + 365 = 374 days after 21 Nov 2026:
    # 96.44 × 0.001 × 374 = 36.06856 → 36.07 due (0.10 + 36.07 ≥ 1.00, no shortfall)
    assert [c["late_fee"] for c in got["charges"][:11]] == ["0.01"] * 10 + ["0.00"]
    assert (got["late_fee_total"], got["principal_outstanding"], got["late_fee_due"]) == (
        "0.10",
        "96.44",
        "36.07",
    )


@pytest.mark.parametrize("raw", ["", "not json", "[]", "null", '{"customer_class": null}', "{}"])
def test_malformed_bodies_are_refused_without_a_5xx(world, login, raw):
    resp = post(login(world.a_clerk), raw)
    assert 400 <= resp.status_code < 500


text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["2026-11-20", "2026-11-21", "2027-01-01", "9999-12-31", "0001-01-01", "2026-10"]),
    st.sampled_from(["100.00", "0.01", "999999999.99", "1000000000.00", "-0.00", "1e9", " 5 "]),
)
payment = st.fixed_dictionaries({"date": text, "amount": text})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {
            "customer_class": st.one_of(text, st.sampled_from(["residential", "commercial", "agricultural"])),
            "period": text,
            "due_date": text,
            "principal": text,
            "as_of": text,
        },
        optional={"payments": st.lists(payment, max_size=4)},
    )
)
def test_fuzzed_bodies_never_5xx_and_store_nothing(world, body):
    client = Client()
    client.force_login(world.a_clerk)
    before = state()
    resp = post(client, body)
    assert resp.status_code in (200, 422), resp.content
    assert state() == before


def test_openapi_documents_the_endpoint(db):
    doc = Client().get("/api/v1/openapi.json").json()
    op = doc["paths"][URL]["post"]
    assert {"200", "401", "403", "422"} <= set(op["responses"]) and op.get("security")
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body
