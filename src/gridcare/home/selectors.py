"""Reads of the staff home (工作台) at `/`: today's to-do list and a few figures of the user's units.

Each item is a count read through its own app's selector (scoped there to the user's unit subtree and
permission) and linked to the page where the work is done; an item shows only to roles that may do that work.
The page runs a fixed number of queries whatever the data (one per item or figure; see the query-count test).

It lives in its own app, above the domain apps it reads, so that `core` imports none of them.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.billing.selectors import runs_to_issue
from gridcare.core.permissions import Perm, has_perm
from gridcare.customers.choices import AccountStatus
from gridcare.customers.selectors import accounts_visible
from gridcare.metering.selectors import exceptions_visible as read_exceptions
from gridcare.payments.choices import RefundStatus, TaskKind, TaskStatus
from gridcare.payments.collections.selectors import task_counts
from gridcare.payments.ledger.refunds import refunds_visible
from gridcare.payments.ledger.selectors import waiver_queue
from gridcare.payments.reconciliation.services import exceptions_visible
from gridcare.payments.reports import selectors as reports


def local_today() -> date:
    """Today in Asia/Shanghai; tests replace this function to pin the date."""
    return timezone.localdate()


@dataclass(frozen=True)
class TodoItem:
    key: str
    label: str
    count: int
    url: str


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: object
    url: str = ""
    money: bool = False


def staff_todo(*, user) -> list[TodoItem]:
    """Today's work for the user's role, as counts scoped to the user's units."""
    items: list[TodoItem] = []
    if has_perm(user, Perm.FEE_WAIVE_APPROVE):
        items.append(
            TodoItem(
                "waivers", _("违约金减免待审批"), waiver_queue(user=user).count(), reverse("payments:waivers")
            )
        )
    if has_perm(user, Perm.REFUND_APPROVE):
        items.append(
            TodoItem(
                "refunds",
                _("退费待审批"),
                refunds_visible(user=user).filter(status=RefundStatus.PENDING).count(),
                reverse("payments:refund_list") + "?status=pending",
            )
        )
    if has_perm(user, Perm.DISCONNECT_APPROVE) or has_perm(user, Perm.COLLECTIONS_MANAGE):
        counts = task_counts(user=user)
        tasks = reverse("payments:collections_tasks")
        if has_perm(user, Perm.DISCONNECT_APPROVE):
            items.append(
                TodoItem(
                    "disconnect_approvals",
                    _("停电待审批"),
                    counts["awaiting"] or 0,
                    f"{tasks}?{urlencode({'status': TaskStatus.AWAITING_APPROVAL})}",
                )
            )
        if has_perm(user, Perm.COLLECTIONS_MANAGE):
            items.append(
                TodoItem(
                    "disconnect_tasks",
                    _("停电任务待执行"),
                    counts["open_disconnect"] or 0,
                    f"{tasks}?{urlencode({'kind': TaskKind.DISCONNECT, 'status': TaskStatus.OPEN})}",
                )
            )
            items.append(
                TodoItem(
                    "reconnect_tasks",
                    _("复电任务待执行"),
                    counts["open_reconnect"] or 0,
                    f"{tasks}?{urlencode({'kind': TaskKind.RECONNECT, 'status': TaskStatus.OPEN})}",
                )
            )
    if has_perm(user, Perm.PAYMENT_BATCH):
        items.append(
            TodoItem(
                "recon_exceptions",
                _("对账差错待处理"),
                exceptions_visible(user).filter(status="open").count(),
                reverse("payments:reconcile"),
            )
        )
    if has_perm(user, Perm.METER_EDIT):
        items.append(
            TodoItem(
                "read_exceptions",
                _("抄表异常待处理"),
                read_exceptions(user=user).count(),
                reverse("metering:exceptions"),
            )
        )
    if has_perm(user, Perm.BILLING_RUN):
        items.append(
            TodoItem(
                "runs_to_issue",
                _("计费批次待发行"),
                runs_to_issue(user=user).count(),
                reverse("billing:runs"),
            )
        )
    return items


def unit_figures(*, user, today: date) -> list[Figure]:
    """A few figures of the user's units, each linked to the report it comes from."""

    accounts = accounts_visible(user=user).filter(status=AccountStatus.ACTIVE).count()
    stats = has_perm(user, Perm.STATS_VIEW)
    figures = [
        Figure("accounts", _("在用户数"), f"{accounts:,}", reverse("console:stats") if stats else ""),
    ]
    if not stats:
        return figures

    reports_url = reverse("payments:reports")
    month_start = today.replace(day=1)
    paid = reports.channel_mix(user=user, date_from=month_start, date_to=today)
    arrears = reports.arrears_ageing(user=user, as_of=today)
    period = reports.last_due_period(user=user, today=today)
    rate = reports.collection_rate(user=user, period=period)
    billed = sum((r.billed for r in rate), Decimal("0.00"))
    collected = sum((r.collected for r in rate), Decimal("0.00"))
    total = reports.CollectionRow(0, "", billed, collected, 0)
    query = {"date_from": month_start.isoformat(), "date_to": today.isoformat()}
    figures += [
        Figure(
            "collected_this_month",
            _("本月实收电费（元）"),
            sum((r["amount"] for r in paid), Decimal("0.00")),
            f"{reports_url}?{urlencode(query)}#report-channel-mix",
            money=True,
        ),
        Figure(
            "arrears",
            _("逾期欠费本金（元）"),
            sum((r["amount"] for r in arrears), Decimal("0.00")),
            f"{reports_url}?{urlencode({'as_of': today.isoformat()})}#report-arrears-ageing",
            money=True,
        ),
        Figure(
            "collection_rate",
            _("%(p)s 电费回收率") % {"p": period},
            f"{total.rate}%",
            f"{reports_url}?{urlencode({'period': period})}#report-collection-rate",
        ),
    ]
    return figures
