"""Reads for the organisation, scoped to the user's unit subtree."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from gridcare.core.masking import mask_name, mask_phone
from gridcare.core.permissions import Perm, Role, has_perm
from gridcare.core.scoping import get_or_404, restrict, visible_unit_ids

from .models import ApiToken, ServiceHall, SupplyUnit, User


def unit_list(*, user):
    return restrict(SupplyUnit.objects.all(), user, Perm.ORG_VIEW, unit_field="id")


def hall_list(*, user):
    return restrict(
        ServiceHall.objects.select_related("unit").prefetch_related("counters"), user, Perm.ORG_VIEW
    )


def customer_manager_choices(*, user) -> list[User]:
    """Active customer managers (客户经理) in the user's unit subtree, for assigning to large/important customers."""
    return list(
        restrict(User.objects.filter(role=Role.CUSTOMER_MANAGER, is_active=True), user, Perm.ORG_VIEW)
        .select_related("unit")
        .order_by("unit__path", "username")
    )


def unlockable_users(*, user) -> QuerySet[User]:
    """Accounts an admin may unlock: staff of the admin's unit subtree, and portal customers (who belong to no
    unit). Nothing for a role without user.unlock."""
    if not has_perm(user, Perm.USER_UNLOCK):
        return User.objects.none()
    return User.objects.filter(Q(unit_id__in=visible_unit_ids(user)) | Q(role=Role.CUSTOMER))


def shown_username(u: User) -> str:
    """A portal customer's user name is their mobile number: personal data, shown masked (138****5678)."""
    return mask_phone(u.username) if u.role == Role.CUSTOMER else u.username


def shown_display_name(u: User) -> str:
    """A portal customer's name is personal data, shown masked (张*); a staff member's name as it is."""
    return mask_name(u.display_name) if u.role == Role.CUSTOMER else u.display_name


def locked_users(*, user) -> list[User]:
    """Accounts locked right now after failed logins, the lock ending first at the top; `shown_username` masks
    a customer's phone-number user name."""
    rows = list(
        unlockable_users(user=user)
        .filter(locked_until__gt=timezone.now())
        .select_related("unit")
        .order_by("locked_until", "username")
    )
    for u in rows:
        u.shown_username = shown_username(u)
        u.shown_display_name = shown_display_name(u)
    return rows


def unlockable_user_get(*, user, pk: int) -> User:
    """One account the admin may unlock; missing and out of reach answer the same 404."""
    return get_or_404(unlockable_users(user=user).select_related("unit"), pk=pk)


def own_tokens(*, user):
    """The user's own API tokens, newest first."""
    return ApiToken.objects.filter(user=user).select_related("user").order_by("-created_at", "-id")
