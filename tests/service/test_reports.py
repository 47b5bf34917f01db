"""Service reports (issue 15 §3, §9) on a small hand-built set: volumes, on-time rates per time limit, complaints per
10,000 customers, callback satisfaction, arrival and restoration times by area type. Every expected figure is
worked out by hand below; the page, the workbook and the API serve the same figures, scoped to the unit subtree.

The set (period 2026-01-01 … 2026-03-31, as of 2026-04-10 12:00 China time), in station A1 unless said:
 1 fault urban phone     01-05 10:00  arrived 10:30:20 (due 10:45)  restored 12:00 (due 13:30)  callback 满意
 2 fault urban portal    02-10 20:00  arrived 21:00 (due 20:45: late)  restored 01:00 (due 00:00: late)  基本满意
 3 fault rural phone     03-01 08:00  arrived 09:45 (due 09:30: late)  restored 11:00 (due 13:45)  满意
 4 complaint 服务 phone   01-10  contact on time, reply late; substantiated
 5 complaint 营业 web     02-01  open (assigned): contact and reply overdue
 6 complaint — phone     03-30  contact on time, reply pending (provisional); not substantiated
 7 complaint phone       01-10  merged into 4 (its overdue contact does not count)
 8 consultation chat     02-15  closed, no deadline
 9 service_request meter_check hall 03-10  complete on time, callback on time 满意
10 praise letter         01-20  station B1
11 fault urban phone     2025-12-31 23:00 (before the period) with a 满意 callback on 2026-01-02 (in it)
12 opinion portal        03-31 23:30 China time (15:30 UTC: inside the period), reply pending
13 fault urban phone     03-05 10:00  arrived 10:40 (due 10:45)  不满意 callback: reopened; arrived again 03-06
                         09:00 (the order's arrived_at now), restored 10:00 (due 12:00), 满意 callback
Portal ratings in the period: 1 满意, 2 不满意. Accounts of A1 in service on 03-31: 3 (one closed on 03-31 and one
opened in April do not count)."""

from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.http import Http404
from openpyxl import load_workbook

from gridcare.customers.models import Account
from gridcare.service import reports, views_reports
from gridcare.service.models import WorkOrder, WorkOrderDeadline, WorkOrderEvent

from ..factories import CustomerFactory, make_account

CN = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2026, 1, 1), date(2026, 3, 31)
AS_OF = datetime(2026, 4, 10, 12, 0, tzinfo=CN)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CN)


def order(n, unit, order_type, channel, received, status="closed", **kw) -> WorkOrder:
    return WorkOrder.objects.create(
        number=f"T{n:015d}",
        order_type=order_type,
        channel=channel,
        unit=unit,
        status=status,
        received_at=at(received),
        phone="13800000000",
        address="测试地址",
        **kw,
    )


def deadline(o, name, due, met=None, provisional=False, starts=None):
    WorkOrderDeadline.objects.create(
        order=o,
        name=name,
        amount=1,
        unit="working_days",
        starts_at=at(starts) if starts else o.received_at,
        due_at=at(due),
        met_at=at(met) if met else None,
        provisional=provisional,
    )


def event(o, action, when, **data):
    WorkOrderEvent.objects.create(order=o, action=action, at=at(when), data=data)


