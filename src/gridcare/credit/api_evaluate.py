"""`POST /api/v1/credit/evaluate` (issue 17 "The rating, exactly"): rates the events it is given; stores nothing.

The what-if of the credit rating and the public face of the one rule (`gridcare.credit.rules`), which the monthly
runs call directly with each customer's active events. Any active staff user (a token or the console session);
anonymous 401, a customer (portal) user 403.

Input checks, in this order, each a 422 in the common shape `{"detail": [{"field", "message"}]}`:
- the schema (ninja): `customer_class` power|lighting, `as_of` and `customer_since` dates (both required),
  `events` a list of objects (at most `MAX_EVENTS`);
- the types the route checks itself, for every event and every field (all such errors at once): `code` a string,
  `date` "YYYY-MM-DD" (1900–2100), `severity` and `count` JSON integers (`2.0`, `"2"` and `true` are refused) or
  null, `conduct` and `potential` JSON numbers (decimals allowed) or null;
- the rule's own `validate()` (the first error it finds): unknown code, an event after `as_of`, `customer_since`
  after `as_of`, severity missing / outside 1–3 / on another code, count missing / below 1 / on another code,
  conduct or potential outside 0–5 or given (non-null) for a lighting customer.

Fields of an event are named `events[i].field` (i from 0), as the rule names them.

Numbers in the answer are JSON numbers rounded to 0.1; whole values are integers (`"max": 30`, `"points": -20`).
For power customers the total is the sum of the six dimensions as computed, graded as it is and shown rounded
half-up to 0.1 (conduct 4.25 shows 4.3 but adds 4.25: 30 + 20 + 30 + 10 + 4.25 + 2.05 = 96.3); for lighting
customers it is the sum of the two rounded 50-point scores, as the issue states.
"""

import math
import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema

from gridcare.core.api import LIST_ERRORS
from gridcare.core.validators import DATE_MAX

from . import rules
from .choices import EventCode
from .models import CreditPolicy
from .policy import thresholds

# A customer may have been connected long before 2000 (the project's DATE_MIN for records it writes): the what-if
# takes any day from 1900 (its 36-month look-back stays a valid date) to DATE_MAX.
EVAL_MIN = date(1900, 1, 1)


def _eval_range(value: date) -> date:
    if not EVAL_MIN <= value <= DATE_MAX:
        raise ValueError(_("日期须在 %(lo)s 至 %(hi)s 之间") % {"lo": EVAL_MIN, "hi": DATE_MAX})
    return value


EvalDate = Annotated[date, AfterValidator(_eval_range)]

router = Router(tags=["credit"])

MAX_EVENTS = 10_000  # one customer's what-if; the runs call the rule directly
INT_LIMIT = 2**63 - 1  # the API-wide integer range (core.api.dates_in_range)

ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
Day = date  # a field is called `date`
CODES = [c.value for c in EventCode]
Number = Annotated[Any, WithJsonSchema({"type": ["number", "null"], "minimum": 0, "maximum": 5})]
Whole = Annotated[Any, WithJsonSchema({"type": ["integer", "null"]})]
Shown = Annotated[int | float, WithJsonSchema({"type": "number"})]


class CreditEvaluateEventIn(BaseModel):
    """参与评价的一条事件：severity 仅用于 arrears（必填，1–3），count 仅用于 unqualified_electrician（必填，≥ 1），
    均须为 JSON 整数。"""

    # A plain pydantic model with loose types: the route checks every field itself so that `2.0`, `"2"` and `true`
    # are refused as integers and every error is named `events[i].field` (`checked_by_route` tells the API-wide
    # date walk, core.api.dates_in_range, to leave the list to the route).

    checked_by_route: ClassVar[bool] = True
    # code and date are required (the route says so when they are missing, as `events[i].code`).
    model_config = ConfigDict(json_schema_extra={"required": ["code", "date"]})

    code: Annotated[Any, WithJsonSchema({"type": "string", "enum": CODES})] = Field(
        None, description="事件代码，如 arrears、trip_branch、theft"
    )
    date: Annotated[Any, WithJsonSchema({"type": "string", "format": "date"})] = Field(
        None, description="事件日期 YYYY-MM-DD，不得晚于 as_of"
    )
    severity: Whole = Field(
        None, description="仅 arrears 必填：严重程度 1–3（JSON 整数）；其他代码须省略或为 null"
    )
    count: Whole = Field(
        None, description="仅 unqualified_electrician 必填：人次 ≥ 1（JSON 整数）；其他代码须省略或为 null"
    )


