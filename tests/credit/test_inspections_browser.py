"""Browser test in real Chromium at a phone's width (375 px): the inspector's page, the checklist form and the
printable notice fit the width (document.documentElement.scrollWidth ≤ 375), and an inspection is performed by
tapping the radio buttons. Skipped without Chromium (the fixtures of tests/browser)."""

from datetime import date

import pytest

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.credit import checklist
from gridcare.credit import inspections as svc
from gridcare.credit.models import CreditEvent, Inspection
from tests.browser.conftest import browser_page, csp_violations  # noqa: F401 — the shared browser fixtures

from .conftest import NOW

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 375


@pytest.fixture
def browser_context_args():
    return {"locale": "zh-CN", "viewport": {"width": WIDTH, "height": 740}}


def assert_fits(page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{what}: the page is {width} px wide"


def test_inspector_phone_flow(browser_page, live_server, cw):  # noqa: F811
    w = cw
    # a long name must wrap, not widen the page
    w.power_a.name = "东关机械制造有限责任公司第二分厂配电房及附属设施"
    w.power_a.save(update_fields=["name"])
    i = svc.inspection_create(
        actor=Actor(user=w.inspector, channel=Channel.CONSOLE),
        customer_id=w.power_a.pk,
        due_on=date(2020, 1, 1),
        now=NOW,
    )
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#username", w.inspector.username)
    page.fill("#password", w.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]", state="attached")

    page.goto(f"{live_server.url}/credit/inspections/mine/")
    page.wait_for_selector("[data-testid=mine-card]")
    assert_fits(page, "my inspections")
    card = page.locator("[data-testid=mine-card]")
    assert card.bounding_box()["height"] >= 44
    card.click()

    page.wait_for_selector("[data-testid=perform-form]")
    assert_fits(page, "the checklist form")
    for item in checklist.DEFAULT_CHECKLIST:
        value = "defect" if item.code == "rules" else "ok"
        label = page.locator(f"label.insp-radio:has(input[name=result_{item.code}][value={value}])")
        assert label.bounding_box()["height"] >= 44
        label.click()
    page.fill("#finding-rules", "无交接班制度")
    page.fill("#f-performed", "2025-06-10")
    page.click("[data-testid=perform-form] button[type=submit]")
    page.wait_for_selector("[data-testid=notice-form]")
    assert_fits(page, "the performed inspection")
    i.refresh_from_db()
    assert i.status == "done"
    assert CreditEvent.objects.get(inspection=i).code == "rules_missing"

    page.click("[data-testid=notice-form] button[type=submit]")
    page.wait_for_selector("article[data-testid=notice]")
    assert_fits(page, "the notice")
    assert Inspection.objects.get(pk=i.pk).notice.deadline == date(2025, 7, 10)
