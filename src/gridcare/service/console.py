"""Reads of the 95598 staff pages (issue 15 §1, §5, §6): the order list with its filters and clock markers, the
dispatcher board, the crew's orders, who an order may be given or transferred to, the actions a user may take on an
order, and the agent console's one screen of a caller (accounts, open orders, outages, arrears, last contacts).

Every read starts from `selectors.orders_visible` or the customers' scoped selectors, so unit scoping stays in one
place; nothing here writes. Each page reads a fixed number of queries whatever the number of rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, Min, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.masking import mask_address, mask_customer_name, mask_name, mask_phone
from gridcare.core.permissions import ROLE_PERMISSIONS, Perm, has_perm
from gridcare.core.scoping import may_act_on_unit, visible_unit_ids

from . import lifecycle
from .choices import DEADLINE_ORDER, OrderType, Step, Triage
from .models import WorkOrder, WorkOrderAttachment, WorkOrderDeadline, WorkOrderEvent
from .selectors import orders_visible

PAGE_SIZE = 50
BOARD_LIMIT = 500
CREW_LIMIT = 50
CONSOLE_ACCOUNTS = 10
QUERY_MAX = 40

# Fault orders that still need the field: on the dispatcher board.
FIELD_STEPS = [Step.CREATED, Step.ACCEPTED, Step.DISPATCHED, Step.DEPARTED, Step.ARRIVED]
# Fault orders a crew member carries, and the one step each may take next on the crew page.
CREW_NEXT = {Step.DISPATCHED: "depart", Step.DEPARTED: "arrive", Step.ARRIVED: "restore"}
# Forward fault-repair steps need workorder.dispatch (as services.work_order_act checks); everything else handle.
DISPATCH_ACTIONS = frozenset({"dispatch", "depart", "arrive", "restore"})

# The button of each action (a verb), and how the history names each event.
ACTION_LABELS: dict[str, Any] = {
    "accept": gettext_lazy("受理接单"),
    "dispatch": gettext_lazy("派工"),
    "depart": gettext_lazy("出发"),
    "arrive": gettext_lazy("到达现场"),
    "restore": gettext_lazy("恢复送电"),
    "assign": gettext_lazy("派单"),
    "contact": gettext_lazy("联系客户"),
    "reply": gettext_lazy("答复客户"),
    "complete": gettext_lazy("办结"),
    "answer": gettext_lazy("解答"),
    "callback": gettext_lazy("回访"),
    "close": gettext_lazy("归档"),
    "return": gettext_lazy("退回上一步"),
    "escalate": gettext_lazy("升级"),
    "transfer": gettext_lazy("转派其他单位"),
    "merge": gettext_lazy("合并到重复工单"),
    "chase": gettext_lazy("催办"),
    "substantiate": gettext_lazy("认定是否属实"),
    "create": gettext_lazy("受理登记"),
    "rate": gettext_lazy("客户评价"),
    "chat_transcript": gettext_lazy("在线客服会话记录"),
    "warn": gettext_lazy("时限预警"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    if label is None:
        from gridcare.core.audit_display import action_label as audit_label

        return audit_label(f"workorder.{action}")
    return str(label)


# ---------------------------------------------------------------- clocks


def open_deadlines_prefetch() -> Prefetch:
    """The order's deadlines not met yet, nearest first, as `open_deadlines` (one query for a page of orders)."""
    return Prefetch(
        "deadlines",
        queryset=WorkOrderDeadline.objects.filter(met_at__isnull=True).order_by("due_at", "id"),
        to_attr="open_deadlines",
    )


def clock_of(order: WorkOrder, now: datetime) -> tuple[WorkOrderDeadline | None, str]:
    """(the next deadline, its marker) of an order with `open_deadlines` prefetched. The marker is `overdue` when
    an open order has a deadline past due and not met, `warned` when the clock job raised a warning (80 %) on
    one, else ''."""
    pending = getattr(order, "open_deadlines", None)
    if pending is None:
        pending = [d for d in order.deadlines.all() if d.met_at is None]
        pending.sort(key=lambda d: d.due_at)
    if order.status in lifecycle.TERMINAL or not pending:
        return None, ""
    if any(d.due_at < now for d in pending):
        return pending[0], "overdue"
    if any(d.warned_at is not None for d in pending):
        return pending[0], "warned"
    return pending[0], ""


