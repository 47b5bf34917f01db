"""Browser test in real Chromium: a manager opens the collection reports, sees the charts drawn by ECharts
(served locally) and downloads the Excel export."""

import pytest
from openpyxl import load_workbook

from tests.payments.reports.test_report_pages import QUERY, book  # noqa: F401 — a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reports_page_charts_and_export(browser_page, live_server, book, tmp_path):  # noqa: F811
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#username", "a_manager")
    page.fill("#password", book.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")
    page.get_by_role("link", name="收费", exact=True).hover()  # the 收费 menu opens on hover
    page.get_by_role("link", name="收费报表").click()
    page.wait_for_selector("[data-testid=report-collection-rate]")
    page.goto(f"{live_server.url}/payments/reports/{QUERY}")
    # ECharts draws into a <canvas> inside each chart container
    for slug in ("collection-rate", "arrears-ageing", "channel-mix"):
        canvas = page.locator(f"#chart-{slug} canvas")
        canvas.first.wait_for(state="attached")
        box = canvas.first.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
    # Bureau A's manager: 东关供电所 collected 100.00 of 100.00
    assert "东关供电所" in page.inner_text("[data-testid=table-collection-rate]")
    assert "西关供电所" not in page.inner_text("[data-testid=table-collection-rate]")
    with page.expect_download() as info:
        page.click("[data-testid=export-collection-rate]")
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert target.name.startswith("collection-rate-") and target.suffix == ".xlsx"
    ws = load_workbook(target).active
    assert ws.title == "电费回收率" and ws["A2"].value == "筛选条件：账期：2026-09"
    assert [c.value for c in ws[5]] == ["东关供电所", 1, 100, 100, 1]