@pytest.fixture
def book(svc):
    w = svc
    a1, b1 = w.station_a, w.station_b
    # Accounts of A1 besides acct_a: one open, one closed the day after the period, one closed on its last day,
    # one opened after it.
    for number, opened, closed in (
        ("3100000002", date(2020, 1, 1), None),
        ("3100000003", date(2020, 1, 1), date(2026, 4, 1)),
        ("3100000004", date(2020, 1, 1), date(2026, 3, 31)),
        ("3100000005", date(2026, 4, 5), None),
    ):
        acct = make_account(CustomerFactory(unit=a1), number, w.area_a)
        Account.objects.filter(pk=acct.pk).update(opened_on=opened, closed_on=closed)

    o1 = order(1, a1, "fault", "phone", "2026-01-05 10:00", area="urban")
    o1.arrived_at, o1.resolved_at = at("2026-01-05 10:30:20"), at("2026-01-05 12:00")
    o1.save()
    deadline(o1, "arrival", "2026-01-05 10:45", "2026-01-05 10:30:20")
    deadline(o1, "restoration", "2026-01-05 13:30", "2026-01-05 12:00", starts="2026-01-05 10:30:20")
    deadline(o1, "callback", "2026-01-06 23:59:59", "2026-01-06 10:00")
    event(o1, "callback", "2026-01-06 10:00", satisfaction="satisfied")
    event(o1, "rate", "2026-01-07 09:00", rating="satisfied")

    o2 = order(2, a1, "fault", "portal", "2026-02-10 20:00", area="urban")
    o2.arrived_at, o2.resolved_at = at("2026-02-10 21:00"), at("2026-02-11 01:00")
    o2.save()
    deadline(o2, "arrival", "2026-02-10 20:45", "2026-02-10 21:00")
    deadline(o2, "restoration", "2026-02-11 00:00", "2026-02-11 01:00", starts="2026-02-10 21:00")
    deadline(o2, "callback", "2026-02-12 23:59:59", "2026-02-12 09:00")
    event(o2, "callback", "2026-02-12 09:00", satisfaction="basic")
    event(o2, "rate", "2026-02-13 09:00", rating="unsatisfied")

    o3 = order(3, a1, "fault", "phone", "2026-03-01 08:00", area="rural")
    o3.arrived_at, o3.resolved_at = at("2026-03-01 09:45"), at("2026-03-01 11:00")
    o3.save()
    deadline(o3, "arrival", "2026-03-01 09:30", "2026-03-01 09:45")
    deadline(o3, "restoration", "2026-03-01 13:45", "2026-03-01 11:00", starts="2026-03-01 09:45")
    deadline(o3, "callback", "2026-03-03 23:59:59", "2026-03-02 10:00")
    event(o3, "callback", "2026-03-02 10:00", satisfaction="satisfied")

    o4 = order(4, a1, "complaint", "phone", "2026-01-10 09:00", sub_type="service", substantiated=True)
    deadline(o4, "contact", "2026-01-12 23:59:59", "2026-01-12 10:00")
    deadline(o4, "reply", "2026-01-20 23:59:59", "2026-01-21 10:00")

    o5 = order(5, a1, "complaint", "web", "2026-02-01 09:00", status="assigned", sub_type="business")
    deadline(o5, "contact", "2026-02-03 23:59:59")
    deadline(o5, "reply", "2026-02-10 23:59:59")

    o6 = order(6, a1, "complaint", "phone", "2026-03-30 09:00", status="contacted", substantiated=False)
    deadline(o6, "contact", "2026-03-31 23:59:59", "2026-03-30 15:00")
    deadline(o6, "reply", "2026-04-15 23:59:59", provisional=True)

    o7 = order(7, a1, "complaint", "phone", "2026-01-10 10:00", status="merged", merged_into=o4)
    deadline(o7, "contact", "2026-01-12 23:59:59")

    order(8, a1, "consultation", "chat", "2026-02-15 11:00")

    o9 = order(9, a1, "service_request", "hall", "2026-03-10 09:00", sub_type="meter_check")
    deadline(o9, "complete", "2026-03-16 23:59:59", "2026-03-11 16:00")
    deadline(o9, "callback", "2026-03-12 23:59:59", "2026-03-12 10:00")
    event(o9, "callback", "2026-03-12 10:00", satisfaction="satisfied")

    order(10, b1, "praise", "letter", "2026-01-20 10:00")

    o11 = order(11, a1, "fault", "phone", "2025-12-31 23:00", area="urban")
    event(o11, "callback", "2026-01-02 10:00", satisfaction="satisfied")

    o12 = order(12, a1, "opinion", "portal", "2026-03-31 23:30", status="created")
    deadline(o12, "reply", "2026-04-14 23:59:59")

    o13 = order(13, a1, "fault", "phone", "2026-03-05 10:00", area="urban", reopen_count=1)
    o13.arrived_at, o13.resolved_at = at("2026-03-06 09:00"), at("2026-03-06 10:00")
    o13.save()
    deadline(o13, "arrival", "2026-03-05 10:45", "2026-03-05 10:40")
    deadline(o13, "restoration", "2026-03-06 12:00", "2026-03-06 10:00", starts="2026-03-06 09:00")
    deadline(o13, "callback", "2026-03-09 23:59:59", "2026-03-06 15:00")
    event(o13, "callback", "2026-03-05 16:00", satisfaction="unsatisfied", reopened=True)
    event(o13, "callback", "2026-03-06 15:00", satisfaction="satisfied")
    return w


