"""The staff home (工作台) at `/` (issue 10 §5): per role, today's to-do counts linked to their pages and a few
figures of the user's units linked to their reports; scoped to the unit subtree; a bounded number of queries.
Customer search stays at its named URL (`console:search`, now /customers/). Today is pinned.

To-do rows: one of each kind in bureau A (station 东关供电所) and, to prove the scoping, in bureau B too.
Figures: the book of tests/payments/reports/test_report_default_month.py (today 2026-12-10).
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from gridcare.billing import services as billing_services
from gridcare.billing.models import Bill, BillStatus
from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.customers.models import Meter
from gridcare.home import selectors as home
from gridcare.metering.choices import ReadStatus
from gridcare.metering.models import MeterRead, Route
from gridcare.payments.choices import DisconnectCaseStatus, DunningStage, TaskKind, TaskStatus
from gridcare.payments.models import (
    CollectionTask,
    DunningNotice,
    FeeWaiver,
    ReconciliationException,
    Refund,
    StatementImport,
)
from tests.factories import CustomerFactory, UserFactory, make_account
from tests.payments.reports.test_report_default_month import TODAY, book  # noqa: F401 — a fixture

HOME = "/"


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(home, "local_today", lambda: TODAY)
    return TODAY


@pytest.fixture
def staff(world):
    world.a_billing = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    world.a_cashier = UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)
    world.b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=world.bureau_b)
    return world


def _work(account, area, *, awaiting: int, open_disconnect: int, open_reconnect: int, n: int):
    """Pending waiver and refund, collection tasks, an open reconciliation exception, a flagged read and a
    finished billing run with a draft bill, all of `account`'s unit."""
    now = timezone.now()
    unit = account.unit
    bill = Bill.objects.create(
        account=account,
        unit=unit,
        period_start=TODAY.replace(year=2026, month=6, day=1),
        period_end=TODAY.replace(year=2026, month=6, day=30),
        tariff_code="RES-TIER",
        kwh_total=Decimal("10"),
        amount=Decimal("5.38"),
        status=BillStatus.ISSUED,
        due_date=TODAY.replace(month=7, day=20),
        created_at=now,
    )
    from gridcare.payments.ledger import services as pay_services

    pay_services.receivables_open([bill.pk], on=TODAY.replace(month=7, day=5))
    receivable = bill.receivable
    FeeWaiver.objects.create(receivable=receivable, amount=Decimal("1.00"), reason="困难户", requested_at=now)
    Refund.objects.create(
        account=account, unit=unit, amount=Decimal("5.00"), reason="多缴", method="cash", requested_at=now
    )
    tasks = [(TaskKind.DISCONNECT, TaskStatus.AWAITING_APPROVAL)] * awaiting
    tasks += [(TaskKind.DISCONNECT, TaskStatus.OPEN)] * open_disconnect
    tasks += [(TaskKind.RECONNECT, TaskStatus.OPEN)] * open_reconnect
    tasks += [(TaskKind.DISCONNECT, TaskStatus.DONE)]  # done: not to do
    for i, (kind, status) in enumerate(tasks):
        # one open task per account and kind: each task on an account of its own in the same station
        other = make_account(CustomerFactory(unit=unit), f"{account.account_number[:2]}000001{i:02d}", area)
        notice = DunningNotice.objects.create(
            stage=DunningStage.DISCONNECT,
            account=other,
            unit=unit,
            receivable=receivable,
            notice_date=TODAY,
            case_status=DisconnectCaseStatus.CLOSED,
            created_at=now,
        )
        CollectionTask.objects.create(
            kind=kind,
            status=status,
            account=other,
            unit=unit,
            notice=notice,
            due_at=now + timedelta(days=1),
            created_at=now,
        )
    statement = StatementImport.objects.create(
        channel="alipay", statement_date=TODAY, unit=unit, file_hash=f"h{n}", created_at=now
    )
    for status in ("open", "open", "resolved"):
        ReconciliationException.objects.create(
            statement=statement, unit=unit, kind="theirs_only", channel_txn_id=f"T{n}{status}", status=status
        )
    meter = Meter.objects.get(service_point__account=account)
    MeterRead.objects.create(
        meter=meter,
        account=account,
        unit=unit,
        read_at=now,
        total=Decimal("1"),
        status=ReadStatus.FLAGGED,
        created_at=now,
    )
    route = Route.objects.create(code=f"R{n}", name="一段", unit=unit, reading_day=5, created_at=now)
    run = billing_services.billing_run_start(actor=Actor(), period="2026-08", route=route, today=TODAY)
    run.status = "done"
    run.save()
    Bill.objects.create(
        account=account,
        unit=unit,
        period_start=run.period_start,
        period_end=run.period_end,
        run=run,
        tariff_code="RES-TIER",
        kwh_total=Decimal("1"),
        amount=Decimal("0.54"),
        created_at=now,
    )


@pytest.fixture
def work(staff, book):  # noqa: F811
    _work(staff.acct_a, staff.area_a, awaiting=2, open_disconnect=3, open_reconnect=1, n=1)
    _work(staff.acct_b, staff.area_b, awaiting=5, open_disconnect=5, open_reconnect=5, n=2)
    return staff


