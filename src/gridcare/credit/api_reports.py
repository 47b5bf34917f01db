"""Credit reports and policy API (issue 17 §4–5), mounted at /api/v1/ by gridcare/api.py.

Reports (credit.view; others 403; scoped to the caller's unit subtree by the scores' unit when rated — a `unit_id`
outside it, or missing, 404):
- `GET /credit/reports/grades?unit_id=&rated_class=&month=&from=&to=`: grade counts of one month's run by direct
  child unit and by rated class, and each grade's share by month (`reports.grade_distribution`);
- `GET /credit/reports/movers?unit_id=&rated_class=&from=&to=&direction=&page=`: grades that rose or fell
  between two monthly runs (default the latest two), largest move first, 50 a page;
- `GET /credit/reports/d-list?unit_id=&rated_class=&month=&page=`: D customers of a monthly run (default the
  latest) with their measures and the reasons that cost points, 50 a page.
Months are `YYYY-MM`; `rated_class` is power or lighting; `direction` up or down. A bad value: 422 naming the
field (a month without a finished monthly run included).

Policy (credit.admin; others 403):
- `GET /credit/policy`: the policy and whether the caller may change it;
- `PUT /credit/policy`: change the fields given (omitted ones stay) — company-level credit.admin only (a
  bureau's manager: 403); 422 naming each bad field, nothing written; audited `credit.policy_update`.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from gridcare.core.api import ErrorOut, Text, ValidationErrorOut, api_actor, require_perm
from gridcare.core.permissions import Perm

from . import policy_edit, reports
from .policy import current_policy

router = Router(tags=["credit"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


class CreditReportGradesFilters(Schema):
    unit_id: Text | None = Field(None, max_length=20, description="供电单位 id；默认本人所在单位")
    rated_class: Text | None = Field(None, max_length=10, description="power（动力户）或 lighting（照明户）")
    month: Text | None = Field(None, max_length=7, description="评价月份 YYYY-MM；默认最近一次月度评价")
    date_from: Text | None = Field(None, alias="from", max_length=7, description="趋势起始月份 YYYY-MM")
    date_to: Text | None = Field(None, alias="to", max_length=7, description="趋势截止月份 YYYY-MM")


class CreditReportMoversFilters(Schema):
    unit_id: Text | None = Field(None, max_length=20, description="供电单位 id；默认本人所在单位")
    rated_class: Text | None = Field(None, max_length=10, description="power 或 lighting")
    date_from: Text | None = Field(None, alias="from", max_length=7, description="比较的前一个月份 YYYY-MM")
    date_to: Text | None = Field(None, alias="to", max_length=7, description="比较的后一个月份 YYYY-MM")
    direction: Text | None = Field(None, max_length=10, description="up（上升）或 down（下降）")
    page: Text | None = Field(None, max_length=10, description="页码，从 1 开始（每页 50 条）")


class CreditReportDListFilters(Schema):
    unit_id: Text | None = Field(None, max_length=20, description="供电单位 id；默认本人所在单位")
    rated_class: Text | None = Field(None, max_length=10, description="power 或 lighting")
    month: Text | None = Field(None, max_length=7, description="评价月份 YYYY-MM；默认最近一次月度评价")
    page: Text | None = Field(None, max_length=10, description="页码，从 1 开始（每页 50 条）")


class CreditReportUnitOut(Schema):
    id: int
    name: str


class CreditReportCountsOut(Schema):
    counts: dict[str, int]
    shares: dict[str, float | None] = Field(..., description="各等级占比（%，保留1位小数）")
    total: int


class CreditReportUnitRowOut(CreditReportCountsOut):
    unit: CreditReportUnitOut


class CreditReportClassRowOut(CreditReportCountsOut):
    rated_class: str
    label: str


class CreditReportTrendOut(CreditReportCountsOut):
    month: str
    as_of: date


class CreditReportGradesOut(Schema):
    unit: CreditReportUnitOut
    rated_class: str | None
    grades: list[str]
    months: list[str] = Field(..., description="有已完成月度评价的月份，新的在前")
    month: str | None
    as_of: date | None
    rows: list[CreditReportUnitRowOut]
    total: CreditReportCountsOut
    by_class: list[CreditReportClassRowOut]
    trend: list[CreditReportTrendOut]


class CreditReportMoverOut(Schema):
    customer_id: int
    customer_name: str
    unit_id: int
    unit_name: str
    rated_class: str
    before: str
    after: str
    direction: str
    steps: int
    total: Decimal


class CreditReportMoversOut(Schema):
    unit: CreditReportUnitOut
    before_month: str | None
    after_month: str | None
    count: int
    page: int
    page_size: int
    items: list[CreditReportMoverOut]


class CreditReportDRowOut(Schema):
    customer_id: int
    customer_name: str
    unit_id: int
    unit_name: str
    rated_class: str
    total: Decimal
    payment: Decimal
    legal: Decimal
    measures: list[str]
    measure_labels: list[str]
    reasons: str


class CreditReportDListOut(Schema):
    unit: CreditReportUnitOut
    month: str | None
    as_of: date | None
    measures: list[str]
    count: int
    page: int
    page_size: int
    items: list[CreditReportDRowOut]


def _floats(doc: dict) -> dict:
    def fix(row: dict) -> dict:
        row["shares"] = {g: (float(v) if v is not None else None) for g, v in row["shares"].items()}
        return row

    for row in [*doc["rows"], doc["total"], *doc["by_class"], *doc["trend"]]:
        fix(row)
    return doc


@router.get("/credit/reports/grades", response={200: CreditReportGradesOut, **ERRORS}, summary="信用等级分布")
def credit_report_grades(request, filters: Query[CreditReportGradesFilters]):
    require_perm(request, Perm.CREDIT_VIEW)
    doc = reports.grade_distribution(
        user=request.user,
        unit_id=filters.unit_id,
        rated_class=filters.rated_class,
        month=filters.month,
        date_from=filters.date_from,
        date_to=filters.date_to,
    )
    return _floats(doc)


def _page(raw) -> int:
    errors: dict[str, list[str]] = {}
    page = reports.parse_page(raw, errors)
    reports.raise_errors(errors)
    return page


@router.get(
    "/credit/reports/movers", response={200: CreditReportMoversOut, **ERRORS}, summary="信用等级升降客户"
)
def credit_report_movers(request, filters: Query[CreditReportMoversFilters]):
    require_perm(request, Perm.CREDIT_VIEW)
    page = _page(filters.page)
    result = reports.movers(
        user=request.user,
        unit_id=filters.unit_id,
        rated_class=filters.rated_class,
        date_from=filters.date_from,
        date_to=filters.date_to,
        direction=filters.direction,
    )
    count, items = reports.page_of(result.rows, page)
    return {
        "unit": reports.unit_out(result.unit),
        "before_month": result.before.period if result.before else None,
        "after_month": result.after.period if result.after else None,
        "count": count,
        "page": page,
        "page_size": reports.PAGE_SIZE,
        "items": reports.mover_rows(items, result.units),
    }


@router.get("/credit/reports/d-list", response={200: CreditReportDListOut, **ERRORS}, summary="D级客户清单")
def credit_report_d_list(request, filters: Query[CreditReportDListFilters]):
    require_perm(request, Perm.CREDIT_VIEW)
    page = _page(filters.page)
    result = reports.d_list(
        user=request.user, unit_id=filters.unit_id, rated_class=filters.rated_class, month=filters.month
    )
    count, items = reports.page_of(result.rows, page)
    return {
        "unit": reports.unit_out(result.unit),
        "month": result.run.period if result.run else None,
        "as_of": result.run.as_of if result.run else None,
        "measures": result.measures,
        "count": count,
        "page": page,
        "page_size": reports.PAGE_SIZE,
        "items": reports.d_rows(items, result.measures, result.units),
    }


# ---------------------------------------------------------------- the policy


class CreditReportPolicyOut(Schema):
    grace_days: int
    grade_aaa: Decimal
    grade_aa: Decimal
    grade_a: Decimal
    grade_b: Decimal
    grade_c: Decimal
    lighting_classes: list[str]
    measures: dict[str, list[str]]
    wrong_account_codes: list[str]
    dunning_advance_days: int
    inspect_hv_months: int
    inspect_important_months: int
    inspect_lv_business_months: int
    rectification_days: int
    assessment_months: int
    updated_at: datetime | None
    may_edit: bool


class CreditReportPolicyIn(Schema):
    """Fields to change; omitted ones stay as they are."""

    grace_days: int | None = Field(None, description="欠费宽限天数 0–365")
    grade_aaa: Decimal | None = Field(None, description="AAA级最低分（0, 100]，五个分数线严格递减")
    grade_aa: Decimal | None = None
    grade_a: Decimal | None = None
    grade_b: Decimal | None = None
    grade_c: Decimal | None = None
    lighting_classes: list[Text] | None = Field(None, description="按照明户评价的用电类别")
    measures: dict[Text, list[Text]] | None = Field(None, description="等级 → 风险措施列表")
    wrong_account_codes: list[Text] | None = Field(None, description="表示账号错误的银行返回码（4位数字）")
    dunning_advance_days: int | None = Field(None, description="C级提前催费天数 0–365")
    inspect_hv_months: int | None = Field(None, description="高压客户检查周期（月）1–120")
    inspect_important_months: int | None = Field(None, description="重要客户检查周期（月）1–120")
    inspect_lv_business_months: int | None = Field(None, description="低压非居民检查周期（月）1–120")
    rectification_days: int | None = Field(None, description="默认整改期限（天）1–365")
    assessment_months: int | None = Field(None, description="现场评估周期（月）1–12")


def _policy_out(request) -> dict[str, Any]:
    p = current_policy()
    return {
        **policy_edit.snapshot(p),
        "updated_at": p.updated_at,
        "may_edit": policy_edit.may_edit(request.user),
    }


@router.get("/credit/policy", response={200: CreditReportPolicyOut, **ERRORS}, summary="信用评价参数")
def credit_policy_get(request):
    require_perm(request, Perm.CREDIT_ADMIN)
    return _policy_out(request)


@router.put("/credit/policy", response={200: CreditReportPolicyOut, **ERRORS}, summary="修改信用评价参数")
def credit_policy_put(request, payload: CreditReportPolicyIn):
    require_perm(request, Perm.CREDIT_ADMIN)
    if not policy_edit.may_edit(request.user):
        raise HttpError(403, _("信用评价参数全公司统一，仅公司级管理员可以修改"))
    data = payload.model_dump(exclude_unset=True)
    policy_edit.policy_update(actor=api_actor(request), data=data)
    return _policy_out(request)
