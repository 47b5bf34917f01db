"""Browser test in real Chromium (issue 16 §5, §2): a portal customer books a hall appointment, then checks in at
the hall's kiosk page with the code and gets a priority ticket number. The clock is injected
(`appointments.now`; the live server runs in this process): Tuesday 2026-03-10, booked at 09:00 for 09:30,
checked in at 09:35 — within the 10 minutes' grace."""

import importlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.hall import appointments, devices, services
from gridcare.hall.choices import TicketSource
from gridcare.hall.models import Appointment, Category
from gridcare.org.models import ServiceHall

from .test_service_portal import portal_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHINA = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def categories(db):
    """The categories seeded by the migrations (a transactional test run before this one flushed them)."""
    seed = importlib.import_module("gridcare.hall.migrations.0002_seed_categories")
    for code, letter, name, self_service, sort in seed.CATEGORIES:
        Category.objects.get_or_create(
            code=code, defaults={"letter": letter, "name": name, "self_service": self_service, "sort": sort}
        )


def test_book_at_the_portal_and_check_in_at_the_kiosk(
    browser_page, live_server, world, categories, monkeypatch
):
    w = world
    hall = ServiceHall.objects.create(
        unit=w.bureau_a, code="HA", name="城东营业厅", address="城关镇人民路1号"
    )
    services.hall_setup_defaults(hall)
    _device, key = devices.device_create(
        hall=hall, kind="kiosk", actor=Actor(user=w.admin, channel=Channel.CONSOLE)
    )
    clock = {"now": datetime(2026, 3, 10, 9, 0, tzinfo=CHINA)}
    monkeypatch.setattr(appointments, "now", lambda: clock["now"])

    page = browser_page
    portal_login(page, live_server.url, w.portal_user.username, w.password)
    page.goto(f"{live_server.url}/portal/hall/appointments/")
    page.wait_for_selector("[data-testid=no-appointments]")
    page.select_option("#id_hall", str(hall.pk))
    page.select_option("#id_category", "payment")
    page.select_option("#id_day", "2026-03-10")
    page.click("[data-testid=appt-show-slots]")
    page.wait_for_selector("[data-testid=appt-slots]")
    assert page.is_disabled("[data-testid=slot-0900] input")  # the 09:00 slot has started
    page.check("[data-testid=slot-0930] input")
    page.click("[data-testid=appt-submit]")
    page.wait_for_selector("[data-testid=my-appointments]")
    appt = Appointment.objects.get(portal_user=w.portal_user)
    assert page.inner_text("[data-testid=appt-code]") == appt.code
    assert appt.code in page.inner_text("ul.messages")
    assert page.inner_text("[data-testid=appt-status]") == "已预约"

    # At the hall, 09:35: the kiosk takes the code and prints a priority ticket.
    clock["now"] = datetime(2026, 3, 10, 9, 35, tzinfo=CHINA)
    page.goto(f"{live_server.url}/hall/d/{key}/kiosk/checkin/")
    page.fill("#kiosk-code", appt.code)
    page.click("[data-testid=kiosk-checkin]")
    page.wait_for_selector("[data-testid=ticket-number]")
    assert page.inner_text("[data-testid=ticket-number]") == "A001"
    assert page.inner_text("[data-testid=ticket-priority]") == "预约准时签到，优先办理"
    appt.refresh_from_db()
    assert appt.status == "checked_in" and appt.ticket.source == TicketSource.APPOINTMENT
    assert appt.ticket.priority_reason == "appointment" and appt.ticket.queue_at == clock["now"]
