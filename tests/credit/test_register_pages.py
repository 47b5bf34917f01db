"""Staff pages of the credit-event register: the permission matrix, recording with evidence, the approval tab,
approve/reject/confirm/dismiss, contests and their decision, evidence served only to users who may see the event,
and 400s on bad input with nothing written."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.credit import services
from gridcare.credit.events import event_create
from gridcare.credit.models import CreditContest, CreditEvent, CreditEvidence

from .conftest import NOW

PDF = b"%PDF-1.4\n% evidence\n"
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


@pytest.fixture
def theft(cw):
    return services.event_record(
        actor=Actor(user=cw.inspector),
        customer_id=cw.power_a.pk,
        code="theft",
        day=date(2026, 11, 20),
        description="私接电源",
        today=date(2026, 12, 1),
        now=NOW,
    )


def new_url(customer_id) -> str:
    return f"{reverse('credit:event_new')}?customer={customer_id}"


def test_url_names():
    assert reverse("credit:events") == "/credit/events/"
    assert reverse("credit:event_new") == "/credit/events/new/"
    assert reverse("credit:event", args=[5]) == "/credit/events/5/"
    assert reverse("credit:contests") == "/credit/contests/"
    assert reverse("portal_credit:index") == "/portal/credit/"


def test_register_matrix(cw, login, theft):
    url = reverse("credit:events")
    assert login().get(url).status_code == 302  # to the console login
    assert login(cw.portal_user).get(url).status_code == 404
    assert login(cw.a_reader).get(url).status_code == 404
    other = login(cw.b_manager).get(url)
    assert other.status_code == 200 and f'data-testid="event-{theft.pk}"' not in other.content.decode()
    mine = login(cw.a_clerk).get(url)
    assert mine.status_code == 200 and f'data-testid="event-{theft.pk}"' in mine.content.decode()
    assert "东关机械厂" in mine.content.decode()  # an organisation's name is shown in full, a person's masked
    detail = reverse("credit:event", args=[theft.pk])
    assert login(cw.b_manager).get(detail).status_code == 404
    assert login(cw.a_reader).get(detail).status_code == 404
    assert login(cw.portal_user).get(detail).status_code == 404
    assert login(cw.a_clerk).get(detail).status_code == 200


def test_register_filters(cw, login, theft):
    c = login(cw.a_manager)
    assert (
        f"event-{theft.pk}" in c.get(reverse("credit:events") + "?code=theft&status=pending").content.decode()
    )
    assert f"event-{theft.pk}" not in c.get(reverse("credit:events") + "?code=violation").content.decode()
    bad = c.get(reverse("credit:events") + "?date_from=2026-10-01&date_to=2026-09-01")
    assert bad.status_code == 400
    assert c.get(reverse("credit:events") + "?status=nope").status_code == 400
    assert c.get(reverse("credit:events") + "?page=abc").status_code == 200


def test_queue_tab_for_approvers(cw, login, theft):
    page = login(cw.a_manager).get(reverse("credit:events") + "?tab=queue").content.decode()
    assert f'data-testid="pending-{theft.pk}"' in page
    plain = login(cw.inspector).get(reverse("credit:events") + "?tab=queue").content.decode()
    assert f'data-testid="pending-{theft.pk}"' not in plain  # no credit.approve: the plain register


def test_record_page_with_evidence(cw, login):
    c = login(cw.inspector)
    url = new_url(cw.power_a.pk)
    assert c.get(url).status_code == 200
    r = c.post(
        url,
        {
            "code": "theft",
            "date": "2024-11-20",
            "description": "现场查获私接",
            "inspector": cw.inspector.pk,
            "files": [
                SimpleUploadedFile("照片.jpg", JPG, content_type="image/jpeg"),
                SimpleUploadedFile("通知书.pdf", PDF, content_type="application/pdf"),
            ],
        },
    )
    e = CreditEvent.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("credit:event", args=[e.pk])
    assert (e.status, e.inspector_id, e.evidence.count()) == ("pending", cw.inspector.pk, 2)
    assert AuditEvent.objects.filter(action="credit.evidence_add").count() == 2


def test_record_page_refusals_write_nothing(cw, login):
    url = new_url(cw.power_a.pk)
    assert login(cw.b_inspector).get(url).status_code == 404
    assert login(cw.a_clerk).get(url).status_code == 404
    assert login(cw.inspector).get(new_url(987654)).status_code == 404
    assert login(cw.inspector).get(reverse("credit:event_new") + "?customer=x").status_code == 404
    c = login(cw.inspector)
    bad_file = c.post(
        url,
        {"code": "theft", "date": "2024-11-20", "files": [SimpleUploadedFile("a.exe", b"MZ\x90\x00")]},
    )
    assert bad_file.status_code == 400 and "不是 PDF" in bad_file.content.decode()
    assert c.post(url, {"code": "unqualified_electrician", "date": "2024-11-20"}).status_code == 400
    assert c.post(url, {"code": "arrears", "date": "2024-11-20"}).status_code == 400
    assert c.post(url, {"code": "theft", "date": "2100-01-01"}).status_code == 400
    assert c.post(url, {"code": "theft", "date": "9999-99-99"}).status_code == 400
    assert not CreditEvent.objects.exists() and not CreditEvidence.objects.exists()


def test_approve_reject_pages(cw, login, theft):
    approve = reverse("credit:event_action", args=[theft.pk, "approve"])
    assert login(cw.inspector).post(approve).status_code == 404  # no credit.approve
    assert login(cw.b_manager).post(approve).status_code == 404
    mine = services.event_record(
        actor=Actor(user=cw.a_manager),
        customer_id=cw.power_a.pk,
        code="violation",
        day=date(2026, 11, 1),
        today=date(2026, 12, 1),
    )
    page = login(cw.a_manager).get(reverse("credit:event", args=[mine.pk])).content.decode()
    assert 'data-testid="self-recorded"' in page and 'data-testid="approve-form"' not in page
    r = login(cw.a_manager).post(reverse("credit:event_action", args=[mine.pk, "approve"]))
    assert r.status_code == 400 and "另一位" in r.content.decode()
    r = login(cw.a_manager).post(approve, {"note": "属实"})
    assert r.status_code == 302
    theft.refresh_from_db()
    assert theft.status == "active"
    r = login(cw.a_manager2).post(reverse("credit:event_action", args=[mine.pk, "reject"]), {"reason": ""})
    assert r.status_code == 400
    r = login(cw.a_manager2).post(
        reverse("credit:event_action", args=[mine.pk, "reject"]), {"reason": "不实"}
    )
    mine.refresh_from_db()
    assert r.status_code == 302 and mine.status == "rejected"
    assert login(cw.a_manager).post(reverse("credit:event_action", args=[mine.pk, "nope"])).status_code == 404


def test_candidate_pages(cw, login):
    e = event_create(
        actor=Actor(),
        customer_id=cw.cust_a.pk,
        unit_id=cw.cust_a.unit_id,
        code="wrong_bank_account",
        day=date(2026, 11, 11),
        source="withholding",
        status="candidate",
        source_key="withholding:9",
    )
    page = login(cw.a_manager).get(reverse("credit:events") + "?tab=queue").content.decode()
    assert f'data-testid="candidate-{e.pk}"' in page
    assert "张*" in page and "张三" not in page
    detail = login(cw.a_manager).get(reverse("credit:event", args=[e.pk])).content.decode()
    assert 'data-testid="confirm-form"' in detail and 'data-testid="dismiss-form"' in detail
    r = login(cw.a_manager).post(reverse("credit:event_action", args=[e.pk, "dismiss"]), {"note": ""})
    assert r.status_code == 400
    r = login(cw.a_manager).post(reverse("credit:event_action", args=[e.pk, "dismiss"]), {"note": "银行原因"})
    e.refresh_from_db()
    assert r.status_code == 302 and e.status == "dismissed"


def test_contest_and_decide_pages(cw, login, theft):
    theft.status = "active"
    theft.save()
    contest_url = reverse("credit:event_contest", args=[theft.pk])
    assert login(cw.b_clerk).post(contest_url, {"reason": "x"}).status_code == 404
    assert login(cw.a_reader).post(contest_url, {"reason": "x"}).status_code == 404
    assert login(cw.portal_user).post(contest_url, {"reason": "x"}).status_code == 404
    assert login(cw.a_clerk).post(contest_url, {"reason": ""}).status_code == 400
    assert not CreditContest.objects.exists()
    page = login(cw.cmanager).get(reverse("credit:event", args=[theft.pk])).content.decode()
    assert 'data-testid="contest-form"' in page
    assert login(cw.cmanager).post(contest_url, {"reason": "客户已整改"}).status_code == 302
    c = CreditContest.objects.get()
    assert c.channel == "manager"
    queue = login(cw.a_manager).get(reverse("credit:events") + "?tab=queue").content.decode()
    assert f'data-testid="contest-{c.pk}"' in queue
    listing = login(cw.a_clerk).get(reverse("credit:contests")).content.decode()
    assert f'data-testid="contest-{c.pk}"' in listing
    detail = login(cw.a_manager).get(reverse("credit:event", args=[theft.pk])).content.decode()
    assert 'data-testid="decide-form"' in detail and "客户已整改" in detail
    decide = reverse("credit:contest_decide", args=[c.pk])
    assert login(cw.a_clerk).post(decide, {"decision": "upheld", "note": "x"}).status_code == 404
    assert login(cw.b_manager).post(decide, {"decision": "upheld", "note": "x"}).status_code == 404
    assert login(cw.a_manager).post(decide, {"decision": "x", "note": "x"}).status_code == 400
    assert login(cw.a_manager).post(decide, {"decision": "upheld", "note": "维持"}).status_code == 302
    theft.refresh_from_db()
    c.refresh_from_db()
    assert (c.status, theft.status) == ("upheld", "active")


def test_evidence_served_only_to_who_may_see_the_event(cw, login, theft):
    ev = services.evidence_add(actor=Actor(user=cw.inspector), event=theft, name="笔录.pdf", data=PDF)
    url = reverse("credit:evidence", args=[ev.pk])
    page = login(cw.a_clerk).get(reverse("credit:event", args=[theft.pk])).content.decode()
    assert url in page
    got = login(cw.a_clerk).get(url)
    assert got.status_code == 200 and b"".join(got.streaming_content) == PDF
    assert login(cw.b_manager).get(url).status_code == 404
    assert login(cw.a_reader).get(url).status_code == 404
    assert login(cw.portal_user).get(url).status_code == 404
    assert login().get(url).status_code == 302
    up = reverse("credit:event_evidence", args=[theft.pk])
    assert login(cw.b_inspector).post(up, {"files": [SimpleUploadedFile("b.pdf", PDF)]}).status_code == 404
    assert login(cw.inspector).post(up, {}).status_code == 400
    assert login(cw.inspector).post(up, {"files": [SimpleUploadedFile("b.pdf", PDF)]}).status_code == 302
    assert theft.evidence.count() == 2


def _many(cw, n):
    for _ in range(n):
        services.event_record(
            actor=Actor(user=cw.inspector),
            customer_id=cw.power_a.pk,
            code="violation",
            day=date(2026, 11, 1),
            inspector_id=cw.inspector.pk,
            today=date(2026, 12, 1),
        )


def test_list_query_counts_do_not_grow_with_rows(cw, login):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = login(cw.a_manager)
    counts = []
    for n in (2, 6):
        _many(cw, n)
        for url in (
            reverse("credit:events"),
            reverse("credit:events") + "?tab=queue",
            "/api/v1/credit/events",
        ):
            with CaptureQueriesContext(connection) as ctx:
                assert c.get(url).status_code == 200
            counts.append((url, len(ctx.captured_queries)))
    assert [k for _, k in counts[:3]] == [k for _, k in counts[3:]], counts


@pytest.mark.parametrize("raw", ["²", "٣", "-1", "0", "9" * 30, "1e3", " "])
def test_customer_parameter_odd_digits_never_500(cw, login, raw):
    """str.isdigit() accepts "²" and "٣" that int() may refuse: the record and assessment forms answer 404 (no such
    customer), never a 500."""
    assert login(cw.inspector).get("/credit/events/new/", {"customer": raw}).status_code == 404
    assert login(cw.cmanager).get("/credit/assessments/new/", {"customer": raw}).status_code in (400, 404)