def mark_clocks(orders, now: datetime) -> list[WorkOrder]:
    """Set `next_deadline` and `clock` on each order (see `clock_of`)."""
    out = list(orders)
    for o in out:
        o.next_deadline, o.clock = clock_of(o, now)
    return out


@dataclass
class DeadlineRow:
    deadline: WorkOrderDeadline
    state: str  # met, met_late, overdue, warned, pending


def deadline_rows(order: WorkOrder, now: datetime) -> list[DeadlineRow]:
    """The order's clocks in the contract's order, each with its state."""
    rows = []
    for d in sorted(order.deadlines.all(), key=lambda d: DEADLINE_ORDER.index(d.name)):
        if d.met_at is not None:
            state = "met" if d.met_at <= d.due_at else "met_late"
        elif order.status in lifecycle.TERMINAL:
            state = "pending"
        elif d.due_at < now:
            state = "overdue"
        elif d.warned_at is not None:
            state = "warned"
        else:
            state = "pending"
        rows.append(DeadlineRow(d, state))
    return rows


# ---------------------------------------------------------------- personal data


def contact_shown(order: WorkOrder, reveal: bool) -> dict[str, str]:
    """The caller's name, phone and address as the page shows them: masked unless `reveal` (customer.view_pii;
    the caller audits the view)."""
    if reveal:
        return {"name": order.caller_name, "phone": order.phone, "address": order.address}
    return {
        "name": mask_name(order.caller_name),
        "phone": mask_phone(order.phone),
        "address": mask_address(order.address),
    }


def shows_pii(order: WorkOrder) -> bool:
    return bool(order.caller_name or order.phone or order.address)


def attach_contacts(orders, reveal: bool) -> list[WorkOrder]:
    out = list(orders)
    for o in out:
        o.shown = contact_shown(o, reveal)
    return out


# ---------------------------------------------------------------- the order list


@dataclass
class OrderFilters:
    order_type: str = ""
    status: str = ""
    channel: str = ""
    overdue: bool = False
    q: str = ""


def clean_query(q: str | None) -> str:
    """A number, phone or 户号 typed in a search box: stripped; ValidationError({"q"}) when too long."""
    q = (q or "").strip().replace(" ", "").replace("-", "")
    if len(q) > QUERY_MAX:
        raise ValidationError({"q": [_("查询内容最多 %(n)d 个字符") % {"n": QUERY_MAX}]})
    return q


def order_list(user, f: OrderFilters, *, now: datetime) -> QuerySet[WorkOrder]:
    """The orders the user may see, filtered; newest first. The caller paginates, then `mark_clocks`."""
    qs = orders_visible(user)
    if f.order_type:
        qs = qs.filter(order_type=f.order_type)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.overdue:
        late = WorkOrderDeadline.objects.filter(order=OuterRef("pk"), met_at__isnull=True, due_at__lt=now)
        qs = qs.exclude(status__in=lifecycle.TERMINAL).filter(Exists(late))
    if f.q:
        match = Q(number=f.q) | Q(phone=f.q) | Q(account__account_number=f.q)
        if len(f.q) >= 8 and f.q.isdigit():
            match |= Q(number__startswith=f.q)
        qs = qs.filter(match)
    return (
        qs.select_related("unit", "account", "transformer_area", "assignee")
        .prefetch_related(open_deadlines_prefetch())
        .order_by("-received_at", "-id")
    )


# ---------------------------------------------------------------- one order


def step_label(step: str) -> str:
    return str(Step(step).label) if step in Step.values else step


