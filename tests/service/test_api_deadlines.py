"""`POST /api/v1/work-orders/deadlines`: the contract of issue 15 ("Deadlines, exactly"), through HTTP.

Every expected date is worked out by hand in a comment from the official 2026 calendar (seeded from the
chinese-calendar package by core/migrations/0007):
- off: 2026-02-15..23 (Spring Festival), 2026-09-25..27 (Mid-Autumn), 2026-10-01..07 (National Day), …;
- adjusted working days (调休上班): Sat 2026-02-14, Sat 2026-02-28, Sun 2026-09-20, Sat 2026-10-10, …;
- 2027 is not loaded: Monday to Friday count, and whatever counts a 2027 date is provisional.
"""

from datetime import date, datetime
from types import SimpleNamespace

import pytest

from gridcare.core.models import AuditEvent, CalendarDay, CalendarYear
from gridcare.service import services
from gridcare.service.models import SlaPolicy, WorkOrder

URL = "/api/v1/work-orders/deadlines"
END = "T23:59:59+08:00"


@pytest.fixture
def agent(svc, login):
    return login(svc.a_agent)


def preview(client, **body):
    return client.post(URL, body, content_type="application/json")


def deadlines(client, **body) -> list[tuple[str, str, bool]]:
    r = preview(client, **body)
    assert r.status_code == 200, r.content
    return [(d["name"], d["due_at"], d["provisional"]) for d in r.json()["deadlines"]]


def refused(client, **body) -> set[str]:
    r = preview(client, **body)
    assert r.status_code == 422, r.content
    return {e["field"] for e in r.json()["detail"]}


# ---------------------------------------------------------------- the worked example


@pytest.mark.django_db
def test_the_worked_example_of_the_issue_answers_exactly_the_documented_body(agent):
    # Thursday 2026-09-24. After it: 25–27 off (Mid-Autumn); Mon 28 → 1; 29–30 → 2–3; 1–7 Oct off;
    # 8–9 → 4–5; Sat 10 Oct (调休) → 6; Mon 12 → 7. contact = 1 working day, reply = 7.
    r = preview(
        agent,
        type="complaint",
        sub_type=None,
        area="urban",
        received_at="2026-09-24T10:00:00+08:00",
        arrived_at=None,
    )
    assert r.status_code == 200
    assert r.json() == {
        "deadlines": [
            {"name": "contact", "due_at": "2026-09-28T23:59:59+08:00", "provisional": False},
            {"name": "reply", "due_at": "2026-10-12T23:59:59+08:00", "provisional": False},
        ]
    }


@pytest.mark.django_db
def test_the_preview_stores_nothing(agent):
    before = (WorkOrder.objects.count(), AuditEvent.objects.count())
    deadlines(agent, type="complaint", received_at="2026-09-24T10:00:00+08:00")
    assert (WorkOrder.objects.count(), AuditEvent.objects.count()) == before


# ---------------------------------------------------------------- every type's default


RECEIVED = "2026-09-24T10:00:00+08:00"  # Thursday, the day before Mid-Autumn


@pytest.mark.parametrize(
    ("area", "arrival"),
    [
        ("urban", "2026-09-24T10:45:00+08:00"),  # 10:00 + 45 min
        ("rural", "2026-09-24T11:30:00+08:00"),  # 10:00 + 90 min
        ("remote", "2026-09-24T12:00:00+08:00"),  # 10:00 + 120 min
    ],
)
@pytest.mark.django_db
def test_fault_arrival_by_area(agent, area, arrival):
    assert deadlines(agent, type="fault", area=area, received_at=RECEIVED) == [("arrival", arrival, False)]


@pytest.mark.parametrize(
    ("area", "restoration"),
    [
        ("urban", "2026-09-24T13:30:00+08:00"),  # arrived 10:30 + 3 h
        ("rural", "2026-09-24T14:30:00+08:00"),  # arrived 10:30 + 4 h
        ("remote", "2026-09-24T14:30:00+08:00"),  # arrived 10:30 + 4 h
    ],
)
@pytest.mark.django_db
def test_fault_restoration_counts_from_arrival(agent, area, restoration):
    got = deadlines(
        agent, type="fault", area=area, received_at=RECEIVED, arrived_at="2026-09-24T10:30:00+08:00"
    )
    assert [d[0] for d in got] == ["arrival", "restoration"]
    assert got[1] == ("restoration", restoration, False)


