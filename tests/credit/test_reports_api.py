"""The credit reports API and the policy API: figures (the `rep` data of test_reports), 422 naming the field,
scoping, the permission matrix, never a 5xx."""

import pytest

from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.credit.models import CreditPolicy
from gridcare.credit.policy import current_policy
from tests.factories import UserFactory

from .test_reports import counts, rep  # noqa: F401 - the fixture

GRADES = "/api/v1/credit/reports/grades"
MOVERS = "/api/v1/credit/reports/movers"
D_LIST = "/api/v1/credit/reports/d-list"
POLICY = "/api/v1/credit/policy"


def fields(resp) -> set[str]:
    assert resp.status_code == 422, resp.content
    return {e["field"] for e in resp.json()["detail"]}


def test_grades_api(rep, login):  # noqa: F811
    body = login(rep.admin).get(GRADES).json()
    assert body["month"] == "2026-12" and body["as_of"] == "2026-12-01"
    assert [(r["unit"]["name"], r["total"]) for r in body["rows"]] == [("城东供电局", 5), ("城西供电局", 2)]
    assert body["total"]["counts"] == counts(AAA=1, A=2, B=1, C=1, D=2)
    assert body["total"]["shares"]["D"] == 28.6
    assert [t["month"] for t in body["trend"]] == ["2026-10", "2026-11", "2026-12"]
    body = login(rep.a_manager).get(GRADES, {"rated_class": "power", "month": "2026-11"}).json()
    # Bureau A, November, power: power_a B (station A1), a_direct D (bureau A itself).
    assert [(r["unit"]["name"], r["counts"]) for r in body["rows"]] == [
        ("东关供电所", counts(B=1)),
        ("城东供电局", counts(D=1)),
    ]


def test_movers_and_d_list_api(rep, login):  # noqa: F811
    w = rep
    body = login(w.admin).get(MOVERS, {"direction": "down"}).json()
    assert (body["before_month"], body["after_month"], body["count"]) == ("2026-11", "2026-12", 3)
    assert [(i["customer_id"], i["steps"], i["direction"]) for i in body["items"]] == [
        (w.cust_b.pk, 5, "down"),
        (w.power_a.pk, 2, "down"),
        (w.cust_a.pk, 1, "down"),
    ]
    assert body["items"][2]["customer_name"] == "张*"
    body = login(w.b_manager).get(D_LIST).json()
    assert body["count"] == 1 and body["items"][0]["customer_id"] == w.cust_b.pk
    assert body["measures"] == ["deposit_or_prepaid", "connection_flag"]
    assert body["items"][0]["reasons"] == "破坏或危害电力设施 2026-03-02 该项清零"
    assert login(w.admin).get(D_LIST, {"page": 2}).json()["items"] == []


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        (GRADES, {"month": "2026-13"}, "month"),
        (GRADES, {"month": "2026-08"}, "month"),
        (GRADES, {"rated_class": "x"}, "rated_class"),
        (GRADES, {"unit_id": "-1"}, "unit_id"),
        (GRADES, {"from": "2026-12", "to": "2026-10"}, "to"),
        (GRADES, {"month": "2026-123456"}, "month"),  # longer than the schema allows
        (MOVERS, {"direction": "left"}, "direction"),
        (MOVERS, {"from": "2026-12", "to": "2026-11"}, "from"),
        (MOVERS, {"page": "0"}, "page"),
        (MOVERS, {"page": "x"}, "page"),
        (D_LIST, {"month": "1999-12"}, "month"),
        (D_LIST, {"page": "99999999"}, "page"),
        (D_LIST, {"unit_id": "1.5"}, "unit_id"),
    ],
)
def test_bad_params_422_naming_the_field(rep, login, url, params, field):  # noqa: F811
    assert field in fields(login(rep.admin).get(url, params))


@pytest.mark.parametrize("url", [GRADES, MOVERS, D_LIST])
def test_reports_permission_matrix(rep, login, url):  # noqa: F811
    w = rep
    assert login().get(url).status_code == 401
    customer = UserFactory(username="13700000009", role=Role.CUSTOMER, unit=None, phone="13700000009")
    assert login(customer).get(url).status_code == 403
    cashier = UserFactory(username="a_cashier", role=Role.CASHIER, unit=w.bureau_a)  # no credit.view
    assert login(cashier).get(url).status_code == 403
    assert login(w.b_inspector).get(url, {"unit_id": w.bureau_a.pk}).status_code == 404
    assert login(w.b_inspector).get(url, {"unit_id": 10**9}).status_code == 404
    assert login(w.b_inspector).get(url).status_code == 200


