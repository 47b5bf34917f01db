"""Reads of the hall, scoped in one place: a user sees the halls of their unit subtree under a hall permission;
a hall, counter or ticket outside it is "not found" like a missing one."""

from __future__ import annotations

from django.db.models import QuerySet

from gridcare.core.scoping import restrict
from gridcare.org.models import Counter, ServiceHall

from .models import Ticket


def halls_for(user, perm: str) -> QuerySet[ServiceHall]:
    return restrict(ServiceHall.objects.select_related("unit").order_by("code"), user, perm)


def hall_for(user, perm: str, pk) -> ServiceHall | None:
    try:
        return halls_for(user, perm).filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        return None


def counters_for(user, perm: str) -> QuerySet[Counter]:
    return restrict(Counter.objects.select_related("hall"), user, perm, unit_field="hall__unit_id")


def counter_for(user, perm: str, pk) -> Counter | None:
    try:
        return counters_for(user, perm).select_related("hall__unit", "setup").filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        return None


def tickets_for(user, perm: str) -> QuerySet[Ticket]:
    return restrict(Ticket.objects.select_related("category", "hall"), user, perm, unit_field="hall__unit_id")
