"""Browser test in real Chromium: an administrator opens a new year of the working-day calendar, types its
holidays and 调休 days, marks it loaded and saves; a duplicate date is refused on the page first."""

import pytest

from gridcare.core.models import CalendarDay, CalendarYear
from gridcare.jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def console_login(page, url, username, password):
    page.goto(f"{url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def test_enter_a_new_year_of_holidays(browser_page, live_server, world):
    page = browser_page
    console_login(page, live_server.url, world.admin.username, world.password)
    page.goto(f"{live_server.url}/service/calendar/")
    page.fill("#c-year", "2027")
    page.click("[data-testid=calendar-open-year] button")
    page.wait_for_selector("[data-testid=calendar-edit]")
    assert page.url.endswith("/service/calendar/2027/")

    page.fill("#c-text", "2027-10-01,休,国庆节\n2027-10-01,班,国庆节")
    page.check("[data-testid=calendar-loaded]")
    page.click("[data-testid=calendar-save]")
    errors = page.inner_text("[data-testid=calendar-errors]")
    assert "第 2 行：日期 2027-10-01 重复（第 1 行已填写）" in errors
    assert not CalendarYear.objects.filter(year=2027).exists()

    page.fill("#c-text", "2027-10-01,休,国庆节\n2027-10-02,休,国庆节\n2027-09-26,班,国庆节调休")
    page.click("[data-testid=calendar-save]")
    page.wait_for_selector("[data-testid=calendar-saved]")
    assert "已提交重算工单时限的后台任务" in page.inner_text("[data-testid=calendar-saved]")
    assert "班" in page.inner_text("[data-testid=day-2027-09-26]")
    assert "国庆节" in page.inner_text("[data-testid=day-2027-10-01]")
    year = CalendarYear.objects.get(year=2027)
    assert year.loaded and CalendarDay.objects.filter(year=year).count() == 3
    assert Job.objects.get(kind="service.recompute_provisional").params == {"years": [2027]}
