"""The working-day calendar (issue 15 §4 and "Bad input"): administrators enter or import a year's holidays and
调休 days (page, API, CLI); a date twice or outside the year is refused naming the row and the date, and nothing
is written; loading a year (or changing a loaded year's days) recomputes the provisional deadlines by a job, from
each deadline's stored amount and start (a policy change in between does not leak in)."""

import io
from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent, CalendarDay, CalendarYear
from gridcare.jobs.choices import JobState
from gridcare.jobs.models import Job
from gridcare.service import calendar_admin as cal
from gridcare.service import services
from gridcare.service.models import SlaPolicy, WorkOrderDeadline

API = "/api/v1"
# Thursday 31 December 2026, 10:00 China time: its deadlines count days of 2027, a year the table does not hold.
YEAR_END = datetime.fromisoformat("2026-12-31T10:00:00+08:00")
NEW_YEAR = [
    {"date": "2027-01-01", "working": False, "name": "元旦"},
    {"date": "2027-01-02", "working": False, "name": "元旦"},
    {"date": "2027-01-03", "working": False, "name": "元旦"},
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def complaint(user, received):
    return services.work_order_create(
        actor=Actor(user=user, channel=Channel.CONSOLE),
        order_type="complaint",
        channel="phone",
        account_number="3100000001",
        received_at=received,
        now=received,
    ).order


def due(order):
    return {d.name: (d.due_at, d.provisional) for d in WorkOrderDeadline.objects.filter(order=order)}


def put(client, year, body):
    return client.put(f"{API}/calendar/years/{year}", data=body, content_type="application/json")


def calendar_state():
    return (
        list(CalendarYear.objects.order_by("year").values_list("year", "loaded", "source", "updated_at")),
        list(CalendarDay.objects.order_by("date").values_list("date", "is_working", "name")),
        AuditEvent.objects.count(),
        Job.objects.count(),
    )


def day(d: str, working: bool, name: str, where: str) -> cal.DayIn:
    return cal.DayIn(date=date.fromisoformat(d), working=working, name=name, where=where)


# ---------------------------------------------------------------- provisional deadlines recomputed


@pytest.mark.django_db
def test_loading_a_year_recomputes_its_provisional_deadlines_from_their_own_rules(svc, login):
    autumn = complaint(svc.a_agent, at("2026-09-24T10:00:00+08:00"))
    order = complaint(svc.a_agent, YEAR_END)
    # 2027 is not held: Friday 1 January counts as a working day, provisionally.
    #   contact: 1 working day → Fri 1 Jan; reply: 7 → 1, 4, 5, 6, 7, 8, 11 January.
    assert due(order) == {
        "contact": (at("2027-01-01T23:59:59+08:00"), True),
        "reply": (at("2027-01-11T23:59:59+08:00"), True),
    }
    # A policy change in between applies to new orders only, recomputation included.
    SlaPolicy.objects.filter(order_type="complaint", name="reply").update(amount=3)

    admin = login(svc.admin)
    r = put(admin, 2027, {"loaded": True, "days": NEW_YEAR})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["year"], body["loaded"], body["holidays"], body["working_days"], body["changed"]) == (
        2027,
        True,
        3,
        0,
        True,
    )
    job = Job.objects.get(pk=body["recompute_job"])
    assert (job.kind, job.state, job.params) == (
        "service.recompute_provisional",
        JobState.SUCCEEDED,
        {"years": [2027]},
    )
    assert job.result["refreshed"] == 2 and job.result["no_longer_provisional"] == 2
    # 1–3 January off: contact → Monday 4 January; reply → 4, 5, 6, 7, 8, 11, 12 January.
    assert due(order) == {
        "contact": (at("2027-01-04T23:59:59+08:00"), False),
        "reply": (at("2027-01-12T23:59:59+08:00"), False),
    }
    # An order counting only days of 2026 is untouched (the worked example).
    assert due(autumn) == {
        "contact": (at("2026-09-28T23:59:59+08:00"), False),
        "reply": (at("2026-10-12T23:59:59+08:00"), False),
    }
    update = AuditEvent.objects.get(action="calendar.update")
    assert update.changes == {
        "year": 2027,
        "loaded": [False, True],
        "holidays": 3,
        "adjusted_working_days": 0,
        "days_changed": 3,
    }
    assert update.actor == svc.admin and update.channel == "api"
    recompute = AuditEvent.objects.get(action="calendar.recompute")
    assert recompute.changes["refreshed"] == 2 and recompute.changes["year"] == "2027"

    # A loaded year's days change (a made-up 调休: Saturday 9 January worked): recomputed again.
    r = put(
        admin,
        2027,
        {"loaded": True, "days": [*NEW_YEAR, {"date": "2027-01-09", "working": True, "name": "调休"}]},
    )
    assert r.status_code == 200 and r.json()["recompute_job"] is not None
    assert due(order)["reply"] == (at("2027-01-11T23:59:59+08:00"), False)  # 4–8 (5), Sat 9 (6), Mon 11 (7)
    assert due(order)["contact"] == (at("2027-01-04T23:59:59+08:00"), False)

    # The same content again: nothing written, no job.
    state = calendar_state()
    r = put(
        admin,
        2027,
        {"loaded": True, "days": [*NEW_YEAR, {"date": "2027-01-09", "working": True, "name": "调休"}]},
    )
    assert r.status_code == 200 and (r.json()["changed"], r.json()["recompute_job"]) == (False, None)
    assert calendar_state() == state

    # Unloading the year makes its deadlines provisional again (Monday to Friday).
    r = put(admin, 2027, {"loaded": False, "days": NEW_YEAR})
    assert r.status_code == 200
    assert due(order) == {
        "contact": (at("2027-01-01T23:59:59+08:00"), True),
        "reply": (at("2027-01-11T23:59:59+08:00"), True),
    }


