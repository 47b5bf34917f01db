"""Browser test in real Chromium at a phone's size (375 × 740): the staff home, the customer page and the
meter reader's walk page fit the width (no sideways scrolling of the page, no element sticking out except
inside a table that scrolls on its own), and the navigation opens from the menu button."""

from datetime import date

import pytest
from django.utils import timezone

from gridcare.metering.models import Route, RouteMembership
from tests.payments.ledger.test_ledger import issued_bill, pay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 375

# Elements whose box goes past the viewport's edges, unless an ancestor clips or scrolls them sideways.
OVERFLOWING = """() => {
  const W = document.documentElement.clientWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    let p = el.parentElement, contained = false;
    while (p && p !== document.body) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) { contained = true; break; }
      p = p.parentElement;
    }
    if (!contained && (r.right > W + 0.5 || r.left < -0.5))
      out.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' ' + Math.round(r.left) + '…' + Math.round(r.right));
  }
  return out;
}"""


@pytest.fixture
def browser_context_args():
    return {"locale": "zh-CN", "viewport": {"width": WIDTH, "height": 740}}


@pytest.fixture
def walk_route(world):
    route = Route.objects.create(
        code="R01", name="东关一段", unit=world.station_a, reading_day=5, created_at=timezone.now()
    )
    RouteMembership.objects.create(account=world.acct_a, route=route, sequence=1)
    # due far ahead, so what the page shows does not depend on the day the test runs (no late fee)
    issued_bill(world.acct_a, "2026-09", "1234.56", date(2099, 1, 20), issued_on=date(2026, 10, 5))
    pay("234.56", date(2026, 10, 10), "A-CASH-1")
    return route


def assert_fits(page, what: str) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{what}: the page is {width} px wide"
    assert page.evaluate(OVERFLOWING) == [], what


def test_staff_pages_fit_a_phone(browser_page, live_server, world, walk_route):
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    assert_fits(page, "login")
    page.fill("#username", "a_reader")
    page.fill("#password", world.password)
    page.click("button[type=submit]")

    page.wait_for_selector("[data-testid=whoami]", state="attached")
    assert_fits(page, "the page after login")

    # the staff home: the navigation is folded behind the menu button
    assert page.url == f"{live_server.url}/"
    page.wait_for_selector("[data-testid=todo]")
    nav = page.locator("[data-testid=nav]")
    toggle = page.locator("[data-testid=nav-toggle]")
    assert toggle.is_visible() and not nav.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert nav.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    assert "抄表员" in page.inner_text("[data-testid=whoami]")
    assert_fits(page, "staff home with the menu open")
    nav.get_by_role("link", name="抄表异常").click()
    page.wait_for_url(f"{live_server.url}/metering/exceptions/")
    assert not page.locator("[data-testid=nav]").is_visible()  # a new page starts folded
    assert_fits(page, "read exceptions")

    # the customer page
    page.goto(f"{live_server.url}/customers/{world.cust_a.pk}/")
    page.wait_for_selector("[data-testid=money-summary]")
    assert "待缴电费 1,000.00 元" in page.inner_text("[data-testid=arrears-3100000001]")  # 1,234.56 − 234.56
    assert_fits(page, "customer page")

    # the meter reader's walk page
    page.goto(f"{live_server.url}/metering/routes/{walk_route.pk}/walk/")
    page.wait_for_selector("[data-testid=walk]")
    assert "3100000001" in page.inner_text("[data-testid=account]")
    assert_fits(page, "walk page")
    button = page.get_by_role("button", name="保存并下一户")
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH and box["height"] >= 40


def test_wide_screens_keep_the_header_menus(browser_page, live_server, world):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/login/")
    page.fill("#username", "a_manager")
    page.fill("#password", world.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=todo]")
    assert not page.locator("[data-testid=nav-toggle]").is_visible()
    page.get_by_role("link", name="收费", exact=True).hover()  # the 收费 menu opens on hover
    page.get_by_role("link", name="收费报表").click()
    page.wait_for_selector("[data-testid=report-collection-rate]")
