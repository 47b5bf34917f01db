"""Hall KPIs and peak analysis (issue 16 §8): figures worked out by hand from a small day built with the queue
services (injected clock), and a peak history of Ticket rows with chosen timestamps; the API's permission matrix,
bad filters (422) and the pages' query bounds."""

from datetime import date, datetime, timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook

from gridcare.core.permissions import Role
from gridcare.hall import api_reports, kpis, services, views_reports
from gridcare.hall.choices import TicketSource, TicketStatus
from gridcare.hall.models import HallClosure, Ticket

from ..factories import UserFactory
from .conftest import CHINA, T0, at

DAY = "2026-03-10"


def _issue(w, code, minutes, **kw):
    kw.setdefault("source", TicketSource.GREETER)
    return services.ticket_issue(
        hall=w.hall_a, category=code, now=at(minutes), actor=w.actor(w.a_clerk), **kw
    )


@pytest.fixture
def day(hw):
    """One morning at hall A (target 15 min), all by the services:

    | ticket | issued | joined (check-in) | first call | service            | status   |
    | t1 A   | 09:00  | 09:00             | 09:05 (c1) | 09:06 → 09:16 = 10 | done     |
    | t2 B   | 09:01  | 09:01             | 09:21 (c2) | 09:21 → 09:29 = 8  | done (no start pressed) |
    | t3 A   | 09:02  | 09:02             | 09:16 (c1) | —                  | no-show after 3 recalls, 09:30 |
    | t4 A   | 09:03  | 09:03             | —          | —                  | waiting  |
    | t5 A   | 09:04 (portal) | 09:20     | 09:35 (c2) | 09:35 → 09:40 = 5  | done     |

    Counter c1: open 09:00, paused 09:30–09:40, closed 10:00 → 50 min; c2: open 09:00, still open at "now" 10:30
    → 90 min. Hall B: one ticket, never in hall A's figures."""
    w = hw
    clerk, mgr = w.actor(w.a_clerk), w.actor(w.a_manager)
    services.counter_open(counter=w.c1, actor=clerk, now=at(0))
    services.counter_open(counter=w.c2, actor=mgr, now=at(0))
    t1 = _issue(w, "payment", 0)
    t2 = _issue(w, "new_connection", 1)
    t3 = _issue(w, "payment", 2)
    _issue(w, "payment", 3)
    t5 = _issue(w, "payment", 4, source=TicketSource.PORTAL, phone="13911112222")
    services.ticket_call(counter=w.c1, ticket=t1, actor=clerk, now=at(5))
    services.ticket_start(counter=w.c1, actor=clerk, now=at(6))
    services.ticket_finish(counter=w.c1, actor=clerk, now=at(16))
    services.ticket_call(counter=w.c1, ticket=t3, actor=clerk, now=at(16))
    services.ticket_check_in(ticket=t5, actor=clerk, now=at(20))
    services.ticket_call(counter=w.c2, ticket=t2, actor=mgr, now=at(21))
    services.ticket_finish(counter=w.c2, actor=mgr, now=at(29))
    for m in (18, 22, 26):
        services.ticket_recall(counter=w.c1, actor=clerk, now=at(m))
    services.ticket_no_show(counter=w.c1, actor=clerk, now=at(30))
    services.counter_pause(counter=w.c1, actor=clerk, now=at(30))
    services.counter_resume(counter=w.c1, actor=clerk, now=at(40))
    services.counter_close(counter=w.c1, actor=clerk, now=at(60))
    t5.refresh_from_db()
    services.ticket_call(counter=w.c2, ticket=t5, actor=mgr, now=at(35))
    services.ticket_finish(counter=w.c2, actor=mgr, now=at(40))
    services.ticket_issue(hall=w.hall_b, category="payment", source=TicketSource.KIOSK, now=at(1))
    return w


NOW = at(90)


def _kpis(w, user, group="hall", halls=()):
    return kpis.hall_kpis(
        user=user, hall_ids=list(halls), first=date(2026, 3, 10), last=date(2026, 3, 10), group=group, now=NOW
    )