# ---------------------------------------------------------------- bad input: nothing written


@pytest.mark.django_db
def test_a_date_twice_or_outside_the_year_is_refused_naming_the_rows_and_nothing_is_written(svc):
    actor = Actor(user=svc.admin, channel=Channel.CONSOLE)
    state = calendar_state()
    days = [
        day("2026-10-01", False, "国庆节", "第 2 行"),
        day("2026-10-01", True, "国庆节调休", "第 3 行"),
        day("2027-01-01", False, "元旦", "第 4 行"),
    ]
    with pytest.raises(ValidationError) as exc:
        cal.calendar_year_save(actor=actor, year=2026, loaded=True, days=days)
    assert exc.value.messages == [
        "第 3 行：日期 2026-10-01 重复（第 2 行已填写）",
        "第 4 行：日期 2027-01-01 不在 2026 年内",
    ]
    assert calendar_state() == state
    with pytest.raises(ValidationError):
        cal.calendar_year_save(
            actor=actor, year=2030, loaded=True, days=[day("2031-01-01", False, "", "第 1 条")]
        )
    assert not CalendarYear.objects.filter(year=2030).exists()
    with pytest.raises(ValidationError) as exc:
        cal.calendar_year_save(actor=actor, year=1999, loaded=True, days=[])
    assert "year" in exc.value.message_dict


@pytest.mark.django_db
def test_a_save_replaces_the_year_as_a_whole(svc):
    actor = Actor(user=svc.admin, channel=Channel.CONSOLE)
    assert CalendarDay.objects.filter(year__year=2026).count() > 20  # seeded from the package
    saved = cal.calendar_year_save(
        actor=actor, year=2026, loaded=True, days=[day("2026-10-01", False, "国庆节", "第 1 行")]
    )
    assert saved.changed and saved.recompute
    assert list(CalendarDay.objects.filter(year__year=2026).values_list("date", "is_working", "name")) == [
        (date(2026, 10, 1), False, "国庆节")
    ]
    assert CalendarYear.objects.get(year=2026).source == "manual"


# ---------------------------------------------------------------- API


@pytest.mark.django_db
def test_api_permissions_and_422s(svc, login):
    assert login().get(f"{API}/calendar/years").status_code == 401
    assert login(svc.portal_user).get(f"{API}/calendar/years").status_code == 403
    assert login(svc.portal_user).get(f"{API}/calendar/years/2026").status_code == 403
    reader = login(svc.a_reader)
    years = reader.get(f"{API}/calendar/years").json()
    assert years[0]["year"] == 2026 and years[0]["loaded"] is True and years[0]["source"] == "package"
    detail = reader.get(f"{API}/calendar/years/2026").json()
    assert {"date": "2026-10-01", "working": False, "name": "国庆节"} in detail["days"]
    assert {"date": "2026-09-20", "working": True, "name": "国庆节调休"} in detail["days"]
    assert len(detail["days"]) == detail["holidays"] + detail["working_days"]
    assert reader.get(f"{API}/calendar/years/2099").status_code == 404
    assert reader.get(f"{API}/calendar/years/99999").status_code == 404

    state = calendar_state()
    assert put(login(), 2027, {"loaded": True, "days": NEW_YEAR}).status_code == 401
    assert put(login(svc.portal_user), 2027, {"loaded": True, "days": NEW_YEAR}).status_code == 403
    assert put(login(svc.a_agent), 2027, {"loaded": True, "days": NEW_YEAR}).status_code == 403
    admin = login(svc.admin)
    r = put(admin, 2027, {"loaded": True, "days": [*NEW_YEAR, {"date": "2027-01-02", "working": True}]})
    assert r.status_code == 422
    [err] = r.json()["detail"]
    assert (
        err["field"] == "days.3.date" and "2027-01-02 重复" in err["message"] and "第 2 条" in err["message"]
    )
    r = put(admin, 2027, {"loaded": True, "days": [{"date": "2028-01-01", "working": False}]})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "days.0.date"
    assert "不在 2027 年内" in r.json()["detail"][0]["message"]
    r = put(admin, 1999, {"loaded": True, "days": []})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "year"
    r = put(
        admin, 2027, {"loaded": True, "days": [{"date": "2027-01-01", "working": False, "name": "x" * 41}]}
    )
    assert r.status_code == 422
    r = put(admin, 2027, {"loaded": True})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "days"
    assert calendar_state() == state


