"""API input errors in the user's language.

Why the API answered "String should have at most 32 characters" in a Chinese UI: Django's zh_Hans catalogue is
used (LANGUAGE_CODE "zh-hans", the LocaleMiddleware activates it for every request, forms say
"确保该变量包含不超过 32 字符"), but the API's schemas are validated by pydantic, whose messages exist only in
English and were passed through as they came. Each pydantic error carries a stable `type` and its limits in
`ctx`, so the message is built here from those, through gettext, once for every route.
"""

from typing import Any

from django.utils.translation import gettext as _


def _n(ctx: dict[str, Any], key: str) -> Any:
    value = ctx.get(key)
    return value if value is not None else ""


def schema_message(error: dict[str, Any]) -> str:
    """One pydantic error (`type`, `msg`, `ctx`) as a message in the active language."""
    kind = str(error.get("type") or "")
    ctx = error.get("ctx") or {}
    msg = str(error.get("msg") or "")
    if kind in ("value_error", "assertion_error"):
        # Our own validators raise already translated messages.
        return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    simple = {
        "missing": _("必填"),
        "string_type": _("须为文本"),
        "string_pattern_mismatch": _("格式不正确"),
        "string_unicode": _("须为有效的文本"),
        "int_type": _("须为整数"),
        "int_parsing": _("须为整数"),
        "int_from_float": _("须为整数"),
        "float_type": _("须为数字"),
        "float_parsing": _("须为数字"),
        "decimal_type": _("须为数字"),
        "decimal_parsing": _("须为数字"),
        "finite_number": _("须为有限的数字"),
        "bool_type": _("须为 true 或 false"),
        "bool_parsing": _("须为 true 或 false"),
        "date_type": _("须为有效的日期（YYYY-MM-DD）"),
        "date_parsing": _("须为有效的日期（YYYY-MM-DD）"),
        "date_from_datetime_parsing": _("须为有效的日期（YYYY-MM-DD）"),
        "date_from_datetime_inexact": _("须为有效的日期（YYYY-MM-DD）"),
        "datetime_type": _("须为有效的时间（YYYY-MM-DDTHH:MM:SS）"),
        "datetime_parsing": _("须为有效的时间（YYYY-MM-DDTHH:MM:SS）"),
        "datetime_from_date_parsing": _("须为有效的时间（YYYY-MM-DDTHH:MM:SS）"),
        "time_type": _("须为有效的时刻（HH:MM）"),
        "time_parsing": _("须为有效的时刻（HH:MM）"),
        "list_type": _("须为列表"),
        "dict_type": _("须为对象"),
        "model_type": _("须为对象"),
        "model_attributes_type": _("须为对象"),
        "json_invalid": _("不是有效的 JSON"),
        "json_type": _("不是有效的 JSON"),
        "extra_forbidden": _("不允许的字段"),
        "uuid_type": _("格式不正确"),
        "uuid_parsing": _("格式不正确"),
        "url_type": _("须为网址"),
        "url_parsing": _("须为网址"),
        "decimal_whole_digits": _("整数部分位数过多"),
    }
    if kind in simple:
        return simple[kind]
    with_limit = {
        "string_too_short": _("至少 %(n)s 个字符"),
        "string_too_long": _("最多 %(n)s 个字符"),
        "too_short": _("至少 %(n)s 项"),
        "too_long": _("最多 %(n)s 项"),
        "decimal_max_places": _("最多 %(n)s 位小数"),
        "decimal_max_digits": _("最多 %(n)s 位数字"),
        "greater_than": _("须大于 %(n)s"),
        "greater_than_equal": _("不能小于 %(n)s"),
        "less_than": _("须小于 %(n)s"),
        "less_than_equal": _("不能大于 %(n)s"),
        "multiple_of": _("须为 %(n)s 的整数倍"),
    }
    keys = {
        "string_too_short": "min_length",
        "string_too_long": "max_length",
        "too_short": "min_length",
        "too_long": "max_length",
        "decimal_max_places": "decimal_places",
        "decimal_max_digits": "max_digits",
        "greater_than": "gt",
        "greater_than_equal": "ge",
        "less_than": "lt",
        "less_than_equal": "le",
        "multiple_of": "multiple_of",
    }
    if kind in with_limit:
        return with_limit[kind] % {"n": _n(ctx, keys[kind])}
    if kind in ("literal_error", "enum"):
        return _("只能是以下之一：%(e)s") % {"e": _n(ctx, "expected")}
    return _("输入无效")


def http_error_message(message: str) -> str:
    """django-ninja's own English answers ("Unauthorized", "Cannot parse request body") in the user's language;
    our messages (already translated) pass through."""
    if message == "Unauthorized":
        return _("请先登录，或在请求头中提供访问令牌（Authorization: Bearer …）")
    if message == "Forbidden":
        return _("当前角色无此权限")
    if message.startswith("Cannot parse request body"):
        return _("请求体不是有效的 JSON")
    return message
