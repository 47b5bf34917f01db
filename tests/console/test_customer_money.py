"""The customer page (客户全景) shows at the top, per account: the arrears, what is owed in all, the last
payment and the open collection steps (the disconnection case and its task). Today is pinned.

Book of 张三's residential account 3100000001 (late fee 0.1 % a day after the due date):
- 2026-09 bill of 100.00 due 2026-10-20; 30.00 paid in cash on 2026-10-10 (before the due date: no fee),
  so 70.00 is left;
- 2026-10 bill of 80.00 due 2026-11-20 (not yet due on the pinned day, 2026-11-10).
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from gridcare.customers import views as customer_views
from gridcare.payments.choices import DisconnectCaseStatus, DunningStage, TaskKind, TaskStatus
from gridcare.payments.models import CollectionTask, DunningNotice, Receivable
from tests.payments.ledger.test_ledger import issued_bill, pay

TODAY = date(2026, 11, 10)


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(customer_views, "local_today", lambda: TODAY)
    return TODAY


@pytest.fixture
def book(world):
    issued_bill(world.acct_a, "2026-09", "100.00", date(2026, 10, 20))
    issued_bill(world.acct_a, "2026-10", "80.00", date(2026, 11, 20))
    pay("30.00", date(2026, 10, 10), "A-CASH-1")
    return world


def section(body: str, testid: str) -> str:
    return body.split(f'data-testid="{testid}"', 1)[1].split("</div>", 1)[0]


def page(login, world) -> str:
    resp = login(world.a_clerk).get(reverse("console:customer_detail", args=[world.cust_a.pk]))
    assert resp.status_code == 200
    return resp.content.decode()


def test_arrears_and_last_payment_at_the_top(book, login, today):
    body = page(login, book)
    # at the top: above the customer's details and the accounts card
    assert (
        body.index('data-testid="money-3100000001"') < body.index("客户编号") < body.index("户号与用电地址")
    )
    # Overdue since 2026-10-20: 21 days (21 Oct … 10 Nov) × 70.00 × 0.1 % = 1.47 late fee
    # arrears = 70.00 + 1.47 = 71.47; with October's 80.00 not yet due: 151.47 owed in all
    arrears = section(body, "arrears-3100000001")
    assert "逾期欠费 71.47 元" in arrears and "应缴合计 151.47 元" in arrears
    last = section(body, "last-payment-3100000001")
    assert "2026-10-10 30.00 元（柜台现金）" in last
    assert "无" in section(body, "collection-steps-3100000001")  # no case, no task


def test_an_account_owing_nothing_says_so(world, login, today):
    body = page(login, world)
    assert "无欠费" in section(body, "arrears-3100000001")
    assert "无缴费记录" in section(body, "last-payment-3100000001")


def test_only_bills_not_yet_due_are_not_arrears(world, login, today):
    issued_bill(world.acct_a, "2026-10", "1234.50", date(2026, 11, 20))
    arrears = section(page(login, world), "arrears-3100000001")
    assert "待缴电费 1,234.50 元" in arrears and "未逾期" in arrears and "逾期欠费" not in arrears


def test_open_disconnection_case_and_task_are_shown(book, login, today):
    rec = Receivable.objects.get(period="2026-09")
    now = timezone.now()
    notice = DunningNotice.objects.create(
        stage=DunningStage.DISCONNECT,
        account=book.acct_a,
        unit=book.acct_a.unit,
        receivable=rec,
        notice_date=date(2026, 11, 1),
        arrears=Decimal("70.00"),
        planned_disconnect_on=date(2026, 11, 8),
        case_status=DisconnectCaseStatus.ORDERED,
        created_at=now,
    )
    CollectionTask.objects.create(
        kind=TaskKind.DISCONNECT,
        status=TaskStatus.OPEN,
        account=book.acct_a,
        unit=book.acct_a.unit,
        notice=notice,
        arrears=Decimal("70.00"),
        due_at=now + timedelta(days=1),
        created_at=now,
    )
    steps = section(page(login, book), "collection-steps-3100000001")
    assert "停电通知 · 已生成停电任务" in steps and "欠费停电任务 · 待执行" in steps
    assert reverse("payments:collections_account", args=["3100000001"]) in steps