@pytest.mark.parametrize(
    ("order_type", "sub_type", "expected"),
    [
        # 10 working days after Thu 24 Sep: 28, 29, 30 (1–3), 8, 9 (4–5), Sat 10 (6), 12, 13, 14, 15 (7–10)
        ("report", None, [("reply", "2026-10-15" + END, False)]),
        ("opinion", None, [("reply", "2026-10-15" + END, False)]),
        # 24 calendar hours
        ("service_request", "reconnection", [("complete", "2026-09-25T10:00:00+08:00", False)]),
        # 4 working days: 28, 29, 30, then 8 Oct
        ("service_request", "meter_check", [("complete", "2026-10-08" + END, False)]),
        # 6 working days: 28, 29, 30, 8, 9, Sat 10 (调休)
        ("service_request", "reading_data", [("complete", "2026-10-10" + END, False)]),
        # 5 working days: 28, 29, 30, 8, 9
        ("service_request", "other", [("complete", "2026-10-09" + END, False)]),
        ("consultation", None, []),
        ("praise", None, []),
    ],
)
@pytest.mark.django_db
def test_each_type_gets_its_default_deadlines(agent, order_type, sub_type, expected):
    assert deadlines(agent, type=order_type, sub_type=sub_type, received_at=RECEIVED) == expected


@pytest.mark.parametrize("sub_type", ["service", "business", "outage", "quality", "construction"])
@pytest.mark.django_db
def test_a_complaints_category_is_optional_and_does_not_change_its_deadlines(agent, sub_type):
    plain = deadlines(agent, type="complaint", received_at=RECEIVED)
    assert deadlines(agent, type="complaint", sub_type=sub_type, received_at=RECEIVED) == plain
    # area is optional for a complaint and changes nothing either
    assert deadlines(agent, type="complaint", sub_type=sub_type, area="remote", received_at=RECEIVED) == plain


# ---------------------------------------------------------------- fault: arrived_at and area


@pytest.mark.django_db
def test_arrived_at_may_equal_received_at(agent):
    got = deadlines(agent, type="fault", area="urban", received_at=RECEIVED, arrived_at=RECEIVED)
    # arrived at 10:00 → restoration 13:00
    assert got == [
        ("arrival", "2026-09-24T10:45:00+08:00", False),
        ("restoration", "2026-09-24T13:00:00+08:00", False),
    ]


@pytest.mark.django_db
def test_arrived_at_before_received_at_is_refused(agent):
    assert refused(
        agent, type="fault", area="urban", received_at=RECEIVED, arrived_at="2026-09-24T09:59:59+08:00"
    ) == {"arrived_at"}
    # the same instant in another offset is not "before"
    assert (
        len(
            deadlines(
                agent, type="fault", area="urban", received_at=RECEIVED, arrived_at="2026-09-24T02:00:00Z"
            )
        )
        == 2
    )


@pytest.mark.parametrize("order_type", ["complaint", "report", "opinion", "consultation", "praise"])
@pytest.mark.django_db
def test_arrived_at_on_a_type_other_than_fault_is_refused(agent, order_type):
    assert refused(agent, type=order_type, received_at=RECEIVED, arrived_at=RECEIVED) == {"arrived_at"}


@pytest.mark.django_db
def test_arrived_at_null_counts_as_absent(agent):
    assert deadlines(agent, type="fault", area="urban", received_at=RECEIVED, arrived_at=None) == [
        ("arrival", "2026-09-24T10:45:00+08:00", False)
    ]
    assert deadlines(agent, type="complaint", received_at=RECEIVED, arrived_at=None)  # not refused when null


@pytest.mark.django_db
def test_area_is_required_for_a_fault(agent):
    assert refused(agent, type="fault", received_at=RECEIVED) == {"area"}
    assert refused(agent, type="fault", area=None, received_at=RECEIVED) == {"area"}


