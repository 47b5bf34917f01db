"""用电检查 pages (issue 17 §2): the permission matrix, the inspector's phone page (viewport meta, today's and
overdue cards), the checklist form (radio buttons), refusal, the notice (issue, print page, done), the list's
filters and overdue highlight, 400s that write nothing."""

from datetime import date

import pytest
from django.urls import reverse

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.credit import checklist
from gridcare.credit import inspections as svc
from gridcare.credit.models import CreditEvent, Inspection, InspectionItem, RectificationNotice

from .conftest import NOW

PAST = "2025-06-10"


@pytest.fixture
def pw(cw):
    w = cw
    a = Actor(user=w.inspector, channel=Channel.CONSOLE)
    w.late = svc.inspection_create(actor=a, customer_id=w.power_a.pk, due_on=date(2020, 1, 1), now=NOW)
    w.ahead = svc.inspection_create(actor=a, customer_id=w.cust_a.pk, due_on=date(2099, 1, 1), now=NOW)
    return w


def form(**results):
    data = {"summary": "结论", "performed_on": PAST}
    for item in checklist.DEFAULT_CHECKLIST:
        result, finding = results.get(item.code, ("ok", ""))
        data[f"result_{item.code}"] = result
        data[f"finding_{item.code}"] = finding
    return data


def snapshot():
    return (
        list(Inspection.objects.order_by("id").values_list("id", "status")),
        InspectionItem.objects.count(),
        CreditEvent.objects.count(),
        RectificationNotice.objects.count(),
    )


def urls(w):
    return {
        "list": reverse("credit:inspections"),
        "mine": reverse("credit:inspections_mine"),
        "detail": reverse("credit:inspection", args=[w.late.pk]),
    }


def test_anonymous_goes_to_login(pw, login):
    c = login()
    for url in urls(pw).values():
        r = c.get(url)
        assert r.status_code == 302 and "/login/" in r["Location"]
    before = snapshot()
    assert c.post(reverse("credit:inspection_perform", args=[pw.late.pk]), form()).status_code == 302
    assert snapshot() == before


@pytest.mark.parametrize("who", ["portal_user", "a_reader"])
def test_without_credit_view_404(pw, login, who):
    c = login(getattr(pw, who))
    for url in urls(pw).values():
        assert c.get(url).status_code == 404
    before = snapshot()
    assert c.post(reverse("credit:inspection_perform", args=[pw.late.pk]), form()).status_code == 404
    assert snapshot() == before


def test_staff_without_credit_record(pw, login):
    c = login(pw.a_agent)
    r = c.get(reverse("credit:inspections"))
    assert r.status_code == 200 and "新建专项检查" not in r.content.decode()
    assert c.get(reverse("credit:inspections_mine")).status_code == 404
    r = c.get(reverse("credit:inspection", args=[pw.late.pk]))
    assert r.status_code == 200 and 'data-testid="perform-form"' not in r.content.decode()
    before = snapshot()
    for name, data in (
        ("credit:inspection_perform", form()),
        ("credit:inspection_refused", {"performed_on": PAST}),
        ("credit:inspection_notice", {}),
    ):
        assert c.post(reverse(name, args=[pw.late.pk]), data).status_code == 404
    assert (
        c.post(reverse("credit:inspection_new"), {"customer_id": pw.power_a.pk, "due_on": PAST}).status_code
        == 404
    )
    assert snapshot() == before


def test_inspector_of_another_unit(pw, login):
    c = login(pw.b_inspector)
    assert c.get(reverse("credit:inspection", args=[pw.late.pk])).status_code == 404
    r = c.get(reverse("credit:inspections_mine"))
    assert r.status_code == 200 and "东关机械厂" not in r.content.decode()
    before = snapshot()
    assert c.post(reverse("credit:inspection_perform", args=[pw.late.pk]), form()).status_code == 404
    r = c.post(reverse("credit:inspection_new"), {"customer_id": pw.power_a.pk, "due_on": PAST})
    assert r.status_code == 400
    assert snapshot() == before


def test_mobile_page_viewport_and_cards(pw, login):
    r = login(pw.inspector).get(reverse("credit:inspections_mine"))
    assert r.status_code == 200
    html = r.content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "credit/inspections.css" in html
    assert html.count('data-testid="mine-card"') == 1  # the 2020 one (overdue); 2099 is not due
    assert "东关机械厂" in html and reverse("credit:inspection", args=[pw.late.pk]) in html
    assert "style=" not in html  # the Content-Security-Policy refuses inline styles


def test_list_highlights_overdue_and_filters(pw, login):
    c = login(pw.inspector)
    html = c.get(reverse("credit:inspections")).content.decode()
    assert html.count('class="insp-overdue"') == 1
    html = c.get(reverse("credit:inspections") + "?due_after=2030-01-01").content.decode()
    assert "东关机械厂" not in html
    r = c.get(reverse("credit:inspections") + "?due_after=2030-02-30&status=x")
    assert r.status_code == 400
    assert c.get(reverse("credit:inspections") + "?customer_id=-1").status_code == 400
    assert c.get(reverse("credit:inspections") + "?customer_id=%C2%B2").status_code == 400  # "²" isdigit()


def test_detail_has_radio_checklist(pw, login):
    html = login(pw.inspector).get(reverse("credit:inspection", args=[pw.late.pk])).content.decode()
    assert 'data-testid="perform-form"' in html
    for item in checklist.DEFAULT_CHECKLIST:
        assert html.count(f'name="result_{item.code}"') == 3
    assert 'name="unqualified_electricians"' in html