# ---------------------------------------------------------------- pages


@pytest.mark.django_db
def test_pages_read_for_staff_and_edit_for_administrators(svc, login, django_assert_max_num_queries):
    agent = login(svc.a_agent)
    with django_assert_max_num_queries(12):
        r = agent.get("/service/calendar/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="calendar-year-2026"' in html and "calendar-open-year" not in html
    r = agent.get("/service/calendar/2026/")
    assert (
        r.status_code == 200 and "国庆节" in r.content.decode() and "calendar-edit" not in r.content.decode()
    )
    assert agent.post("/service/calendar/2026/", {"text": "", "action": "save"}).status_code == 404
    assert agent.get("/service/calendar/2030/").status_code == 404
    assert login(svc.portal_user).get("/service/calendar/").status_code == 404
    assert login().get("/service/calendar/").status_code == 302

    admin = login(svc.admin)
    assert admin.get("/service/calendar/?year=2027").url == "/service/calendar/2027/"
    assert admin.get("/service/calendar/?year=abc").status_code == 400
    r = admin.get("/service/calendar/2027/")
    assert r.status_code == 200 and "calendar-edit" in r.content.decode()

    state = calendar_state()
    text = "日期,类型,名称\n2027-01-01,休,元旦\n2027-01-01,班,元旦\n2027-13-01,休,x\n2026-12-31,休,y\n"
    r = admin.post("/service/calendar/2027/", {"text": text, "loaded": "on", "action": "save"})
    assert r.status_code == 400
    messages = r.context["errors"]
    assert "第 4 行：日期“2027-13-01”无法识别（应为 YYYY-MM-DD）" in messages
    assert "第 3 行：日期 2027-01-01 重复（第 2 行已填写）" in messages
    assert "第 5 行：日期 2026-12-31 不在 2027 年内" in messages
    assert calendar_state() == state

    r = admin.post(
        "/service/calendar/2027/",
        {
            "text": "2027-01-01 休 元旦\n2027-01-02 off 元旦\n2027-02-20 班 春节调休",
            "loaded": "on",
            "action": "save",
        },
    )
    assert r.status_code == 302 and "saved=1" in r.url and "job=" in r.url
    row = CalendarYear.objects.get(year=2027)
    assert (row.loaded, row.source, row.updated_by) == (True, "manual", svc.admin)
    assert list(CalendarDay.objects.filter(year=row).values_list("date", "is_working", "name")) == [
        (date(2027, 1, 1), False, "元旦"),
        (date(2027, 1, 2), False, "元旦"),
        (date(2027, 2, 20), True, "春节调休"),
    ]
    r = admin.get(r.url)
    assert r.status_code == 200 and 'data-testid="calendar-saved"' in r.content.decode()


@pytest.mark.django_db
def test_import_a_gbk_csv_and_an_xlsx_on_the_page(svc, login):
    admin = login(svc.admin)
    csv_bytes = "日期,类型,名称\n2027/1/1,休,元旦\n2027-02-20,班,春节调休\n".encode("gbk")
    upload = io.BytesIO(csv_bytes)
    upload.name = "2027.csv"
    r = admin.post("/service/calendar/2027/", {"action": "import", "loaded": "on", "file": upload})
    assert r.status_code == 302, r.context and r.context["errors"]
    row = CalendarYear.objects.get(year=2027)
    assert (row.loaded, row.source, row.days.count()) == (True, "import", 2)
    assert AuditEvent.objects.get(action="calendar.import").changes["file"] == "2027.csv"

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["date", "kind", "name"])
    ws.append([date(2028, 1, 1), "off", "New Year"])  # an Excel date cell
    ws.append(["2028-01-29", "work", "春节调休"])
    ws.append(["2028-01-29", "off", "again"])
    data = io.BytesIO()
    wb.save(data)
    bad = io.BytesIO(data.getvalue())
    bad.name = "2028.xlsx"
    r = admin.post("/service/calendar/2028/", {"action": "import", "loaded": "on", "file": bad})
    assert r.status_code == 400 and r.context["errors"] == ["第 4 行：日期 2028-01-29 重复（第 3 行已填写）"]
    assert not CalendarYear.objects.filter(year=2028).exists()

    ws.delete_rows(4)
    data = io.BytesIO()
    wb.save(data)
    good = io.BytesIO(data.getvalue())
    good.name = "2028.xlsx"
    r = admin.post("/service/calendar/2028/", {"action": "import", "file": good})
    assert r.status_code == 302
    row = CalendarYear.objects.get(year=2028)
    assert row.loaded is False  # the box was not ticked
    assert list(row.days.values_list("date", "is_working", "name")) == [
        (date(2028, 1, 1), False, "New Year"),
        (date(2028, 1, 29), True, "春节调休"),
    ]


