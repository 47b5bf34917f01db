"""Collections pages, API and CLI: permission matrices (nothing changes when refused), query guards.

Given 张三's residential account 3100000001 (bureau A) with a 100.00 bill due 20 September 2026, and an
important commercial customer's account 3100000003 (bureau A) with 200.00 due the same day: the notices of
20 October plan the disconnections on 27 October (+7, residential) and 23 October (+3, other classes).
Running 27 October makes an open task for 张三 and a task awaiting approval for the important customer.
"""

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.choices import CustomerClass, Segment
from gridcare.payments.collections.services import collections_run
from gridcare.payments.models import CollectionTask, DunningNotice
from tests.factories import CustomerFactory, UserFactory, make_account
from tests.payments.ledger.test_ledger import issued_bill

API = "/api/v1"


@pytest.fixture
def people(world):
    world.a_billing = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    world.b_billing = UserFactory(username="b_billing", role=Role.BILLING_CLERK, unit=world.bureau_b)
    world.b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=world.bureau_b)
    return world


@pytest.fixture
def tasks(people):
    w = people
    vip = CustomerFactory(
        name="东关医院", unit=w.station_a, customer_class=CustomerClass.COMMERCIAL, segment=Segment.IMPORTANT
    )
    w.acct_vip = make_account(vip, "3100000003", w.area_a, address="东关镇健康路1号")
    issued_bill(w.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    issued_bill(w.acct_vip, "2026-08", "200.00", date(2026, 9, 20))
    collections_run(today=date(2026, 10, 20), actor=Actor())
    collections_run(today=date(2026, 10, 27), actor=Actor())
    w.open_task = CollectionTask.objects.get(account=w.acct_a)
    w.vip_task = CollectionTask.objects.get(account=w.acct_vip)
    assert (w.open_task.status, w.vip_task.status) == ("open", "awaiting_approval")
    return w


def state():
    return (
        list(CollectionTask.objects.order_by("id").values_list("status", "decided_by", "done_at")),
        DunningNotice.objects.count(),
        AuditEvent.objects.exclude(action="collections.run").count(),
    )


# ---------------------------------------------------------------- pages


def test_task_list_matrix_and_query_guard(tasks, login, django_assert_max_num_queries):
    w = tasks
    assert login().get("/payments/collections/").status_code == 302
    for user in (w.portal_user, w.a_agent, w.a_clerk):
        assert login(user).get("/payments/collections/").status_code == 404
    other = login(w.b_billing).get("/payments/collections/")
    assert other.status_code == 200 and b"data-task=" not in other.content
    c = login(w.a_billing)
    with django_assert_max_num_queries(12):
        page = c.get("/payments/collections/")
    body = page.content.decode()
    assert (
        page.status_code == 200
        and f'data-task="{w.open_task.pk}"' in body
        and f'data-task="{w.vip_task.pk}"' in body
    )
    # Today is after 27 Oct 2026 18:00: both are overdue (the machine's clock is later than the test dates).
    assert f'data-testid="overdue-{w.open_task.pk}"' in body
    assert (
        f'data-testid="done-{w.open_task.pk}"' in body
        and f'data-testid="approve-{w.vip_task.pk}"' not in body
    )
    manager_page = login(w.a_manager).get("/payments/collections/?status=awaiting_approval").content.decode()
    assert (
        f'data-testid="approve-{w.vip_task.pk}"' in manager_page
        and f'data-task="{w.open_task.pk}"' not in manager_page
    )
    kinds = login(w.a_billing).get("/payments/collections/?kind=reconnect").content.decode()
    assert "data-task=" not in kinds


def test_page_actions_matrix(tasks, login):
    w = tasks
    approve = f"/payments/collections/tasks/{w.vip_task.pk}/approve/"
    before = state()
    assert login().post(approve).status_code == 302 and state() == before  # to the login page
    for user in (w.portal_user, w.a_billing, w.b_manager, w.a_agent):
        assert login(user).post(approve).status_code == 404
    assert state() == before
    # Done before approval: refused with a message, nothing changed.
    resp = login(w.a_billing).post(f"/payments/collections/tasks/{w.vip_task.pk}/done/", follow=True)
    assert "须经经理审批" in resp.content.decode() and state() == before
    assert login(w.a_manager).get(approve).status_code == 405
    assert login(w.a_manager).post(approve).status_code == 302
    w.vip_task.refresh_from_db()
    assert w.vip_task.status == "open" and w.vip_task.decided_by == w.a_manager
    done = login(w.a_billing).post(
        f"/payments/collections/tasks/{w.open_task.pk}/done/",
        {"done_at": "2026-10-28T09:30", "note": "已拉闸"},
    )
    assert done.status_code == 302
    w.open_task.refresh_from_db()
    assert w.open_task.status == "done" and w.open_task.note == "已拉闸"
    assert w.open_task.done_at.isoformat() == "2026-10-28T01:30:00+00:00"  # 09:30 Beijing time


def test_page_reject_needs_a_reason(tasks, login):
    w = tasks
    url = f"/payments/collections/tasks/{w.vip_task.pk}/reject/"
    before = state()
    resp = login(w.a_manager).post(url, {"reason": " "}, follow=True)
    assert "请填写驳回原因" in resp.content.decode() and state() == before
    login(w.a_manager).post(url, {"reason": "医院不可停电，已协商"})
    w.vip_task.refresh_from_db()
    assert (w.vip_task.status, w.vip_task.reject_reason) == ("rejected", "医院不可停电，已协商")


def test_account_timeline_page_and_protection(tasks, login, django_assert_max_num_queries):
    w = tasks
    url = "/payments/collections/accounts/3100000001/"
    assert login().get(url).status_code == 302
    assert login(w.portal_user).get(url).status_code == 404
    assert login(w.b_clerk).get(url).status_code == 404
    agent = login(w.a_agent)
    with django_assert_max_num_queries(12):
        page = agent.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and "2026-10-27" in body and "停电通知" in body and "缴费提醒" not in body
    protect = "/payments/collections/accounts/3100000001/protect/"
    for user in (w.a_agent, w.b_clerk, w.portal_user):
        assert login(user).post(protect, {"protected": "on", "reason": "呼吸机"}).status_code == 404
    w.acct_a.refresh_from_db()
    assert not w.acct_a.protected
    login(w.a_clerk).post(protect, {"protected": "on", "reason": "家中有呼吸机"})
    w.acct_a.refresh_from_db()
    assert (w.acct_a.protected, w.acct_a.protected_reason) == (True, "家中有呼吸机")
    # The customer page shows 保护用户 and the dunning state of the account.
    detail = login(w.a_clerk).get(f"/customers/{w.cust_a.pk}/").content.decode()
    assert (
        'data-testid="dunning-3100000001"' in detail and "保护用户" in detail and "已生成停电任务" in detail
    )


# ---------------------------------------------------------------- API


def test_api_task_list_matrix(tasks, login):
    w = tasks
    assert login().get(f"{API}/collections/tasks").status_code == 401
    for user in (w.portal_user, w.a_agent, w.a_clerk):
        assert login(user).get(f"{API}/collections/tasks").status_code == 403
    assert login(w.b_billing).get(f"{API}/collections/tasks").json()["count"] == 0
    body = login(w.a_billing).get(f"{API}/collections/tasks?status=awaiting_approval").json()
    assert [(t["account_number"], t["requires_approval"], t["approval_reason"]) for t in body["items"]] == [
        ("3100000003", True, "重要客户")
    ]
    overdue = login(w.a_manager).get(f"{API}/collections/tasks?overdue=true").json()
    assert overdue["count"] == 2 and all(t["overdue"] for t in overdue["items"])


def test_api_approve_reject_done_matrix(tasks, login):
    w = tasks
    approve = f"{API}/collections/tasks/{w.vip_task.pk}/approve"
    before = state()
    assert login().post(approve).status_code == 401
    for user in (w.portal_user, w.a_billing, w.b_manager, w.admin):
        assert login(user).post(approve).status_code == 404
    done = f"{API}/collections/tasks/{w.vip_task.pk}/done"
    assert login(w.a_billing).post(done, {}, content_type="application/json").status_code == 422
    assert login(w.b_billing).post(done, {}, content_type="application/json").status_code == 404
    reject = f"{API}/collections/tasks/{w.vip_task.pk}/reject"
    assert login(w.a_manager).post(reject, {"reason": ""}, content_type="application/json").status_code == 422
    assert state() == before
    ok = login(w.a_manager).post(approve)
    assert ok.status_code == 200 and ok.json()["status"] == "open" and ok.json()["decided_by"] == "a_manager"
    assert login(w.a_manager).post(approve).status_code == 422  # no longer awaiting
    resp = login(w.a_billing).post(
        done, {"done_at": "2026-10-28T10:00:00", "note": "x"}, content_type="application/json"
    )
    assert resp.status_code == 200 and resp.json()["status"] == "done"
    assert resp.json()["done_at"].startswith("2026-10-28T10:00:00+08:00") or resp.json()[
        "done_at"
    ].startswith("2026-10-28T02:00:00")
    assert AuditEvent.objects.filter(
        action="collections.disconnect_done", actor=w.a_billing, channel="api"
    ).exists()


def test_api_run_matrix_and_idempotent(tasks, login):
    w = tasks
    url = f"{API}/collections/runs"
    body = {"date": "2026-10-28"}
    assert login().post(url, body, content_type="application/json").status_code == 401
    for user in (w.portal_user, w.a_manager, w.a_agent):
        assert login(user).post(url, body, content_type="application/json").status_code == 403
    assert (
        login(w.a_billing).post(url, {"date": "2026-02-30"}, content_type="application/json").status_code
        == 422
    )
    first = login(w.a_billing).post(url, body, content_type="application/json")
    assert first.status_code == 200 and first.json()["date"] == "2026-10-28"
    again = login(w.a_billing).post(url, body, content_type="application/json").json()
    assert all(v == 0 for k, v in again.items() if k != "date")


def test_api_timeline_and_protection(tasks, login):
    w = tasks
    url = f"{API}/collections/accounts/3100000001/timeline"
    assert login().get(url).status_code == 401
    for user in (w.portal_user, w.b_clerk):
        assert login(user).get(url).status_code == 404
    body = login(w.a_agent).get(url).json()
    assert body["case_status"] == "ordered" and body["disconnected"] is False
    assert [(n["stage"], n["notice_date"], n["planned_disconnect_on"]) for n in body["notices"]][0] == (
        "disconnect",
        "2026-10-20",
        "2026-10-27",
    )
    assert [t["kind"] for t in body["tasks"]] == ["disconnect"]
    prot = f"{API}/accounts/3100000001/protection"
    payload = {"protected": True, "reason": "家中有制氧机"}
    assert login().put(prot, payload, content_type="application/json").status_code == 401
    for user in (w.portal_user, w.a_agent, w.b_clerk, w.a_manager):
        assert login(user).put(prot, payload, content_type="application/json").status_code == 404
    assert (
        login(w.a_clerk)
        .put(prot, {"protected": True, "reason": ""}, content_type="application/json")
        .status_code
        == 422
    )
    w.acct_a.refresh_from_db()
    assert not w.acct_a.protected
    ok = login(w.a_clerk).put(prot, payload, content_type="application/json")
    assert ok.status_code == 200 and ok.json() == {
        "account_number": "3100000001",
        "protected": True,
        "protected_reason": "家中有制氧机",
    }
    assert login(w.a_agent).get(url).json()["protected"] is True


# ---------------------------------------------------------------- CLI


def test_cli_prints_counts_and_refuses_bad_dates(people):
    w = people
    issued_bill(w.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    out = StringIO()
    call_command("collections_run", "--date", "2026-09-17", stdout=out)
    assert "collections 2026-09-17: reminders=1, overdue_notices=0" in out.getvalue()
    out = StringIO()
    call_command("collections_run", "--date", "2026-09-17", "--until", "2026-10-27", stdout=out)
    # Over the span: the overdue notice (21 Sep), the disconnection notice (20 Oct), the task (27 Oct).
    assert "reminders=0, overdue_notices=1, disconnect_notices=1, disconnect_tasks=1" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("collections_run", "--date", "2026-13-01")
    with pytest.raises(CommandError):
        call_command("collections_run", "--date", "2026-10-02", "--until", "2026-10-01")


def test_openapi_lists_the_collections_paths(db, login):
    paths = set(login().get(f"{API}/openapi.json").json()["paths"])
    assert {
        "/api/v1/collections/tasks",
        "/api/v1/collections/tasks/{task_id}/approve",
        "/api/v1/collections/tasks/{task_id}/reject",
        "/api/v1/collections/tasks/{task_id}/done",
        "/api/v1/collections/runs",
        "/api/v1/collections/accounts/{account_number}/timeline",
        "/api/v1/accounts/{account_number}/protection",
    } <= paths


def test_api_approve_with_idempotency_key_replays(tasks, login):
    w = tasks
    c = login(w.a_manager)
    url = f"{API}/collections/tasks/{w.vip_task.pk}/approve"
    first = c.post(url, HTTP_IDEMPOTENCY_KEY="k-1")
    again = c.post(url, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert AuditEvent.objects.filter(action="collections.task_approve").count() == 1


# ---------------------------------------------------------------- review fixes


def test_protection_reason_only_for_pii_viewers(tasks, login):
    w = tasks
    from gridcare.payments.collections.services import account_protection_set

    account_protection_set(
        actor=Actor(user=w.a_clerk), account=w.acct_a, protected=True, reason="家中有呼吸机"
    )
    api = f"{API}/collections/accounts/3100000001/timeline"
    page = "/payments/collections/accounts/3100000001/"
    # The 95598 agent (customer.view, no customer.view_pii): 保护用户, not the medical reason.
    body = login(w.a_agent).get(api).json()
    assert (body["protected"], body["protected_reason"]) == (True, "")
    html = login(w.a_agent).get(page).content.decode()
    assert 'data-testid="protected"' in html and "呼吸机" not in html
    detail = login(w.a_agent).get(f"/customers/{w.cust_a.pk}/").content.decode()
    tag = detail[detail.index('data-testid="dunning-3100000001"') :]
    tag = tag[: tag.index("催费记录</a>")]  # the account's dunning state on the customer page
    assert "保护用户" in tag and "呼吸机" not in tag
    # A billing clerk may see customers but not their personal data either.
    assert login(w.a_billing).get(api).json()["protected_reason"] == ""
    # The counter clerk and the manager (customer.view_pii) see it.
    assert login(w.a_clerk).get(api).json()["protected_reason"] == "家中有呼吸机"
    assert login(w.a_manager).get(api).json()["protected_reason"] == "家中有呼吸机"
    assert "家中有呼吸机" in login(w.a_clerk).get(page).content.decode()


def test_api_done_on_an_account_made_important_since_is_422_and_goes_to_the_manager(tasks, login):
    w = tasks
    w.cust_a.segment = Segment.IMPORTANT
    w.cust_a.save()
    done = f"{API}/collections/tasks/{w.open_task.pk}/done"
    resp = login(w.a_billing).post(done, {"done_at": "2026-10-28T10:00:00"}, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "status"
    w.open_task.refresh_from_db()
    assert (w.open_task.status, w.open_task.done_at) == ("awaiting_approval", None)
    listed = login(w.a_manager).get(f"{API}/collections/tasks?status=awaiting_approval").json()
    assert {t["account_number"] for t in listed["items"]} == {"3100000001", "3100000003"}


def test_api_and_cli_refuse_a_future_day(people, login):
    from datetime import timedelta

    from django.utils import timezone

    w = people
    today = timezone.localdate()
    issued_bill(w.acct_a, f"{today - timedelta(days=70):%Y-%m}", "100.00", today - timedelta(days=40))
    before = (DunningNotice.objects.count(), AuditEvent.objects.count())
    tomorrow = (today + timedelta(days=1)).isoformat()
    resp = login(w.a_billing).post(
        f"{API}/collections/runs", {"date": tomorrow}, content_type="application/json"
    )
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "date"
    # The command reports the service's refusal as a command error naming the field.
    with pytest.raises(CommandError, match="date"):
        call_command("collections_run", "--date", tomorrow)
    with pytest.raises(CommandError, match="date"):
        call_command("collections_run", "--date", today.isoformat(), "--until", tomorrow)
    assert (DunningNotice.objects.count(), AuditEvent.objects.count()) == before
    ok = login(w.a_billing).post(
        f"{API}/collections/runs", {"date": today.isoformat()}, content_type="application/json"
    )
    assert ok.status_code == 200 and ok.json()["disconnect_notices"] == 1
