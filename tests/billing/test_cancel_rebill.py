"""作废重开 (cancel and rebill) from the console bill page and the API: who may, what is written, what is refused.

The story of every test: account 3100000001 (RES-TIER, 0.538 元/kWh in tier 1, nothing billed earlier in
2026) was billed for October 2026 on an estimated read of 150 kWh → 150 × 0.538 = 80.70 元, issued. The
actual read was 120 kWh; once the read is corrected, the rebill is 120 × 0.538 = 64.56 元, not estimated.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from gridcare.billing import services
from gridcare.billing.models import Bill, BillStatus
from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.customers.models import PortalBinding
from gridcare.metering.choices import ReadSource, ReadStatus
from gridcare.metering.models import MeterRead
from tests.factories import UserFactory

from .test_runs import at, client_for, read, start

SYSTEM = Actor()
D = Decimal


@pytest.fixture
def a_billing(world):
    return UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)


@pytest.fixture
def b_billing(world):
    return UserFactory(username="b_billing", role=Role.BILLING_CLERK, unit=world.bureau_b)


@pytest.fixture
def issued(world, route):
    """October 2026 of 3100000001: 150 kWh estimated → 80.70, issued."""
    read(world.acct_a, at(2026, 10, 5), "150", source=ReadSource.ESTIMATED)
    run = services.billing_run_execute(start(route).pk)
    services.bills_issue(actor=SYSTEM, run=run)
    bill = Bill.objects.get(account=world.acct_a)
    assert (bill.amount, bill.estimated, bill.status) == (D("80.70"), True, BillStatus.ISSUED)
    return bill


def correct_the_read(account):
    """The meter was read after all: 120 kWh, an actual read."""
    MeterRead.objects.filter(account=account).update(
        consumption=D("120"), total=D("1120"), source=ReadSource.MANUAL, status=ReadStatus.CORRECTED
    )


def snapshot():
    """Everything a refused cancel/rebill must leave as it was."""
    return (
        list(
            Bill.objects.order_by("id").values_list("id", "status", "amount", "cancel_reason", "corrects_id")
        ),
        AuditEvent.objects.filter(action="bill.cancel_rebill").count(),
    )


def url(bill) -> str:
    return f"/billing/bills/{bill.pk}/cancel-rebill/"


def api_url(bill) -> str:
    return f"/api/v1/billing/bills/{bill.pk}/cancel-rebill"


def post_json(c, path, body):
    return c.post(path, data=body, content_type="application/json")


# ---------------------------------------------------------------- the service


def test_service_refuses_actors_without_billing_run_in_the_bills_unit(world, issued, b_billing):
    before = snapshot()
    for user in (world.a_reader, world.a_agent, world.a_clerk, b_billing, world.portal_user):
        with pytest.raises(PermissionDenied):
            services.bill_cancel_rebill(actor=Actor(user=user), bill=issued, reason="抄表错误")
        # Refused before the reason is looked at: an empty reason is not a hint about the bill.
        with pytest.raises(PermissionDenied):
            services.bill_cancel_rebill(actor=Actor(user=user), bill=issued, reason="")
    assert snapshot() == before
    correct_the_read(world.acct_a)
    new = services.bill_cancel_rebill(
        actor=Actor(user=world.admin), bill=issued, reason="抄表错误"
    )  # company admin
    assert new.amount == D("64.56")


# ---------------------------------------------------------------- console


def test_console_cancel_rebill_opens_the_correction(world, issued, a_billing):
    c = client_for(a_billing)
    page = c.get(f"/billing/bills/{issued.pk}/").content.decode()
    assert f'action="{url(issued)}"' in page and 'data-testid="ebill-cancel-rebill"' in page
    correct_the_read(world.acct_a)

    resp = c.post(url(issued), {"reason": " 估抄电量有误，已按实抄示数更正 "})

    new = Bill.objects.get(account=world.acct_a, status=BillStatus.DRAFT)
    assert resp.status_code == 302 and resp["Location"] == f"/billing/bills/{new.pk}/"
    issued.refresh_from_db()
    assert (issued.status, issued.cancel_reason) == (BillStatus.CANCELLED, "估抄电量有误，已按实抄示数更正")
    assert issued.cancelled_at is not None
    # 120 × 0.538 = 64.56, from the corrected actual read: no longer estimated; same run, same period.
    assert (new.corrects_id, new.amount, new.kwh_total, new.estimated, new.run_id, new.period_start) == (
        issued.pk,
        D("64.56"),
        D("120.00"),
        False,
        issued.run_id,
        date(2026, 10, 1),
    )
    assert [(ln.code, ln.quantity, ln.unit_price, ln.amount) for ln in new.lines.all()] == [
        ("energy", D("120"), D("0.538"), D("64.56"))
    ]
    event = AuditEvent.objects.get(action="bill.cancel_rebill")
    assert (event.actor, event.channel, event.object_id, event.unit_id, event.customer_id) == (
        a_billing,
        "console",
        str(new.pk),
        world.station_a.pk,
        world.cust_a.pk,
    )
    assert event.changes == {
        "cancelled": issued.pk,
        "reason": "估抄电量有误，已按实抄示数更正",
        "old_amount": "80.70",
        "new_amount": "64.56",
    }

    body = c.get(resp["Location"]).content.decode()
    assert "原账单已作废，已生成更正账单（草稿）：80.70 元 → 64.56 元" in body  # the success message
    assert 'data-testid="ebill-amount">64.56<' in body
    assert f'<a href="/billing/bills/{issued.pk}/" data-testid="ebill-corrects-link">' in body
    assert f'action="{url(new)}"' in body  # a draft correction may itself be corrected again

    old = c.get(f"/billing/bills/{issued.pk}/").content.decode()
    assert 'data-testid="ebill-cancelled"' in old and "已作废" in old
    assert 'data-testid="ebill-cancel-reason">估抄电量有误，已按实抄示数更正<' in old
    assert f'<a href="/billing/bills/{new.pk}/" data-testid="ebill-corrected-by">' in old
    assert (
        'data-testid="ebill-cancel-rebill"' not in old and url(issued) not in old
    )  # no form on a cancelled bill


def test_console_form_only_for_billing_run(world, issued, b_billing):
    for user in (
        world.a_clerk,
        world.a_agent,
        world.a_reader,
        world.a_manager,
    ):  # may view the bill, not cancel it
        resp = client_for(user).get(f"/billing/bills/{issued.pk}/")
        assert resp.status_code == 200 and url(issued) not in resp.content.decode()
    assert client_for(b_billing).get(f"/billing/bills/{issued.pk}/").status_code == 404
    assert url(issued) in client_for(world.admin).get(f"/billing/bills/{issued.pk}/").content.decode()


def test_console_refused(world, issued, b_billing):
    correct_the_read(world.acct_a)
    before = snapshot()
    resp = Client().post(url(issued), {"reason": "抄表错误"})
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")
    for user in (world.a_reader, world.a_agent, world.a_clerk, world.portal_user):  # no billing.run: 404
        assert client_for(user).post(url(issued), {"reason": "抄表错误"}).status_code == 404
    assert client_for(b_billing).post(url(issued), {"reason": "抄表错误"}).status_code == 404  # other unit
    assert (
        client_for(b_billing)
        .post(f"/billing/bills/{issued.pk + 999}/cancel-rebill/", {"reason": "x"})
        .status_code
        == 404
    )
    assert snapshot() == before


def test_console_get_is_not_allowed(world, issued, a_billing):
    assert client_for(a_billing).get(url(issued)).status_code == 405


@pytest.mark.parametrize("reason", ["", "   "])
def test_console_empty_reason_is_shown_and_nothing_written(world, issued, a_billing, reason):
    correct_the_read(world.acct_a)
    before = snapshot()
    resp = client_for(a_billing).post(url(issued), {"reason": reason})
    body = resp.content.decode()
    assert (
        resp.status_code == 400 and 'data-testid="cancel-reason-errors"' in body and "请填写作废原因" in body
    )
    assert 'data-testid="ebill-amount">80.70<' in body  # still the bill's page
    assert snapshot() == before


def test_console_second_cancel_is_refused(world, issued, a_billing):
    correct_the_read(world.acct_a)
    c = client_for(a_billing)
    assert c.post(url(issued), {"reason": "抄表错误"}).status_code == 302
    before = snapshot()
    resp = c.post(url(issued), {"reason": "再来一次"})  # e.g. the form sent twice
    body = resp.content.decode()
    assert resp.status_code == 400 and 'data-testid="cancel-errors"' in body and "该账单已作废" in body
    assert 'data-testid="ebill-cancelled"' in body and 'data-testid="cancel-rebill-submit"' not in body
    assert snapshot() == before and Bill.objects.filter(account=world.acct_a).count() == 2


def test_console_cannot_rerate_is_shown_and_nothing_written(world, issued, a_billing):
    MeterRead.objects.filter(account=world.acct_a).update(
        status=ReadStatus.FLAGGED
    )  # the read is in question again
    before = snapshot()
    resp = client_for(a_billing).post(url(issued), {"reason": "抄表错误"})
    body = resp.content.decode()
    assert resp.status_code == 400 and "无法重新计费：有 1 条异常示数尚未处理" in body
    assert snapshot() == before
    issued.refresh_from_db()
    assert issued.status == BillStatus.ISSUED


# ---------------------------------------------------------------- API


def test_api_cancel_rebill(world, issued, a_billing):
    correct_the_read(world.acct_a)
    c = client_for(a_billing)
    resp = post_json(c, api_url(issued), {"reason": "估抄电量有误"})
    assert resp.status_code == 201, resp.content
    data = resp.json()
    new = Bill.objects.get(account=world.acct_a, status=BillStatus.DRAFT)
    assert data == {
        "id": new.pk,
        "account_number": "3100000001",
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
        "tariff_code": "RES-TIER",
        "kwh_total": "120.00",
        "estimated": False,
        "amount": "64.56",
        "status": "draft",
        "due_date": None,
        "corrects_id": issued.pk,
        "cancelled_at": None,
        "cancel_reason": "",
        "lines": [
            {
                "seq": 1,
                "code": "energy",
                "label": data["lines"][0]["label"],
                "quantity": "120",
                "unit_price": "0.538",
                "amount": "64.56",
            }
        ],
    }
    # The same shape from the GET routes; the cancelled bill says when and why.
    assert c.get(f"/api/v1/billing/bills/{new.pk}").json() == data
    old = c.get(f"/api/v1/billing/bills/{issued.pk}").json()
    assert (old["status"], old["cancel_reason"], old["amount"], old["corrects_id"]) == (
        "cancelled",
        "估抄电量有误",
        "80.70",
        None,
    )
    assert old["cancelled_at"] is not None
    listed = c.get("/api/v1/billing/bills", {"account_number": "3100000001"}).json()
    assert sorted((b["id"], b["status"]) for b in listed) == [(issued.pk, "cancelled"), (new.pk, "draft")]
    event = AuditEvent.objects.get(action="bill.cancel_rebill")
    assert (event.actor, event.channel, event.object_id, event.changes["cancelled"]) == (
        a_billing,
        "api",
        str(new.pk),
        issued.pk,
    )


def test_api_refused(world, issued, b_billing):
    correct_the_read(world.acct_a)
    before = snapshot()
    body = {"reason": "抄表错误"}
    assert post_json(Client(), api_url(issued), body).status_code == 401
    for user in (
        world.a_reader,
        world.a_agent,
        world.a_clerk,
        world.portal_user,
    ):  # the role lacks billing.run
        resp = post_json(client_for(user), api_url(issued), body)
        assert resp.status_code == 403 and "billing.run" in resp.json()["detail"]
    b = client_for(b_billing)
    assert post_json(b, api_url(issued), body).status_code == 404  # outside the caller's units
    assert b.get(f"/api/v1/billing/bills/{issued.pk}").status_code == 404
    missing = post_json(b, f"/api/v1/billing/bills/{issued.pk + 999}/cancel-rebill", body)
    assert missing.status_code == 404 and missing.json() == post_json(b, api_url(issued), body).json()
    assert snapshot() == before


def test_api_bad_input_is_422_and_writes_nothing(world, issued, a_billing):
    c = client_for(a_billing)
    before = snapshot()
    for body in ({}, {"reason": ""}, {"reason": "  "}, {"reason": "x" * 501}, {"reason": "a\x00b"}):
        resp = post_json(c, api_url(issued), body)
        assert resp.status_code == 422, body
        assert [e["field"] for e in resp.json()["detail"]] == ["reason"]
    # The read is flagged: the bill cannot be re-rated.
    MeterRead.objects.filter(account=world.acct_a).update(status=ReadStatus.FLAGGED)
    resp = post_json(c, api_url(issued), {"reason": "抄表错误"})
    assert resp.status_code == 422 and resp.json()["detail"] == [
        {"field": "__all__", "message": "无法重新计费：有 1 条异常示数尚未处理"}
    ]
    assert snapshot() == before


def test_api_second_cancel_is_422(world, issued, a_billing):
    correct_the_read(world.acct_a)
    c = client_for(a_billing)
    assert post_json(c, api_url(issued), {"reason": "抄表错误"}).status_code == 201
    before = snapshot()
    resp = post_json(c, api_url(issued), {"reason": "再来一次"})
    assert resp.status_code == 422 and resp.json()["detail"] == [
        {"field": "__all__", "message": "该账单已作废"}
    ]
    assert snapshot() == before


# ---------------------------------------------------------------- the portal


def test_portal_shows_only_the_correction_once_issued(world, issued, a_billing):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=issued.created_at)
    portal = client_for(world.portal_user)
    page = portal.get("/portal/accounts/3100000001/").content.decode()
    assert f'href="/portal/billing/bills/{issued.pk}/"' in page

    correct_the_read(world.acct_a)
    assert client_for(a_billing).post(url(issued), {"reason": "抄表错误"}).status_code == 302
    new = Bill.objects.get(corrects=issued)
    # Cancelled: gone from the portal; the correction is a draft: not there yet either.
    page = portal.get("/portal/accounts/3100000001/").content.decode()
    assert "/portal/billing/bills/" not in page and "暂无已发行的账单" in page
    assert portal.get(f"/portal/billing/bills/{issued.pk}/").status_code == 404
    assert portal.get(f"/portal/billing/bills/{new.pk}/").status_code == 404

    # Issuing the run issues the correction (same run): the portal shows it, and only it.
    assert client_for(a_billing).post(f"/billing/runs/{issued.run_id}/issue/").status_code == 302
    page = portal.get("/portal/accounts/3100000001/").content.decode()
    assert page.count("/portal/billing/bills/") == 1 and f'href="/portal/billing/bills/{new.pk}/"' in page
    assert 'data-testid="bill-2026-10"' in page
    resp = portal.get(f"/portal/billing/bills/{new.pk}/")
    assert resp.status_code == 200 and 'data-testid="ebill-amount">64.56<' in resp.content.decode()
    assert "ebill-estimated" not in resp.content.decode()  # the correction is from the actual read
    assert portal.get(f"/portal/billing/bills/{issued.pk}/").status_code == 404
