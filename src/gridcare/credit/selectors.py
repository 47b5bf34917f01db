"""Scoped reads of the credit-event register: staff see the events and contests of their unit subtree under
`credit.view`; a portal customer sees the events of the customers of their bound accounts that count against
them or are contested. Missing and forbidden answer the same (None / 404)."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from gridcare.core.permissions import Perm, has_perm, is_customer
from gridcare.core.scoping import get_or_404, restrict

from .choices import ContestStatus, EventStatus
from .models import CreditContest, CreditEvent, CreditStanding

ID_MAX = 2**63 - 1
# What a customer sees of their register: what scores, and what they contested.
PORTAL_STATUSES = (EventStatus.ACTIVE, EventStatus.CONTESTED)


def _valid_id(pk) -> bool:
    return isinstance(pk, int) and 0 < pk <= ID_MAX


def events_visible(user) -> QuerySet[CreditEvent]:
    """Events of the user's unit subtree (credit.view); none for anyone else."""
    return restrict(
        CreditEvent.objects.select_related("customer", "account", "recorded_by", "decided_by", "inspector"),
        user,
        Perm.CREDIT_VIEW,
    )


def event_for(user, pk: int) -> CreditEvent:
    """One visible event, else Http404 (missing and forbidden alike)."""
    if not _valid_id(pk):
        from django.http import Http404

        raise Http404
    return get_or_404(events_visible(user), pk=pk)


def events_filtered(
    qs: QuerySet[CreditEvent],
    *,
    customer_id: int | None = None,
    status: str = "",
    code: str = "",
    source: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[CreditEvent]:
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if status:
        qs = qs.filter(status=status)
    if code:
        qs = qs.filter(code=code)
    if source:
        qs = qs.filter(source=source)
    if date_from is not None:
        qs = qs.filter(date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(date__lte=date_to)
    return qs.order_by("-date", "-id")


def contests_visible(user) -> QuerySet[CreditContest]:
    return restrict(
        CreditContest.objects.select_related("event", "event__customer", "raised_by", "decided_by"),
        user,
        Perm.CREDIT_VIEW,
        unit_field="event__unit_id",
    )


def contest_for(user, pk: int) -> CreditContest:
    if not _valid_id(pk):
        from django.http import Http404

        raise Http404
    return get_or_404(contests_visible(user), pk=pk)


def approval_queue(user) -> dict[str, list]:
    """The approver's tab: pending recorded events, withholding candidates, open contests (credit.approve)."""
    if not has_perm(user, Perm.CREDIT_APPROVE):
        return {"pending": [], "candidates": [], "contests": []}
    events = restrict(
        CreditEvent.objects.select_related("customer", "recorded_by"), user, Perm.CREDIT_APPROVE
    ).order_by("date", "id")
    return {
        "pending": list(events.filter(status=EventStatus.PENDING)[:200]),
        "candidates": list(events.filter(status=EventStatus.CANDIDATE)[:200]),
        "contests": list(
            restrict(
                CreditContest.objects.select_related("event", "event__customer", "raised_by"),
                user,
                Perm.CREDIT_APPROVE,
                unit_field="event__unit_id",
            )
            .filter(status=ContestStatus.OPEN)
            .order_by("raised_at", "id")[:200]
        ),
    }


def portal_customer_ids(user) -> list[int]:
    if not is_customer(user):
        return []
    from gridcare.customers.models import Account

    return sorted(set(Account.objects.filter(bindings__user=user).values_list("customer_id", flat=True)))


def portal_events(user) -> QuerySet[CreditEvent]:
    """The customer's events that count against them or are contested (none for anyone but a customer)."""
    ids = portal_customer_ids(user)
    if not ids:
        return CreditEvent.objects.none()
    return (
        CreditEvent.objects.select_related("customer", "account")
        .filter(customer_id__in=ids, status__in=PORTAL_STATUSES)
        .order_by("-date", "-id")
    )


def portal_event_for(user, pk: int) -> CreditEvent:
    if not _valid_id(pk):
        from django.http import Http404

        raise Http404
    return get_or_404(portal_events(user), pk=pk)


def portal_standings(user) -> list[CreditStanding]:
    ids = portal_customer_ids(user)
    if not ids:
        return []
    return list(CreditStanding.objects.select_related("customer").filter(customer_id__in=ids))


def contests_of(event: CreditEvent) -> list[CreditContest]:
    return list(event.contests.select_related("raised_by", "decided_by").order_by("-raised_at", "-id"))


def open_contest_of(event: CreditEvent) -> CreditContest | None:
    return event.contests.filter(status=ContestStatus.OPEN).first()


def customer_events(user, customer_id: int) -> QuerySet[CreditEvent]:
    return events_visible(user).filter(Q(customer_id=customer_id))


def event_for_contest(user, pk: int) -> CreditEvent:
    """An event the staff user may see, or one of a customer they manage (the customer manager contests it
    whichever unit they sit in); else Http404."""
    if not _valid_id(pk):
        from django.http import Http404

        raise Http404
    event = events_visible(user).filter(pk=pk).first()
    if event is None and getattr(user, "is_authenticated", False) and not is_customer(user):
        event = (
            CreditEvent.objects.select_related("customer", "account")
            .filter(pk=pk, customer__customer_manager_id=user.pk)
            .first()
        )
    if event is None:
        from django.http import Http404

        raise Http404
    return event
