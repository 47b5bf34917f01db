"""Roles of SPEC §1 and what each may do. One table, read by selectors, views and the API."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CUSTOMER = "customer", _("客户")
    COUNTER_CLERK = "counter_clerk", _("营业员")
    AGENT = "agent", _("95598坐席")
    METER_READER = "meter_reader", _("抄表员")
    BILLING_CLERK = "billing_clerk", _("核算员")
    CASHIER = "cashier", _("收费员")
    DISPATCHER = "dispatcher", _("抢修指挥")
    CUSTOMER_MANAGER = "customer_manager", _("客户经理")
    INSPECTOR = "inspector", _("用电检查员")
    MANAGER = "manager", _("管理人员")
    ADMIN = "admin", _("系统管理员")


class Perm:
    """Permission names; strings so they read well in tests and audit rows."""

    CUSTOMER_VIEW = "customer.view"
    CUSTOMER_EDIT = "customer.edit"
    CUSTOMER_VIEW_PII = "customer.view_pii"
    CUSTOMER_EXPORT = "customer.export"
    CUSTOMER_IMPORT = "customer.import"
    METER_EDIT = "meter.edit"
    TOPOLOGY_VIEW = "topology.view"
    AUDIT_VIEW = "audit.view"
    STATS_VIEW = "stats.view"
    ORG_VIEW = "org.view"
    TARIFF_EDIT = "tariff.edit"
    BILLING_RUN = "billing.run"  # start billing runs, issue and cancel/rebill bills (核算)
    PAYMENT_RECORD = "payment.record"  # take payments at the counter (收费)
    PAYMENT_REVERSE = "payment.reverse"  # reverse a bounced or cancelled payment (冲正)
    FEE_WAIVE_APPROVE = "fee.waive_approve"  # approve a late-fee waiver (违约金减免审批)
    COLLECTIONS_MANAGE = "collections.manage"  # dunning runs, disconnection/reconnection tasks (催费)
    DISCONNECT_APPROVE = "collections.disconnect_approve"  # disconnect important/protected
    REFUND_APPROVE = "refund.approve"  # approve a refund of credit balance (退费审批)
    PAYMENT_BATCH = "payment.batch"  # bank withholding files, channel statement reconciliation (代扣、对账)
    # send a withholding batch to the bank: its debit file with full bank account numbers and holder names
    # (代扣文件报盘); everyone else who may export a batch gets the file masked
    PAYMENT_BATCH_SEND = "payment.batch_send"
    NOTIFY_CAMPAIGN = "notify.campaign"  # send a notice campaign to a customer segment (节日问候等)
    USER_UNLOCK = "user.unlock"  # unlock an account locked after repeated failed logins (账号解锁)
    # draft planned/temporary outages, enter fault outages, record restorations and important-customer contacts
    OUTAGE_DRAFT = "outage.draft"
    # approve, reject, publish and cancel outages; set planned-outage budgets and reliability targets
    OUTAGE_APPROVE = "outage.approve"
    RELIABILITY_VIEW = "reliability.view"  # reliability indices, reports, outage lists (every staff role)
    WORKORDER_VIEW = (
        "workorder.view"  # 95598 work orders, the knowledge base, service reports (every staff role)
    )
    # create orders for callers and handle them: accept, assign, contact, reply, complete, answer, return, escalate,
    # transfer, merge, chase, callback, close; answer chats
    WORKORDER_HANDLE = "workorder.handle"
    WORKORDER_DISPATCH = "workorder.dispatch"  # fault repair: dispatch crews, depart, arrive, restore (抢修)
    KNOWLEDGE_EDIT = "knowledge.edit"  # draft and submit knowledge-base articles
    KNOWLEDGE_APPROVE = "knowledge.approve"  # approve or reject a submitted version (a second person)
    # the service hall's daily work: the greeter's tickets and triage, counter operations (call, recall, transfer,
    # no-show, pause), kiosk check-in help
    HALL_OPERATE = "hall.operate"
    # run a hall: its settings, counters and devices, rating follow-ups, terminal maintenance, staffing plans
    HALL_MANAGE = "hall.manage"
    # hall reports: KPIs, peaks, staff performance, terminal availability, staffing plans (read)
    HALL_REPORT = "hall.report"
    # customer credit (issue 17): grades, reasons, the event register, inspections, reports (read)
    CREDIT_VIEW = "credit.view"
    # record credit events with evidence, perform 用电检查 and issue rectification notices, rate one customer
    CREDIT_RECORD = "credit.record"
    # approve recorded events (a second person), confirm proposed ones, decide contests, review site assessments
    CREDIT_APPROVE = "credit.approve"
    # file a contest for a customer (at the hall, or as its customer manager)
    CREDIT_CONTEST = "credit.contest"
    # the customer manager's on-site assessment of 经营行为 and 发展潜力
    CREDIT_ASSESS = "credit.assess"
    # the credit policy (thresholds, measures, intervals) and the monthly run on demand
    CREDIT_ADMIN = "credit.admin"
    SERVICE_ADMIN = (
        "service.admin"  # the time-limit policy table and the working-day calendar (administrators)
    )


_ALL_VIEW = {
    Perm.CUSTOMER_VIEW,
    Perm.TOPOLOGY_VIEW,
    Perm.ORG_VIEW,
    Perm.RELIABILITY_VIEW,
    Perm.WORKORDER_VIEW,
}
_HANDLE = {Perm.WORKORDER_HANDLE}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.CUSTOMER: frozenset(),
    Role.COUNTER_CLERK: frozenset(
        _ALL_VIEW
        | _HANDLE
        | {
            Perm.CUSTOMER_EDIT,
            Perm.CUSTOMER_VIEW_PII,
            Perm.AUDIT_VIEW,
            Perm.HALL_OPERATE,
            Perm.CREDIT_VIEW,
            Perm.CREDIT_CONTEST,
        }
    ),
    Role.AGENT: frozenset(_ALL_VIEW | _HANDLE | {Perm.AUDIT_VIEW, Perm.KNOWLEDGE_EDIT, Perm.CREDIT_VIEW}),
    Role.METER_READER: frozenset(_ALL_VIEW | {Perm.METER_EDIT}),
    Role.BILLING_CLERK: frozenset(
        _ALL_VIEW
        | {
            Perm.METER_EDIT,
            Perm.BILLING_RUN,
            Perm.PAYMENT_REVERSE,
            Perm.AUDIT_VIEW,
            Perm.CUSTOMER_EXPORT,
            Perm.COLLECTIONS_MANAGE,
            Perm.PAYMENT_BATCH,
            Perm.PAYMENT_BATCH_SEND,
            Perm.CREDIT_VIEW,
        }
    ),
    Role.CASHIER: frozenset(_ALL_VIEW | {Perm.PAYMENT_RECORD, Perm.PAYMENT_BATCH, Perm.HALL_OPERATE}),
    Role.DISPATCHER: frozenset(_ALL_VIEW | _HANDLE | {Perm.OUTAGE_DRAFT, Perm.WORKORDER_DISPATCH}),
    Role.CUSTOMER_MANAGER: frozenset(
        _ALL_VIEW
        | _HANDLE
        | {
            Perm.KNOWLEDGE_EDIT,
            Perm.CUSTOMER_EDIT,
            Perm.CUSTOMER_VIEW_PII,
            Perm.AUDIT_VIEW,
            Perm.CUSTOMER_EXPORT,
            Perm.STATS_VIEW,
            Perm.COLLECTIONS_MANAGE,
            Perm.NOTIFY_CAMPAIGN,
            Perm.HALL_REPORT,
            Perm.CREDIT_VIEW,
            Perm.CREDIT_RECORD,
            Perm.CREDIT_CONTEST,
            Perm.CREDIT_ASSESS,
        }
    ),
    # 用电检查员: inspections, findings and rectification notices; records credit events with evidence
    Role.INSPECTOR: frozenset(
        _ALL_VIEW | {Perm.CUSTOMER_VIEW_PII, Perm.AUDIT_VIEW, Perm.CREDIT_VIEW, Perm.CREDIT_RECORD}
    ),
    Role.MANAGER: frozenset(
        _ALL_VIEW
        | _HANDLE
        | {
            Perm.WORKORDER_DISPATCH,
            Perm.KNOWLEDGE_EDIT,
            Perm.KNOWLEDGE_APPROVE,
            Perm.AUDIT_VIEW,
            Perm.STATS_VIEW,
            Perm.CUSTOMER_EXPORT,
            Perm.CUSTOMER_VIEW_PII,
            Perm.FEE_WAIVE_APPROVE,
            Perm.DISCONNECT_APPROVE,
            Perm.REFUND_APPROVE,
            Perm.NOTIFY_CAMPAIGN,
            Perm.OUTAGE_APPROVE,
            Perm.HALL_OPERATE,
            Perm.HALL_MANAGE,
            Perm.HALL_REPORT,
            Perm.CREDIT_VIEW,
            Perm.CREDIT_RECORD,
            Perm.CREDIT_APPROVE,
            Perm.CREDIT_ADMIN,
        }
    ),
    Role.ADMIN: frozenset(
        _ALL_VIEW
        | _HANDLE
        | {
            Perm.WORKORDER_DISPATCH,
            Perm.KNOWLEDGE_EDIT,
            Perm.KNOWLEDGE_APPROVE,
            Perm.SERVICE_ADMIN,
            Perm.CUSTOMER_EDIT,
            Perm.CUSTOMER_VIEW_PII,
            Perm.CUSTOMER_EXPORT,
            Perm.CUSTOMER_IMPORT,
            Perm.METER_EDIT,
            Perm.AUDIT_VIEW,
            Perm.STATS_VIEW,
            Perm.TARIFF_EDIT,
            Perm.BILLING_RUN,
            Perm.PAYMENT_RECORD,
            Perm.PAYMENT_REVERSE,
            Perm.COLLECTIONS_MANAGE,
            Perm.PAYMENT_BATCH,
            Perm.NOTIFY_CAMPAIGN,
            Perm.USER_UNLOCK,
            Perm.OUTAGE_DRAFT,
            Perm.OUTAGE_APPROVE,
            Perm.HALL_OPERATE,
            Perm.HALL_MANAGE,
            Perm.HALL_REPORT,
            Perm.CREDIT_VIEW,
            Perm.CREDIT_RECORD,
            Perm.CREDIT_APPROVE,
            Perm.CREDIT_ADMIN,
        }
    ),
}
STAFF_ROLES = [r for r in Role if r != Role.CUSTOMER]


def has_perm(user, perm: str) -> bool:
    """True when an active staff user's role grants `perm`."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if getattr(user, "role", None) == Role.CUSTOMER or getattr(user, "unit_id", None) is None:
        return False
    return perm in ROLE_PERMISSIONS.get(user.role, frozenset())


def is_customer(user) -> bool:
    """An active, logged-in customer: a portal user (staff users are not, whatever they try)."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and getattr(user, "role", None) == Role.CUSTOMER
    )
