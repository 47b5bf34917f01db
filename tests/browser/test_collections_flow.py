"""Browser test in real Chromium: the disconnection of an important customer (重要客户) waits for a manager.
The daily dunning job runs day by day (injected `today`) until the disconnection task exists; the bureau's
manager approves it on the 催费任务 page, then a billing clerk records it done (已停电).

The timeline is built backwards from today (the job refuses future days). Default policy: the disconnection
notice once the bill is 30 days past due, planned 7 days later for a residential customer; 张三's account
3100000001 is residential (late fee 0.1 % per day after the due date).
"""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.choices import Segment
from gridcare.payments.collections.services import collections_run
from gridcare.payments.models import CollectionTask, DunningNotice
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = Decimal


@pytest.fixture
def clerk(world):
    """A billing clerk of bureau A: COLLECTIONS_MANAGE, not DISCONNECT_APPROVE."""
    return UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)


@pytest.fixture
def task(world):
    """张三 is an important customer; one bill of 100.00, due 40 days ago, never paid."""
    world.cust_a.segment = Segment.IMPORTANT
    world.cust_a.save()
    today = timezone.localdate()
    due = today - timedelta(days=40)
    issued_bill(world.acct_a, "2026-08", "100.00", due, issued_on=due - timedelta(days=25))
    # The job every day from 5 days before the due date up to today − 3 (= due + 37).
    day = due - timedelta(days=5)
    while day <= today - timedelta(days=3):
        collections_run(today=day, actor=Actor())
        day += timedelta(days=1)
    notice = DunningNotice.objects.get(account=world.acct_a, stage="disconnect")
    # Notice on due + 30 = today − 10, planned 7 days later = due + 37 = today − 3; owed that day: 100.00 +
    # the fee of 30 days, 100 × 0.001 × 30 = 3.00 → 103.00.
    assert (notice.notice_date, notice.planned_disconnect_on, notice.arrears) == (
        due + timedelta(days=30),
        due + timedelta(days=37),
        D("103.00"),
    )
    t = CollectionTask.objects.get()
    # Ordered on the planned day, for the manager. Its arrears are the overdue principal and the fee charged
    # so far: 100.00 + 0.00 (no payment reached the bill, so none of the accrued fee is charged yet).
    assert (t.kind, t.status, t.requires_approval, t.approval_reason) == (
        "disconnect",
        "awaiting_approval",
        True,
        "重要客户",
    )
    assert t.arrears == D("100.00")
    assert timezone.localtime(t.due_at).date() == today - timedelta(days=3)
    return t


def login(page, url, username, password):
    page.goto(f"{url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def open_tasks(page):
    page.get_by_role("link", name="收费", exact=True).hover()  # the 收费 menu opens on hover
    page.get_by_role("link", name="催费任务").click()
    page.wait_for_selector("[data-testid=tasks]")


def test_manager_approves_then_clerk_disconnects(browser_page, live_server, world, clerk, task):
    page = browser_page
    row = page.locator(f"tr[data-task='{task.pk}']")

    # The manager of bureau A sees the task waiting for them, with its reason, and approves it.
    login(page, live_server.url, "a_manager", world.password)
    assert "管理人员" in page.inner_text("[data-testid=whoami]")
    open_tasks(page)
    assert "待审批 1" in page.inner_text("[data-testid=task-counts]")
    text = row.inner_text()
    assert "待经理审批" in text and "重要客户" in text and "3100000001" in text and "100.00" in text
    assert row.locator(f"[data-testid=done-{task.pk}]").count() == 0  # a manager does not disconnect
    row.locator(f"[data-testid=approve-{task.pk}]").click()
    page.wait_for_selector(f"text=已批准停电任务 #{task.pk}")
    text = row.inner_text()
    assert "待执行" in text and "待经理审批" not in text
    assert world.a_manager.display_name in text  # who decided
    assert row.locator(f"[data-testid=approve-{task.pk}]").count() == 0
    task.refresh_from_db()
    assert (task.status, task.decided_by_id, task.done_at) == ("open", world.a_manager.pk, None)
    approve = AuditEvent.objects.get(action="collections.task_approve", object_id=str(task.pk))
    assert approve.actor_id == world.a_manager.pk
    assert approve.changes["status"] == ["awaiting_approval", "open"]
    assert not AuditEvent.objects.filter(action="collections.disconnect_done").exists()

    page.get_by_role("button", name="退出").click()
    page.wait_for_selector("#username")

    # A billing clerk of bureau A records the disconnection, done yesterday at 10:00 (Asia/Shanghai).
    login(page, live_server.url, "a_billing", world.password)
    open_tasks(page)
    assert row.locator(f"[data-testid=approve-{task.pk}]").count() == 0  # a clerk does not approve
    yesterday = timezone.localdate() - timedelta(days=1)
    row.locator("input[name=done_at]").fill(f"{yesterday:%Y-%m-%d}T10:00")
    row.locator("input[name=note]").fill("已拉闸，表计封存")
    row.locator(f"[data-testid=done-{task.pk}]").click()
    page.wait_for_selector(f"text=任务 #{task.pk} 已登记完成")
    text = row.inner_text()
    assert "已完成" in text and f"执行 {yesterday:%Y-%m-%d} 10:00" in text
    assert row.locator(f"[data-testid=done-{task.pk}]").count() == 0
    task.refresh_from_db()
    done_at = timezone.make_aware(datetime(yesterday.year, yesterday.month, yesterday.day, 10))  # noqa: DTZ001
    assert (task.status, task.done_by_id, task.done_at, task.note) == (
        "done",
        clerk.pk,
        done_at,
        "已拉闸，表计封存",
    )
    assert task.decided_by_id == world.a_manager.pk  # the approval stays on record
    done = AuditEvent.objects.get(action="collections.disconnect_done", object_id=str(task.pk))
    assert done.actor_id == clerk.pk and done.changes["status"] == ["open", "done"]
    assert AuditEvent.objects.filter(action="collections.task_approve").count() == 1
    assert DunningNotice.objects.get(stage="disconnect").case_status == "disconnected"
