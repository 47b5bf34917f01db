"""Service reports API of the 95598 service (issue 15 §9). Mounted at /api/v1/ by gridcare/api.py.

`GET /service/reports?from=YYYY-MM-DD&to=YYYY-MM-DD&unit=<id>`, staff with workorder.view (403 otherwise,
customers included): every figure of the reports page as JSON (`reports.service_report`) for the unit with its
descendants (default the caller's unit) and the period (default the last 12 months). Rates and averages are
exact decimal strings rounded half-up to 0.01 ("97.35"), or null when nothing was counted. Bad dates or a period
over ten years → 422 naming `from` / `to`; a bad unit → 422 `unit`; a unit outside the caller's subtree → 404."""

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from gridcare.core.api import ErrorOut, Text, ValidationErrorOut, require_perm
from gridcare.core.permissions import Perm

from . import reports

router = Router(tags=["service-reports"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


class ReportFilters(Schema):
    date_from: Text | None = Field(None, alias="from", max_length=10, description="起始日期 YYYY-MM-DD")
    date_to: Text | None = Field(None, alias="to", max_length=10, description="截止日期 YYYY-MM-DD")
    unit: Text | None = Field(None, max_length=12, description="供电单位 id（含下级）")


@router.get(
    "/service/reports",
    response={200: dict[str, Any], **ERRORS},
    summary="客服报表（工单量、时限按时率、每万户投诉、回访满意率、到达与修复时长）",
)
def service_reports_get(request, filters: Query[ReportFilters]):
    require_perm(request, Perm.WORKORDER_VIEW)
    now = timezone.now()
    first, last, errs = reports.parse_period(filters.date_from, filters.date_to, timezone.localdate(now))
    unit_id = None
    if filters.unit:
        if not (
            filters.unit.isascii() and filters.unit.isdigit()
        ):  # "²" is a digit to str.isdigit, not to int
            errs["unit"] = [_("供电单位应为单位编号（整数 id）")]
        else:
            unit_id = int(filters.unit)
    if errs:
        raise ValidationError(errs)
    doc = reports.service_report(user=request.user, unit_id=unit_id, first=first, last=last, as_of=now)
    return reports.report_json(doc)