# ---------------------------------------------------------------- CLI


@pytest.mark.django_db
def test_gridcare_import_calendar(svc, tmp_path):
    order = complaint(svc.a_agent, YEAR_END)
    path = tmp_path / "2027.csv"
    path.write_text(
        "date,kind,name\n2027-01-01,休,元旦\n2027-01-02,休,元旦\n2027-01-03,休,元旦\n", encoding="utf-8"
    )
    out = io.StringIO()
    call_command("import", "calendar", str(path), "--year", "2027", "--dry-run", stdout=out)
    assert "3 rows OK" in out.getvalue() and not CalendarYear.objects.filter(year=2027).exists()

    out = io.StringIO()
    call_command(
        "import", "calendar", str(path), "--year", "2027", "--inline", stdout=out, stderr=io.StringIO()
    )
    assert "导入完成：2027 年节假日 3 天、调休上班 0 天" in out.getvalue()
    assert "已重算工单时限" in out.getvalue()
    assert due(order)["contact"] == (at("2027-01-04T23:59:59+08:00"), False)
    assert AuditEvent.objects.get(action="calendar.import").channel == "import"

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,kind,name\n2027-05-01,休,劳动节\n2027-05-01,休,劳动节\n2026-05-01,休,劳动节\n", encoding="utf-8"
    )
    state = calendar_state()
    with pytest.raises(CommandError) as exc:
        call_command("import", "calendar", str(bad), "--year", "2027")
    assert "第 3 行：日期 2027-05-01 重复（第 2 行已填写）" in str(exc.value)
    assert "第 4 行：日期 2026-05-01 不在 2027 年内" in str(exc.value)
    assert calendar_state() == state


@pytest.mark.django_db
def test_a_deadline_moved_later_by_a_loaded_year_loses_its_stale_warning_and_escalation(svc):
    from gridcare.service.clock import deadlines_recompute

    order = complaint(svc.a_agent, YEAR_END)
    contact = WorkOrderDeadline.objects.get(order=order, name="contact")
    assert contact.due_at == at("2027-01-01T23:59:59+08:00")  # provisional: Friday 1 January counted
    # As the clock would have left it at 2027-01-02 09:00: warned, then escalated.
    WorkOrderDeadline.objects.filter(pk=contact.pk).update(
        warned_at=at("2027-01-01T19:00:00+08:00"), escalated_at=at("2027-01-02T00:00:00+08:00")
    )
    year = CalendarYear.objects.create(year=2027, loaded=True)
    CalendarDay.objects.bulk_create(
        CalendarDay(year=year, date=date(2027, 1, d), is_working=False, name="元旦") for d in (1, 2, 3)
    )
    deadlines_recompute(years=[2027], actor=Actor(), now=at("2027-01-02T09:00:00+08:00"))
    contact.refresh_from_db()
    # Now due Monday 4 January 23:59:59. From receipt (31 Dec 10:00) that is 4 days 13:59:59 = 395,999 s; 80 % of it
    # (316,799.2 s = 3 days 15:59:59.2) ends 4 January 01:59:59.2, after 2 January 09:00: no warning, no escalation.
    assert contact.due_at == at("2027-01-04T23:59:59+08:00")
    assert (contact.warned_at, contact.escalated_at) == (None, None)