# ---------------------------------------------------------------- vocabulary


@pytest.mark.parametrize("order_type", ["fault", "report", "opinion", "consultation", "praise"])
@pytest.mark.django_db
def test_a_sub_type_is_refused_for_types_without_one(agent, order_type):
    assert refused(agent, type=order_type, sub_type="other", area="urban", received_at=RECEIVED) == {
        "sub_type"
    }
    # null or absent is fine
    deadlines(agent, type=order_type, sub_type=None, area="urban", received_at=RECEIVED)


@pytest.mark.django_db
def test_a_service_request_needs_its_sub_type(agent):
    assert refused(agent, type="service_request", received_at=RECEIVED) == {"sub_type"}
    assert refused(agent, type="service_request", sub_type=None, received_at=RECEIVED) == {"sub_type"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "repair"}, "type"),
        ({"type": "FAULT", "area": "urban"}, "type"),
        ({"type": "service_request", "sub_type": "new_connection"}, "sub_type"),
        ({"type": "complaint", "sub_type": "new_connection"}, "sub_type"),  # comes with the 业扩 issue
        ({"type": "complaint", "sub_type": "meter_check"}, "sub_type"),  # another type's sub-type
        ({"type": "service_request", "sub_type": "service"}, "sub_type"),
        ({"type": "fault", "area": "suburban"}, "area"),
        ({"type": "complaint", "area": "city"}, "area"),
    ],
)
@pytest.mark.django_db
def test_unknown_type_sub_type_or_area_is_refused_naming_it(agent, body, field):
    assert refused(agent, received_at=RECEIVED, **body) == {field}


@pytest.mark.parametrize("key", ["deadlines", "due_at"])
@pytest.mark.parametrize("value", [None, [], "2026-09-28T23:59:59+08:00", [{"name": "contact"}]])
@pytest.mark.django_db
def test_a_deadline_sent_by_the_client_is_refused_whatever_its_value(agent, key, value):
    r = preview(agent, type="complaint", received_at=RECEIVED, **{key: value})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == key
    assert "服务器" in r.json()["detail"][0]["message"]


@pytest.mark.django_db
def test_unknown_keys_are_refused(agent):
    assert refused(agent, type="complaint", received_at=RECEIVED, channel="phone") == {"channel"}


@pytest.mark.parametrize(
    "value",
    ["2026-09-24T10:00:00", "2026-09-24 10:00:00", "2026-09-24", 1790000000, "yesterday", None, ""],
)
@pytest.mark.django_db
def test_received_at_must_be_a_time_with_an_offset(agent, value):
    assert refused(agent, type="complaint", received_at=value) == {"received_at"}


@pytest.mark.django_db
def test_received_at_and_type_are_required(agent):
    assert refused(agent, type="complaint") == {"received_at"}
    assert refused(agent, received_at=RECEIVED) == {"type"}


@pytest.mark.django_db
def test_arrived_at_needs_an_offset_too(agent):
    assert refused(
        agent, type="fault", area="urban", received_at=RECEIVED, arrived_at="2026-09-24T10:30:00"
    ) == {"arrived_at"}


@pytest.mark.django_db
def test_a_time_outside_the_supported_range_is_refused(agent):
    assert refused(agent, type="complaint", received_at="9999-12-31T23:59:59-12:00") == {"received_at"}


# ---------------------------------------------------------------- offsets and truncation


@pytest.mark.django_db
def test_received_at_in_utc_is_the_same_instant(agent):
    # 02:00Z = 10:00 +08:00: the worked example again
    assert deadlines(agent, type="complaint", received_at="2026-09-24T02:00:00Z") == [
        ("contact", "2026-09-28" + END, False),
        ("reply", "2026-10-12" + END, False),
    ]