def test_kpis_by_hall_worked_by_hand(day):
    w = day
    doc = _kpis(w, w.a_manager)
    assert [r["key"] for r in doc["rows"]] == [w.hall_a.pk]  # hall B is outside bureau A
    r = doc["rows"][0]
    assert r["tickets"] == 5
    assert r["called"] == 4
    # Waits 5, 20, 14 and 15 min (t5's wait starts at its check-in, 09:20): mean 54 / 4.
    assert r["waits"] == 4
    assert r["wait_mean_minutes"] == 13.5
    assert r["within_target"] == 3  # 5, 14 and exactly 15 are within 15 min
    assert r["within_target_share"] == 0.75
    assert r["wait_p90_minutes"] == 20.0  # nearest rank ⌈0.9 × 4⌉ = 4th of 5, 14, 15, 20
    # Service 10, 8 (from the call: no start pressed) and 5 min.
    assert r["served"] == 3
    assert r["service_mean_minutes"] == round(23 / 3, 2)
    assert r["no_show"] == 1
    assert r["no_show_rate"] == 0.25
    # Counter hours: c1 60 − 10 paused = 50 min, c2 still open 09:00 → 10:30 = 90 min.
    assert r["counter_hours"] == round(140 / 60, 4)
    assert r["tickets_per_counter_hour"] == round(3 / (140 / 60), 2)
    assert doc["total"]["tickets"] == 5


def test_kpis_by_category_hour_and_admin_sees_both_halls(day):
    w = day
    cats = {r["key"]: r for r in _kpis(w, w.a_manager, "category")["rows"]}
    pay, new = cats[w.cat["payment"].pk], cats[w.cat["new_connection"].pk]
    assert (pay["tickets"], pay["waits"], pay["wait_mean_minutes"]) == (4, 3, round(34 / 3, 2))
    assert (new["tickets"], new["waits"], new["wait_mean_minutes"], new["within_target"]) == (1, 1, 20.0, 0)
    assert pay["counter_hours"] is None  # counter hours have no category

    hours = {r["key"]: r for r in _kpis(w, w.a_manager, "hour")["rows"]}
    assert set(hours) == {9, 10}
    assert hours[9]["tickets"] == 5
    # Hour 9: c1 50 min (its 10 paused min spread over its hour) + c2 60 min; hour 10: c2 30 min.
    assert hours[9]["counter_hours"] == round(110 / 60, 4)
    assert hours[10]["counter_hours"] == 0.5
    assert hours[10]["tickets"] == 0

    both = _kpis(w, w.admin)
    assert [r["key"] for r in both["rows"]] == [w.hall_a.pk, w.hall_b.pk]
    assert both["total"]["tickets"] == 6
    only_b = _kpis(w, w.admin, halls=[w.hall_b.pk])
    assert only_b["total"]["tickets"] == 1 and only_b["total"]["waits"] == 0
    assert only_b["total"]["wait_mean_minutes"] is None and only_b["total"]["no_show_rate"] is None


def test_kpis_day_grouping_lists_every_day(day):
    w = day
    doc = kpis.hall_kpis(
        user=w.a_manager, hall_ids=[], first=date(2026, 3, 9), last=date(2026, 3, 11), group="day", now=NOW
    )
    assert [(r["label"], r["tickets"]) for r in doc["rows"]] == [
        ("2026-03-09", 0),
        ("2026-03-10", 5),
        ("2026-03-11", 0),
    ]


def test_p90_nearest_rank():
    assert kpis.p90({}) is None
    assert kpis.p90({60: 9, 600: 1}) == 60  # 9 of 10 at or below 60
    assert kpis.p90({60: 8, 600: 2}) == 600
    assert kpis.p90({1: 1}) == 1


# ---------------------------------------------------------------- peaks


def _ticket(hall, cat, when: datetime, n: int = 1, **kw):
    """`n` tickets issued at `when` (China time), written directly."""
    base = Ticket.objects.filter(hall=hall, day=when.date()).count()
    rows = []
    for i in range(n):
        seq = base + i + 1
        rows.append(
            Ticket(
                hall=hall,
                category=cat,
                day=when.astimezone(CHINA).date(),
                seq=seq,
                number=f"{cat.letter}{seq:03d}",
                source=kw.get("source", TicketSource.KIOSK),
                status=kw.get("status", TicketStatus.DONE),
                issued_at=when,
                queue_at=when,
                checked_in_at=when,
                first_called_at=kw.get("called"),
                called_at=kw.get("called"),
                started_at=kw.get("called"),
                finished_at=kw.get("finished"),
            )
        )
    Ticket.objects.bulk_create(rows)


