"""API input errors are in Chinese like the rest of the UI: pydantic's English messages ("String should have at
most 32 characters") are rebuilt from the error's type and limits."""

import pytest
from django.test import Client

from gridcare.core.schema_errors import schema_message

QUOTE = "/api/v1/billing/quote"


def test_length_date_and_missing_errors_are_chinese(db):
    resp = Client().post(
        QUOTE,
        data={"tariff_code": "X" * 40, "period_start": "2025-01-01", "period_end": "bad"},
        content_type="application/json",
    )
    assert resp.status_code == 422
    detail = {d["field"]: d["message"] for d in resp.json()["detail"]}
    assert detail["tariff_code"] == "最多 32 个字符"
    assert detail["period_end"] == "须为有效的日期（YYYY-MM-DD）"
    assert detail["kwh"] == "必填"
    assert not any("should" in m or "Field required" in m for m in detail.values())


def test_our_own_validators_keep_their_message(db):
    resp = Client().post(
        QUOTE,
        data={"tariff_code": "A\x00B", "period_start": "2025-01-01", "period_end": "2025-01-31", "kwh": {}},
        content_type="application/json",
    )
    assert resp.status_code == 422
    assert {"field": "tariff_code", "message": "不能包含空字符（NUL）"} in resp.json()["detail"]


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ({"type": "string_too_short", "ctx": {"min_length": 1}}, "至少 1 个字符"),
        ({"type": "greater_than_equal", "ctx": {"ge": 1}}, "不能小于 1"),
        ({"type": "less_than_equal", "ctx": {"le": 200}}, "不能大于 200"),
        ({"type": "decimal_max_places", "ctx": {"decimal_places": 2}}, "最多 2 位小数"),
        ({"type": "int_parsing"}, "须为整数"),
        ({"type": "literal_error", "ctx": {"expected": "'a' or 'b'"}}, "只能是以下之一：'a' or 'b'"),
        ({"type": "json_invalid"}, "不是有效的 JSON"),
        ({"type": "something_new", "msg": "Some English"}, "输入无效"),
    ],
)
def test_schema_messages(error, message):
    assert schema_message(error) == message


def test_framework_answers_are_chinese_too(db):
    resp = Client().post(QUOTE, data=b"{not json", content_type="application/json")
    assert resp.status_code == 400
    assert resp.json() == {"detail": "请求体不是有效的 JSON"}
    resp = Client().get("/api/v1/customers")
    assert resp.status_code == 401
    assert resp.json()["detail"].startswith("请先登录")
