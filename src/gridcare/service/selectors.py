"""Reads of the 95598 service (issue 15), scoped in one place: staff see the orders of their unit subtree under
workorder.view; a portal customer sees the orders they submitted or that sit on an account bound to them. Missing
and forbidden answer the same (Http404)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from gridcare.core.permissions import Perm, is_customer
from gridcare.core.scoping import restrict

from .models import WorkOrder, WorkOrderDeadline


def orders_visible(user) -> QuerySet[WorkOrder]:
    """Orders a staff user may see (their unit subtree, workorder.view); none for anyone else."""
    return restrict(WorkOrder.objects.all(), user, Perm.WORKORDER_VIEW)


def order_get(user, number: str) -> WorkOrder:
    """One order by number for a staff user, or Http404 (missing and forbidden alike)."""
    order = (
        orders_visible(user)
        .select_related(
            "unit", "account", "transformer_area", "outage", "merged_into", "assignee", "created_by"
        )
        .filter(number=number)
        .first()
    )
    if order is None:
        raise Http404
    return order


def orders_of_customer(user) -> QuerySet[WorkOrder]:
    """A portal customer's orders: submitted by them, or on an account bound to them."""
    if not is_customer(user):
        return WorkOrder.objects.none()
    from gridcare.customers.models import PortalBinding

    bound = PortalBinding.objects.filter(user=user).values("account_id")
    return WorkOrder.objects.filter(Q(customer_user=user) | Q(account_id__in=bound))


def order_get_for_customer(user, number: str) -> WorkOrder:
    order = orders_of_customer(user).select_related("account").filter(number=number).first()
    if order is None:
        raise Http404
    return order


def order_deadlines(order: WorkOrder) -> list[WorkOrderDeadline]:
    """The order's clocks in the contract's order (arrival, restoration, contact, reply, complete, callback)."""
    from .choices import DEADLINE_ORDER

    return sorted(order.deadlines.all(), key=lambda d: DEADLINE_ORDER.index(d.name))