def label_events(events) -> list[WorkOrderEvent]:
    """Each event with the label of its action and of the steps before and after."""
    out = list(events)
    for e in out:
        e.label = action_label(e.action)
        e.from_label = step_label(e.from_status)
        e.to_label = step_label(e.to_status)
    return out


def order_events(order: WorkOrder) -> list[WorkOrderEvent]:
    return label_events(order.events.all().order_by("at", "id"))


def order_attachments(order: WorkOrder) -> list[WorkOrderAttachment]:
    return list(order.attachments.select_related("uploaded_by").order_by("uploaded_at", "id"))


def attachment_get(user, pk: int) -> WorkOrderAttachment:
    """An attachment of an order the user may see, or Http404 (missing and forbidden alike)."""
    from django.http import Http404

    att = (
        WorkOrderAttachment.objects.filter(order__in=orders_visible(user), pk=pk)
        .select_related("order")
        .first()
    )
    if att is None:
        raise Http404
    return att


def outage_estimate(order: WorkOrder) -> datetime | None:
    """When the outage a fault report was linked to is expected to end for the report's area (the area's
    estimate, else the event's planned end)."""
    if not order.outage_id:
        return None
    from gridcare.outages.models import OutageArea

    est = None
    if order.transformer_area_id:
        est = (
            OutageArea.objects.filter(event_id=order.outage_id, transformer_area_id=order.transformer_area_id)
            .values_list("est_restoration", flat=True)
            .first()
        )
    return est or order.outage.planned_end


def perm_of(action: str) -> str:
    return Perm.WORKORDER_DISPATCH if action in DISPATCH_ACTIONS else Perm.WORKORDER_HANDLE


def actions_for(user, order: WorkOrder) -> list[str]:
    """The actions of `lifecycle.allowed_actions` the user may take on the order (its unit, the permission each
    needs); `substantiate` for an open complaint with workorder.handle."""
    acts = [
        a
        for a in lifecycle.allowed_actions(order.order_type, order.status)
        if may_act_on_unit(user, order.unit_id, perm_of(a))
    ]
    if (
        order.order_type == OrderType.COMPLAINT
        and order.status != Step.MERGED
        and may_act_on_unit(user, order.unit_id, Perm.WORKORDER_HANDLE)
    ):
        acts.append("substantiate")
    return acts


def may_attach(user, order: WorkOrder) -> bool:
    return may_act_on_unit(user, order.unit_id, Perm.WORKORDER_HANDLE) or may_act_on_unit(
        user, order.unit_id, Perm.WORKORDER_DISPATCH
    )


# ---------------------------------------------------------------- who an order goes to


def _roles_with(perm: str) -> list[str]:
    return [role for role, perms in ROLE_PERMISSIONS.items() if perm in perms]


def assignee_candidates(user, perm: str) -> list:
    """Active staff whose role grants `perm`, in the user's unit subtree (one query, units joined)."""
    from gridcare.org.models import User

    return list(
        User.objects.filter(is_active=True, role__in=_roles_with(perm), unit_id__in=visible_unit_ids(user))
        .select_related("unit")
        .order_by("unit__path", "display_name", "username")
    )


def candidates_for(order: WorkOrder, candidates: list) -> list:
    """Of `candidates`, those who may act on the order's unit: their unit is the order's or above it."""
    path = order.unit.path
    return [c for c in candidates if path.startswith(c.unit.path)]


def assignee_get(user, order: WorkOrder, perm: str, pk: Any):
    """The staff member chosen for a dispatch or an assignment, if the user may give them the order; None when
    nothing was chosen; else ValidationError naming `assignee`."""
    if pk in (None, ""):
        return None
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise ValidationError({"assignee": [_("请选择处理人员")]}) from None
    for c in candidates_for(order, assignee_candidates(user, perm)):
        if c.pk == pk:
            return c
    raise ValidationError({"assignee": [_("所选人员不能处理该工单")]})


