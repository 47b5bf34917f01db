"""Reads for the organisation, scoped to the user's unit subtree."""

from gridcare.core.permissions import Perm
from gridcare.core.scoping import restrict

from .models import ServiceHall, SupplyUnit, User


def unit_list(*, user):
    return restrict(SupplyUnit.objects.all(), user, Perm.ORG_VIEW, unit_field="id")


def hall_list(*, user):
    return restrict(
        ServiceHall.objects.select_related("unit").prefetch_related("counters"), user, Perm.ORG_VIEW
    )


def customer_manager_choices(*, user) -> list[User]:
    """Active customer managers (客户经理) in the user's unit subtree, for assigning to large/important customers."""
    from gridcare.core.permissions import Role

    return list(
        restrict(User.objects.filter(role=Role.CUSTOMER_MANAGER, is_active=True), user, Perm.ORG_VIEW)
        .select_related("unit")
        .order_by("unit__path", "username")
    )
