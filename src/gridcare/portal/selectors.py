"""Reads of the customer portal: a customer sees only the accounts bound to them, nobody else sees any."""

from typing import Any

from django.db.models import Prefetch, QuerySet

from gridcare.core.masking import mask_phone
from gridcare.core.permissions import Role
from gridcare.core.scoping import get_or_404
from gridcare.customers.choices import AccountStatus
from gridcare.customers.models import Account, Meter, ServicePoint


def is_portal_user(user) -> bool:
    """An active, logged-in customer (staff users are not portal users, whatever they try)."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and getattr(user, "role", None) == Role.CUSTOMER
    )


def portal_accounts(*, user) -> QuerySet[Account]:
    """The user's bound accounts with premise, unit, customer, service points and installed meters."""
    if not is_portal_user(user):
        return Account.objects.none()
    meters = Meter.objects.filter(removed_on__isnull=True).order_by("installed_on", "id")
    points = ServicePoint.objects.order_by("id").prefetch_related(Prefetch("meters", queryset=meters))
    return (
        Account.objects.filter(bindings__user=user)
        .select_related("customer", "premise", "unit")
        .prefetch_related(Prefetch("service_points", queryset=points))
        .order_by("account_number")
    )


def portal_account_get(*, user, account_number: str) -> Account:
    """One bound account; 404 for unknown and for not bound alike."""
    return get_or_404(portal_accounts(user=user), account_number=(account_number or "").strip())


def portal_account_card(account: Account) -> dict[str, Any]:
    """What the portal shows of one account: the holder's own data, phone masked."""
    return {
        "account": account,
        "account_number": account.account_number,
        "customer_name": account.customer.name,
        "customer_phone": mask_phone(account.customer.phone),
        "address": account.premise.address,
        "supply_unit": account.unit.name,
        "status": account.get_status_display(),
        "is_active": account.status == AccountStatus.ACTIVE,
        "opened_on": account.opened_on,
        "service_points": [
            {
                "voltage_level": sp.get_voltage_level_display(),
                "contract_capacity_kva": sp.contract_capacity_kva,
                "tariff_code": sp.tariff_code,
                "meters": [
                    {"asset_number": m.asset_number, "multiplier": m.multiplier, "has_tou": m.has_tou}
                    for m in sp.meters.all()
                ],
            }
            for sp in account.service_points.all()
        ],
    }


def portal_account_cards(*, user) -> list[dict[str, Any]]:
    return [portal_account_card(a) for a in portal_accounts(user=user)]


def portal_recent_bills(account: Account, limit: int = 13):
    """The last `limit` issued bills of an account the caller already proved is bound (portal_account_get)."""
    from gridcare.billing.choices import BillStatus
    from gridcare.billing.models import Bill

    return list(
        Bill.objects.filter(account=account, status=BillStatus.ISSUED)
        .only("period_start", "period_end", "kwh_total", "amount", "due_date", "estimated", "tariff_code")
        .order_by("-period_start")[:limit]
    )
