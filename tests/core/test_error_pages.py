"""Branded error pages in Chinese when DEBUG is off: 404 in the console's or the portal's frame, JSON under
/api/, 403, and a 500 page that needs neither a request context nor the database."""

import pytest
from django.template.loader import render_to_string
from django.test import Client, override_settings


@override_settings(DEBUG=False)
def test_404_console_and_portal_are_chinese_and_branded(world):
    c = Client()
    c.force_login(world.a_clerk)
    resp = c.get("/no-such-page/")
    body = resp.content.decode()
    assert resp.status_code == 404
    assert 'data-testid="error-404"' in body and "页面不存在（404）" in body
    assert '<body class="console">' in body and "Page not found" not in body
    portal = Client().get("/portal/no-such-page/")
    body = portal.content.decode()
    assert portal.status_code == 404 and "页面不存在（404）" in body
    assert '<body class="portal">' in body and 'href="/portal/"' in body
    # an object the user may not see answers the same page (staff_required raises Http404)
    outsider = Client()
    outsider.force_login(world.portal_user)
    resp = outsider.get("/billing/tariffs/AGR-FLAT/versions/new/")
    assert resp.status_code == 404 and "页面不存在（404）" in resp.content.decode()
    # the page carries nothing of the request: any two 404s of the console are the same bytes
    assert resp.content == c.get("/no-such-page/?x=1").content


@override_settings(DEBUG=False)
def test_404_under_the_api_keeps_the_json_shape(db):
    resp = Client().get("/api/v1/no-such-route")
    assert resp.status_code == 404
    assert resp.json() == {"detail": "未找到该对象，或无权访问"}


@pytest.mark.urls("tests.core.error_urls")
@override_settings(DEBUG=False)
def test_403_and_500_pages(db):
    c = Client(raise_request_exception=False)
    resp = c.get("/portal/forbidden/")
    assert resp.status_code == 403 and "无权访问（403）" in resp.content.decode()
    resp = c.get("/boom/")
    body = resp.content.decode()
    assert resp.status_code == 500
    assert 'data-testid="error-500"' in body and "系统繁忙（500）" in body
    assert "Server Error" not in body and "Traceback" not in body


def test_500_template_needs_no_request_and_no_database():
    # No db fixture: pytest-django refuses any database access here, so rendering proves it needs none.
    body = render_to_string("500.html")
    assert "系统繁忙（500）" in body and "95598" in body


# ---------------------------------------------------------------- DEBUG on (`make run`): still branded


@override_settings(DEBUG=True, DEBUG_PAGES=False)
def test_debug_unknown_urls_answer_the_branded_404_console_and_portal(world):
    c = Client()
    c.force_login(world.a_clerk)
    resp = c.get("/no-such-page/")
    body = resp.content.decode()
    assert resp.status_code == 404
    assert 'data-testid="error-404"' in body and '<body class="console">' in body
    assert "Page not found" not in body and "URLconf" not in body
    portal = Client().get("/portal/no-such-page/")
    body = portal.content.decode()
    assert portal.status_code == 404 and '<body class="portal">' in body and "URLconf" not in body


@override_settings(DEBUG=True, DEBUG_PAGES=False)
def test_debug_forbidden_and_missing_objects_raised_by_views_are_branded(world):
    clerk = Client()
    clerk.force_login(world.a_clerk)
    resp = clerk.get("/billing/runs/")  # a counter clerk may not see billing runs: staff_required → Http404
    assert resp.status_code == 404
    body = resp.content.decode()
    assert 'data-testid="error-404"' in body and "Page not found" not in body and "Raised by" not in body
    anon = Client().get("/portal/pay/public/AAAA/receipt/")
    body = anon.content.decode()
    assert anon.status_code == 404 and '<body class="portal">' in body and "Page not found" not in body


@pytest.mark.urls("tests.core.error_urls")
@override_settings(DEBUG=True, DEBUG_PAGES=False)
def test_debug_permission_denied_is_branded(db):
    resp = Client().get("/portal/forbidden/")
    assert resp.status_code == 403 and 'data-testid="error-403"' in resp.content.decode()


@override_settings(DEBUG=True, DEBUG_PAGES=False)
def test_debug_api_404_stays_json_and_append_slash_still_redirects(world):
    resp = Client().get("/api/v1/no-such-route")
    assert resp.status_code == 404
    assert resp["Content-Type"].startswith("application/json")
    c = Client()
    c.force_login(world.a_clerk)
    resp = c.get("/customers")
    assert resp.status_code == 301 and resp["Location"] == "/customers/"


@override_settings(DEBUG=True, DEBUG_PAGES=True)
def test_debug_pages_opt_in_shows_djangos_technical_404(db):
    resp = Client().get("/no-such-page/")
    assert resp.status_code == 404 and "URLconf" in resp.content.decode()


@pytest.mark.parametrize("debug", [True, False])
def test_csrf_failure_is_the_branded_403(world, settings, debug):
    settings.DEBUG = debug
    settings.DEBUG_PAGES = False
    c = Client(enforce_csrf_checks=True)
    resp = c.post("/login/", {"username": "a_clerk", "password": "x"})
    body = resp.content.decode()
    assert resp.status_code == 403
    assert 'data-testid="error-403"' in body and "页面已过期，请刷新后重试" in body
    assert "CSRF" not in body and "Forbidden" not in body