def todo(body: str) -> dict[str, tuple[int, str]]:
    """{key: (count, link)} of the to-do list."""
    return {
        key: (int(count), url)
        for key, url, count in re.findall(
            r'data-testid="todo-([a-z_]+)"><a href="([^"]+)"><span>[^<]*</span><span class="count">(\d+)</span>',
            body,
        )
    }


def get(login, user) -> str:
    resp = login(user).get(HOME)
    assert resp.status_code == 200
    return resp.content.decode()


def test_manager_sees_approvals_of_own_units(work, login, today):
    items = todo(get(login, work.a_manager))
    assert items == {
        "waivers": (1, reverse("payments:waivers")),
        "refunds": (1, reverse("payments:refund_list") + "?status=pending"),
        "disconnect_approvals": (2, reverse("payments:collections_tasks") + "?status=awaiting_approval"),
    }


def test_billing_clerk_sees_tasks_exceptions_reads_and_runs(work, login, today):
    items = todo(get(login, work.a_billing))
    tasks = reverse("payments:collections_tasks")
    assert items == {
        "disconnect_tasks": (3, f"{tasks}?kind=disconnect&amp;status=open"),
        "reconnect_tasks": (1, f"{tasks}?kind=reconnect&amp;status=open"),
        "recon_exceptions": (2, reverse("payments:reconcile")),
        "read_exceptions": (1, reverse("metering:exceptions")),
        "runs_to_issue": (1, reverse("billing:runs")),
    }


def test_meter_reader_and_cashier(work, login, today):
    assert todo(get(login, work.a_reader)) == {"read_exceptions": (1, reverse("metering:exceptions"))}
    assert todo(get(login, work.a_cashier)) == {"recon_exceptions": (2, reverse("payments:reconcile"))}


def test_a_role_without_work_items_says_so(work, login, today):
    body = get(login, work.a_clerk)
    assert todo(body) == {} and "您的角色没有需要审批或处理的待办事项" in body
    assert 'role="search"' in body and f'action="{reverse("console:search")}"' in body


def test_admin_of_the_company_sees_both_bureaus(work, login, today):
    items = todo(get(login, work.admin))
    # admin: collections.manage, payment.batch, meter.edit, billing.run (no approvals)
    assert items["disconnect_tasks"][0] == 3 + 5 and items["reconnect_tasks"][0] == 1 + 5
    assert items["recon_exceptions"][0] == 2 + 2 and items["runs_to_issue"][0] == 2
    assert "waivers" not in items


def test_figures_of_the_unit_linked_to_their_reports(staff, book, login, today):  # noqa: F811
    body = get(login, staff.a_manager)

    def figure(key):
        m = re.search(
            rf'href="([^"]+)" data-testid="figure-{key}">\s*<span class="k">[^<]*</span>\s*'
            rf'<span class="v">([^<]*)</span>',
            body,
        )
        assert m, key
        return m.group(2), m.group(1).replace("&amp;", "&")

    # active accounts in bureau A: 3100000001 and 3100000009
    assert figure("accounts") == ("2", reverse("console:stats"))
    # paid 1–10 Dec in bureau A: 25.00 (B's payments would not count; there are none)
    assert figure("collected_this_month") == (
        "25.00",
        reverse("payments:reports") + "?date_from=2026-12-01&date_to=2026-12-10#report-channel-mix",
    )
    # overdue principal on 10 Dec in bureau A: 2,080.00 − 520.00 = 1,560.00 (B's 500.00 is not A's)
    assert figure("arrears") == (
        "1,560.00",
        reverse("payments:reports") + "?as_of=2026-12-10#report-arrears-ageing",
    )
    # the last month past due is 2026-10: 520.00 of 2,080.00 = 25.00 %
    assert figure("collection_rate") == (
        "25.00%",
        reverse("payments:reports") + "?period=2026-10#report-collection-rate",
    )


def test_figures_need_stats_view_for_money(work, login, today):
    body = get(login, work.a_billing)
    assert 'data-testid="figure-accounts"' in body
    assert (
        'data-testid="figure-arrears"' not in body and 'data-testid="figure-collected_this_month"' not in body
    )


def test_home_query_count_is_bounded(work, login, today, django_assert_max_num_queries):
    # session, user and units, then one query per to-do item (the collection tasks share one) and per figure:
    # the same numbers whatever the rows behind the counts
    for user, limit in ((work.admin, 15), (work.a_manager, 13), (work.a_billing, 10)):
        c = login(user)
        with django_assert_max_num_queries(limit):
            assert c.get(HOME).status_code == 200


def test_home_permission_matrix(world, login, today):
    anonymous = login().get(HOME)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    customer = login(world.portal_user).get(HOME)  # a customer at the console's address goes to the portal
    assert customer.status_code == 302 and customer["Location"] == reverse("portal:home")
    assert login(world.a_agent).get(HOME).status_code == 200


def test_search_keeps_its_named_url(world, login):
    assert reverse("console:search") == "/customers/"
    body = login(world.a_clerk).get(reverse("console:search"), {"q": "3100000001"}).content.decode()
    assert f"/customers/{world.cust_a.pk}/" in body
    # the header's brand goes home; the 客户 menu goes to the search
    assert '<a class="brand" href="/">' in body and 'class="menu-h" href="/customers/"' in body
