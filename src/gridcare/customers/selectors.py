"""Reads for the customer registry; every one takes the user and applies unit scoping here."""

import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from gridcare.core.audit_display import action_label, change_rows, user_names
from gridcare.core.masking import (
    mask_address,
    mask_customer_name,
    mask_email,
    mask_id_number,
    mask_phone,
)
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import get_or_404, restrict
from gridcare.org.models import SupplyUnit

from .choices import AccountStatus
from .models import Account, Customer, Feeder, Meter, Premise, ServicePoint, TransformerArea

ID_LIKE = re.compile(r"^[0-9A-Za-z]{15,18}$")
SEARCH_MAX_LENGTH = 100


def search_query_clean(q: str | None) -> str:
    """The search text, stripped; ValidationError({"q": …}) when longer than SEARCH_MAX_LENGTH characters
    (a query that long is a paste gone wrong: answered with a message, never with every customer)."""
    q = (q or "").strip()
    if len(q) > SEARCH_MAX_LENGTH:
        raise ValidationError(
            {
                "q": [
                    _("查询内容最多 %(max)d 个字符，当前 %(n)d 个，请缩短后再查询")
                    % {"max": SEARCH_MAX_LENGTH, "n": len(q)}
                ]
            }
        )
    return q


def search_has_criteria(*, q: str = "", customer_class: str = "", segment: str = "", **_ignored) -> bool:
    """Whether the console search was given something to search by (an empty search lists nothing)."""
    return bool((q or "").strip() or customer_class or segment)


def customers_visible(*, user) -> QuerySet[Customer]:
    return restrict(Customer.objects.all(), user, Perm.CUSTOMER_VIEW)


def customer_search(
    *, user, q: str = "", customer_class: str = "", segment: str = "", unit_id: int | None = None
) -> QuerySet:
    """Search by 户号, name, phone, address or ID number (SPEC C1); an over-long `q` is a ValidationError."""
    q = search_query_clean(q)
    qs = customers_visible(user=user).select_related("unit")
    if q:
        if q.isdigit() and len(q) == 10:
            qs = qs.filter(Q(accounts__account_number=q) | Q(phone=q))
        elif q.isdigit() and len(q) == 11:
            qs = qs.filter(phone=q)
        elif ID_LIKE.match(q) and any(c.isdigit() for c in q):
            qs = qs.filter(id_number=q.upper())
        elif q.isdigit() and len(q) == 4:
            qs = qs.filter(phone__endswith=q)
        else:
            premise_ids = Premise.objects.filter(address__contains=q).values("id")
            qs = qs.filter(Q(name__startswith=q) | Q(accounts__premise_id__in=premise_ids))
        qs = qs.distinct()
    if customer_class:
        qs = qs.filter(customer_class=customer_class)
    if segment:
        qs = qs.filter(segment=segment)
    if unit_id:
        qs = qs.filter(unit_id=unit_id)
    return qs.order_by("id")