def report(user, unit):
    return reports.service_report(user=user, unit_id=unit.pk, first=FIRST, last=LAST, as_of=AS_OF)


def test_exact_rates_round_half_up():
    assert reports.rate(1, 32) == Decimal("3.13")  # 3.125: half-up, not to even
    assert reports.rate(2, 3) == Decimal("66.67") and reports.rate(1, 3) == Decimal("33.33")
    assert reports.rate(0, 0) is None and reports.rate(0, 5) == Decimal("0.00")
    assert reports.ratio(1, 3, 10_000) == Decimal("3333.33")
    # 90 min 20 s over two orders = 45 min 10 s = 45.1666… min
    assert reports.avg_minutes(5420 * 1_000_000, 2) == Decimal("45.17")


def test_default_period_is_the_last_twelve_months():
    assert reports.default_period(date(2026, 4, 10)) == (date(2025, 5, 1), date(2026, 4, 10))
    assert reports.default_period(date(2026, 12, 31)) == (date(2026, 1, 1), date(2026, 12, 31))
    first, last, errors = reports.parse_period("2026-03-01", "2026-02-01", date(2026, 4, 10))
    assert "to" in errors
    assert "from" in reports.parse_period("2026-13-01", None, date(2026, 4, 10))[2]


def test_volumes_by_type_channel_unit_and_month(book):
    doc = report(book.a_agent, book.station_a)
    v = doc["volumes"]
    assert v["total"] == 11  # 1–9, 12 and 13; 10 is in B1, 11 before the period
    by_type = {t["type"]: (t["count"], t["open"], t["closed"], t["merged"]) for t in v["by_type"]}
    assert by_type == {
        "fault": (4, 0, 4, 0),
        "complaint": (4, 2, 1, 1),
        "report": (0, 0, 0, 0),
        "opinion": (1, 1, 0, 0),
        "consultation": (1, 0, 1, 0),
        "praise": (0, 0, 0, 0),
        "service_request": (1, 0, 1, 0),
    }
    subs = {(s["type"], s["sub_type"]): s["count"] for s in v["by_sub_type"]}
    assert subs[("complaint", "service")] == 1  # 4 (7 has no sub-type)
    assert subs[("complaint", "business")] == 1 and subs[("complaint", "")] == 2  # 6 and 7
    assert subs[("service_request", "meter_check")] == 1 and subs[("service_request", "reconnection")] == 0
    channels = {c["channel"]: c["count"] for c in v["by_channel"]}
    assert channels == {"phone": 6, "web": 1, "portal": 2, "chat": 1, "hall": 1, "site": 0, "letter": 0}
    assert next(c for c in v["by_channel"] if c["channel"] == "phone")["by_type"]["complaint"] == 3
    assert [(m["month"], m["count"]) for m in v["monthly"]] == [
        ("2026-01", 3),
        ("2026-02", 3),
        ("2026-03", 5),
    ]
    assert [u["name"] for u in v["by_unit"]] == [book.station_a.name]

    company = report(book.admin, book.company)["volumes"]
    assert company["total"] == 12
    rows = {u["code"]: u for u in company["by_unit"]}
    assert list(rows) == [book.bureau_a.code, book.bureau_b.code]  # the company itself holds nothing
    assert rows[book.bureau_a.code]["count"] == 11 and rows[book.bureau_b.code]["count"] == 1
    assert rows[book.bureau_b.code]["by_type"]["praise"] == 1
    assert rows[book.bureau_a.code]["accounts"] == 3 and rows[book.bureau_b.code]["accounts"] == 1
    assert rows[book.bureau_a.code]["complaints_per_10k"] == Decimal("3333.33")  # 1 × 10,000 ÷ 3
    assert rows[book.bureau_b.code]["complaints_per_10k"] == Decimal("0.00")


