"""Browser test in real Chromium: the hall KPI, peak and staffing pages draw their ECharts charts from the page's
JSON block under the strict CSP (the guard in conftest.py fails the test on any violation)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gridcare.hall import views_reports
from gridcare.hall.choices import TicketSource, TicketStatus
from gridcare.hall.models import Category, Ticket

from ..hall.conftest import make_hall

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHINA = ZoneInfo("Asia/Shanghai")


def test_hall_report_pages_draw_their_charts(browser_page, live_server, world, monkeypatch):
    w = world
    hall = make_hall(w.bureau_a, "HA", "城东营业厅", 2)
    pay = Category.objects.get(code="payment")
    rows = []
    for k, day in enumerate((date(2026, 2, 3), date(2026, 2, 27), date(2026, 3, 3))):
        for i in range(4):
            t = datetime.combine(day, datetime.min.time(), CHINA) + timedelta(hours=10, minutes=5 * i)
            rows.append(
                Ticket(
                    hall=hall,
                    category=pay,
                    day=day,
                    seq=i + 1,
                    number=f"A{i + 1:03d}",
                    source=TicketSource.KIOSK,
                    status=TicketStatus.DONE,
                    issued_at=t,
                    queue_at=t,
                    checked_in_at=t,
                    first_called_at=t + timedelta(minutes=3 + k),
                    called_at=t + timedelta(minutes=3),
                    started_at=t + timedelta(minutes=3),
                    finished_at=t + timedelta(minutes=9),
                )
            )
    Ticket.objects.bulk_create(rows)
    monkeypatch.setattr(views_reports, "local_today", lambda: date(2026, 3, 10))
    monkeypatch.setattr(views_reports, "report_now", lambda: datetime(2026, 3, 10, 12, tzinfo=CHINA))
    page = browser_page
    page.goto(f"{live_server.url}/login/?next=/hall/kpis/%3Ffrom%3D2026-02-01%26to%3D2026-03-10")
    page.fill("#username", w.a_manager.username)
    page.fill("#password", w.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=summary]")
    assert page.inner_text("[data-testid=total-tickets]") == "12"

    def drawn(*ids):
        for name in ids:
            canvas = page.locator(f"#{name} canvas")
            canvas.first.wait_for(state="attached")
            box = canvas.first.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100, name

    drawn("chart-waits", "chart-volume")
    page.click("[data-testid=link-peaks]")
    page.wait_for_selector("[data-testid=dom-table]")
    drawn("chart-dom", "chart-wd")
    assert page.inner_text("[data-testid=edge-end] td:nth-child(2)") == "4"
    page.click("[data-testid=link-staffing]")
    page.wait_for_selector("[data-testid=plan-2]")
    drawn("chart-staffing")
    assert page.inner_text("[data-testid=rec-2-10]") != ""