@pytest.mark.django_db
def test_the_day_of_receipt_is_the_china_date_whatever_the_offset(agent):
    # 2026-09-29 12:00 -05:00 = 17:00Z = Wed 2026-09-30 01:00 +08:00: the day of receipt is 30 Sep, not 29.
    # contact: 1–7 Oct off → Thu 8 Oct. reply: 8, 9, Sat 10, 12, 13, 14, 15 → 15 Oct.
    # (Counted from 29 Sep it would have been contact 30 Sep.)
    assert deadlines(agent, type="complaint", received_at="2026-09-29T12:00:00-05:00") == [
        ("contact", "2026-10-08" + END, False),
        ("reply", "2026-10-15" + END, False),
    ]
    # minutes are written in China time too: 01:00 + 45 min
    assert deadlines(agent, type="fault", area="urban", received_at="2026-09-29T12:00:00-05:00") == [
        ("arrival", "2026-09-30T01:45:00+08:00", False)
    ]


@pytest.mark.django_db
def test_microseconds_are_truncated_first(agent):
    # 10:00:00.999999 → 10:00:00; + 45 min = 10:45:00 (not 10:45:00.999999, not rounded up to 10:45:01)
    assert deadlines(agent, type="fault", area="urban", received_at="2026-09-24T10:00:00.999999+08:00") == [
        ("arrival", "2026-09-24T10:45:00+08:00", False)
    ]
    # arrived .5 s "before" received .9 s: both truncate to 10:00:00, so they are equal and allowed;
    # restoration = 10:00:00 + 3 h
    got = deadlines(
        agent,
        type="fault",
        area="urban",
        received_at="2026-09-24T10:00:00.900+08:00",
        arrived_at="2026-09-24T10:00:00.500+08:00",
    )
    assert got[1] == ("restoration", "2026-09-24T13:00:00+08:00", False)


@pytest.mark.django_db
def test_received_at_the_last_second_of_a_china_day(agent):
    # Mon 2026-09-28 23:59:59 +08:00: the day of receipt is the 28th whatever the hour → contact Tue 29.
    assert deadlines(agent, type="complaint", received_at="2026-09-28T23:59:59+08:00")[0] == (
        "contact",
        "2026-09-29" + END,
        False,
    )
    # The same instant written in UTC (15:59:59Z) is the same China day.
    assert deadlines(agent, type="complaint", received_at="2026-09-28T15:59:59Z")[0][1] == "2026-09-29" + END
    # One second later (Tue 29 00:00:00) the day of receipt is the 29th → contact Wed 30.
    assert (
        deadlines(agent, type="complaint", received_at="2026-09-29T00:00:00+08:00")[0][1]
        == "2026-09-30" + END
    )
    # A fault at 23:59:59: 45 minutes run over midnight → 00:44:59 the next day.
    assert deadlines(agent, type="fault", area="urban", received_at="2026-09-28T23:59:59+08:00") == [
        ("arrival", "2026-09-29T00:44:59+08:00", False)
    ]


# ---------------------------------------------------------------- the calendar


@pytest.mark.django_db
def test_weekends_do_not_count(agent):
    # Fri 2026-10-16: Sat 17 and Sun 18 are off → contact Mon 19.
    # reply (7): 19, 20, 21, 22, 23 (1–5), Mon 26 (6), Tue 27 (7).
    assert deadlines(agent, type="complaint", received_at="2026-10-16T09:00:00+08:00") == [
        ("contact", "2026-10-19" + END, False),
        ("reply", "2026-10-27" + END, False),
    ]
    # Received on Saturday 17: the day of receipt never counts, Sunday is off → Mon 19 as well.
    assert (
        deadlines(agent, type="complaint", received_at="2026-10-17T09:00:00+08:00")[0][1]
        == "2026-10-19" + END
    )


@pytest.mark.django_db
def test_statutory_holidays_do_not_count(agent):
    # Wed 2026-09-30: National Day 1–7 Oct off → contact Thu 8 Oct.
    assert deadlines(agent, type="complaint", received_at="2026-09-30T16:00:00+08:00")[0] == (
        "contact",
        "2026-10-08" + END,
        False,
    )
    # Received during the holiday (Sat 3 Oct): the next working day is still Thu 8 Oct.
    assert (
        deadlines(agent, type="complaint", received_at="2026-10-03T08:00:00+08:00")[0][1]
        == "2026-10-08" + END
    )


