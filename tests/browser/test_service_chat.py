"""Browser test in real Chromium, two browser contexts side by side: a portal customer starts an online chat, the
agent's console shows it without a reload, their messages appear live on both sides (polling), and the agent
turns the chat into a work order whose page shows the transcript."""

import pytest
from django.utils import timezone

from gridcare.customers.models import PortalBinding
from gridcare.service.models import ChatSession
from gridcare.service.views_kb_chat import order_url

from .conftest import _is_csp_violation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How long a live update may take: the pages poll every 2.5–3 s.
LIVE_MS = 10_000


def mark(page):
    """Tag the page's window; the tag is gone if the page reloads or navigates."""
    page.evaluate("window.__gcNoReload = 'kept'")


def not_reloaded(page) -> bool:
    return page.evaluate("window.__gcNoReload") == "kept"


def test_a_chat_between_customer_and_agent_becomes_a_work_order(
    browser_page, live_server, world, csp_violations
):
    w = world
    PortalBinding.objects.create(user=w.portal_user, account=w.acct_a, created_at=timezone.now())
    agent = browser_page
    # The customer in a browser context of their own (their own cookies), CSP violations collected as well.
    customer_context = agent.context.browser.new_context(locale="zh-CN")
    customer_context.on(
        "console",
        lambda msg: csp_violations.append(f"{msg.text}") if _is_csp_violation(msg.text) else None,
    )
    customer = customer_context.new_page()
    customer.set_default_timeout(15000)
    try:
        # The agent opens the console first: the queue is empty.
        agent.goto(f"{live_server.url}/login/")
        agent.fill("#username", w.a_agent.username)
        agent.fill("#password", w.password)
        agent.click("button[type=submit]")
        agent.wait_for_selector("[data-testid=whoami]")
        agent.goto(f"{live_server.url}/service/chat/")
        assert agent.inner_text("[data-testid=queue-count]") == "0"
        mark(agent)

        # The customer starts a chat about their bound account.
        customer.goto(f"{live_server.url}/portal/login/")
        customer.fill("#username", w.portal_user.username)
        customer.fill("#password", w.password)
        customer.get_by_role("button", name="登录").click()
        customer.wait_for_url("**/portal/accounts/")
        customer.goto(f"{live_server.url}/portal/service/chat/")
        customer.fill("#c-topic", "家里停电了")
        customer.select_option("#c-account", w.acct_a.account_number)
        customer.fill("#c-message", "人民路18号整栋楼没电")
        customer.click("[data-testid=chat-start-submit]")
        customer.wait_for_selector("[data-testid=chat-log]")
        chat = ChatSession.objects.get()
        assert customer.inner_text("[data-testid=chat-status]") == "排队中"
        mark(customer)

        # It appears in the agent's queue without a reload.
        agent.wait_for_selector(f"[data-testid=waiting-{chat.pk}]", timeout=LIVE_MS)
        assert agent.inner_text("[data-testid=queue-count]") == "1" and not_reloaded(agent)
        assert "家里停电了" in agent.inner_text(f"[data-testid=waiting-{chat.pk}]")
        agent.click(f"[data-testid=accept-{chat.pk}]")
        agent.wait_for_selector("[data-testid=chat-form]")
        assert "人民路18号整栋楼没电" in agent.inner_text("[data-testid=chat-log]")
        mark(agent)

        # The customer sees the agent join, live.
        customer.locator("[data-testid=chat-status]", has_text="会话中").wait_for(timeout=LIVE_MS)
        customer.locator("[data-testid=chat-log] .chat-system", has_text="已接入").wait_for(timeout=LIVE_MS)

        # Messages both ways, each appearing on the other side without a reload.
        agent.fill("#chat-body", "您好，抢修人员已在路上，请问是否有焦糊味？")
        agent.click("[data-testid=chat-send]")
        agent.locator("[data-testid=chat-log] .chat-agent", has_text="抢修人员已在路上").wait_for()
        assert agent.input_value("#chat-body") == ""
        customer.locator("[data-testid=chat-log] .chat-agent", has_text="抢修人员已在路上").wait_for(
            timeout=LIVE_MS
        )
        customer.fill("#chat-body", "没有焦糊味，只是全黑了")
        customer.click("[data-testid=chat-send]")
        agent.locator("[data-testid=chat-log] .chat-customer", has_text="只是全黑了").wait_for(
            timeout=LIVE_MS
        )
        assert not_reloaded(agent) and not_reloaded(customer)
        # Each message once on each side, in order.
        log = customer.inner_text("[data-testid=chat-log]")
        assert log.count("只是全黑了") == 1 and log.index("抢修人员已在路上") < log.index("只是全黑了")

        # The agent turns the chat into a consultation order.
        agent.select_option("#o-type", "consultation")
        agent.fill("#o-desc", "客户咨询停电原因")
        with agent.expect_navigation():
            agent.click("[data-testid=chat-to-order]")
        chat.refresh_from_db()
        assert chat.order is not None
        number = chat.order.number
        assert (chat.order.channel, chat.order.order_type) == ("chat", "consultation")

        # The customer is told the order number in the chat, live.
        customer.locator("[data-testid=chat-log] .chat-system", has_text=number).wait_for(timeout=LIVE_MS)
        assert not_reloaded(customer)

        # The order's page shows the transcript (its description and its history).
        url = order_url(number)
        agent.goto(f"{live_server.url}{url}")
        text = agent.inner_text("main")
        assert number in text
        assert f"在线客服会话 #{chat.pk} 记录" in text
        for line in ("人民路18号整栋楼没电", "抢修人员已在路上", "只是全黑了"):
            assert line in text
    finally:
        customer_context.close()
