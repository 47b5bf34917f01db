"""Browser test in real Chromium: an inspector records a theft event with a photo as evidence, a manager finds it
under 待审批 and approves it; the register shows it active."""

import os
import tempfile

import pytest

from gridcare.core.permissions import Role
from tests.browser.conftest import browser_context_args, browser_page, csp_violations  # noqa: F401 — fixtures
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
SHOTS = os.environ.get("GRIDCARE_SHOTS")  # a folder: save screenshots there (to look at the pages)


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def login(page, url, username, password):
    page.context.clear_cookies()
    page.goto(f"{url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def test_record_with_evidence_then_second_person_approves(browser_page, live_server, world):  # noqa: F811
    page = browser_page
    w = world
    UserFactory(username="a_inspector", role=Role.INSPECTOR, unit=w.bureau_a)
    UserFactory(username="a_manager2", role=Role.MANAGER, unit=w.bureau_a)
    login(page, live_server.url, "a_inspector", w.password)
    page.goto(f"{live_server.url}/credit/events/new/?customer={w.cust_a.pk}")
    assert "张*" in page.inner_text("[data-testid=record-customer]")
    page.select_option("#id_code", "theft")
    page.fill("#id_date", "2024-11-20")
    page.fill("#id_description", "现场查获绕越计量装置用电")
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(PNG)
        f.flush()
        page.set_input_files("#id_files", f.name)
        shot(page, "credit_record_form")
        page.click("[data-testid=record-submit]")
        page.wait_for_selector("[data-testid=event-status]")
    assert page.inner_text("[data-testid=event-status]").strip() == "待审批"
    assert ".png" in page.inner_text("[data-testid=evidence-list]")
    shot(page, "credit_event_pending")

    login(page, live_server.url, "a_manager2", w.password)
    page.goto(f"{live_server.url}/credit/events/?tab=queue")
    page.locator("[data-testid=queue-pending] a").first.click()
    page.wait_for_selector("[data-testid=approve-form]")
    page.fill("[data-testid=approve-form] input[name=note]", "证据充分")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=event-status]")
    assert page.inner_text("[data-testid=event-status]").strip() == "有效"
    shot(page, "credit_event_active")
    page.goto(f"{live_server.url}/credit/events/")
    assert "有效" in page.inner_text("[data-testid=event-table]")
    shot(page, "credit_register")
