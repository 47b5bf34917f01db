"""Validators for the identifiers a Chinese utility handles: 户号, 身份证号, 统一社会信用代码, phones."""

import re
from datetime import date
from typing import Annotated

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from pydantic import AfterValidator

ACCOUNT_NUMBER_RE = re.compile(r"^\d{10}$")
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character for the first 17 digits of a resident ID number."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_id_number(value: str) -> str:
    """Validate an 18-digit mainland resident ID number; returns it upper-cased."""
    value = (value or "").strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise ValidationError(_("身份证号必须是18位，前17位为数字，末位为数字或X"), code="id_format")
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(_("身份证号中的出生日期无效"), code="id_birthdate") from None
    if id_check_digit(value[:17]) != value[17]:
        raise ValidationError(_("身份证号校验位错误"), code="id_check_digit")
    return value


# GB 32100-2015 unified social credit code: 18 chars from this alphabet (no I, O, S, V, Z).
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    value = (value or "").strip().upper()
    if len(value) != 18 or any(c not in _USCC_ALPHABET for c in value):
        raise ValidationError(
            _("统一社会信用代码必须是18位数字或大写字母（不含I、O、S、V、Z）"), code="uscc_format"
        )
    if uscc_check_char(value[:17]) != value[17]:
        raise ValidationError(_("统一社会信用代码校验位错误"), code="uscc_check_digit")
    return value


def validate_phone(value: str) -> str:
    """A mainland mobile (11 digits, 1[3-9]…) or a landline with area code."""
    value = (value or "").strip().replace(" ", "")
    if value.startswith("+86"):
        value = value[3:]
    if not (MOBILE_RE.fullmatch(value) or LANDLINE_RE.fullmatch(value)):
        raise ValidationError(_("电话号码无效：需为11位手机号或带区号的固定电话"), code="phone")
    return value


def validate_account_number(value: str) -> str:
    value = (value or "").strip()
    if not ACCOUNT_NUMBER_RE.fullmatch(value):
        raise ValidationError(_("户号格式错误：应为10位数字"), code="account_number")
    return value


# ---------------------------------------------------------------- dates people type into a query or a form

# The dates the system accepts from a query string, a form or an API field (as_of, day, date_from, date_to,
# statement_date, …). Far outside it, `date ± timedelta` overflows (0001-01-01 − 30 days, 9999-12-31 + 1 day)
# and a typo such as 0206-10-01 would return an empty report instead of an error. The earliest billing period
# (billing.services.parse_period) is the month of DATE_MIN.
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2100, 12, 31)


def positive_id(raw) -> int | None:
    """A database id typed in a query string or form: ASCII digits only (not "²" or "٣", which str.isdigit()
    accepts and int() may refuse), 1 ≤ id < 2**62; None for anything else."""
    text = str(raw or "").strip()
    if not re.fullmatch(r"[0-9]{1,18}", text):
        return None
    value = int(text)
    return value if 0 < value < 2**62 else None


def date_range_message(value: date) -> str | None:
    """Why `value` is outside DATE_MIN..DATE_MAX (Chinese), or None when it is inside."""
    if DATE_MIN <= value <= DATE_MAX:
        return None
    return _("日期须在 %(lo)s 至 %(hi)s 之间：%(v)s") % {
        "lo": DATE_MIN.isoformat(),
        "hi": DATE_MAX.isoformat(),
        "v": value.isoformat(),
    }


def validate_date_range(value: date, field: str | None = None) -> date:
    """`value` when inside DATE_MIN..DATE_MAX, else a ValidationError (on `field` when given)."""
    message = date_range_message(value)
    if message is None:
        return value
    raise ValidationError({field: [message]} if field else message, code="date_range")


def clean_date(raw, field: str | None = None) -> date:
    """A YYYY-MM-DD text (or a date) inside DATE_MIN..DATE_MAX; a ValidationError (on `field`) otherwise."""
    if isinstance(raw, date):
        return validate_date_range(raw, field)
    text = str(raw or "").strip()
    try:
        value = date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        value = None
    if value is None:
        message = _("日期格式应为 YYYY-MM-DD：%(v)s") % {"v": text[:20]}
        raise ValidationError({field: [message]} if field else message, code="date_format")
    return validate_date_range(value, field)


def _pydantic_date_range(value: date) -> date:
    message = date_range_message(value)
    if message is not None:
        raise ValueError(message)  # reported as a value_error on the field (core.schema_errors)
    return value


# An API date (query parameter or body field) inside DATE_MIN..DATE_MAX: `as_of: BoundedDate | None = None`.
BoundedDate = Annotated[date, AfterValidator(_pydantic_date_range)]
