"""Staff performance report (issue 16 §6): figures worked out by hand from a small set of tickets served with an
injected clock, the Wilson ranking in the report (30/30 below 290/300, 29 ratings unranked), the threshold across
halls, the Excel export, the API with its permission matrix, and a bounded query count."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook

from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.hall import performance, ratings, views_ratings
from gridcare.hall.models import HallProfile, Rating, RatingFollowUp, Ticket

from ..factories import UserFactory
from .conftest import CHINA, at
from .test_ratings import evaluator, serve

API = "/api/v1"
MARCH = date(2026, 3, 1)


@pytest.fixture
def perf(hw):
    """March 2026 at hall A:
    - a_clerk at counter 1: t1 called 09:01, started 09:02, finished 09:08 (6 min), rated 非常满意;
      t2 called 09:09, finished 09:12 without a start (timed from the call: 3 min), rated 不满意 (follow-up open).
    - clerk2 at counter 2: t3 called 09:03, started 09:04, finished 09:14 (10 min), rated 满意.
    Not counted: b_clerk's ticket at hall B (another unit) for a_manager; a_clerk's ticket on 1 April."""
    w = hw
    w.clerk2 = UserFactory(username="a_clerk2", role=Role.COUNTER_CLERK, unit=w.bureau_a, display_name="王五")
    d1, _k = evaluator(w, w.c1)
    d2, _k = evaluator(w, w.c2)
    t1 = serve(w, w.c1, issued=0, called=1, started=2, finished=8)
    ratings.rating_record(device=d1, ticket_id=t1.pk, score="very_satisfied", now=at(8.5))
    t2 = serve(w, w.c1, issued=1, called=9, finished=12)
    ratings.rating_record(
        device=d1, ticket_id=t2.pk, score="dissatisfied", reason="等候时间太长", now=at(12.5)
    )
    t3 = serve(w, w.c2, issued=2, called=3, started=4, finished=14, clerk=w.clerk2)
    ratings.rating_record(device=d2, ticket_id=t3.pk, score="satisfied", now=at(14.5))
    serve(w, w.cb1, issued=0, called=1, started=2, finished=20, clerk=w.b_clerk)
    april = (datetime(2026, 4, 1, 9, 0, tzinfo=CHINA) - at(0)) / timedelta(minutes=1)
    serve(w, w.c1, issued=april, called=april + 1, finished=april + 5)
    return w


def rows_by_clerk(doc):
    return {r["clerk_id"]: r for r in doc["rows"]}


def test_report_figures_worked_by_hand(perf):
    w = perf
    doc = performance.performance_report(user=w.a_manager, month=MARCH)
    rows = rows_by_clerk(doc)
    assert set(rows) == {w.a_clerk.pk, w.clerk2.pk}  # hall B's clerk is outside bureau A
    a, c2 = rows[w.a_clerk.pk], rows[w.clerk2.pk]
    # a_clerk: 2 served, (6 + 3) ÷ 2 = 4.50 min; 2 ratings, (1 + 0) ÷ 2 = 0.5; one follow-up open.
    assert (a["served"], a["avg_service_minutes"], a["ratings"]) == (2, Decimal("4.50"), 2)
    assert a["satisfaction_rate"] == 0.5 and a["follow_ups_open"] == 1
    assert a["by_score"] == {"very_satisfied": 1, "satisfied": 0, "neutral": 0, "dissatisfied": 1}
    # clerk2: 1 served in 10 min, 1 rating 满意 → 1.0.
    assert (c2["served"], c2["avg_service_minutes"], c2["satisfaction_rate"]) == (1, Decimal("10.00"), 1.0)
    assert c2["clerk"] == "王五"
    # Nobody has 30 ratings: no rank.
    assert a["rank"] is None and c2["rank"] is None and doc["min_ratings_to_rank"] == 30
    # Totals: 3 served, (6 + 3 + 10) ÷ 3 = 6.333… → 6.33; 2 of 3 satisfied.
    t = doc["totals"]
    assert (t["served"], t["avg_service_minutes"], t["ratings"], t["follow_ups_open"]) == (
        3,
        Decimal("6.33"),
        3,
        1,
    )
    assert t["satisfaction_rate"] == pytest.approx(2 / 3)
    # April: only the April ticket, called 09:01 and finished 09:05 without a start → 4 min.
    april = performance.performance_report(user=w.a_manager, month=date(2026, 4, 1))
    assert [(r["clerk_id"], r["served"], r["avg_service_minutes"]) for r in april["rows"]] == [
        (w.a_clerk.pk, 1, Decimal("4.00"))
    ]


def test_threshold_per_hall_and_the_strictest_across_halls(perf):
    w = perf
    HallProfile.objects.filter(hall=w.hall_a).update(min_ratings_to_rank=2)
    HallProfile.objects.filter(hall=w.hall_b).update(min_ratings_to_rank=5)
    doc = performance.performance_report(user=w.a_manager, month=MARCH, hall_id=w.hall_a.pk)
    a = rows_by_clerk(doc)[w.a_clerk.pk]
    # Wilson of 1 of 2 by hand: p̂ = 0.5, z²/2n = 0.9604, √(0.125 + 0.2401) = 0.604235, × 1.96 = 1.184301;
    # (0.5 + 0.9604 − 1.184301) ÷ (1 + 1.9208) = 0.276099 ÷ 2.9208 = 0.094529.
    assert doc["min_ratings_to_rank"] == 2 and a["rank"] == 1
    assert a["wilson_lower_bound"] == pytest.approx(0.094529, abs=2e-6)
    assert rows_by_clerk(doc)[w.clerk2.pk]["rank"] is None
    # The admin over both halls: the strictest threshold (5), so nobody is ranked.
    both = performance.performance_report(user=w.admin, month=MARCH)
    assert both["min_ratings_to_rank"] == 5 and all(r["rank"] is None for r in both["rows"])
    assert w.b_clerk.pk in rows_by_clerk(both)
    # A hall outside the user's units is not found.
    assert performance.performance_report(user=w.a_manager, month=MARCH, hall_id=w.hall_b.pk) is None


def _bulk_ratings(w, clerk, good: int, n: int, start: int):
    """n finished tickets of `clerk` at counter 1 on 10 March, `good` of them rated 满意, the rest 一般."""
    base = at(0)
    tickets = Ticket.objects.bulk_create(
        Ticket(
            hall=w.hall_a,
            category=w.cat["payment"],
            day=base.date(),
            seq=start + k,
            number=f"Z{start + k}",
            source="kiosk",
            status="done",
            issued_at=base,
            queue_at=base,
            counter=w.c1,
            clerk=clerk,
            called_at=base,
            started_at=base,
            finished_at=base + timedelta(minutes=4),
            checked_in_at=base,
        )
        for k in range(n)
    )
    Rating.objects.bulk_create(
        Rating(
            ticket=t,
            hall=w.hall_a,
            counter=w.c1,
            clerk=clerk,
            score="satisfied" if k < good else "neutral",
            rated_at=base + timedelta(minutes=5),
        )
        for k, t in enumerate(tickets)
    )


def test_ranking_in_the_report_and_bounded_queries(hw, login, django_assert_max_num_queries, monkeypatch):
    w = hw
    perfect = UserFactory(username="perfect30", role=Role.COUNTER_CLERK, unit=w.bureau_a)
    big = UserFactory(username="big300", role=Role.COUNTER_CLERK, unit=w.bureau_a)
    short = UserFactory(username="short29", role=Role.COUNTER_CLERK, unit=w.bureau_a)
    _bulk_ratings(w, perfect, 30, 30, 1000)
    _bulk_ratings(w, big, 290, 300, 2000)
    _bulk_ratings(w, short, 29, 29, 3000)
    for k in range(20):  # more clerks do not add queries
        _bulk_ratings(
            w, UserFactory(username=f"x{k}", role=Role.COUNTER_CLERK, unit=w.bureau_a), 1, 2, 4000 + 10 * k
        )
    doc = performance.performance_report(user=w.a_manager, month=MARCH)
    rows = rows_by_clerk(doc)
    assert (rows[big.pk]["rank"], rows[perfect.pk]["rank"], rows[short.pk]["rank"]) == (1, 2, None)
    assert round(rows[big.pk]["wilson_lower_bound"], 3) == 0.940
    assert round(rows[perfect.pk]["wilson_lower_bound"], 3) == 0.886
    assert [r["clerk_id"] for r in doc["rows"][:2]] == [big.pk, perfect.pk]
    assert rows[big.pk]["served"] == 300 and rows[big.pk]["avg_service_minutes"] == Decimal("4.00")
    monkeypatch.setattr(views_ratings, "page_now", lambda: at(0))
    manager = login(w.a_manager)
    manager.get("/hall/performance/")  # warm the session
    with django_assert_max_num_queries(14):
        r = manager.get("/hall/performance/")
    body = r.content.decode()
    assert r.status_code == 200 and "样本不足" in body and "2026-03" in body
    with django_assert_max_num_queries(12):
        r = manager.get(f"{API}/halls/performance?month=2026-03")
    assert r.status_code == 200 and len(r.json()["rows"]) == 23


def test_excel_export(perf, login, monkeypatch):
    w = perf
    monkeypatch.setattr(views_ratings, "page_now", lambda: at(0))
    r = login(w.a_manager).get(f"/hall/performance.xlsx?month=2026-03&hall={w.hall_a.pk}")
    assert r.status_code == 200 and "hall-performance-HA-2026-03.xlsx" in r["Content-Disposition"]
    ws = load_workbook(BytesIO(r.content)).active
    header = [c.value for c in ws[4]]
    assert header[:5] == ["排名", "柜员", "办结笔数", "平均办理时长（分钟）", "评价数"]
    body = {row[1]: row for row in ws.iter_rows(min_row=5, values_only=True)}
    assert body["王五"][0] == "样本不足" and body["王五"][2] == 1 and body["王五"][9] == 1.0
    assert body["合计"][2] == 3
    assert login(w.a_manager).get("/hall/performance.xlsx?month=2026-13").status_code == 400
    assert login(w.a_manager).get(f"/hall/performance.xlsx?hall={w.hall_b.pk}").status_code == 404


def test_performance_page_permissions_and_filters(perf, login, monkeypatch):
    w = perf
    monkeypatch.setattr(views_ratings, "page_now", lambda: at(0))
    assert login().get("/hall/performance/").status_code == 302
    assert login(w.portal_user).get("/hall/performance/").status_code == 404
    assert login(w.a_clerk).get("/hall/performance/").status_code == 404
    assert login(w.a_manager).get(f"/hall/performance/?hall={w.hall_b.pk}").status_code == 404
    r = login(w.a_manager).get("/hall/performance/?month=bogus")
    assert r.status_code == 400 and "YYYY-MM" in r.content.decode()
    r = login(w.a_manager).get(f"/hall/performance/?hall={w.hall_a.pk}&month=2026-03")
    body = r.content.decode()
    assert r.status_code == 200 and "王五" in body and "4.50" in body and "50.00%" in body
    cm = UserFactory(username="a_cm", role=Role.CUSTOMER_MANAGER, unit=w.bureau_a)
    assert login(cm).get("/hall/performance/").status_code == 200


def _state():
    return (
        list(RatingFollowUp.objects.order_by("pk").values_list("status", "note")),
        AuditEvent.objects.filter(action="hall.follow_up_close").count(),
    )


def test_api_permission_matrix(perf, login):
    w = perf
    f = RatingFollowUp.objects.get()
    b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=w.bureau_b)
    cm = UserFactory(username="a_cm", role=Role.CUSTOMER_MANAGER, unit=w.bureau_a)
    anon, customer, clerk, reader = login(), login(w.portal_user), login(w.a_clerk), login(w.a_reader)
    manager, other, admin, cmc = login(w.a_manager), login(b_manager), login(w.admin), login(cm)
    close = f"{API}/halls/follow-ups/{f.pk}/close"
    before = _state()
    cases = [
        (anon, "get", f"{API}/halls/performance", None, 401),
        (customer, "get", f"{API}/halls/performance", None, 403),
        (clerk, "get", f"{API}/halls/performance", None, 403),
        (reader, "get", f"{API}/halls/performance", None, 403),
        (manager, "get", f"{API}/halls/performance?month=2026-3", None, 422),
        (manager, "get", f"{API}/halls/performance?month=1999-12", None, 422),
        (manager, "get", f"{API}/halls/performance?month=２０２６-03", None, 422),
        (manager, "get", f"{API}/halls/performance?hall_id=abc", None, 422),
        (manager, "get", f"{API}/halls/performance?hall_id=99999999999", None, 404),
        (manager, "get", f"{API}/halls/performance?hall_id={w.hall_b.pk}", None, 404),
        (manager, "get", f"{API}/halls/performance?month=2026-03&hall_id={w.hall_a.pk}", None, 200),
        (cmc, "get", f"{API}/halls/performance?month=2026-03", None, 200),
        (anon, "get", f"{API}/halls/follow-ups", None, 401),
        (customer, "get", f"{API}/halls/follow-ups", None, 403),
        (clerk, "get", f"{API}/halls/follow-ups", None, 403),
        (cmc, "get", f"{API}/halls/follow-ups", None, 403),  # reports, not follow-ups
        (manager, "get", f"{API}/halls/follow-ups?status=bogus", None, 422),
        (manager, "get", f"{API}/halls/follow-ups?hall_id=x", None, 422),
        (anon, "post", close, {"note": "x"}, 401),
        (customer, "post", close, {"note": "x"}, 404),
        (clerk, "post", close, {"note": "x"}, 404),
        (cmc, "post", close, {"note": "x"}, 404),
        (other, "post", close, {"note": "x"}, 404),
        (manager, "post", f"{API}/halls/follow-ups/999999/close", {"note": "x"}, 404),
        (manager, "post", f"{API}/halls/follow-ups/{2**70}/close", {"note": "x"}, 404),
        (manager, "post", close, {}, 422),
        (manager, "post", close, {"note": ""}, 422),
        (manager, "post", close, {"note": "x" * 501}, 422),
        (manager, "post", close, {"note": "a\x00b"}, 422),
    ]
    for client, method, path, payload, expected in cases:
        r = (
            client.get(path)
            if method == "get"
            else client.post(path, payload or {}, content_type="application/json")
        )
        assert r.status_code == expected, (method, path, r.status_code, r.content[:300])
    assert _state() == before
    # Scoped lists: bureau B's manager sees no item of hall A; the admin sees it.
    assert other.get(f"{API}/halls/follow-ups").json()["count"] == 0
    got = manager.get(f"{API}/halls/follow-ups?status=open").json()
    assert got["count"] == 1 and got["items"][0]["reason"] == "等候时间太长"
    assert got["items"][0]["ticket"] == f.rating.ticket.number
    assert admin.get(f"{API}/halls/follow-ups").json()["count"] == 1
    perf_json = manager.get(f"{API}/halls/performance?month=2026-03").json()
    row = next(r for r in perf_json["rows"] if r["clerk_id"] == w.a_clerk.pk)
    assert row["avg_service_minutes"] == "4.50" and row["satisfaction_rate"] == 0.5 and row["rank"] is None
    # The manager closes it; a second close is refused.
    r = manager.post(close, {"note": "已回访"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["note"] == "已回访"
    assert AuditEvent.objects.filter(action="hall.follow_up_close", object_id=str(f.pk)).count() == 1
    r = manager.post(close, {"note": "again"}, content_type="application/json")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "follow_up"
    assert manager.get(f"{API}/halls/follow-ups?status=open").json()["count"] == 0