def test_on_time_rate_per_time_limit(book):
    ot = report(book.a_agent, book.station_a)["on_time"]
    rows = {(r["deadline"], r["type"], r["sub_type"]): r for r in ot["rows"]}

    def fig(r):
        return (r["on_time"], r["late"], r["overdue"], r["pending"], r["provisional"], r["rate"])

    assert fig(rows[("arrival", "fault", "")]) == (
        2,
        2,
        0,
        0,
        0,
        Decimal("50.00"),
    )  # 1, 13 on time; 2, 3 late
    assert fig(rows[("restoration", "fault", "")]) == (3, 1, 0, 0, 0, Decimal("75.00"))  # 2 late
    assert fig(rows[("contact", "complaint", "service")]) == (1, 0, 0, 0, 0, Decimal("100.00"))
    assert fig(rows[("contact", "complaint", "business")]) == (
        0,
        1,
        1,
        0,
        0,
        Decimal("0.00"),
    )  # overdue, open
    assert fig(rows[("contact", "complaint", "")]) == (1, 0, 0, 0, 0, Decimal("100.00"))  # 7 merged: left out
    assert fig(rows[("reply", "complaint", "service")]) == (0, 1, 0, 0, 0, Decimal("0.00"))  # met late
    assert fig(rows[("reply", "complaint", "business")]) == (0, 1, 1, 0, 0, Decimal("0.00"))
    assert fig(rows[("reply", "complaint", "")]) == (0, 0, 0, 1, 1, None)  # pending, provisional
    assert fig(rows[("reply", "opinion", "")]) == (0, 0, 0, 1, 0, None)
    assert fig(rows[("complete", "service_request", "meter_check")]) == (1, 0, 0, 0, 0, Decimal("100.00"))
    assert fig(rows[("callback", "fault", "")]) == (4, 0, 0, 0, 0, Decimal("100.00"))
    totals = {r["deadline"]: fig(r) for r in ot["totals"]}
    assert list(totals) == ["arrival", "restoration", "contact", "reply", "complete", "callback"]
    assert totals["contact"] == (2, 1, 1, 0, 0, Decimal("66.67"))
    assert totals["reply"] == (0, 2, 1, 2, 1, Decimal("0.00"))
    assert totals["callback"] == (5, 0, 0, 0, 0, Decimal("100.00"))
    # 2 + 3 + 2 + 0 + 1 + 5 = 13 on time, 2 + 1 + 1 + 2 = 6 late: 13 ÷ 19 = 68.421… %
    assert fig(ot["overall"]) == (13, 6, 2, 2, 1, Decimal("68.42"))


def test_complaints_per_ten_thousand_customers(book):
    c = report(book.a_agent, book.station_a)["complaints"]
    # Complaints 4, 5, 6 (7 merged); substantiated: 4 only. Accounts in service on 03-31: 3.
    assert (c["accounts"], c["complaints"], c["substantiated"]) == (3, 3, 1)
    assert (c["not_substantiated"], c["undetermined"]) == (1, 1)
    assert c["per_10k"] == Decimal("3333.33")  # 1 × 10,000 ÷ 3
    assert c["all_per_10k"] == Decimal("10000.00")  # 3 × 10,000 ÷ 3
    subs = {s["sub_type"]: (s["complaints"], s["substantiated"], s["per_10k"]) for s in c["by_sub_type"]}
    assert subs["service"] == (1, 1, Decimal("3333.33")) and subs["business"] == (1, 0, Decimal("0.00"))


def test_callback_satisfaction_and_portal_ratings(book):
    s = report(book.a_agent, book.station_a)["satisfaction"]
    # Callbacks recorded in the period: 1 满意, 2 基本满意, 3 满意, 9 满意, 11 满意 (order received before the
    # period, called back in it), 13 不满意 then 满意 (both count): (5 + 1) ÷ 7 = 85.714… %.
    assert s["callbacks"] == {
        "satisfied": 5,
        "basic": 1,
        "unsatisfied": 1,
        "rated": 7,
        "rate": Decimal("85.71"),
    }
    by_type = {x["type"]: (x["rated"], x["rate"]) for x in s["by_type"]}
    assert by_type == {"fault": (6, Decimal("83.33")), "service_request": (1, Decimal("100.00"))}
    assert (s["portal"]["rated"], s["portal"]["rate"]) == (2, Decimal("50.00"))