@pytest.mark.django_db
def test_adjusted_working_weekends_count(agent):
    # Fri 2026-02-13: Sat 14 Feb is a 调休 working day → contact Sat 14.
    # reply (7): 14 (1); 15–23 Spring Festival off; Tue 24, 25, 26, Fri 27 (2–5); Sat 28 (调休, 6); Mon 2 Mar (7).
    assert deadlines(agent, type="complaint", received_at="2026-02-13T11:00:00+08:00") == [
        ("contact", "2026-02-14" + END, False),
        ("reply", "2026-03-02" + END, False),
    ]
    # Sat 2026-09-19: Sun 20 Sep is a 调休 working day → contact Sun 20.
    assert (
        deadlines(agent, type="complaint", received_at="2026-09-19T11:00:00+08:00")[0][1]
        == "2026-09-20" + END
    )


@pytest.mark.django_db
def test_year_end_into_an_unloaded_year_is_provisional(agent):
    assert not CalendarYear.objects.filter(year=2027).exists()
    # Wed 2026-12-30. contact: Thu 31 Dec (only 2026 counted) → not provisional.
    # reply (7): 31 Dec (1); 2027 unloaded so Monday–Friday count: Fri 1 Jan (2), Mon 4 … Fri 8 Jan (3–7)
    # → 8 Jan, provisional (2027 dates were counted).
    assert deadlines(agent, type="complaint", received_at="2026-12-30T10:00:00+08:00") == [
        ("contact", "2026-12-31" + END, False),
        ("reply", "2027-01-08" + END, True),
    ]
    # Received on Thu 31 Dec: contact Fri 1 Jan 2027, provisional.
    assert deadlines(agent, type="complaint", received_at="2026-12-31T10:00:00+08:00")[0] == (
        "contact",
        "2027-01-01" + END,
        True,
    )


@pytest.mark.django_db
def test_minutes_and_hours_into_an_unloaded_year_are_never_provisional(agent):
    # 2026-12-31 23:30 + 45 min = 2027-01-01 00:15; arrived 00:10 + 3 h = 03:10
    assert deadlines(
        agent,
        type="fault",
        area="urban",
        received_at="2026-12-31T23:30:00+08:00",
        arrived_at="2027-01-01T00:10:00+08:00",
    ) == [
        ("arrival", "2027-01-01T00:15:00+08:00", False),
        ("restoration", "2027-01-01T03:10:00+08:00", False),
    ]
    # reconnection: 24 h from 2026-12-31 12:00
    assert deadlines(
        agent, type="service_request", sub_type="reconnection", received_at="2026-12-31T12:00:00+08:00"
    ) == [("complete", "2027-01-01T12:00:00+08:00", False)]


@pytest.mark.django_db
def test_an_order_received_in_an_unloaded_year_is_provisional(agent):
    # Mon 2027-03-01, report: 10 weekdays → 2, 3, 4, 5, 8, 9, 10, 11, 12, Mon 15 Mar.
    assert deadlines(agent, type="report", received_at="2027-03-01T10:00:00+08:00") == [
        ("reply", "2027-03-15" + END, True)
    ]


@pytest.mark.django_db
def test_a_year_loaded_by_the_administrator_is_honoured_and_not_provisional(agent):
    # An invented 2027 (the real one is published in November): 1 Jan (Fri) and Mon 4 Jan off, Sat 9 Jan worked.
    year = CalendarYear.objects.create(year=2027, loaded=True, source="manual")
    CalendarDay.objects.bulk_create(
        [
            CalendarDay(year=year, date=date(2027, 1, 1), is_working=False, name="元旦"),
            CalendarDay(year=year, date=date(2027, 1, 4), is_working=False, name="元旦"),
            CalendarDay(year=year, date=date(2027, 1, 9), is_working=True, name="元旦调休"),
        ]
    )
    # Wed 2026-12-30. reply (7): Thu 31 Dec (1); 1 Jan off; 2–3 weekend; 4 Jan off; Tue 5, 6, 7, Fri 8 (2–5);
    # Sat 9 (worked, 6); Mon 11 (7) → 11 Jan, not provisional.
    assert deadlines(agent, type="complaint", received_at="2026-12-30T10:00:00+08:00") == [
        ("contact", "2026-12-31" + END, False),
        ("reply", "2027-01-11" + END, False),
    ]
    # A year entered but not yet marked loaded still counts Monday–Friday, provisionally.
    year.loaded = False
    year.save()
    assert deadlines(agent, type="complaint", received_at="2026-12-30T10:00:00+08:00")[1] == (
        "reply",
        "2027-01-08" + END,
        True,
    )