def customer_get(*, user, pk: Any) -> Customer:
    """One customer, or 404 for missing and forbidden alike."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        from django.http import Http404

        raise Http404 from None
    return get_or_404(customers_visible(user=user).select_related("unit", "customer_manager"), pk=pk)


def accounts_visible(*, user) -> QuerySet[Account]:
    return restrict(Account.objects.select_related("customer", "premise", "unit"), user, Perm.CUSTOMER_VIEW)


def account_get(*, user, account_number: str) -> Account:
    return get_or_404(accounts_visible(user=user), account_number=account_number)


def premises_visible(*, user) -> QuerySet[Premise]:
    return restrict(Premise.objects.select_related("transformer_area"), user, Perm.CUSTOMER_VIEW)


def service_points_visible(*, user) -> QuerySet[ServicePoint]:
    return restrict(
        ServicePoint.objects.select_related("account", "transformer_area"), user, Perm.CUSTOMER_VIEW
    )


def meters_visible(*, user) -> QuerySet[Meter]:
    return restrict(Meter.objects.select_related("service_point__account"), user, Perm.CUSTOMER_VIEW)


def feeders_visible(*, user) -> QuerySet[Feeder]:
    return restrict(Feeder.objects.select_related("unit"), user, Perm.TOPOLOGY_VIEW)


def areas_visible(*, user) -> QuerySet[TransformerArea]:
    return restrict(TransformerArea.objects.select_related("feeder", "unit"), user, Perm.TOPOLOGY_VIEW)


def customer_detail(*, user, customer: Customer, today=None) -> dict[str, Any]:
    """Everything the 360° page shows, in a bounded number of queries; money and collection state as of
    `today` (default: the local date)."""
    accounts = list(
        # bind_lock: the portal's per-户号 bind lock (a reverse one-to-one), shown on each account: no extra query.
        customer.accounts.select_related("premise__transformer_area__feeder", "unit", "bind_lock")
        .prefetch_related("service_points__meters", "holdings__customer")
        .order_by("account_number")
    )
    past_holdings = list(
        customer.holdings.exclude(account__customer=customer)
        .select_related("account")
        .order_by("-valid_from")
    )
    # Each account's last 13 bills that are not drafts (only those of units the user may see): one query.
    from gridcare.billing.selectors import recent_bills_by_account

    bills = recent_bills_by_account(user=user, account_ids=[a.pk for a in accounts])
    for a in accounts:
        a.recent_bills = bills[a.pk]
    # What each account owes, its last payment and open collection steps (payments; five queries in all).
    from django.utils import timezone

    from gridcare.payments.collections.account_summary import account_summaries

    today = today or timezone.localdate()
    money = account_summaries([a.pk for a in accounts], today)
    for a in accounts:
        a.money = money[a.pk]
    totals = {
        "amount_due": sum((m.amount_due for m in money.values()), Decimal("0.00")),
        "arrears": sum((m.arrears for m in money.values()), Decimal("0.00")),
    }
    return {
        "customer": customer,
        "accounts": accounts,
        "past_holdings": past_holdings,
        "money_totals": totals,
        "money_as_of": today,
    }


def customer_timeline(
    *, user, customer: Customer, limit: int = 100, reveal: bool = False
) -> list[AuditEvent]:
    """The customer's timeline; later capabilities (bills, payments, work orders) add their events here.

    Personal data inside the events' `changes` (phones, ID numbers, names, addresses, bank accounts, the
    protected-account reason) is masked unless `reveal` (the caller checked the role and audited the view).
    Each event carries `action_label` (修改客户资料) and `change_rows` (字段 / 原值 / 新值, never JSON)."""
    if not has_perm(user, Perm.AUDIT_VIEW):
        return []
    events = list(AuditEvent.objects.filter(customer_id=customer.pk).select_related("actor")[:limit])
    users = user_names(events)
    for e in events:
        e.action_label = action_label(e.action)
        e.change_rows = change_rows(e, reveal=reveal, users=users)
    return events


def masked_customer(customer: Customer, *, reveal: bool = False) -> dict[str, str]:
    """Personal fields for display: masked unless `reveal` (the caller checked the role and audited)."""
    if reveal:
        return {
            "name": customer.name,
            "phone": customer.phone,
            "phone2": customer.phone2,
            "id_number": customer.id_number,
            "email": customer.email,
        }
    return {
        "name": mask_customer_name(customer.name, customer.kind),
        "phone": mask_phone(customer.phone),
        "phone2": mask_phone(customer.phone2),
        "id_number": mask_id_number(customer.id_number),
        "email": mask_email(customer.email),
    }


def customer_distribution(*, user) -> dict[str, list[dict[str, Any]]]:
    """Counts by class, segment, unit and area type (C1 multi-dimension distribution)."""
    qs = customers_visible(user=user)
    by_class = list(qs.values("customer_class").annotate(n=Count("id")).order_by("customer_class"))
    by_segment = list(qs.values("segment").annotate(n=Count("id")).order_by("segment"))
    by_unit = list(qs.values("unit_id", "unit__name").annotate(n=Count("id")).order_by("unit__name"))
    by_area = list(
        restrict(Account.objects.filter(status=AccountStatus.ACTIVE), user, Perm.CUSTOMER_VIEW)
        .values("premise__transformer_area__area_type")
        .annotate(n=Count("id"))
        .order_by("premise__transformer_area__area_type")
    )
    return {"by_class": by_class, "by_segment": by_segment, "by_unit": by_unit, "by_area_type": by_area}


# The columns of the public lookup, in this order: what `public_account_fields` takes.
PUBLIC_LOOKUP_COLUMNS = ("pub_name", "pub_address", "pub_unit", "pub_account_id", "pub_kind")


@lru_cache(maxsize=8)
def public_lookup_sql(extra_columns: str = "", extra_joins: str = "", order_by: str = "") -> str:
    """The public lookup: one indexed join, written out, for the hottest public query (`a.account_number = %s
    AND a.status = %s`). A caller that adds to the answer (payments: what is owed) appends its own columns and
    joins on the account `a`, so the whole answer is one round trip; the first columns stay
    PUBLIC_LOOKUP_COLUMNS."""
    a, c, p, u = (m._meta.db_table for m in (Account, Customer, Premise, SupplyUnit))
    return (
        "SELECT c.name AS pub_name, p.address AS pub_address, u.name AS pub_unit, a.id AS pub_account_id, "  # noqa: S608 (table names from model metadata, the extras from payments' code)
        f"c.kind AS pub_kind{', ' + extra_columns if extra_columns else ''} FROM {a} a "
        f"JOIN {c} c ON c.id = a.customer_id JOIN {p} p ON p.id = a.premise_id JOIN {u} u ON u.id = a.unit_id "
        f"{extra_joins} WHERE a.account_number = %s AND a.status = %s{' ORDER BY ' + order_by if order_by else ''}"
    )


def public_account_fields(
    account_number: str,
    name: str,
    address: str,
    unit_name: str,
    account_id: int,
    kind: str,
    *,
    with_name: bool,
) -> dict[str, Any]:
    """The public answer of one looked-up account (masked); `with_name` adds the clear name under `_name` for
    the caller's verification and the account's id under `_account_id`: neither is ever sent out."""
    out: dict[str, Any] = {
        "account_number": account_number,
        "name": mask_customer_name(name, kind),
        "address": mask_address(address),
        "supply_unit": unit_name,
    }
    if with_name:
        out["_name"] = name
        out["_account_id"] = account_id
    return out


def public_account_lookup(account_number: str, *, with_name: bool = False) -> dict[str, Any] | None:
    """Public 95598-style query: masked name, masked address, supply unit; None when unknown or closed
    (`with_name`: see `public_account_fields`)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(public_lookup_sql(), [account_number, AccountStatus.ACTIVE.value])
        row = cursor.fetchone()
    if row is None:
        return None
    return public_account_fields(account_number, *row, with_name=with_name)


def unit_choices(*, user) -> list[SupplyUnit]:
    return list(restrict(SupplyUnit.objects.all(), user, Perm.CUSTOMER_VIEW, unit_field="id"))
