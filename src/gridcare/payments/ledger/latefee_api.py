"""Late-fee what-if API (issue 10 §3): `POST /late-fee/calculate`.

Replays a bill's payments with the rule the ledger applies (`latefee.late_fee_calculate`, built on
`latefee.payment_apply`) and answers each payment's late fee and principal and where the bill stands on
`as_of`. Stores nothing and writes no audit row (nothing changes). Any staff role may call it (token or
console session); a customer of the portal gets 403, no credentials 401. Bad input answers 422 naming the
field (`payments.0.amount`, …).

Choices where the rule is silent:
- `as_of` before the due date is allowed: nothing is overdue, no fee is due.
- A payment dated after `as_of` is refused; payments are applied in date order (the given order within a
  day), fee before principal; at most 366 payments.
- A payment smaller than the fee owed pays fee only; what it does not cover stays due and is counted in
  `late_fee_due`, which is what settling on `as_of` would add to `late_fee_total` (the fee paid).
"""

import re
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.errors import HttpError

from gridcare.core.api import ErrorOut, Text, ValidationErrorOut
from gridcare.core.validators import date_range_message
from gridcare.customers.choices import CustomerClass

from .latefee import MAX_PAYMENTS, late_fee_calculate
from .services import clean_amount

router = Router(tags=["payments"])

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class LateFeePaymentIn(Schema):
    date: Text = Field(..., max_length=10, examples=["2026-11-21"], description="缴费日期 YYYY-MM-DD")
    amount: Text = Field(..., max_length=20, examples=["1.00"], description="缴费金额（元，两位小数）")


class LateFeeIn(Schema):
    customer_class: Text = Field(
        ...,
        max_length=20,
        examples=["residential"],
        description="用电类别：" + " / ".join(CustomerClass.values),
    )
    period: Text = Field(..., max_length=7, examples=["2026-10"], description="账期 YYYY-MM（电费所属年月）")
    due_date: Text = Field(..., max_length=10, examples=["2026-11-20"], description="缴费截止日 YYYY-MM-DD")
    principal: Text = Field(..., max_length=20, examples=["100.00"], description="应收电费（元）")
    as_of: Text = Field(..., max_length=10, examples=["2026-12-20"], description="计算截至日 YYYY-MM-DD")
    payments: list[LateFeePaymentIn] = Field(default_factory=list, description="缴费记录，最多 366 笔")


class LateFeeChargeOut(Schema):
    date: date
    late_fee: Decimal = Field(..., description="该笔缴费中用于违约金的金额")
    principal: Decimal = Field(..., description="该笔缴费中用于电费本金的金额")


class LateFeeOut(Schema):
    charges: list[LateFeeChargeOut]
    late_fee_total: Decimal = Field(..., description="各笔缴费已收违约金合计")
    principal_outstanding: Decimal = Field(..., description="截至 as_of 未缴电费本金")
    late_fee_due: Decimal = Field(..., description="若于 as_of 结清，还需缴纳的违约金（含不足1元补足部分）")
    credit: Decimal = Field(..., description="超出本账单的金额（预存）")


def _parse_date(raw: str, field: str, errs: dict[str, list[str]]) -> date | None:
    text = raw.strip()
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        errs.setdefault(field, []).append(_("日期格式应为 YYYY-MM-DD：%(v)s") % {"v": text[:10]})
        return None
    out_of_range = date_range_message(value)
    if out_of_range:
        errs.setdefault(field, []).append(out_of_range)
        return None
    return value


def _parse_amount(raw: str, field: str, errs: dict[str, list[str]]) -> Decimal | None:
    try:
        return clean_amount(raw, field)
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errs.setdefault(key, []).extend(messages)
        return None


def _clean(payload: LateFeeIn) -> dict:
    """The payload as plain values for `late_fee_calculate`; ValidationError naming each bad field."""
    errs: dict[str, list[str]] = {}
    klass = payload.customer_class.strip()
    if klass not in CustomerClass.values:
        errs["customer_class"] = [
            _("未知的用电类别：%(c)s（应为 %(all)s）")
            % {"c": klass[:20], "all": " / ".join(CustomerClass.values)}
        ]
    period_start = None
    m = _PERIOD.fullmatch(payload.period.strip())
    if m and int(m.group(1)) >= 1:
        period_start = date(int(m.group(1)), int(m.group(2)), 1)
    else:
        errs["period"] = [_("账期格式应为 YYYY-MM")]
    due_date = _parse_date(payload.due_date, "due_date", errs)
    if due_date and period_start and due_date < period_start:
        errs.setdefault("due_date", []).append(
            _("缴费截止日不能早于账期 %(p)s") % {"p": f"{period_start:%Y-%m}"}
        )
    principal = _parse_amount(payload.principal, "principal", errs)
    as_of = _parse_date(payload.as_of, "as_of", errs)
    payments = []
    if len(payload.payments) > MAX_PAYMENTS:
        errs["payments"] = [_("缴费记录最多 %(n)s 笔") % {"n": MAX_PAYMENTS}]
    else:
        for i, p in enumerate(payload.payments):
            on = _parse_date(p.date, f"payments.{i}.date", errs)
            amount = _parse_amount(p.amount, f"payments.{i}.amount", errs)
            if on and as_of and on > as_of:
                errs.setdefault(f"payments.{i}.date", []).append(
                    _("缴费日期 %(d)s 晚于计算截至日 as_of") % {"d": on.isoformat()}
                )
            payments.append((on, amount))
    if errs:
        raise ValidationError(errs)
    if period_start is None:  # not reached: a bad period is in errs (this narrows the type)
        raise ValidationError({"period": [_("账期格式应为 YYYY-MM")]})
    return {
        "customer_class": klass,
        "bill_year": period_start.year,
        "due_date": due_date,
        "principal": principal,
        "payments": payments,
        "as_of": as_of,
    }


@router.post(
    "/late-fee/calculate",
    response={200: LateFeeOut, 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut},
    summary="违约金试算（不保存）",
)
def late_fee_calculate_api(request, payload: LateFeeIn):
    """What a bill's late fee comes to under 供电营业规则 art. 98 for the given payments, computed by the
    function the ledger uses; stores nothing. Any staff role."""
    if not getattr(request.user, "is_staff_user", False):
        raise HttpError(403, _("违约金试算仅供工作人员使用"))
    calc = late_fee_calculate(**_clean(payload))
    return {
        "charges": [{"date": c.on, "late_fee": c.late_fee, "principal": c.principal} for c in calc.charges],
        "late_fee_total": calc.late_fee_total,
        "principal_outstanding": calc.principal_outstanding,
        "late_fee_due": calc.late_fee_due,
        "credit": calc.credit,
    }
