"""Issue 17 in real Chromium: an inspector records a theft (窃电) from the customer page, a second person (the
manager) approves it, the inspector rates the customer on the spot and the customer page shows the grade fallen
to D with the theft as its reason, linked to the event.

The customer (a 动力户, account opened 2020-01-01, rated AAA before: 30 + 20 + 30 + 10 + 0 + 0 = 90) is rated as of
2026-12-01 with the theft dated 2026-11-20: legal 30 − 30 = 0, so the total is 60 (B by points) and the grade D by
the seed's rule that a legal score of 0 is D whatever the total."""

from datetime import date

import pytest

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.credit import runs
from gridcare.credit.models import CreditEvent
from tests.browser.conftest import browser_context_args, browser_page, csp_violations  # noqa: F401 — fixtures
from tests.credit.conftest import cw  # noqa: F401 — the credit fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AS_OF = "2026-12-01"


def login(page, url, username, password):
    page.context.clear_cookies()
    page.goto(f"{url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def test_theft_approved_then_rating_falls_to_d(browser_page, live_server, cw):  # noqa: F811
    page = browser_page
    w = cw
    customer = w.power_a
    # Before: rated AAA as of 2026-11-01 (no events; the account opened 2020-01-01, so both clean bonuses).
    runs.customer_rate(actor=Actor(channel=Channel.JOB), customer=customer, as_of=date(2026, 11, 1))

    login(page, live_server.url, "a_inspector", w.password)
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    assert page.inner_text("[data-testid=credit-grade]").strip() == "AAA"
    page.click("[data-testid=credit-event-new]")
    page.wait_for_selector("#id_code")
    page.select_option("#id_code", "theft")
    page.fill("#id_date", "2026-11-20")
    page.fill("#id_description", "现场查获绕越计量装置用电")
    page.click("[data-testid=record-submit]")
    page.wait_for_selector("[data-testid=event-status]")
    assert page.inner_text("[data-testid=event-status]").strip() == "待审批"
    event = CreditEvent.objects.get(customer=customer, code="theft")

    # The recorder may not approve their own record: a second person does.
    login(page, live_server.url, "a_manager2", w.password)
    page.goto(f"{live_server.url}/credit/events/{event.pk}/")
    page.fill("[data-testid=approve-form] input[name=note]", "窃电通知书及照片齐全")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=event-status]")
    assert page.inner_text("[data-testid=event-status]").strip() == "有效"

    # Rate now (as of 2026-12-01) from the customer page.
    login(page, live_server.url, "a_inspector", w.password)
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.fill("[data-testid=credit-rate-as-of]", AS_OF)
    page.click("[data-testid=credit-rate]")
    page.wait_for_selector("[data-testid=credit-grade]")
    assert page.inner_text("[data-testid=credit-grade]").strip() == "D"
    assert page.inner_text("[data-testid=credit-total]").startswith("60.0")
    assert page.inner_text("[data-testid=credit-as-of]").strip() == AS_OF
    legal = page.locator("[data-testid=credit-dimensions] tr[data-dimension=legal]")
    assert "0.0 / 30" in legal.inner_text()
    reason = legal.locator("[data-reason=theft]")
    assert (
        "窃电" in reason.inner_text() and "2026-11-20" in reason.inner_text() and "-30" in reason.inner_text()
    )
    assert reason.locator("a").get_attribute("href") == f"/credit/events/{event.pk}/"
    # The measures of D are shown, and the history keeps the earlier AAA.
    assert page.locator("[data-testid=credit-measures] [data-measure=deposit_or_prepaid]").count() == 1
    page.click("[data-testid=credit-history] summary")
    history = page.inner_text("[data-testid=credit-history]")
    assert "2026-11-01" in history and "AAA" in history and "2026-12-01" in history
