"""Collection report API (SPEC C3 KPIs, stats.view, scoped to the caller's units): collection rate by unit
for a billing month, arrears ageing as of a date, channel mix for a date range."""

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema

from gridcare.core.api import LIST_ERRORS, require_perm
from gridcare.core.permissions import Perm
from gridcare.core.validators import BoundedDate

from . import selectors as reports

router = Router(tags=["payments"])


class CollectionOut(Schema):
    unit_id: int
    unit_name: str
    bills: int
    billed: Decimal
    collected: Decimal
    rate_percent: Decimal


class AgeingOut(Schema):
    bucket: str
    bills: int
    amount: Decimal


class ChannelOut(Schema):
    channel: str
    payments: int
    amount: Decimal


@router.get("/reports/collection-rate", response={200: list[CollectionOut], **LIST_ERRORS}, tags=["reports"])
def report_collection_rate(request, period: str):
    """电费回收率 by unit for a billing month (`period` YYYY-MM): principal billed, collected so far, rate in %."""
    require_perm(request, Perm.STATS_VIEW)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise ValidationError({"period": [_("账期格式应为 YYYY-MM")]})
    return [
        {
            "unit_id": r.unit_id,
            "unit_name": r.unit_name,
            "bills": r.bills,
            "billed": r.billed,
            "collected": r.collected,
            "rate_percent": r.rate,
        }
        for r in reports.collection_rate(user=request.user, period=period)
    ]


@router.get("/reports/arrears-ageing", response={200: list[AgeingOut], **LIST_ERRORS}, tags=["reports"])
def report_arrears_ageing(request, as_of: BoundedDate | None = None):
    """Outstanding principal by days past due: 0–30, 31–90, 91–365, over 365."""
    require_perm(request, Perm.STATS_VIEW)
    return reports.arrears_ageing(user=request.user, as_of=as_of or timezone.localdate())


@router.get("/reports/channel-mix", response={200: list[ChannelOut], **LIST_ERRORS}, tags=["reports"])
def report_channel_mix(request, date_from: BoundedDate, date_to: BoundedDate):
    """Posted payments by channel between two dates (inclusive)."""
    require_perm(request, Perm.STATS_VIEW)
    if date_to < date_from:
        raise ValidationError({"date_to": [_("结束日期不能早于开始日期")]})
    return reports.channel_mix(user=request.user, date_from=date_from, date_to=date_to)
