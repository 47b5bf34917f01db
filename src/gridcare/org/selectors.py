"""Reads for the organisation, scoped to the user's unit subtree."""

from gridcare.core.permissions import Perm
from gridcare.core.scoping import restrict

from .models import ServiceHall, SupplyUnit


def unit_list(*, user):
    return restrict(SupplyUnit.objects.all(), user, Perm.ORG_VIEW, unit_field="id")


def hall_list(*, user):
    return restrict(ServiceHall.objects.select_related("unit").prefetch_related("counters"), user, Perm.ORG_VIEW)