# ---------------------------------------------------------------- the policy table


@pytest.mark.django_db
def test_an_edited_policy_changes_the_preview_and_new_orders_only(svc, agent, login, monkeypatch):
    # The orders are registered at 2026-09-24 10:00 (the server's clock, injected).
    now = datetime.fromisoformat(RECEIVED)
    monkeypatch.setattr(services, "timezone", SimpleNamespace(now=lambda: now))
    clerk = login(svc.a_clerk)
    before = clerk.post(
        "/api/v1/work-orders",
        {"type": "complaint", "account_number": "3100000001"},
        content_type="application/json",
    ).json()
    assert before["deadlines"][0] == {"name": "contact", "due_at": "2026-09-28" + END, "provisional": False}

    # The administrator makes contact 2 working days: Mon 28 (1), Tue 29 (2).
    SlaPolicy.objects.filter(order_type="complaint", name="contact").update(amount=2)
    assert deadlines(agent, type="complaint", received_at=RECEIVED)[0] == (
        "contact",
        "2026-09-29" + END,
        False,
    )
    after = clerk.post(
        "/api/v1/work-orders",
        {"type": "complaint", "account_number": "3100000001"},
        content_type="application/json",
    ).json()
    assert after["deadlines"][0]["due_at"] == "2026-09-29" + END
    # The order created before the change keeps the deadline it was given.
    old = clerk.get(f"/api/v1/work-orders/{before['number']}").json()
    assert old["deadlines"][0]["due_at"] == "2026-09-28" + END

    # A more specific row (per area) beats the type's row: remote complaints get 3 working days → Wed 30.
    SlaPolicy.objects.create(
        order_type="complaint", area="remote", name="contact", amount=3, unit="working_days"
    )
    assert deadlines(agent, type="complaint", area="remote", received_at=RECEIVED)[0][1] == "2026-09-30" + END
    assert deadlines(agent, type="complaint", area="urban", received_at=RECEIVED)[0][1] == "2026-09-29" + END


# ---------------------------------------------------------------- who may ask


@pytest.mark.django_db
def test_a_staff_token_is_required(svc, login):
    from django.test import Client

    body = {"type": "complaint", "received_at": RECEIVED}
    assert Client().post(URL, body, content_type="application/json").status_code == 401
    assert login(svc.portal_user).post(URL, body, content_type="application/json").status_code == 403
    # every staff role may preview, whatever its unit (the preview touches no order)
    for user in (svc.a_reader, svc.b_agent, svc.a_dispatcher, svc.admin):
        assert login(user).post(URL, body, content_type="application/json").status_code == 200


@pytest.mark.django_db
def test_a_bearer_token_works(svc):
    from django.test import Client

    from gridcare.core.audit import Actor
    from gridcare.org import services as org_services

    _token, key = org_services.api_token_create(actor=Actor(), user=svc.a_agent, name="ivr")
    r = Client(HTTP_AUTHORIZATION=f"Bearer {key}").post(
        URL, {"type": "complaint", "received_at": RECEIVED}, content_type="application/json"
    )
    assert r.status_code == 200 and len(r.json()["deadlines"]) == 2


def test_an_empty_sub_type_or_area_is_not_absent(agent):
    # "null or absent" only: an empty string is an unknown value, named
    assert refused(
        agent, type="fault", sub_type="", area="urban", received_at="2026-09-24T10:00:00+08:00"
    ) == {"sub_type"}
    assert refused(agent, type="complaint", area="", received_at="2026-09-24T10:00:00+08:00") == {"area"}
