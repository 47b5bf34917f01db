"""The customer page's 信用等级 section (issue 17 §5): grade, total, dimensions with reasons linking to their
events, measures, history and buttons; shown to credit.view holders; bounded queries."""

from datetime import date

from gridcare.core.audit import Actor
from gridcare.credit import runs
from gridcare.credit.models import CreditEvent

from .conftest import NOW, TODAY


def test_customer_page_shows_grade_and_reasons(cw, login, django_assert_max_num_queries):
    theft = CreditEvent.objects.create(
        customer=cw.cust_a,
        unit_id=cw.cust_a.unit_id,
        code="theft",
        date=date(2026, 8, 1),
        source="staff",
        status="active",
        recorded_at=NOW,
        updated_at=NOW,
    )
    for m in (date(2026, 9, 30), date(2026, 10, 31)):
        run = runs.monthly_run_create(actor=Actor(), as_of=m, today=TODAY, now=NOW)
        runs.execute(run, now=NOW)
    c = login(cw.cmanager)
    url = f"/customers/{cw.cust_a.pk}/"
    c.get(url)  # warm caches (unit ids, policy)
    with django_assert_max_num_queries(60):
        html = c.get(url).content.decode()
    assert 'data-testid="credit-grade">D<' in html
    assert 'data-testid="credit-total">50.0' in html
    assert f'href="/credit/events/{theft.pk}/"' in html and "窃电" in html
    assert "新增容量前须交保证金或预付费" in html  # the D measure
    assert "立即评价" in html and f"/credit/events/new/?customer={cw.cust_a.pk}" in html
    assert html.count("<tr><td>2026-") >= 2  # history of both runs
    # The second month's reasons point at the first's: the page still shows them.
    assert "连续12个月无欠费" in html


def test_query_count_does_not_grow_with_history(cw, login, django_assert_max_num_queries):
    c = login(cw.a_agent)
    url = f"/customers/{cw.power_a.pk}/"
    c.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        c.get(url)
    for m in (date(2026, 8, 31), date(2026, 9, 30), date(2026, 10, 31)):
        runs.execute(runs.monthly_run_create(actor=Actor(), as_of=m, today=TODAY, now=NOW), now=NOW)
    with CaptureQueriesContext(connection) as after:
        html = c.get(url).content.decode()
    assert len(after) <= len(before) + 3  # standing+score, reasons_from, history: fixed, whatever the history
    assert 'data-testid="credit-grade">' in html
    assert "立即评价" not in html  # an agent holds credit.view only


def test_section_hidden_without_credit_view(cw, login):
    # The meter reader sees customers? If the page answers, it has no credit section.
    r = login(cw.a_reader).get(f"/customers/{cw.cust_a.pk}/")
    assert r.status_code in (200, 404)
    if r.status_code == 200:
        assert "credit-section" not in r.content.decode()
