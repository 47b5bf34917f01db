"""Writes of the 95598 service (issue 15): create an order from any channel, move it along its type's lifecycle
(`lifecycle.py`), and the side actions (return, escalate, transfer, merge, chase), callbacks, ratings,
substantiation. Each runs in one transaction, writes its event and audit rows, and queues its notices in the
outbox with the order (`notices.py`).

Refusals raise `ValidationError` (bad input, an illegal transition: 422 / a form error) or `PermissionDenied`
(the actor may not; callers answer as for a missing order). Deadlines are computed here, never taken from a
caller."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.calendar import WorkCalendar
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, may_act_on_unit

from . import lifecycle, notices
from .choices import (
    AreaKind,
    ComplaintSubType,
    OrderChannel,
    OrderType,
    Priority,
    Satisfaction,
    ServiceRequestSubType,
    Step,
    Triage,
)
from .deadlines import CHINA, compute, whole_seconds
from .models import WorkOrder, WorkOrderDeadline, WorkOrderEvent
from .policies import load_rows, rules_for
from .triage import TriageResult, triage_fault

# The commitment area of a transformer area's type (the reliability area groups are finer).
AREA_OF_AREA_TYPE = {
    "centre": AreaKind.URBAN,
    "urban": AreaKind.URBAN,
    "rural": AreaKind.RURAL,
    "remote": AreaKind.REMOTE,
}
DISPATCH_ACTIONS = frozenset({"dispatch", "depart", "arrive", "restore"})


def _err(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def validate_kind(order_type: str, sub_type: str | None, area: str | None) -> tuple[str, str]:
    """Check type, sub-type and area (the contract's vocabulary); returns (sub_type, area) as stored ('' = none)."""
    if order_type not in OrderType.values:
        raise _err("type", _("未知的工单类型：%(v)s") % {"v": order_type})
    sub = sub_type or ""
    if order_type == OrderType.SERVICE_REQUEST:
        if not sub:
            raise _err("sub_type", _("服务申请须填写子类（reconnection、meter_check、reading_data、other）"))
        if sub not in ServiceRequestSubType.values:
            raise _err("sub_type", _("未知的服务申请子类：%(v)s") % {"v": sub})
    elif order_type == OrderType.COMPLAINT:
        if sub and sub not in ComplaintSubType.values:
            raise _err("sub_type", _("未知的投诉分类：%(v)s") % {"v": sub})
    elif sub:
        raise _err("sub_type", _("该类型工单没有子类"))
    ar = area or ""
    if ar and ar not in AreaKind.values:
        raise _err("area", _("未知的区域：%(v)s（urban、rural、remote）") % {"v": ar})
    if order_type == OrderType.FAULT and not ar:
        raise _err("area", _("故障报修须填写区域（urban、rural、remote）"))
    return sub, ar


def preview_deadlines(
    *,
    order_type: str,
    sub_type: str | None,
    area: str | None,
    received_at: datetime,
    arrived_at: datetime | None = None,
    calendar: WorkCalendar | None = None,
):
    """The deadlines an order would get (POST /work-orders/deadlines): validated, nothing stored."""
    sub, ar = validate_kind(order_type, sub_type, area)
    if arrived_at is not None:
        if order_type != OrderType.FAULT:
            raise _err("arrived_at", _("只有故障报修有到达现场时间"))
        if whole_seconds(arrived_at) < whole_seconds(received_at):
            raise _err("arrived_at", _("到达现场时间不能早于受理时间"))
    rules = [r for r in rules_for(load_rows(), order_type, sub, ar) if r.basis != "resolved"]
    if calendar is None:
        start_year = received_at.astimezone(CHINA).year
        calendar = WorkCalendar.from_db(range(start_year, start_year + 3))
    return compute(rules, received_at=received_at, arrived_at=arrived_at, calendar=calendar)


def _calendar_for(start: datetime) -> WorkCalendar:
    year = start.astimezone(CHINA).year
    return WorkCalendar.from_db(range(year, year + 3))


def _new_number(received_at: datetime) -> str:
    # 95598-style: the China date and eight random digits (one INSERT under a storm; a clash retries).
    return f"{received_at.astimezone(CHINA):%Y%m%d}{secrets.randbelow(10**8):08d}"


@dataclass
class Created:
    order: WorkOrder
    triage: TriageResult | None
    deadlines: list[WorkOrderDeadline]


def _resolve_account(account_number: str | None, order_type: str, phone: str, address: str):
    from gridcare.customers.models import Account

    if account_number:
        account = (
            Account.objects.select_related("premise__transformer_area", "customer")
            .filter(account_number=account_number)
            .first()
        )
        if account is not None:
            return account
        if order_type != OrderType.FAULT or not (phone and address):
            raise _err("account", _("户号 %(n)s 不存在（故障报修可只留电话和地址）") % {"n": account_number})
        return None
    if not (phone and address):
        raise _err("phone", _("未提供户号时须留联系电话和地址"))
    return None


def work_order_create(
    *,
    actor: Actor,
    order_type: str,
    channel: str,
    sub_type: str | None = None,
    account_number: str | None = None,
    caller_name: str = "",
    phone: str = "",
    address: str = "",
    area: str | None = None,
    description: str = "",
    priority: int = Priority.NORMAL,
    received_at: datetime | None = None,
    unit_id: int | None = None,
    transformer_area_id: int | None = None,
    customer_user=None,
    now: datetime | None = None,
    check_unit: bool = True,
) -> Created:
    """Register a request as an order: validate, find the account (or keep the caller's phone and address), triage
    a fault, compute the deadlines from the policy table and the calendar, write the `create` event and the audit
    row. `received_at` defaults to the server's now; staff may give an earlier time (never a later one), which is
    audited. A staff actor needs workorder.handle on the order's unit."""
    now = whole_seconds(now or timezone.now())
    if channel not in OrderChannel.values:
        raise _err("channel", _("未知的渠道：%(v)s") % {"v": channel})
    if priority not in Priority.values:
        raise _err("priority", _("未知的优先级"))
    entered = False
    if received_at is not None:
        if received_at.tzinfo is None:
            raise _err("received_at", _("受理时间须带时区（如 +08:00）"))
        received_at = whole_seconds(received_at)
        if received_at.year < 2000:  # the API's date range; older instants overflow the time zone maths
            raise _err("received_at", _("补录的受理时间不能早于2000年"))
        if received_at > now:
            raise _err("received_at", _("受理时间不能晚于当前时间"))
        entered = received_at != now
        if entered and (actor.user is None or not has_perm(actor.user, Perm.WORKORDER_HANDLE)):
            raise _err("received_at", _("只有工作人员可以补录更早的受理时间"))
    else:
        received_at = now
    phone, address = (phone or "").strip(), (address or "").strip()
    account = _resolve_account(account_number, order_type, phone, address)
    if account is not None:
        ta = account.premise.transformer_area
        transformer_area_id = ta.pk
        unit_id = account.unit_id
        area = area or AREA_OF_AREA_TYPE.get(ta.area_type, AreaKind.URBAN)
        address = address or account.premise.address
        caller_name = caller_name or account.customer.name
        phone = phone or getattr(account.customer, "phone", "") or ""
    elif transformer_area_id is not None:
        from gridcare.customers.models import TransformerArea

        ta = TransformerArea.objects.filter(pk=transformer_area_id).first()
        if ta is None:
            raise _err("transformer_area", _("台区不存在"))
        unit_id = unit_id or ta.unit_id
        area = area or AREA_OF_AREA_TYPE.get(ta.area_type, AreaKind.URBAN)
    sub, ar = validate_kind(order_type, sub_type, area)
    if unit_id is None:
        unit_id = getattr(actor.user, "unit_id", None) or _default_unit_id()
    if check_unit and actor.user is not None and not getattr(actor.user, "is_customer", False):
        if not may_act_on_unit(actor.user, unit_id, Perm.WORKORDER_HANDLE):
            raise PermissionDenied()

    # Credit measure `priority_service` (AAA/AA by default, issue 17 §4): the customer's orders come in at least
    # 紧急, so agents and the crew see and sort them first.
    requested_priority = priority
    if account is not None and priority < Priority.HIGH:
        from gridcare.credit.measures import priority_service

        if priority_service(account.customer_id):
            priority = Priority.HIGH

    result = None
    if order_type == OrderType.FAULT:
        result = triage_fault(
            account_id=account.pk if account else None, transformer_area_id=transformer_area_id, now=now
        )
    rules = [r for r in rules_for(load_rows(), order_type, sub, ar) if r.basis == "received"]
    if result is not None and result.outcome != Triage.DISPATCH:  # no crew is sent: no arrival to promise
        rules = [r for r in rules if r.name != "arrival"]
    planned = compute(rules, received_at=received_at, calendar=_calendar_for(received_at))

    with transaction.atomic():
        order = None
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    order = WorkOrder.objects.create(
                        number=_new_number(received_at),
                        order_type=order_type,
                        sub_type=sub,
                        channel=channel,
                        priority=priority,
                        unit_id=unit_id,
                        account=account,
                        transformer_area_id=transformer_area_id,
                        caller_name=caller_name[:50],
                        phone=phone[:20],
                        address=address[:200],
                        area=ar,
                        description=description,
                        received_at=received_at,
                        received_entered=entered,
                        created_by=actor.user
                        if actor.user is not None and not actor.user.is_customer
                        else None,
                        customer_user=customer_user,
                        triage=result.outcome if result else "",
                        outage_id=result.outage_id if result else None,
                    )
                break
            except IntegrityError:
                continue
        if order is None:  # pragma: no cover - five clashes of eight random digits
            raise _err("number", _("工单编号生成失败，请重试"))
        deadlines = WorkOrderDeadline.objects.bulk_create(
            [
                WorkOrderDeadline(
                    order=order,
                    name=d.name,
                    amount=d.amount,
                    unit=d.unit,
                    starts_at=d.starts_at,
                    due_at=d.due_at,
                    provisional=d.provisional,
                )
                for d in planned
            ]
        )
        note = ""
        if result and result.outcome == Triage.OUTAGE:
            note = _("位于停电事件 %(n)s 范围内，已关联，不另派抢修") % {"n": result.outage_number}
        elif result and result.outcome == Triage.ARREARS:
            note = _("预付费账户余额不足，按欠费停电答复")
        if priority != requested_priority:
            note = "；".join(n for n in (note, _("客户信用等级享有优先服务，优先级提为紧急")) if n)
        _event(order, "create", "", Step.CREATED, actor, now, note, {"channel": channel})
        changes = {"type": order_type, "channel": channel}
        if priority != requested_priority:
            changes["priority"] = [int(requested_priority), int(priority)]
        if entered:
            changes["received_at"] = received_at.isoformat()
        audit_record(
            actor=actor,
            action="workorder.received_entered" if entered else "workorder.create",
            obj=order,
            customer_id=account.customer_id if account else None,
            unit_id=unit_id,
            changes=changes,
        )
    return Created(order=order, triage=result, deadlines=deadlines)


def _default_unit_id() -> int:
    from gridcare.org.models import SupplyUnit

    unit = SupplyUnit.objects.filter(parent__isnull=True).order_by("id").values_list("id", flat=True).first()
    if unit is None:
        raise _err("unit", _("系统中没有供电单位"))
    return unit


def _event(order, action, from_status, to_status, actor: Actor, at, note="", data=None) -> WorkOrderEvent:
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    label = ""
    if user is not None:
        label = getattr(user, "display_name", "") or user.get_username()
        if getattr(user, "is_customer", False):
            label = _("客户")
    else:
        label = str(actor.channel)
    return WorkOrderEvent.objects.create(
        order=order,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=user,
        actor_label=label[:60],
        at=at,
        note=note,
        data=data or {},
    )


def _locked(order_id: int) -> WorkOrder:
    return WorkOrder.objects.select_for_update().get(pk=order_id)


def _require(actor: Actor, order: WorkOrder, perm: str) -> None:
    if actor.user is None or not may_act_on_unit(actor.user, order.unit_id, perm):
        raise PermissionDenied()


def work_order_act(
    *,
    actor: Actor,
    order: WorkOrder,
    action: str,
    note: str = "",
    assignee=None,
    unit_id: int | None = None,
    into: WorkOrder | None = None,
    fault_cause: str = "",
    resolution: str = "",
    satisfaction: str = "",
    now: datetime | None = None,
) -> WorkOrder:
    """One action on an order (lifecycle.py): a forward step, or return / escalate / transfer / merge / chase.
    Forward fault-repair steps (dispatch, depart, arrive, restore) need workorder.dispatch; everything else
    workorder.handle, both on the order's unit. Refused actions raise ValidationError naming `action`."""
    now = whole_seconds(now or timezone.now())
    perm = Perm.WORKORDER_DISPATCH if action in DISPATCH_ACTIONS else Perm.WORKORDER_HANDLE
    _require(actor, order, perm)
    with transaction.atomic():
        order = _locked(order.pk)
        before = order.status
        data: dict = {}
        if action in lifecycle.ACTION_TO_STEP:
            try:
                target = lifecycle.forward_target(order.order_type, order.status, action)
            except lifecycle.TransitionError:
                raise _illegal(order, action) from None
            _forward(order, target, actor, now, note, assignee, fault_cause, resolution, satisfaction, data)
        elif action == "return":
            try:
                back_to = lifecycle.previous_step(order.order_type, order.status)
            except lifecycle.TransitionError:
                raise _illegal(order, action) from None
            if (
                not note.strip()
            ):  # after the transition check: a return from `created` is illegal, noted or not
                raise _err("note", _("退回须填写原因"))
            order.status = back_to
        elif action == "escalate":
            _open(order, action)
            order.escalation_level = F("escalation_level") + 1
            order.priority = max(order.priority, Priority.HIGH)
        elif action == "transfer":
            _open(order, action)
            if unit_id is None or unit_id == order.unit_id:
                raise _err("unit", _("请选择另一个供电单位"))
            from gridcare.org.models import SupplyUnit

            if not SupplyUnit.objects.filter(pk=unit_id).exists():
                raise _err("unit", _("供电单位不存在"))
            data = {"from_unit": order.unit_id, "to_unit": unit_id}
            order.unit_id = unit_id  # the deadlines stay: the clock keeps running
            order.assignee = None
        elif action == "merge":
            _open(order, action)
            if into is None or into.pk == order.pk:
                raise _err("into", _("请选择要合并到的另一张工单"))
            into = WorkOrder.objects.select_for_update().get(pk=into.pk)  # re-read under lock: no A→B and B→A
            if into.status in lifecycle.TERMINAL:
                raise _err("into", _("只能合并到未归档的工单"))
            if into.merged_into_id == order.pk:
                raise _err("into", _("不能互相合并"))
            order.status = Step.MERGED
            order.merged_into = into
            order.closed_at = now
            data = {"into": into.number}
        elif action == "chase":
            _open(order, action)
            order.chase_count = F("chase_count") + 1
            order.priority = min(order.priority + 1, Priority.URGENT)
        else:
            raise _err("action", _("未知的操作：%(a)s") % {"a": action})
        order.save()
        order.refresh_from_db()
        _event(order, action, before, order.status, actor, now, note, data)
        audit_record(
            actor=actor,
            action=f"workorder.{action}",
            obj=order,
            customer_id=order.account.customer_id if order.account_id else None,
            unit_id=order.unit_id,
            changes={"status": [before, order.status], **({"note": note} if note else {}), **data},
        )
    return order


def _illegal(order: WorkOrder, action: str) -> ValidationError:
    return _err(
        "action",
        _("工单当前状态为“%(s)s”，不能执行“%(a)s”；可执行：%(ok)s")
        % {
            "s": Step(order.status).label,
            "a": action,
            "ok": "、".join(lifecycle.allowed_actions(order.order_type, order.status)) or "-",
        },
    )


def _open(order: WorkOrder, action: str) -> None:
    if order.status in lifecycle.TERMINAL:
        raise _illegal(order, action)


def _forward(order, target, actor, now, note, assignee, fault_cause, resolution, satisfaction, data) -> None:
    resolution_step = lifecycle.RESOLUTION[order.order_type]
    if target == Step.DISPATCHED or target == Step.ASSIGNED:
        if assignee is not None:
            order.assignee = assignee
            data["assignee"] = assignee.get_username()
    if target == Step.ARRIVED:
        order.arrived_at = now
        _add_deadlines(order, "arrived", now)
    if target == Step.RESTORED:
        if not fault_cause.strip():
            raise _err("fault_cause", _("恢复送电须填写故障原因"))
        order.fault_cause = fault_cause.strip()[:200]
    if target == resolution_step:
        order.resolved_at = now
        if resolution:
            order.resolution = resolution
        if order.order_type not in lifecycle.OPTIONAL_CALLBACK:
            _add_deadlines(order, "resolved", now)
    if target == Step.CALLBACK:
        if satisfaction not in Satisfaction.values:
            raise _err("satisfaction", _("请选择回访满意度：满意、基本满意或不满意"))
        order.callback_result = satisfaction
        order.callback_note = note[:500]
        order.callback_at = now
        data["satisfaction"] = satisfaction
        if satisfaction == Satisfaction.UNSATISFIED:
            # 不满意: back to re-handling; the callback deadline is met, a new one comes with the next resolution.
            WorkOrderDeadline.objects.filter(order=order, name="callback").delete()
            order.status = lifecycle.REOPEN_TO[order.order_type]
            order.reopen_count = F("reopen_count") + 1
            order.resolved_at = None
            data["reopened"] = True
            notices.queue(order, "reopened")
            return
    if target == Step.CLOSED:
        order.closed_at = now
    meets = {lifecycle.MEETS[target]} if target in lifecycle.MEETS else set()
    if target == resolution_step:
        # Resolving meets the type's answer clock whatever it is called: an opinion's `reply` ends in `completed`.
        meets |= {"restoration", "reply", "complete"}
    if meets:
        WorkOrderDeadline.objects.filter(order=order, name__in=meets, met_at__isnull=True).update(met_at=now)
    order.status = target
    if target in (Step.ACCEPTED, Step.DISPATCHED, Step.CLOSED):
        notices.queue(order, target)


def _add_deadlines(order: WorkOrder, basis: str, start: datetime) -> None:
    rules = [
        r for r in rules_for(load_rows(), order.order_type, order.sub_type, order.area) if r.basis == basis
    ]
    kw = {"arrived_at": start} if basis == "arrived" else {"resolved_at": start}
    planned = [
        d
        for d in compute(rules, received_at=order.received_at, calendar=_calendar_for(start), **kw)
        if d.name in {r.name for r in rules}
    ]
    for d in planned:
        WorkOrderDeadline.objects.update_or_create(
            order=order,
            name=d.name,
            defaults={
                "amount": d.amount,
                "unit": d.unit,
                "starts_at": d.starts_at,
                "due_at": d.due_at,
                "provisional": d.provisional,
                "met_at": None,
                "warned_at": None,
                "escalated_at": None,
            },
        )


def work_order_substantiate(
    *, actor: Actor, order: WorkOrder, substantiated: bool, note: str = ""
) -> WorkOrder:
    """Mark a complaint substantiated (属实) or not; only then does it count in complaint rates."""
    _require(actor, order, Perm.WORKORDER_HANDLE)
    if order.order_type != OrderType.COMPLAINT:
        raise _err("substantiated", _("只有投诉工单需要认定是否属实"))
    with transaction.atomic():
        order = _locked(order.pk)
        before = order.substantiated
        order.substantiated = substantiated
        order.save(update_fields=["substantiated"])
        now = whole_seconds(timezone.now())
        _event(
            order,
            "substantiate",
            order.status,
            order.status,
            actor,
            now,
            note,
            {"substantiated": substantiated},
        )
        audit_record(
            actor=actor,
            action="workorder.substantiate",
            obj=order,
            unit_id=order.unit_id,
            changes={"substantiated": [before, substantiated]},
        )
    return order


def work_order_customer_chase(*, actor: Actor, order: WorkOrder, note: str = "") -> WorkOrder:
    """A portal customer chases their own order (催办): recorded, priority raised. The caller checked ownership."""
    now = whole_seconds(timezone.now())
    with transaction.atomic():
        order = _locked(order.pk)
        _open(order, "chase")
        order.chase_count = F("chase_count") + 1
        order.priority = min(order.priority + 1, Priority.URGENT)
        order.save(update_fields=["chase_count", "priority"])
        order.refresh_from_db()
        _event(order, "chase", order.status, order.status, actor, now, note)
        audit_record(
            actor=actor, action="workorder.chase", obj=order, unit_id=order.unit_id, changes={"note": note}
        )
    return order


def work_order_rate(*, actor: Actor, order: WorkOrder, rating: str, comment: str = "") -> WorkOrder:
    """A portal customer rates their closed order, once. The caller checked ownership."""
    if rating not in Satisfaction.values:
        raise _err("rating", _("请选择满意、基本满意或不满意"))
    with transaction.atomic():
        order = _locked(order.pk)
        if order.status != Step.CLOSED:
            raise _err("rating", _("工单归档后才能评价"))
        if order.customer_rating:
            raise _err("rating", _("该工单已评价"))
        order.customer_rating = rating
        order.customer_comment = comment[:500]
        order.save(update_fields=["customer_rating", "customer_comment"])
        now = whole_seconds(timezone.now())
        _event(order, "rate", order.status, order.status, actor, now, comment, {"rating": rating})
        audit_record(
            actor=actor, action="workorder.rate", obj=order, unit_id=order.unit_id, changes={"rating": rating}
        )
    return order