def test_odd_inputs_never_5xx(rep, login):  # noqa: F811
    c = login(rep.admin)
    odd = [
        "",
        " ",
        "0",
        "-0",
        "9" * 30,
        "2026-00",
        "2026-1",
        "２０２６-１１",
        "2026-11\x00",
        "%",
        "null",
        "[]",
    ]
    for url in [GRADES, MOVERS, D_LIST]:
        for key in ["unit_id", "rated_class", "month", "from", "to", "direction", "page"]:
            for v in odd:
                r = c.get(url, {key: v})
                assert r.status_code in (200, 404, 422), (url, key, v, r.status_code)


# ---------------------------------------------------------------- the policy API


def test_policy_get_and_put_audited(cw, login):
    c = login(cw.admin)
    body = c.get(POLICY).json()
    assert body["grade_aaa"] == "90.0" or float(body["grade_aaa"]) == 90.0
    assert body["measures"]["C"] == ["split_settlement", "dunning_earlier"] and body["may_edit"] is True
    r = c.put(
        POLICY,
        {"grade_c": "45.5", "dunning_advance_days": 10, "wrong_account_codes": ["3001", "4004"]},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    p = CreditPolicy.objects.get(pk=1)
    assert (str(p.grade_c), p.dunning_advance_days, p.wrong_account_codes) == ("45.5", 10, ["3001", "4004"])
    (ev,) = AuditEvent.objects.filter(action="credit.policy_update")
    assert ev.actor_id == cw.admin.pk
    assert ev.changes == {
        "grade_c": ["50.0", "45.5"],
        "dunning_advance_days": [15, 10],
        "wrong_account_codes": [["3001", "3002"], ["3001", "4004"]],
    }
    # The same again: nothing changed, no second audit row.
    c.put(POLICY, {"grade_c": "45.5"}, content_type="application/json")
    assert AuditEvent.objects.filter(action="credit.policy_update").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grade_aa": "95"}, "grade_aa"),  # not below AAA's 90
        ({"grade_aaa": "101"}, "grade_aaa"),
        ({"grade_c": "0"}, "grade_c"),
        ({"grade_c": "-5"}, "grade_c"),
        ({"grade_b": "55.55"}, "grade_b"),
        ({"grade_b": "50"}, "grade_c"),  # B 50 makes C's 50 not below it
        ({"grace_days": -1}, "grace_days"),
        ({"grace_days": "x"}, "grace_days"),
        ({"grace_days": None}, "grace_days"),
        ({"assessment_months": 13}, "assessment_months"),
        ({"inspect_hv_months": 0}, "inspect_hv_months"),
        ({"lighting_classes": ["lamp"]}, "lighting_classes"),
        ({"measures": {"C": ["free_beer"]}}, "measures.C"),
        ({"measures": {"Z": []}}, "measures"),
        ({"wrong_account_codes": ["30011"]}, "wrong_account_codes"),
        ({"wrong_account_codes": ["30a1"]}, "wrong_account_codes"),
        ({"rectification_days": 10**20}, "rectification_days"),
        ({"grade_a": "NaN"}, "grade_a"),
    ],
)
def test_policy_put_bad_input_422_nothing_written(cw, login, body, field):
    before = current_policy()
    r = login(cw.admin).put(POLICY, body, content_type="application/json")
    assert field in fields(r)
    after = CreditPolicy.objects.get(pk=1)
    assert [getattr(after, f.attname) for f in CreditPolicy._meta.concrete_fields] == [
        getattr(before, f.attname) for f in CreditPolicy._meta.concrete_fields
    ]
    assert not AuditEvent.objects.filter(action="credit.policy_update").exists()


def test_policy_api_permission_matrix(cw, login):
    put = {"grace_days": 3}
    assert login().get(POLICY).status_code == 401
    assert login().put(POLICY, put, content_type="application/json").status_code == 401
    customer = UserFactory(username="13700000009", role=Role.CUSTOMER, unit=None, phone="13700000009")
    for user in [customer, cw.inspector, cw.cmanager]:  # no credit.admin
        assert login(user).get(POLICY).status_code == 403
        assert login(user).put(POLICY, put, content_type="application/json").status_code == 403
    # A bureau's manager holds credit.admin but the policy is company-wide: read, not write.
    body = login(cw.a_manager).get(POLICY).json()
    assert body["may_edit"] is False
    assert login(cw.a_manager).put(POLICY, put, content_type="application/json").status_code == 403
    assert current_policy().grace_days == 0
    assert not AuditEvent.objects.filter(action="credit.policy_update").exists()


@pytest.mark.parametrize("url", [GRADES, MOVERS, D_LIST])
def test_reports_before_any_run_answer_empty(world, login, url):
    """A fresh system (no monthly run yet): every report answers 200 with nothing in it, never a 500."""
    resp = login(world.admin).get(url)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    if url == GRADES:
        assert body["month"] is None and body["rows"] == [] and body["total"]["total"] == 0
        assert set(body["total"]["shares"].values()) == {None}
    else:
        assert body["items"] == []
