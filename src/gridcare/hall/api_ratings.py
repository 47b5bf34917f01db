"""Staff API of the evaluation devices (issue 16 §6). Mounted at /api/v1/ by gridcare/api.py. The device itself
posts its form to its page (`/hall/d/<key>/evaluate/`), so it has no API route.

- `GET /halls/performance?month=YYYY-MM&hall_id=<id>` (hall.report; 403 otherwise): the staff performance report
  by clerk for the month (default this China month) over the caller's halls, or the one hall (404 when outside
  the caller's units). Rates and Wilson bounds are unrounded floats, average minutes a decimal string ("5.25").
- `GET /halls/follow-ups?hall_id=&status=open|closed` (hall.manage; 403 otherwise): the 不满意 ratings to follow up.
- `POST /halls/follow-ups/{id}/close` {"note"} (hall.manage): record what was done and close the item (audited
  `hall.follow_up_close`); 404 for an item outside the caller's units, 422 for a missing note or a closed item."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from gridcare.core.api import (
    LIST_ERRORS,
    WRITE_ERRORS,
    ErrorOut,
    PageParams,
    Text,
    api_actor,
    paginate,
    require_object_perm,
    require_perm,
)
from gridcare.core.permissions import Perm

from . import performance, ratings
from .choices import FollowUpStatus
from .opening import CHINA

router = Router(tags=["hall"])
ERRORS = {**LIST_ERRORS, 404: ErrorOut}


class PerformanceFilters(Schema):
    month: Text | None = Field(None, max_length=7, description="月份 YYYY-MM（默认本月）")
    hall_id: Text | None = Field(
        None, max_length=12, description="营业厅 id（默认本人单位及下级的全部营业厅）"
    )


@router.get(
    "/halls/performance", response={200: dict[str, Any], **ERRORS}, summary="营业厅员工绩效（按柜员、月）"
)
def halls_performance(request, filters: Query[PerformanceFilters]):
    require_perm(request, Perm.HALL_REPORT)
    month, errors = performance.parse_month(filters.month, timezone.now().astimezone(CHINA).date())
    hall_id, hall_errors = performance.parse_hall_id(filters.hall_id)
    errors.update(hall_errors)
    if errors:
        raise ValidationError(errors)
    doc = performance.performance_report(user=request.user, month=month, hall_id=hall_id)
    if doc is None:
        raise Http404
    return performance.report_json(doc)


class FollowUpFilters(Schema):
    hall_id: Text | None = Field(None, max_length=12, description="营业厅 id")
    status: FollowUpStatus | None = Field(None, description="open 待跟进 / closed 已处理（默认全部）")


class FollowUpOut(Schema):
    id: int
    status: str
    hall_id: int
    hall: str
    counter: str
    ticket: str
    category: str
    clerk: str | None
    score: str
    reason: str
    rated_at: datetime
    handled_by: str | None
    handled_at: datetime | None
    note: str


class FollowUpPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[FollowUpOut]


def _name(user) -> str | None:
    return None if user is None else (user.display_name or user.username)


def follow_up_row(f) -> dict[str, Any]:
    r = f.rating
    return {
        "id": f.pk,
        "status": f.status,
        "hall_id": r.hall_id,
        "hall": r.hall.name,
        "counter": r.counter.name or str(r.counter.number),
        "ticket": r.ticket.number,
        "category": r.ticket.category.name,
        "clerk": _name(r.clerk),
        "score": r.score,
        "reason": r.reason,
        "rated_at": r.rated_at,
        "handled_by": _name(f.handled_by),
        "handled_at": f.handled_at,
        "note": f.note,
    }


@router.get("/halls/follow-ups", response={200: FollowUpPage, **LIST_ERRORS}, summary="不满意评价跟进列表")
def halls_follow_ups(request, filters: Query[FollowUpFilters], paging: Query[PageParams]):
    require_perm(request, Perm.HALL_MANAGE)
    hall_id, errors = performance.parse_hall_id(filters.hall_id)
    if errors:
        raise ValidationError(errors)
    qs = performance.follow_ups_filter(
        performance.follow_ups_for(request.user), hall_id=hall_id, status=filters.status
    )
    return paginate(qs, paging, follow_up_row)


class FollowUpCloseIn(Schema):
    note: Text = Field(..., max_length=500, description="处理情况")


@router.post(
    "/halls/follow-ups/{follow_up_id}/close",
    response={200: FollowUpOut, **WRITE_ERRORS},
    summary="记录处理情况并关闭跟进",
)
def halls_follow_up_close(request, follow_up_id: int, payload: FollowUpCloseIn):
    require_object_perm(request, Perm.HALL_MANAGE)
    item = performance.follow_up_for(request.user, follow_up_id)
    if item is None:
        raise Http404
    ratings.follow_up_close(follow_up=item, note=payload.note, actor=api_actor(request))
    return follow_up_row(item)
