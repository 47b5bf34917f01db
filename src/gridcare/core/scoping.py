"""Unit scoping in one place: staff see their unit's subtree; everyone else sees nothing here."""

from django.db.models import QuerySet
from django.http import Http404

from .permissions import Role, has_perm


class PermissionDenied(Exception):
    """The actor may not write this object; views and the API answer it as 404, like a missing one."""


def visible_unit_ids(user) -> list[int]:
    """Ids of the user's home unit and every unit below it (cached on the user object)."""
    if (
        user is None
        or not getattr(user, "is_authenticated", False)
        or user.role == Role.CUSTOMER
        or not user.unit_id
    ):
        return []
    cached = getattr(user, "_gridcare_unit_ids", None)
    if cached is None:
        from gridcare.org.models import SupplyUnit

        home = SupplyUnit.objects.only("path").get(pk=user.unit_id)
        cached = list(SupplyUnit.objects.filter(path__startswith=home.path).values_list("id", flat=True))
        user._gridcare_unit_ids = cached
    return cached


def may_act_on_unit(user, unit_id: int | None, perm: str) -> bool:
    """The one scoping rule: `user` holds `perm` and `unit_id` lies in the user's unit subtree."""
    return has_perm(user, perm) and unit_id is not None and unit_id in visible_unit_ids(user)


def require_unit(actor, unit_id: int | None, perm: str) -> None:
    """Writes: the actor's user must hold `perm` on `unit_id` (its unit subtree); else PermissionDenied.

    An actor without a user (a system job, seeding, a job already authorised when it was started) passes."""
    user = getattr(actor, "user", None)
    if user is None:
        return
    if not may_act_on_unit(user, unit_id, perm):
        raise PermissionDenied


def require_object(actor, obj, perm: str, unit_field: str = "unit_id") -> None:
    """`require_unit` for an object carrying its unit in `unit_field`."""
    require_unit(actor, getattr(obj, unit_field), perm)


def restrict(qs: QuerySet, user, perm: str, unit_field: str = "unit_id") -> QuerySet:
    """Rows of `qs` the user may see under `perm`; an empty queryset when the user may see none."""
    if not has_perm(user, perm):
        return qs.none()
    return qs.filter(**{f"{unit_field}__in": visible_unit_ids(user)})


def get_or_404(qs: QuerySet, **lookup):
    """Missing and forbidden answer the same."""
    obj = qs.filter(**lookup).first()
    if obj is None:
        raise Http404
    return obj
