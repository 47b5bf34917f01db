"""Browser test in real Chromium (issue 16): the greeter issues a ticket → the hall display (a device page opened
with its key) shows the call after the counter calls it → the counter finishes it → the counter's evaluation
device rates it.

The hall's clock is injected: the services and pages of the queue read a clock that starts on a Tuesday morning
at 09:00 China time and moves one second per reading, so the test does not depend on today's date or hour."""

import itertools
from datetime import timedelta
from types import SimpleNamespace

import pytest

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.hall import devices, services, setup, views_queue, views_ratings
from gridcare.hall.models import Rating, Ticket
from tests.hall.conftest import T0, make_hall

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, url, username, password):
    page.context.clear_cookies()
    page.goto(f"{url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]", state="attached")


@pytest.fixture
def hall_clock(monkeypatch):
    ticks = itertools.count()
    clock = SimpleNamespace(now=lambda: T0 + timedelta(seconds=next(ticks)))
    monkeypatch.setattr(services, "timezone", clock)
    monkeypatch.setattr(views_queue, "timezone", clock)
    monkeypatch.setattr(setup, "timezone", clock)
    monkeypatch.setattr(views_ratings, "page_now", clock.now)
    return clock


def test_greeter_ticket_called_on_the_display_served_and_rated(browser_page, live_server, world, hall_clock):
    w = world
    hall = make_hall(w.bureau_a, "HA", "城东营业厅", 3)
    c1 = hall.counters.get(number=1)
    _device, key = devices.device_create(
        hall=hall, kind="display", name="大厅电视", actor=Actor(user=w.admin, channel=Channel.CONSOLE)
    )
    _evaluator, eval_key = devices.device_create(
        hall=hall,
        kind="evaluator",
        counter=c1,
        name="1号窗口评价器",
        actor=Actor(user=w.admin, channel=Channel.CONSOLE),
    )
    page = browser_page
    url = live_server.url

    # The greeter issues a ticket for 交费.
    login(page, url, w.a_clerk.username, w.password)
    page.goto(f"{url}/hall/{hall.pk}/greeter/")
    page.check("input[name=category][value=payment]")
    page.click("[data-testid=issue]")
    page.wait_for_selector("[data-testid=ticket-slip]")
    assert page.inner_text("[data-testid=ticket-number]") == "A001"
    ticket = Ticket.objects.get()
    assert (ticket.source, ticket.status) == ("greeter", "waiting")

    # The hall's TV, opened with the device key, shows it waiting and no call yet.
    tv = page.context.new_page()
    tv.goto(f"{url}/hall/d/{key}/display/")
    tv.wait_for_selector("[data-testid=display-board]")
    assert tv.inner_text("[data-testid=waiting-payment]") == "1"
    assert tv.query_selector("[data-testid=call-A001]") is None

    # The clerk opens counter 1 and calls the next ticket.
    page.goto(f"{url}/hall/counter/{c1.pk}/")
    page.click("[data-testid=act-open]")
    page.wait_for_selector("[data-testid=act-call_next]")
    page.click("[data-testid=act-call_next]")
    page.wait_for_selector("[data-testid=current-number]")
    assert page.inner_text("[data-testid=current-number]") == "A001"

    # The display picks the call up by polling: the number, its counter and the spoken text.
    tv.wait_for_selector("[data-testid=call-A001]", timeout=10_000)
    assert "1 号窗口" in tv.inner_text("[data-testid=call-A001]")
    assert tv.get_attribute("[data-testid=call-A001]", "data-speech") == "请 A 0 0 1 号到 1 号窗口办理"
    tv.wait_for_function("document.querySelector('[data-testid=waiting-payment]').innerText === '0'")

    # The clerk starts and finishes the transaction.
    page.click("[data-testid=act-start]")
    page.wait_for_selector("[data-testid=current-status]:has-text('办理中')")
    page.click("[data-testid=act-finish]")
    page.wait_for_selector("text=没有正在办理的号码")
    ticket.refresh_from_db()
    assert ticket.status == "done" and ticket.counter_id == c1.pk
    assert ticket.called_at < ticket.started_at < ticket.finished_at

    # The evaluation device on counter 1 asks the customer to rate this transaction; they tap 非常满意.
    device = page.context.new_page()
    device.goto(f"{url}/hall/d/{eval_key}/evaluate/")
    assert "A001" in device.inner_text("[data-testid=eval-ticket]")
    device.click("[data-testid=score-very_satisfied]")
    device.wait_for_selector("[data-testid=eval-thanks]")
    rating = Rating.objects.get(ticket=ticket)
    assert (rating.score, rating.clerk_id, rating.counter_id) == ("very_satisfied", w.a_clerk.pk, c1.pk)
