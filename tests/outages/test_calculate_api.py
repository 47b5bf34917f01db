"""`POST /api/v1/reliability/calculate` (issue 14): the issue's example answered exactly, staff only, and every
bad input a 422 naming its field — nothing is stored (there is nothing to store)."""

import json

import pytest
from django.test import Client

URL = "/api/v1/reliability/calculate"
EXAMPLE = {
    "customers_served": 120000,
    "start": "2025-01-01",
    "end": "2025-12-31",
    "momentary_max_minutes": 5,
    "events": [
        {
            "id": "E1",
            "start": "2025-03-01T10:00:00+08:00",
            "end": "2025-03-01T12:30:00+08:00",
            "customers": 120,
            "cause": "fault",
        }
    ],
}


def post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def test_the_issues_example_is_answered_exactly(world, login):
    r = post(login(world.a_clerk), EXAMPLE)
    assert r.status_code == 200, r.content
    same = {
        "saifi": 0.001,
        "saidi_hours": 0.0025,
        "caidi_hours": 2.5,
        "asai_percent": 99.99997146118722,
        "maifi": 0.0,
        "rs2_percent": 99.99997146118722,
        "rs3_percent": 99.99997146118722,
    }
    body = r.json()
    assert body["customers_served"] == 120000 and isinstance(body["customers_served"], int)
    assert (body["period_hours"], body["t_med_minutes"], body["major_event_days"]) == (8760, None, [])
    for part in ("all", "excluding_med"):
        assert body[part] == pytest.approx(same, rel=1e-12)


def test_anonymous_is_401_and_a_portal_customer_403(world, login):
    assert post(Client(), EXAMPLE).status_code == 401
    assert post(login(world.portal_user), EXAMPLE).status_code == 403


@pytest.mark.parametrize(
    "change, field",
    [
        ({"end": "2024-12-31"}, "end"),
        ({"end": "2035-12-31"}, "end"),  # longer than 3,653 days
        ({"start": "2025-13-01"}, "start"),
        ({"customers_served": 0}, "customers_served"),
        ({"customers_served": "many"}, "customers_served"),
        ({"momentary_max_minutes": -1}, "momentary_max_minutes"),
    ],
)
def test_bad_periods_and_counts_name_their_field(world, login, change, field):
    r = post(login(world.a_clerk), {**EXAMPLE, **change})
    assert r.status_code == 422, r.content
    assert field in [d["field"] for d in r.json()["detail"]]


@pytest.mark.parametrize(
    "event, field",
    [
        ({"end": "2019-03-01T09:59:59+08:00"}, "events.3.end"),  # before its start
        ({"start": "2025-03-01T10:00:00"}, "events.3.start"),  # no UTC offset
        ({"customers": -1}, "events.3.customers"),
        ({"customers": 120001}, "events.3.customers"),  # above customers_served
        ({"customers": 1.5}, "events.3.customers"),
        ({"cause": "storm"}, "events.3.cause"),
        ({"id": "E0"}, "events.3.id"),  # the same id as event 0
    ],
)
def test_each_bad_event_names_its_index_and_field(world, login, event, field):
    good = [{**EXAMPLE["events"][0], "id": f"E{i}"} for i in range(3)]
    # Outside the period (2019): still validated
    bad = {
        **EXAMPLE["events"][0],
        "id": "E3",
        "start": "2019-03-01T10:00:00+08:00",
        "end": "2019-03-01T12:30:00+08:00",
    }
    bad.update(event)
    r = post(login(world.a_clerk), {**EXAMPLE, "events": [*good, bad]})
    assert r.status_code == 422, r.content
    assert [d["field"] for d in r.json()["detail"]] == [field]