def cn(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


@pytest.fixture
def peaks(hw):
    w, pay = hw, hw.cat["payment"]
    _ticket(w.hall_a, pay, cn(2026, 1, 31, 10, 15), 3)  # a month-end Saturday
    _ticket(w.hall_a, pay, cn(2026, 2, 1, 9, 5), 2)  # a month-start Sunday
    _ticket(w.hall_a, pay, cn(2026, 3, 1, 9, 40), 1)
    _ticket(w.hall_a, pay, cn(2026, 2, 15, 14, 0), 1)
    _ticket(w.hall_a, pay, cn(2025, 12, 10, 9, 0), 4)  # before the default three months
    _ticket(w.hall_b, pay, cn(2026, 2, 1, 9, 0), 5)  # another hall
    HallClosure.objects.create(hall=w.hall_a, day=date(2026, 2, 2), reason="春节")
    return w


def _cell(doc, table, key, hour):
    rows = {r["day" if table == "day_of_month" else "weekday"]: r for r in doc[table]}
    return rows[key]["cells"][doc["hours"].index(hour)]


def test_peaks_heat_map_cells_and_month_edges(peaks, login, monkeypatch):
    w = peaks
    monkeypatch.setattr(api_reports, "report_now", lambda: T0)
    r = login(w.a_manager).get(f"/api/v1/halls/{w.hall_a.pk}/peaks", {"to": DAY})
    assert r.status_code == 200, r.content
    doc = r.json()
    # Default: the three months up to 2026-03-10, i.e. from 2025-12-11 (so 2025-12-10 is out).
    assert doc["period"] == {"from": "2025-12-11", "to": DAY}
    assert doc["tickets"] == 7
    assert doc["hours"][0] == 8 and doc["hours"][-1] == 17  # 08:30–17:30 opening
    assert _cell(doc, "day_of_month", 31, 10) == 3
    assert _cell(doc, "day_of_month", 1, 9) == 3  # Feb 1 (2) + Mar 1 (1)
    assert _cell(doc, "day_of_month", 15, 14) == 1
    assert _cell(doc, "day_of_month", 10, 9) == 0
    assert date(2026, 1, 31).isoweekday() == 6 and date(2026, 2, 1).isoweekday() == 7
    assert _cell(doc, "weekday", 6, 10) == 3
    assert _cell(doc, "weekday", 7, 9) == 3
    assert _cell(doc, "weekday", 7, 14) == 1
    # 90 days (Dec 11–31: 21, Jan 31, Feb 28, Mar 1–10: 10) less the Feb 2 closure.
    assert doc["open_days"] == 89
    e = doc["month_edges"]
    # Start: Jan, Feb, Mar 1–5 = 15 days less Feb 2; end: Dec 27–31, Jan 27–31, Feb 24–28.
    assert e["start"] == {"open_days": 14, "tickets": 3, "mean_per_day": round(3 / 14, 2)}
    assert e["end"] == {"open_days": 15, "tickets": 3, "mean_per_day": 0.2}
    assert e["other"]["open_days"] == 60 and e["other"]["tickets"] == 1
    dom = {x["day"]: x for x in doc["day_of_month"]}
    assert dom[2]["open_days"] == 2  # Jan 2 and Mar 2 (Feb 2 closed; Dec 2 out of range)
    assert dom[31]["open_days"] == 2  # Dec 31, Jan 31


def test_peaks_page_and_excel(peaks, login, monkeypatch):
    w = peaks
    monkeypatch.setattr(views_reports, "local_today", lambda: date(2026, 3, 10))
    c = login(w.a_manager)
    r = c.get("/hall/peaks/")
    assert r.status_code == 200
    assert r.context["doc"]["hall"]["id"] == w.hall_a.pk
    assert 'data-testid="dom-31"' in r.content.decode()
    x = c.get("/hall/peaks.xlsx", {"hall": w.hall_a.pk})
    assert x.status_code == 200
    ws = load_workbook(BytesIO(x.content))["日期×时段"]
    header = [c.value for c in ws[4]]
    row31 = [c.value for c in ws[4 + 31]]
    assert row31[0] == 31 and row31[header.index("10:00")] == 3
    assert c.get("/hall/peaks/", {"hall": w.hall_b.pk}).status_code == 404


# ---------------------------------------------------------------- pages, API, permissions


def test_kpi_page_and_excel(day, login, monkeypatch, django_assert_max_num_queries):
    w = day
    monkeypatch.setattr(views_reports, "local_today", lambda: date(2026, 3, 10))
    monkeypatch.setattr(views_reports, "report_now", lambda: NOW)
    c = login(w.a_manager)
    c.get("/hall/kpis/")  # warm the session and the user's unit cache
    with django_assert_max_num_queries(14):
        r = c.get("/hall/kpis/", {"from": DAY, "to": DAY})
    assert r.status_code == 200
    assert r.context["doc"]["total"]["within_target"] == 3
    html = r.content.decode()
    assert 'id="hall-kpi-chart"' in html
    for group in ("category", "day", "hour"):
        with django_assert_max_num_queries(14):
            assert c.get("/hall/kpis/", {"from": DAY, "to": DAY, "group": group}).status_code == 200
    x = c.get("/hall/kpis.xlsx", {"from": DAY, "to": DAY})
    assert x.status_code == 200
    ws = load_workbook(BytesIO(x.content)).active
    header = [c.value for c in ws[4]]
    first = [c.value for c in ws[5]]
    assert first[header.index("取号量")] == 5
    assert first[header.index("目标内等候占比")] == 0.75
    bad = c.get("/hall/kpis/", {"from": DAY, "to": "2026-03-01"})
    assert bad.status_code == 400 and "截止日不能早于起始日" in bad.content.decode()
    assert c.get("/hall/kpis.xlsx", {"group": "week"}).status_code == 400
    assert c.get("/hall/kpis/", {"hall": w.hall_b.pk}).status_code == 404


def test_kpi_query_count_does_not_grow_with_tickets(hw, login, monkeypatch, django_assert_max_num_queries):
    w, pay = hw, hw.cat["payment"]
    monkeypatch.setattr(views_reports, "report_now", lambda: NOW)
    for d in range(1, 11):
        _ticket(
            w.hall_a, pay, cn(2026, 3, d, 10), 20, called=cn(2026, 3, d, 10, d), finished=cn(2026, 3, d, 11)
        )
    c = login(w.a_manager)
    c.get("/hall/kpis/", {"from": "2026-03-01", "to": DAY})
    with django_assert_max_num_queries(14):
        r = c.get("/hall/kpis/", {"from": "2026-03-01", "to": DAY, "group": "day"})
    assert r.context["doc"]["total"]["tickets"] == 200
    # Waits 1..10 min, 20 each: p90 = the 180th = 9 min.
    assert r.context["doc"]["total"]["wait_p90_minutes"] == 9.0
    with django_assert_max_num_queries(15):
        assert c.get("/hall/peaks/", {"to": DAY}).status_code == 200


@pytest.fixture
def b_manager(hw):
    return UserFactory(username="b_manager", role=Role.MANAGER, unit=hw.bureau_b)


def test_permission_matrix(day, login, b_manager, monkeypatch):
    w = day
    monkeypatch.setattr(api_reports, "report_now", lambda: NOW)
    before = (Ticket.objects.count(), Ticket.objects.filter(status=TicketStatus.DONE).count())
    a = w.hall_a.pk
    urls = ["/api/v1/halls/kpis", f"/api/v1/halls/{a}/peaks", f"/api/v1/halls/{a}/staffing-plan"]
    for url in urls:
        assert login().get(url).status_code == 401
        for user in (w.portal_user, w.a_reader, w.a_clerk, w.a_cashier, w.a_agent):
            assert login(user).get(url).status_code == 403, (url, user.username)
        assert login(w.a_manager).get(url).status_code == 200
        assert login(w.admin).get(url).status_code == 200
    assert login(b_manager).get(urls[0], {"hall": a}).status_code == 404
    assert login(b_manager).get(urls[1]).status_code == 404
    assert login(b_manager).get(urls[2]).status_code == 404
    assert login(w.a_manager).get("/api/v1/halls/999999/peaks").status_code == 404
    b = login(b_manager).get(urls[0]).json()
    assert [h["id"] for h in b["halls"]] == [w.hall_b.pk]
    # Pages: anonymous to the login page, no permission or out of scope answers 404.
    pages = ["/hall/kpis/", "/hall/peaks/", f"/hall/{a}/staffing/"]
    for page in pages:
        assert login().get(page).status_code == 302
        assert login(w.a_reader).get(page).status_code == 404
        assert login(w.a_clerk).get(page).status_code == 404
    assert login(b_manager).get(pages[2]).status_code == 404
    assert login(b_manager).get(pages[1], {"hall": a}).status_code == 404
    assert (Ticket.objects.count(), Ticket.objects.filter(status=TicketStatus.DONE).count()) == before


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/v1/halls/kpis", {"from": "2025-01-01", "to": "2026-03-10"}, "to"),  # 434 days
        ("/api/v1/halls/kpis", {"from": "2026-03-10", "to": "2026-03-09"}, "to"),
        ("/api/v1/halls/kpis", {"from": "2026-3-1"}, "from"),
        ("/api/v1/halls/kpis", {"to": "1999-12-31"}, "to"),
        ("/api/v1/halls/kpis", {"group": "week"}, "group"),
        ("/api/v1/halls/kpis", {"hall": "x1"}, "hall"),
        ("/api/v1/halls/{a}/peaks", {"from": "2024-01-01", "to": "2026-03-10"}, "to"),
        ("/api/v1/halls/{a}/peaks", {"to": "2026-02-30"}, "to"),
        ("/api/v1/halls/{a}/staffing-plan", {"service_level": "1"}, "service_level"),
        ("/api/v1/halls/{a}/staffing-plan", {"service_level": "nan"}, "service_level"),
        ("/api/v1/halls/{a}/staffing-plan", {"week": "tomorrow"}, "week"),
    ],
)
def test_bad_filters_answer_422(hw, login, url, params, field, monkeypatch):
    monkeypatch.setattr(api_reports, "report_now", lambda: T0)
    r = login(hw.a_manager).get(url.format(a=hw.hall_a.pk), params)
    assert r.status_code == 422, r.content
    assert field in [d["field"] for d in r.json()["detail"]]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "\x00"},
        {"hall": "99999999999999999999"},
        {"hall": "²"},
        {"from": "2100-12-31", "to": "2100-12-31", "group": "hour"},
        {"from": "2000-01-01", "to": "2000-12-31", "group": "day"},
        {"group": ""},
    ],
)
def test_odd_inputs_never_5xx(hw, login, params, monkeypatch):
    monkeypatch.setattr(api_reports, "report_now", lambda: T0)
    c = login(hw.admin)
    assert c.get("/api/v1/halls/kpis", params).status_code < 500
    for hall in ("0", "-1", "abc", "99999999999999999999", str(hw.hall_a.pk)):
        assert c.get(f"/api/v1/halls/{hall}/peaks", params).status_code < 500
        assert (
            c.get(f"/api/v1/halls/{hall}/staffing-plan", {"week": params.get("from", "")}).status_code < 500
        )


def test_session_hours_pieces():
    o = cn(2026, 3, 10, 9, 30)
    pieces = kpis.session_hours(
        opened_at=o,
        closed_at=o + timedelta(hours=2),
        paused_seconds=1800,
        paused_since=None,
        start=cn(2026, 3, 10, 0),
        end=cn(2026, 3, 11, 0),
        now=o + timedelta(hours=5),
    )
    # 2 h with 30 min paused: 3/4 of each piece (30 min, 60 min, 30 min).
    assert pieces == {
        (date(2026, 3, 10), 9): pytest.approx(0.375),
        (date(2026, 3, 10), 10): pytest.approx(0.75),
        (date(2026, 3, 10), 11): pytest.approx(0.375),
    }