def transfer_units():
    """Every supply unit (an order may go to a sibling bureau), in tree order."""
    from gridcare.org.models import SupplyUnit

    return list(SupplyUnit.objects.order_by("path"))


def merge_target(user, order: WorkOrder, number: str) -> WorkOrder:
    """The open duplicate an order is merged into: one the user may see, else ValidationError naming `into`."""
    number = (number or "").strip()
    if not number:
        raise ValidationError({"into": [_("请填写要合并到的工单编号")]})
    target = orders_visible(user).filter(number=number[:24]).first()
    if target is None:
        raise ValidationError({"into": [_("工单 %(n)s 不存在") % {"n": number[:24]}]})
    return target


# ---------------------------------------------------------------- dispatcher board


@dataclass
class AreaGroup:
    key: str
    area: Any  # TransformerArea or None (an unidentified caller)
    orders: list = field(default_factory=list)
    outages: list = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.orders)


@dataclass
class Board:
    groups: list[AreaGroup]
    total: int
    truncated: bool
    candidates: list


def board(user, *, now: datetime) -> Board:
    """Open fault orders still in the field, most urgent first (priority, then the nearest deadline not met,
    then the oldest), grouped by transformer area in the order of each area's most urgent report; each group with
    the outages its reports are linked to. Users with workorder.dispatch get the crew they may dispatch."""
    qs = (
        orders_visible(user)
        .filter(order_type=OrderType.FAULT, status__in=FIELD_STEPS)
        .annotate(next_due=Min("deadlines__due_at", filter=Q(deadlines__met_at__isnull=True)))
        .select_related("unit", "transformer_area", "outage", "assignee", "account")
        .prefetch_related(open_deadlines_prefetch())
        .order_by("-priority", F("next_due").asc(nulls_last=True), "received_at", "id")
    )
    rows = list(qs[: BOARD_LIMIT + 1])
    truncated = len(rows) > BOARD_LIMIT
    rows = mark_clocks(rows[:BOARD_LIMIT], now)
    candidates = (
        assignee_candidates(user, Perm.WORKORDER_DISPATCH) if has_perm(user, Perm.WORKORDER_DISPATCH) else []
    )
    groups: dict[str, AreaGroup] = {}
    for o in rows:
        key = str(o.transformer_area_id or "")
        g = groups.get(key)
        if g is None:
            g = groups[key] = AreaGroup(key=key, area=o.transformer_area)
        g.orders.append(o)
        if o.outage_id and all(x.pk != o.outage_id for x in g.outages):
            g.outages.append(o.outage)
        o.crew = candidates_for(o, candidates) if candidates else []
        o.dispatchable = o.status == Step.ACCEPTED and o.triage != Triage.OUTAGE
    return Board(groups=list(groups.values()), total=len(rows), truncated=truncated, candidates=candidates)


# ---------------------------------------------------------------- crew page


def crew_orders(user, *, now: datetime) -> list[WorkOrder]:
    """The fault orders dispatched to the user and not restored yet, most urgent first, each with its next step."""
    rows = list(
        orders_visible(user)
        .filter(order_type=OrderType.FAULT, assignee=user, status__in=list(CREW_NEXT))
        .select_related("transformer_area", "account")
        .prefetch_related(open_deadlines_prefetch())
        .order_by("-priority", "received_at", "id")[:CREW_LIMIT]
    )
    for o in mark_clocks(rows, now):
        o.next_action = CREW_NEXT[o.status]
    return rows


def crew_open(user, *, now: datetime) -> list[WorkOrder]:
    """Accepted fault orders of the user's units that nobody was dispatched to (a crew member may take one, 接单),
    leaving out reports inside a known outage."""
    rows = (
        orders_visible(user)
        .filter(order_type=OrderType.FAULT, status=Step.ACCEPTED, assignee__isnull=True)
        .exclude(triage=Triage.OUTAGE)
        .select_related("transformer_area", "account")
        .prefetch_related(open_deadlines_prefetch())
        .order_by("-priority", "received_at", "id")[:CREW_LIMIT]
    )
    return mark_clocks(rows, now)