class CreditEvaluateIn(Schema):
    """信用评价试算的输入：客户类别、评价日、立户日期、经营行为与发展潜力（仅动力户）和事件清单。"""

    # Its dates (1900–2100, EvalDate / _day) and integers (strict, 64 bits) are checked here and in the route, not
    # by the API-wide 2000–2100 guard (core.api.dates_in_range): a customer may be connected before 2000.
    checked_by_route: ClassVar[bool] = True

    customer_class: Literal["power", "lighting"] = Field(
        ..., description="power = 动力户（六项）；lighting = 照明户（仅付款记录与法律信用，各 50 分）"
    )
    as_of: EvalDate = Field(..., description="评价日：计分窗口为 as_of − 12 个月（不含）至 as_of（含）")
    customer_since: EvalDate = Field(
        ..., description="立户日期，不得晚于 as_of（决定 clean_year 与 clean_three_years）"
    )
    conduct: Number = Field(
        None, description="经营行为 0–5（可含小数），仅动力户；省略或 null 为 0；照明户须省略或为 null"
    )
    potential: Number = Field(
        None, description="发展潜力 0–5（可含小数），仅动力户；省略或 null 为 0；照明户须省略或为 null"
    )
    events: list[CreditEvaluateEventIn] = Field(
        default_factory=list, max_length=MAX_EVENTS, description=f"参与评价的事件（最多 {MAX_EVENTS} 条）"
    )


class CreditEvaluateReasonOut(Schema):
    code: str = Field(..., description="事件代码；派生加分为 clean_year / clean_three_years")
    date: Day | None = Field(..., description="事件日期；派生加分为 null")
    points: Shown | None = Field(
        ..., description="该事件在截断前的分值（30 分制）；facility_damage 为 null（该项直接为 0）"
    )


class CreditEvaluateDimensionOut(Schema):
    name: Literal["payment", "safety", "legal", "cooperation", "conduct", "potential"] = Field(
        ...,
        description="依次为 payment、safety、legal、cooperation、conduct、potential；照明户仅 payment、legal",
    )
    score: Shown = Field(..., description="得分，四舍五入到 0.1（照明户为 50 分制）")
    max: Shown = Field(..., description="满分（照明户为 50）")
    reasons: list[CreditEvaluateReasonOut]


class CreditEvaluateOut(Schema):
    """评价结果：总分、等级，以及各项得分与扣加分原因（动力户六项，照明户仅付款记录与法律信用）。"""

    total: Shown = Field(..., description="总分：各项显示得分之和")
    grade: Literal["AAA", "AA", "A", "B", "C", "D"] = Field(
        ..., description="AAA / AA / A / B / C / D；付款记录或法律信用为 0 时为 D"
    )
    dimensions: list[CreditEvaluateDimensionOut]


# ---------------------------------------------------------------- input checks


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is a subclass of int: refused, as are 2.0 and "2"


def _day(raw: Any) -> date | None:
    if type(raw) is not str or not ISO_DAY.fullmatch(raw):
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        return None
    return value if EVAL_MIN <= value <= DATE_MAX else None


def _score(raw: Any, name: str, errors: dict[str, list[str]]) -> Decimal | None:
    if raw is None:
        return None
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | float)
        or (isinstance(raw, float) and not math.isfinite(raw))
    ):
        errors.setdefault(name, []).append(_("须为 0 到 5 之间的数字（可含小数）"))
        return None
    if isinstance(raw, int) and abs(raw) > INT_LIMIT:
        errors.setdefault(name, []).append(_("须为 0 到 5 之间的数字（可含小数）"))
        return None
    return Decimal(raw) if isinstance(raw, int) else Decimal(repr(raw))


def _events(items: list[CreditEvaluateEventIn], errors: dict[str, list[str]]) -> list[rules.Event]:
    out: list[rules.Event] = []
    for i, e in enumerate(items):
        where = f"events[{i}]"
        ok = True
        if e.code is None:
            errors.setdefault(f"{where}.code", []).append(_("必填"))
            ok = False
        elif type(e.code) is not str:
            errors.setdefault(f"{where}.code", []).append(_("须为事件代码（文本）"))
            ok = False
        day = _day(e.date)
        if e.date is None:
            errors.setdefault(f"{where}.date", []).append(_("必填"))
            ok = False
        elif day is None:
            errors.setdefault(f"{where}.date", []).append(
                _("须为有效的日期（YYYY-MM-DD，%(a)s 至 %(b)s）") % {"a": EVAL_MIN, "b": DATE_MAX}
            )
            ok = False
        for name in ("severity", "count"):
            value = getattr(e, name)
            if value is not None and (not _is_int(value) or abs(value) > INT_LIMIT):
                errors.setdefault(f"{where}.{name}", []).append(_('须为整数（JSON 整数，不接受 2.0 或 "2"）'))
                ok = False
        if ok:
            out.append(rules.Event(code=e.code, date=day, severity=e.severity, count=e.count))
    return out


