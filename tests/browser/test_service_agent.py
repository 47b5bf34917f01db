"""Browser test in real Chromium (issue 15): a 95598 agent identifies the caller on the console and creates a fault
order in a few keystrokes, the dispatcher sends a crew from the board, the crew member departs, arrives (with a
photo) and restores on the crew page at a phone's size (375 × 812), and the agent records a 满意 callback and
closes the order."""

import pytest

from gridcare.core.permissions import Role
from gridcare.service.models import WorkOrder
from tests.factories import UserFactory

from .test_staff_mobile import OVERFLOWING

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def login(page, url, username, password):
    page.context.clear_cookies()
    page.goto(f"{url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    # attached, not visible: on a phone the header's user line sits behind the menu button
    page.wait_for_selector("[data-testid=whoami]", state="attached")


def test_agent_creates_dispatcher_dispatches_crew_restores_agent_calls_back(browser_page, live_server, world):
    w = world
    UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a, display_name="调度王")
    crew = UserFactory(username="a_crew", role=Role.DISPATCHER, unit=w.station_a, display_name="李师傅")
    page = browser_page
    url = live_server.url

    # the agent identifies the caller by 户号 and creates a fault order from the quick form
    login(page, url, "a_agent", w.password)
    page.goto(f"{url}/service/console/")
    page.fill("#c-q", "3100000001")
    page.press("#c-q", "Enter")
    page.wait_for_selector("[data-testid=account-3100000001]")
    assert "138****5678" in page.inner_text("[data-testid=account-3100000001]")
    assert page.input_value("#q-account") == "3100000001"
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("2")  # 投诉: its sub-types appear
    assert page.is_checked("input[name=order_type][value=complaint]")
    assert page.is_visible("#q-sub")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("1")  # 故障报修: no sub-type, the focus goes to the description
    assert page.is_checked("input[name=order_type][value=fault]")
    assert not page.is_visible("#q-sub")
    assert page.evaluate("document.activeElement.id") == "q-desc"
    page.keyboard.type("整栋楼停电，闻到焦味")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("[data-testid=order-status]")
    order = WorkOrder.objects.get()
    assert page.url.endswith(f"/service/orders/{order.number}/")
    assert "研判需派发抢修" in page.inner_text("main")
    assert page.get_attribute("[data-testid=deadline-arrival]", "data-state") in ("pending", "warned")
    page.click("[data-testid=do-accept]")
    page.wait_for_selector("[data-testid=order-status][data-status=accepted]")

    # the dispatcher sends the crew from the board
    login(page, url, "a_dispatch", w.password)
    page.goto(f"{url}/service/board/")
    form = page.locator(f"[data-testid=board-dispatch-{order.number}]")
    form.locator("select").select_option(str(crew.pk))
    form.locator("button").click()
    page.wait_for_selector("text=已办理“派工”")
    assert "李师傅" in page.inner_text(f"[data-testid=board-{order.number}]")

    # the crew member on a phone: depart, arrive with a photo, restore
    page.set_viewport_size({"width": 375, "height": 812})
    login(page, url, "a_crew", w.password)
    page.goto(f"{url}/service/crew/")
    page.wait_for_selector(f"[data-testid=crew-depart-{order.number}]")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert page.evaluate(OVERFLOWING) == []
    box = page.locator(f"[data-testid=crew-depart-{order.number}]").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300  # a big button, the card's whole width
    page.fill(f"#c-{order.number}-note", "已出发")
    page.click(f"[data-testid=crew-depart-{order.number}]")
    page.wait_for_selector(f"[data-testid=crew-arrive-{order.number}]")
    page.set_input_files(
        f"#c-{order.number}-photos", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.click(f"[data-testid=crew-arrive-{order.number}]")
    page.wait_for_selector(f"[data-testid=crew-restore-{order.number}]")
    assert page.evaluate(OVERFLOWING) == []
    page.fill(f"#c-{order.number}-cause", "低压线路接头烧损")
    page.fill(f"#c-{order.number}-resolution", "更换接头，恢复供电")
    page.click(f"[data-testid=crew-restore-{order.number}]")
    page.wait_for_selector("text=已办理“恢复送电”")
    order.refresh_from_db()
    assert (order.status, order.fault_cause, order.assignee) == ("restored", "低压线路接头烧损", crew)
    assert order.attachments.count() == 1

    # the agent calls the customer back: 满意, then closes the order
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, url, "a_agent", w.password)
    page.goto(f"{url}/service/orders/{order.number}/")
    assert "低压线路接头烧损" in page.inner_text("[data-testid=order-fault-cause]")
    page.check("[data-testid=satisfaction-satisfied]")
    page.fill("#f-callback-note", "客户表示满意")
    page.click("[data-testid=do-callback]")
    page.wait_for_selector("[data-testid=order-status][data-status=callback]")
    page.click("[data-testid=do-close]")
    page.wait_for_selector("[data-testid=order-status][data-status=closed]")
    assert page.inner_text("[data-testid=order-status]") == "已归档"
    assert "满意：客户表示满意" in page.inner_text("[data-testid=order-callback]")
    order.refresh_from_db()
    assert (order.status, order.callback_result) == ("closed", "satisfied")
    assert list(order.events.values_list("to_status", flat=True)) == [
        "created",
        "accepted",
        "dispatched",
        "departed",
        "arrived",
        "restored",
        "callback",
        "closed",
    ]
