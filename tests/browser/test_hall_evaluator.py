"""Browser test in real Chromium (strict CSP): a transaction finished at counter 1 → the counter's evaluation
device page shows it → the customer taps 满意 → the Rating exists; on the next transaction 不满意 asks for a
reason and is not written without one. The pages' clock is injected (a Tuesday morning)."""

import pytest

from gridcare.hall import views_ratings
from gridcare.hall.models import Rating
from tests.hall.conftest import at, hw  # noqa: F401 — the hall fixture
from tests.hall.test_ratings import evaluator, serve

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_device_rates_the_last_transaction(browser_page, live_server, hw, monkeypatch):  # noqa: F811
    w = hw
    clock = {"now": at(7)}
    monkeypatch.setattr(views_ratings, "page_now", lambda: clock["now"])
    _device, key = evaluator(w, w.c1)
    t1 = serve(w, w.c1, issued=0, called=1, started=2, finished=6)
    page = browser_page
    page.goto(f"{live_server.url}/hall/d/{key}/evaluate/")
    assert t1.number in page.inner_text("[data-testid=eval-ticket]")
    page.click("[data-testid=score-satisfied]")
    page.wait_for_selector("[data-testid=eval-thanks]")
    r = Rating.objects.get(ticket=t1)
    assert (r.score, r.clerk_id, r.counter_id) == ("satisfied", w.a_clerk.pk, w.c1.pk)

    # The next transaction: the polling panel brings it up without a reload.
    t2 = serve(w, w.c1, issued=3, called=7, started=8, finished=12)
    clock["now"] = at(13)
    page.wait_for_selector(f"[data-testid=eval-ticket]:has-text('{t2.number}')", timeout=20000)
    page.click("[data-testid=score-dissatisfied]")
    page.wait_for_selector("[data-testid=reason-form]")
    assert not Rating.objects.filter(ticket=t2).exists()
    page.click("[data-testid=reason-submit]")
    page.wait_for_selector("[data-testid=eval-errors]")
    assert "请选择或填写不满意的原因" in page.inner_text("[data-testid=eval-errors]")
    assert not Rating.objects.filter(ticket=t2).exists()
    page.check("[data-testid=reason-1]")
    page.click("[data-testid=reason-submit]")
    page.wait_for_selector("[data-testid=eval-thanks]")
    r2 = Rating.objects.get(ticket=t2)
    assert (r2.score, r2.reason, r2.follow_up.status) == ("dissatisfied", "等候时间太长", "open")
