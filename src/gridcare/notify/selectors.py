"""Reads of the outbox, scoped to the user's units (missing and forbidden look the same)."""

from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, Q, QuerySet

from gridcare.core.masking import mask_email, mask_openid, mask_phone
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import get_or_404, restrict

from .choices import NotificationStatus, NotifyChannel
from .models import Campaign, Notification

if TYPE_CHECKING:  # django-stubs-ext is a development dependency (it comes with django-stubs)
    from django_stubs_ext import WithAnnotations

RECENT = 20


class DeliveryCounts(TypedDict):
    """The counts `with_delivery_counts` adds to each campaign."""

    n_total: int
    n_sent: int
    n_pending: int
    n_dead: int
    n_suppressed: int


def mask_recipient(channel: str, recipient: str) -> str:
    if channel == NotifyChannel.SMS:
        return mask_phone(recipient)
    if channel == NotifyChannel.EMAIL:
        return mask_email(recipient)
    return mask_openid(recipient)


def notifications_for_customer(
    *, user, customer_id: int, limit: int = RECENT, reveal: bool = False
) -> list[Notification]:
    """The customer's last `limit` notices, newest first (one query), with `shown_recipient` masked (phone,
    e-mail, WeChat openid) like the rest of the customer page: unmasked only when `reveal` (the caller has
    audited the reveal, `customers.services.pii_reveal`) and the user holds customer.view_pii.
    A customer the user may not see has no notices."""
    rows = list(
        restrict(Notification.objects.all(), user, Perm.CUSTOMER_VIEW)
        .filter(customer_id=customer_id)
        .only(
            "id",
            "kind",
            "channel",
            "recipient",
            "status",
            "suppressed_reason",
            "attempts",
            "sent_at",
            "last_error",
            "created_at",
            "not_before",
            "customer_id",
            "unit_id",
        )
        .order_by("-created_at", "-id")[:limit]
    )
    pii = reveal and has_perm(user, Perm.CUSTOMER_VIEW_PII)
    for n in rows:
        n.shown_recipient = n.recipient if pii else mask_recipient(n.channel, n.recipient)
    return rows


def with_delivery_counts(qs: QuerySet[Campaign]) -> "QuerySet[WithAnnotations[Campaign, DeliveryCounts]]":
    """Campaigns with their notices counted by status, in the one query (n_total, n_sent, n_pending, …)."""
    s = NotificationStatus
    return qs.annotate(
        n_total=Count("notifications"),
        n_sent=Count("notifications", filter=Q(notifications__status=s.SENT)),
        n_pending=Count("notifications", filter=Q(notifications__status__in=[s.PENDING, s.RETRYING])),
        n_dead=Count("notifications", filter=Q(notifications__status=s.DEAD)),
        n_suppressed=Count("notifications", filter=Q(notifications__status=s.SUPPRESSED)),
    ).order_by("-created_at", "-id")


def campaigns_visible(*, user) -> QuerySet[Campaign]:
    """Campaigns of the user's unit subtree (notify.campaign), with delivery counts."""
    return with_delivery_counts(
        restrict(Campaign.objects.select_related("unit", "created_by"), user, Perm.NOTIFY_CAMPAIGN)
    )


def campaign_get(*, user, pk: int) -> Campaign:
    return get_or_404(campaigns_visible(user=user), pk=pk)
