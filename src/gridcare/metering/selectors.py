"""Reads for metering; every one takes the user and applies unit scoping (missing and forbidden look alike)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.http import Http404

from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404, restrict
from gridcare.customers.models import Account, Meter

from .choices import ReadStatus
from .models import MeterRead, Route, RouteMembership


def routes_visible(*, user) -> QuerySet[Route]:
    return restrict(Route.objects.select_related("unit", "reader"), user, Perm.METER_EDIT)


def route_get(*, user, pk: Any) -> Route:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    return get_or_404(routes_visible(user=user), pk=pk)


def reads_visible(*, user, perm: str = Perm.METER_EDIT) -> QuerySet[MeterRead]:
    return restrict(MeterRead.objects.select_related("meter", "account"), user, perm)


def read_get(*, user, pk: Any) -> MeterRead:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    return get_or_404(reads_visible(user=user), pk=pk)


def exceptions_visible(*, user) -> QuerySet[MeterRead]:
    """The exceptions queue: flagged reads of the caller's units, oldest first."""
    return reads_visible(user=user).filter(status=ReadStatus.FLAGGED).order_by("read_at", "id")


def meter_get(*, user, asset_number: str, perm: str = Perm.METER_EDIT) -> Meter:
    return get_or_404(
        restrict(Meter.objects.select_related("service_point__account"), user, perm),
        asset_number=asset_number,
    )


def meter_reads(*, meter: Meter) -> QuerySet[MeterRead]:
    """A meter's reads, newest first."""
    return MeterRead.objects.filter(meter=meter).order_by("-read_at", "-id")


def last_read(*, meter_id: int) -> MeterRead | None:
    return MeterRead.objects.filter(meter_id=meter_id).order_by("-read_at").first()


def account_meter(account: Account) -> Meter | None:
    """The meter in service for an account (the latest installed one not removed)."""
    return (
        Meter.objects.filter(service_point__account=account, removed_on__isnull=True)
        .select_related("service_point__account")
        .order_by("-installed_on", "-id")
        .first()
    )


def route_stop(*, route: Route, position: int) -> dict[str, Any] | None:
    """The walk's stop at or after `position` (a sequence number): account, meter, last read, next position."""
    membership = (
        RouteMembership.objects.filter(route=route, sequence__gte=position)
        .select_related("account__premise", "account__customer")
        .order_by("sequence", "id")
        .first()
    )
    if membership is None:
        return None
    meter = account_meter(membership.account)
    total = RouteMembership.objects.filter(route=route).count()
    done_before = RouteMembership.objects.filter(route=route, sequence__lt=membership.sequence).count()
    return {
        "membership": membership,
        "account": membership.account,
        "meter": meter,
        "last_read": last_read(meter_id=meter.pk) if meter else None,
        "next_position": membership.sequence + 1,
        "index": done_before + 1,
        "count": total,
    }


def account_period_consumption(*, account: Account, start: datetime, end: datetime) -> Decimal:
    """kWh of an account's reads in (start, end]: across a meter exchange this is the old meter's final
    advance plus the new meter's advance since its initial read."""
    total = (
        MeterRead.objects.filter(
            account=account, read_at__gt=start, read_at__lte=end, consumption__isnull=False
        )
        .exclude(status=ReadStatus.FLAGGED)
        .aggregate(s=Sum("consumption"))["s"]
    )
    return total or Decimal("0.00")