# ---------------------------------------------------------------- agent console

ACCOUNT_NUMBER = re.compile(r"^\d{10}$")
PHONE = re.compile(r"^\+?\d{5,20}$")


@dataclass
class Caller:
    """What the agent console shows about one caller."""

    query: str
    by: str  # "account" or "phone"
    accounts: list = field(default_factory=list)
    open_orders: list = field(default_factory=list)
    recent_orders: list = field(default_factory=list)
    outages: dict = field(default_factory=dict)  # account id → outages_for_account rows
    money: dict = field(default_factory=dict)  # account id → AccountSummary
    as_of: Any = None  # the China day the amounts are as of

    @property
    def found(self) -> bool:
        return bool(self.accounts or self.recent_orders)

    @property
    def amount_due(self):
        from decimal import Decimal

        return sum((m.amount_due for m in self.money.values()), Decimal("0.00"))

    @property
    def arrears(self):
        from decimal import Decimal

        return sum((m.arrears for m in self.money.values()), Decimal("0.00"))


def caller_lookup(user, q: str, *, now: datetime | None = None, reveal: bool = False) -> Caller:
    """Identify a caller by 户号 (10 digits) or phone (the customer's, or the one given on earlier orders) and
    gather the one screen: their accounts (at most CONSOLE_ACCOUNTS), open orders, current and planned outages of
    each account (`outages.selectors.outages_for_account`), what each owes (`account_summaries`, the customer
    page's figures) and the last contacts (recent orders with their events). ValidationError({"q"}) for input
    that is neither."""
    from gridcare.customers.selectors import accounts_visible
    from gridcare.outages.selectors import outages_for_account
    from gridcare.payments.collections.account_summary import account_summaries

    now = now or timezone.now()
    q = clean_query(q)
    if ACCOUNT_NUMBER.match(q):
        by = "account"
        accounts_qs = accounts_visible(user=user).filter(account_number=q)
    elif PHONE.match(q):
        by = "phone"
        from_orders = orders_visible(user).filter(phone=q, account__isnull=False).values("account_id")
        accounts_qs = accounts_visible(user=user).filter(
            Q(customer__phone=q) | Q(customer__phone2=q) | Q(pk__in=from_orders)
        )
    else:
        raise ValidationError({"q": [_("请输入10位户号或来电号码")]})
    accounts = list(
        accounts_qs.select_related("customer", "premise__transformer_area", "unit").order_by(
            "account_number"
        )[:CONSOLE_ACCOUNTS]
    )
    ids = [a.pk for a in accounts]
    for a in accounts:
        c = a.customer
        a.shown_name = c.name if reveal else mask_customer_name(c.name, c.kind)
        a.shown_phone = c.phone if reveal else mask_phone(c.phone)
        a.shown_address = a.premise.address if reveal else mask_address(a.premise.address)
    match = Q(account_id__in=ids)
    if by == "phone":
        match |= Q(phone=q)
    orders = orders_visible(user).filter(match).select_related("account", "transformer_area", "assignee")
    open_orders = attach_contacts(
        mark_clocks(
            orders.exclude(status__in=lifecycle.TERMINAL)
            .prefetch_related(open_deadlines_prefetch())
            .order_by("-received_at", "-id")[:20],
            now,
        ),
        reveal,
    )
    recent = attach_contacts(
        orders.prefetch_related(
            Prefetch("events", queryset=WorkOrderEvent.objects.order_by("at", "id"))
        ).order_by("-received_at", "-id")[:10],
        reveal,
    )
    for o in recent:
        o.history = label_events(o.events.all())
    return Caller(
        query=q,
        by=by,
        accounts=accounts,
        open_orders=open_orders,
        recent_orders=recent,
        outages={a.pk: outages_for_account(a, now=now) for a in accounts},
        money=account_summaries(ids, timezone.localdate(now)),
        as_of=timezone.localdate(now),
    )