def test_perform_refused_forms(pw, login):
    c = login(pw.inspector)
    before = snapshot()
    bad = form()
    del bad["result_rules"]
    r = c.post(reverse("credit:inspection_perform", args=[pw.late.pk]), bad)
    assert r.status_code == 400 and "运行管理制度" in r.content.decode()
    r = c.post(
        reverse("credit:inspection_perform", args=[pw.late.pk]),
        form(electrician=("defect", "无证")),
    )
    assert r.status_code == 400 and "人数" in r.content.decode()
    r = c.post(
        reverse("credit:inspection_perform", args=[pw.late.pk]), {**form(), "performed_on": "2099-01-01"}
    )
    assert r.status_code == 400
    r = c.post(reverse("credit:inspection_perform", args=[pw.late.pk]), {**form(), "performed_on": "x"})
    assert r.status_code == 400
    assert snapshot() == before
    r = c.post(
        reverse("credit:inspection_perform", args=[pw.late.pk]),
        {
            **form(
                electrician=("defect", "无证"), dispatch=("defect", "不执行"), anti_theft=("defect", "疑似")
            ),
            "unqualified_electricians": "1",
        },
    )
    assert r.status_code == 302
    events = {e.code: e for e in CreditEvent.objects.all()}
    assert set(events) == {"unqualified_electrician", "dispatch_rules_ignored"}
    assert events["unqualified_electrician"].count == 1
    html = c.get(reverse("credit:inspection", args=[pw.late.pk])).content.decode()
    assert 'data-testid="notice-form"' in html and "2025-07-10" in html  # default deadline
    # refusal of the other one
    r = c.post(reverse("credit:inspection_refused", args=[pw.ahead.pk]), {"performed_on": "", "note": "x"})
    assert r.status_code == 400
    r = c.post(
        reverse("credit:inspection_refused", args=[pw.ahead.pk]), {"performed_on": PAST, "note": "拒绝"}
    )
    assert r.status_code == 302
    assert CreditEvent.objects.get(inspection=pw.ahead).code == "inspection_refused"


def test_notice_issue_print_and_done(pw, login):
    c = login(pw.inspector)
    c.post(reverse("credit:inspection_perform", args=[pw.late.pk]), form(facilities=("defect", "漏水")))
    r = c.post(
        reverse("credit:inspection_notice", args=[pw.late.pk]), {"requirements": "", "deadline": "2025-06-01"}
    )
    assert r.status_code == 400 and not RectificationNotice.objects.exists()
    r = c.post(
        reverse("credit:inspection_notice", args=[pw.late.pk]), {"requirements": "修复漏水", "deadline": ""}
    )
    n = RectificationNotice.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("credit:notice", args=[n.pk])
    assert n.deadline == date(2025, 7, 10) and n.requirements == "修复漏水"
    html = c.get(r["Location"]).content.decode()
    assert "限期整改通知书" in html and n.number in html and "2025年7月10日" in html
    assert "credit/notice-print.js" in html and "style=" not in html and "onclick" not in html
    # others
    assert login(pw.b_inspector).get(reverse("credit:notice", args=[n.pk])).status_code == 404
    assert (
        login(pw.a_agent).post(reverse("credit:notice_done", args=[n.pk]), {"done_on": PAST}).status_code
        == 404
    )
    assert login(pw.portal_user).get(reverse("credit:notice", args=[n.pk])).status_code == 404
    r = c.post(reverse("credit:notice_done", args=[n.pk]), {"done_on": "2099-01-01"})
    assert r.status_code == 400
    r = c.post(reverse("credit:notice_done", args=[n.pk]), {"done_on": "2025-06-20"})
    assert r.status_code == 302
    n.refresh_from_db()
    assert (n.status, n.done_on) == ("done", date(2025, 6, 20))


def test_new_special_inspection(pw, login):
    c = login(pw.inspector)
    r = c.post(
        reverse("credit:inspection_new"),
        {"customer_id": pw.cust_a.pk, "due_on": "2099-03-01", "note": "节前专项"},
    )
    assert r.status_code == 302
    i = Inspection.objects.latest("id")
    assert (i.kind, i.customer_id, i.due_on) == ("special", pw.cust_a.pk, date(2099, 3, 1))
    for bad in (
        {"customer_id": "", "due_on": "2099-03-01"},
        {"customer_id": "abc", "due_on": "2099-03-01"},
        {"customer_id": pw.cust_a.pk, "due_on": "2099-02-30"},
        {"customer_id": 987654, "due_on": "2099-03-01"},
    ):
        assert c.post(reverse("credit:inspection_new"), bad).status_code == 400
    assert Inspection.objects.count() == 3


def test_list_and_mine_query_counts_do_not_grow(pw, login):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = login(pw.inspector)

    def counts():
        out = []
        for url in (reverse("credit:inspections"), reverse("credit:inspections_mine")):
            with CaptureQueriesContext(connection) as ctx:
                assert c.get(url).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    small = counts()
    a = Actor(user=pw.inspector, channel=Channel.CONSOLE)
    for n in range(10):
        svc.inspection_create(actor=a, customer_id=pw.power_a.pk, due_on=date(2020, 1, 2 + n), now=NOW)
    assert counts() == small