def _rule_message(exc: rules.RuleError) -> str:
    """The rule's reason in the user's language (the rule itself speaks English)."""
    field, message = exc.field, exc.message
    tail = field.rsplit(".", 1)[-1]
    if message.startswith("unknown event code"):
        return _("未知的事件代码")
    if message == "is after as_of":
        return _("不能晚于评价日 as_of") if tail == "date" else _("立户日期不能晚于评价日 as_of")
    if message.startswith("is assessed for power customers only"):
        return _("仅动力户评价此项；照明户须省略或为 null")
    if message == "must be between 0 and 5":
        return _("须在 0 到 5 之间")
    if tail == "severity":
        if message.startswith("is required"):
            return _("拖欠电费（arrears）须填写严重程度 1–3")
        if message.startswith("must be"):
            return _("严重程度只能是 1、2 或 3")
        return _("严重程度仅适用于拖欠电费（arrears）")
    if tail == "count":
        if message.startswith("is required"):
            return _("进网作业电工资格不符（unqualified_electrician）须填写人次（≥ 1）")
        if message.startswith("must be"):
            return _("人次不能小于 1")
        return _("人次仅适用于进网作业电工资格不符（unqualified_electrician）")
    if tail == "customer_class":
        return _("只能是 power 或 lighting")
    return message


# ---------------------------------------------------------------- answer


def _thresholds() -> rules.Thresholds:
    """The policy's grade thresholds, read only: `policy.current_policy()` would create the row on a first
    read, and this route stores nothing. Without a row, the defaults (the row's own defaults)."""
    row = CreditPolicy.objects.filter(pk=1).first()
    return thresholds(row) if row is not None else rules.DEFAULT_THRESHOLDS


def shown(value: Decimal | None) -> int | float | None:
    """A JSON number rounded to 0.1: whole values as integers, others as the float of the quantized value."""
    if value is None:
        return None
    q = rules.tenth(value)
    return int(q) if q == q.to_integral_value() else float(q)


def rating_out(rating: rules.Rating) -> dict[str, Any]:
    return {
        "total": shown(rating.total),
        "grade": rating.grade,
        "dimensions": [
            {
                "name": str(d.name),
                "score": shown(d.score),
                "max": shown(d.max),
                "reasons": [
                    {"code": str(r.code), "date": r.date, "points": shown(r.points)} for r in d.reasons
                ],
            }
            for d in rating.dimensions
        ],
    }


@router.post(
    "/credit/evaluate",
    response={200: CreditEvaluateOut, **LIST_ERRORS},
    summary="信用评价试算（不保存）",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {
                        "customer_class": "power",
                        "as_of": "2026-12-01",
                        "customer_since": "2015-03-01",
                        "conduct": 4,
                        "potential": 3,
                        "events": [
                            {"code": "arrears", "date": "2026-05-20", "severity": 2},
                            {"code": "arrears_cleared_next_month", "date": "2026-06-10"},
                            {"code": "unqualified_electrician", "date": "2026-02-01", "count": 2},
                        ],
                    }
                }
            }
        }
    },
)
def credit_evaluate(request, payload: CreditEvaluateIn):
    """Rate the supplied events by seed 003 §1 (issue 17 "The rating, exactly") without storing anything.

    - Window: an event scores when as_of − 12 calendar months < date ≤ as_of (the 36-month safety bonus:
      as_of − 36 months < date ≤ as_of); months keep the day number, clamped to the month's end.
    - Each dimension starts at its maximum (payment 30, safety 20, legal 30, cooperation 10, conduct 5,
      potential 5), adds its events' points and is clamped to [0, max]. `facility_damage` makes legal 0.
    - Lighting (照明户): payment and legal only, each 50 × score / 30 rounded half-up to 0.1.
    - Grade: ≥ 90 AAA, ≥ 80 AA, ≥ 70 A, ≥ 60 B, ≥ 50 C, else D (the policy's thresholds); payment or legal 0
      makes it D whatever the total.
    - Reasons: one per event in the window with its points before clamping (capped codes: by date, then request
      order), plus `clean_year` / `clean_three_years` (date null) whenever their condition holds.

    Staff only: anonymous 401, a customer 403. Bad input: 422 naming the field (`events[1].severity`)."""
    if not getattr(request.user, "is_staff_user", False) or not request.user.is_active:
        raise HttpError(403, _("仅限员工使用"))
    errors: dict[str, list[str]] = {}
    conduct = _score(payload.conduct, "conduct", errors)
    potential = _score(payload.potential, "potential", errors)
    events = _events(payload.events, errors)
    if errors:
        raise ValidationError(errors)
    try:
        rules.validate(
            rated_class=payload.customer_class,
            as_of=payload.as_of,
            customer_since=payload.customer_since,
            conduct=conduct,
            potential=potential,
            events=events,
        )
    except rules.RuleError as exc:
        raise ValidationError({exc.field: [_rule_message(exc)]}) from None
    rating = rules.evaluate(
        rated_class=payload.customer_class,
        as_of=payload.as_of,
        customer_since=payload.customer_since,
        conduct=conduct,
        potential=potential,
        events=events,
        thresholds=_thresholds(),
    )
    return rating_out(rating)