def test_arrival_and_restoration_times_by_area_against_the_commitment(book):
    rows = {r["area"]: r for r in report(book.a_agent, book.station_a)["times"]["rows"]}
    urban, rural, remote = rows["urban"], rows["rural"], rows["remote"]
    # Urban arrivals 30:20 (1), 60:00 (2, late) and 40:00 (13: its first visit, not the one after the reopening)
    # → 130:20 ÷ 3 = 43.44 min, within the 45-minute commitment (an average) though one order was late.
    assert urban["arrival"] == {
        "count": 3,
        "avg_minutes": Decimal("43.44"),
        "commitment_minutes": 45,
        "within": True,
        "late_orders": 1,
    }
    # Urban restorations 89:40 (10:30:20 → 12:00), 240 min and 60 min (13: from its last arrival)
    # → 389:40 ÷ 3 = 129.888… min against 3 h.
    assert urban["restoration"]["avg_minutes"] == Decimal("129.89")
    assert urban["restoration"]["commitment_minutes"] == 180 and urban["restoration"]["within"] is True
    assert urban["restoration"]["late_orders"] == 1
    # Rural: one arrival of 105 min against 90: above the commitment.
    assert rural["arrival"] == {
        "count": 1,
        "avg_minutes": Decimal("105.00"),
        "commitment_minutes": 90,
        "within": False,
        "late_orders": 1,
    }
    assert (rural["restoration"]["avg_minutes"], rural["restoration"]["commitment_minutes"]) == (
        Decimal("75.00"),
        240,
    )
    assert remote["arrival"]["count"] == 0 and remote["arrival"]["avg_minutes"] is None
    assert remote["arrival"]["within"] is None and remote["arrival"]["commitment_minutes"] == 120


def test_the_report_reads_a_bounded_number_of_queries(book, django_assert_max_num_queries):
    for n in range(20):  # more orders do not mean more queries
        o = order(100 + n, book.station_a, "complaint", "phone", "2026-02-02 10:00")
        deadline(o, "contact", "2026-02-03 23:59:59", "2026-02-03 10:00")
    with django_assert_max_num_queries(12):
        report(book.a_agent, book.station_a)


# ---------------------------------------------------------------- page, workbook, API, permissions


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(views_reports, "local_today", lambda: date(2026, 4, 10))
    monkeypatch.setattr(views_reports, "report_now", lambda: AS_OF)


def test_the_page_shows_the_figures_and_the_charts(book, login, fixed_clock, django_assert_max_num_queries):
    c = login(book.a_agent)
    with django_assert_max_num_queries(16):
        r = c.get("/service/reports/", {"unit": book.station_a.pk, "from": "2026-01-01", "to": "2026-03-31"})
    body = r.content.decode()
    assert r.status_code == 200
    assert 'data-testid="total">11<' in body
    assert 'data-testid="on-time-rate">68.42%<' in body
    assert 'data-testid="satisfaction-rate">85.71%<' in body
    assert 'data-testid="complaints-per-10k">3333.33<' in body
    assert "43.44" in body and "service-report-chart" in body and 'id="chart-months"' in body
    assert "<script>" not in body.replace('<script id="service-report-chart" type="application/json">', "")
    # Default: the user's unit and the last 12 months (2025-05-01 … 2026-04-10).
    r = c.get("/service/reports/")
    assert r.status_code == 200 and 'value="2025-05-01"' in r.content.decode()


