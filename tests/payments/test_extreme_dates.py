"""Dates far outside the system's range (0001-01-01, 9999-12-31) in a query, a form or an API field: a 400 page
or a 422 naming the field, in Chinese, nothing written — never a 500 (`date ± timedelta` overflowed in the
ageing report and the daily sheet). The accepted range is core.validators.DATE_MIN..DATE_MAX (2000–2100)."""

import pytest

from gridcare.core.permissions import Role
from gridcare.payments.models import StatementImport, WithholdingBatch
from tests.factories import UserFactory

API = "/api/v1"
EXTREMES = ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"]


@pytest.fixture
def boss(world):
    return UserFactory(username="a_boss", role=Role.ADMIN, unit=world.company)


def field_messages(resp) -> dict[str, str]:
    assert resp.status_code == 422, (resp.status_code, resp.content[:300])
    return {d["field"]: d["message"] for d in resp.json()["detail"]}


# ---------------------------------------------------------------- the four the reviewer found


def test_report_page_as_of_year_one_is_a_400_naming_the_date(world, login):
    resp = login(world.a_manager).get("/payments/reports/?as_of=0001-01-01")
    assert resp.status_code == 400
    assert "日期须在 2000-01-01 至 2100-12-31 之间：0001-01-01" in resp.content.decode()


def test_daily_sheet_page_last_day_of_9999_is_a_400(world, login):
    resp = login(world.a_manager).get("/payments/shifts/daily/?day=9999-12-31")
    assert resp.status_code == 400
    assert "日期须在 2000-01-01 至 2100-12-31 之间：9999-12-31" in resp.content.decode()


def test_api_arrears_ageing_year_one_is_a_422_on_as_of(world, login):
    resp = login(world.a_manager).get(f"{API}/reports/arrears-ageing?as_of=0001-01-01")
    assert field_messages(resp) == {"as_of": "日期须在 2000-01-01 至 2100-12-31 之间：0001-01-01"}


def test_api_daily_sheet_9999_is_a_422_on_day(world, login):
    resp = login(world.a_manager).get(f"{API}/shifts/daily-sheet?unit_id={world.bureau_a.pk}&day=9999-12-31")
    assert field_messages(resp) == {"day": "日期须在 2000-01-01 至 2100-12-31 之间：9999-12-31"}


# ---------------------------------------------------------------- every date query parameter


API_GETS = [
    ("/reports/arrears-ageing?as_of={d}", "as_of"),
    ("/reports/channel-mix?date_from={d}&date_to=2026-10-31", "date_from"),
    ("/reports/channel-mix?date_from=2026-10-01&date_to={d}", "date_to"),
    ("/shifts/daily-sheet?day={d}", "day"),
    ("/shifts?day={d}", "day"),
    ("/accounts/3100000001/statement?as_of={d}", "as_of"),
    ("/accounts/3100000001/ledger?as_of={d}", "as_of"),
    ("/accounts/3100000001/prepaid?as_of={d}", "as_of"),
]


@pytest.mark.parametrize("day", EXTREMES)
@pytest.mark.parametrize(("url", "field"), API_GETS)
def test_api_date_parameters_refuse_dates_out_of_range(world, boss, login, url, field, day):
    resp = login(boss).get(API + url.format(d=day))
    assert field_messages(resp)[field] == f"日期须在 2000-01-01 至 2100-12-31 之间：{day}"


PAGES = [
    "/payments/reports/?as_of={d}",
    "/payments/reports/?date_from={d}",
    "/payments/reports/?date_to={d}&date_from=2000-01-01",
    "/payments/reports/arrears-ageing/export.xlsx?as_of={d}",
    "/payments/reports/channel-mix/export.xlsx?date_from={d}",
    "/payments/shifts/daily/?day={d}",
]


@pytest.mark.parametrize("day", EXTREMES)
@pytest.mark.parametrize("url", PAGES)
def test_page_date_parameters_refuse_dates_out_of_range(world, boss, login, url, day):
    resp = login(boss).get(url.format(d=day))
    assert resp.status_code == 400
    assert f"日期须在 2000-01-01 至 2100-12-31 之间：{day}" in resp.content.decode()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_late_fee_what_if_refuses_dates_out_of_range(world, login, day):
    body = {
        "customer_class": "residential",
        "period": "2026-10",
        "due_date": day,
        "principal": "100.00",
        "as_of": day,
        "payments": [{"date": day, "amount": "1.00"}],
    }
    resp = login(world.a_clerk).post(f"{API}/late-fee/calculate", body, content_type="application/json")
    errors = field_messages(resp)
    for field in ("due_date", "as_of", "payments.0.date"):
        assert f"日期须在 2000-01-01 至 2100-12-31 之间：{day}" in errors[field]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_batch_and_statement_dates_out_of_range_write_nothing(world, boss, login, day):
    c = login(boss)
    resp = c.post(
        f"{API}/withholding/batches", {"bank_code": "ICBC", "as_of": day}, content_type="application/json"
    )
    assert field_messages(resp)["as_of"] == f"日期须在 2000-01-01 至 2100-12-31 之间：{day}"
    from django.core.files.uploadedfile import SimpleUploadedFile

    resp = c.post(
        f"{API}/reconciliations",
        {"channel": "alipay", "statement_date": day, "file": SimpleUploadedFile("s.csv", b"x\n")},
    )
    assert field_messages(resp)["statement_date"] == f"日期须在 2000-01-01 至 2100-12-31 之间：{day}"
    page = c.post("/payments/withholding/", {"action": "export", "bank_code": "ICBC", "as_of": day})
    assert page.status_code == 400 and "日期须在 2000-01-01 至 2100-12-31 之间" in page.content.decode()
    assert not WithholdingBatch.objects.exists() and not StatementImport.objects.exists()
