"""POST /api/v1/halls/staffing: Erlang C against values worked out here from the issue's formulas."""

import math

import pytest

URL = "/api/v1/halls/staffing"
BODY = {
    "arrivals_per_hour": 120,
    "mean_service_minutes": 5,
    "target_wait_seconds": 900,
    "target_service_level": 0.8,
    "max_counters": 60,
}


def c_by_factorials(n, a):
    """C(N, A) straight from the issue's formula (fine for small A)."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def post(client, body):
    return client.post(URL, body, content_type="application/json")


def test_example_and_table(world, login):
    r = post(login(world.a_clerk), BODY)
    assert r.status_code == 200, r.content
    d = r.json()
    a, h = 10.0, 5 / 60
    assert d["offered_load"] == pytest.approx(a)
    assert d["counters"] == 11
    c11 = c_by_factorials(11, a)
    assert d["erlang_c"] == pytest.approx(c11, rel=1e-12)
    assert round(d["erlang_c"], 5) == 0.68212
    assert d["service_level"] == pytest.approx(1 - c11 * math.exp(-(11 - a) * 0.25 / h), rel=1e-12)
    assert d["asa_seconds"] == pytest.approx(c11 * h / (11 - a) * 3600, rel=1e-12)
    assert d["occupancy"] == pytest.approx(10 / 11)
    assert [row["counters"] for row in d["table"]] == [11, 12, 13, 14]
    assert round(d["table"][3]["erlang_c"], 5) == 0.17413  # the check: A = 10, N = 14


def test_target_binds_at_20_seconds(world, login):
    d = post(login(world.a_clerk), {**BODY, "target_wait_seconds": 20}).json()
    sl = [round(r["service_level"], 3) for r in d["table"][:4]]
    assert sl == [0.362, 0.607, 0.766, 0.867]
    assert d["counters"] == 14
    assert [r["counters"] for r in d["table"]] == list(range(11, 18))


def test_zero_wait_is_one_minus_c(world, login):
    d = post(login(world.a_clerk), {**BODY, "target_wait_seconds": 0, "target_service_level": 0.3}).json()
    assert d["service_level"] == pytest.approx(1 - d["erlang_c"])


def test_large_load_no_overflow(world, login):
    d = post(
        login(world.a_clerk),
        {**BODY, "arrivals_per_hour": 12000, "target_wait_seconds": 20, "max_counters": 2000},
    ).json()
    assert d["offered_load"] == pytest.approx(1000.0)
    assert d["counters"] > 1000 and all(math.isfinite(r["erlang_c"]) for r in d["table"])
    assert d["table"][0]["counters"] == 1001


def test_unreachable_and_bad_input_answer_422(world, login):
    c = login(world.a_clerk)
    r = post(c, {**BODY, "max_counters": 11, "target_wait_seconds": 20})
    assert r.status_code == 422
    assert r.json()["best_service_level"] == pytest.approx(0.362, abs=5e-4)
    r = post(c, {**BODY, "max_counters": 10})  # ⌊A⌋ + 1 = 11 > 10
    assert r.status_code == 422 and r.json()["best_service_level"] is None
    for field, value in [
        ("arrivals_per_hour", 0),
        ("mean_service_minutes", -1),
        ("target_service_level", 1),
        ("target_service_level", 0),
        ("target_wait_seconds", -5),
    ]:
        r = post(c, {**BODY, field: value})
        assert r.status_code == 422, (field, value)
        assert r.json()["detail"][0]["field"] == field


def test_roles(world, login):
    assert post(login(), BODY).status_code == 401
    assert post(login(world.portal_user), BODY).status_code == 403
    assert post(login(world.a_reader), BODY).status_code == 200


def test_extreme_but_finite_inputs_answer_422_not_500(world, login):
    c = login(world.a_clerk)
    r = post(c, {**BODY, "arrivals_per_hour": 1e308, "mean_service_minutes": 120})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "arrivals_per_hour"
    r = post(c, {**BODY, "mean_service_minutes": 5e-324})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "mean_service_minutes"