def test_bad_filters_400_other_units_404_customers_404(book, login, fixed_clock):
    c = login(book.a_agent)
    assert c.get("/service/reports/", {"from": "2026-02-30"}).status_code == 400
    assert c.get("/service/reports/", {"from": "2026-03-01", "to": "2026-01-01"}).status_code == 400
    assert c.get("/service/reports.xlsx", {"to": "x"}).status_code == 400
    assert c.get("/service/reports/", {"unit": book.station_b.pk}).status_code == 404
    assert c.get("/service/reports/", {"unit": book.company.pk}).status_code == 404
    assert c.get("/service/reports/", {"unit": "abc"}).status_code == 404
    assert c.get("/service/reports/", {"unit": "²"}).status_code == 404
    assert login(book.portal_user).get("/service/reports/").status_code == 404
    assert login().get("/service/reports/").status_code == 302


def test_the_workbook_has_every_table(book, login, fixed_clock):
    r = login(book.a_manager).get(
        "/service/reports.xlsx", {"unit": book.station_a.pk, "from": "2026-01-01", "to": "2026-03-31"}
    )
    assert r.status_code == 200 and r["Content-Disposition"].endswith('.xlsx"')
    wb = load_workbook(BytesIO(r.content))
    assert wb.sheetnames == [
        "按类型",
        "按子类",
        "按渠道",
        "按单位",
        "月度趋势",
        "时限按时率",
        "每万户投诉",
        "回访满意率",
        "到达与修复时长",
    ]
    by_type = {row[0]: row[1] for row in wb["按类型"].iter_rows(min_row=5, values_only=True)}
    assert by_type["故障报修"] == 4 and by_type["合计"] == 11
    on_time = list(wb["时限按时率"].iter_rows(min_row=5, values_only=True))
    assert on_time[-1][9] == 0.6842  # the overall rate, as a fraction shown as 68.42%
    assert wb["时限按时率"].cell(row=5 + len(on_time) - 1, column=10).number_format == "0.00%"
    sat = {row[0]: row for row in wb["回访满意率"].iter_rows(min_row=5, values_only=True)}
    assert sat["回访合计"][4] == 7 and sat["网上国网客户评价"][5] == 0.5
    times = {row[0]: row for row in wb["到达与修复时长"].iter_rows(min_row=5, values_only=True)}
    assert times["城区"][2] == 43.44 and times["城区"][3] == 45


def test_the_api_returns_every_figure(book, login):
    c = login(book.a_agent)
    r = c.get(
        "/api/v1/service/reports", {"from": "2026-01-01", "to": "2026-03-31", "unit": book.station_a.pk}
    )
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["period"] == {"from": "2026-01-01", "to": "2026-03-31"}
    assert data["volumes"]["total"] == 11
    assert data["complaints"]["per_10k"] == "3333.33"
    assert data["satisfaction"]["callbacks"]["rate"] == "85.71"
    urban = next(r for r in data["times"]["rows"] if r["area"] == "urban")
    assert urban["arrival"]["avg_minutes"] == "43.44" and urban["arrival"]["within"] is True
    assert data["on_time"]["overall"]["on_time"] == 13  # met deadlines do not depend on when one asks


def test_api_permissions_and_bad_input(book, login):
    url = "/api/v1/service/reports"
    assert login().get(url).status_code == 401
    assert login(book.portal_user).get(url).status_code == 403
    c = login(book.a_agent)
    assert c.get(url, {"unit": book.station_b.pk}).status_code == 404
    assert c.get(url, {"unit": book.company.pk}).status_code == 404
    for bad in ("x1", "²", "-1"):
        r = c.get(url, {"unit": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "unit"
    r = c.get(url, {"from": "2026-04-01", "to": "2026-03-01"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "to"
    assert c.get(url, {"from": "2026-01-01", "to": "2036-01-02"}).status_code == 422  # over ten years
    assert c.get(url, {"from": "x" * 11}).status_code == 422
    # B's agent sees only B: the praise of the set.
    data = login(book.b_agent).get(url, {"from": "2026-01-01", "to": "2026-03-31"}).json()
    assert data["unit"]["id"] == book.bureau_b.pk and data["volumes"]["total"] == 1


def test_unit_subtree_includes_descendants(book):
    # Bureau A's report holds the orders of its station A1.
    assert report(book.a_manager, book.bureau_a)["volumes"]["total"] == 11
    with pytest.raises(Http404):
        report(book.a_manager, book.bureau_b)
