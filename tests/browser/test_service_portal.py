"""Browser test in real Chromium (issue 15 §8): a portal customer submits a service request, follows it on their
orders page while staff work it (through the services), and rates it once it is closed."""

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.customers.models import PortalBinding
from gridcare.service import policies, services
from gridcare.service.models import SlaPolicy, WorkOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def policy_table(db):
    """The time-limit policy seeded by the migrations (a transactional test run before this one flushed it)."""
    if not SlaPolicy.objects.exists():
        SlaPolicy.objects.bulk_create(
            SlaPolicy(order_type=t, sub_type=s, area=a, name=n, amount=m, unit=u, basis=b)
            for t, s, a, n, m, u, b in policies.DEFAULTS
        )


def portal_login(page, url, username, password):
    page.goto(f"{url}/portal/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def test_submit_a_service_request_track_it_and_rate_it(browser_page, live_server, world, policy_table):
    w = world
    PortalBinding.objects.create(user=w.portal_user, account=w.acct_a, created_at=timezone.now())
    page = browser_page
    portal_login(page, live_server.url, w.portal_user.username, w.password)
    page.click("[data-testid=nav-service]")
    page.wait_for_selector("[data-testid=no-orders]")
    page.click("[data-testid=new-order]")
    page.select_option("#id_order_type", "service_request")
    page.select_option("#id_sub_type", "meter_check")
    page.select_option("#id_account", "3100000001")
    page.fill("#id_description", "电表走字太快，申请校验电能表")
    page.click("[data-testid=submit-order]")
    page.wait_for_selector("[data-testid=timeline]")
    order = WorkOrder.objects.get(customer_user=w.portal_user)
    assert page.inner_text("[data-testid=order-status]") == "已受理登记"
    assert order.number in page.inner_text("ul.messages")
    assert "办结" in page.inner_text("[data-testid=deadlines]")

    # tracked in the list
    page.click("[data-testid=nav-service]")
    assert page.inner_text(f"[data-testid=status-{order.number}]") == "已受理登记"

    # the 95598 agent works it and closes it
    agent = Actor(user=w.admin, channel=Channel.CONSOLE)
    for action, extra in [
        ("accept", {}),
        ("assign", {}),
        ("complete", {"resolution": "已现场校验，电能表误差合格"}),
        ("callback", {"satisfaction": "satisfied"}),
        ("close", {}),
    ]:
        order = services.work_order_act(actor=agent, order=order, action=action, **extra)

    page.reload()
    assert page.inner_text(f"[data-testid=status-{order.number}]") == "已归档"
    page.click(f"[data-testid=order-{order.number}] a")
    page.wait_for_selector("[data-testid=rate]")
    assert "已现场校验" in page.inner_text("[data-testid=order-resolution]")
    assert "已办结" in page.inner_text("[data-testid=timeline]")
    page.check("input[name=rating][value=satisfied]")
    page.fill("#id_comment", "上门很及时")
    page.click("[data-testid=rate-submit]")
    page.wait_for_selector("[data-testid=order-rating]")
    assert page.inner_text("[data-testid=order-rating]") == "满意：上门很及时"
    assert page.locator("[data-testid=rate]").count() == 0
    order.refresh_from_db()
    assert (order.customer_rating, order.customer_comment) == ("satisfied", "上门很及时")
