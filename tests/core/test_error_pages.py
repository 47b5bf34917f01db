"""Branded error pages in Chinese when DEBUG is off: 404 in the console's or the portal's frame, JSON under
/api/, 403, and a 500 page that needs neither a request context nor the database."""

import io
import logging
import re
from contextlib import contextmanager

import pytest
from django.template.loader import render_to_string
from django.test import Client, override_settings

from gridcare.core.requestid import RequestIdFilter


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


# ---------------------------------------------------------------- request ids, logging, no PII (issue 11 §3)

REQUEST_ID = re.compile(r"[0-9a-f]{32}")
PHONE, ID_NUMBER = "13812345678", "11010519850612000X"


@contextmanager
def console_output():
    """What the console handler of settings.LOGGING writes while the block runs (its formatter and filter)."""
    [handler] = [h for h in logging.getLogger("django").handlers if isinstance(h, logging.StreamHandler)]
    out = io.StringIO()
    old = handler.setStream(out)
    try:
        yield out
    finally:
        handler.setStream(old)


def error_records(caplog):
    return [r for r in caplog.records if r.name == "django.request" and r.levelno >= logging.ERROR]


@pytest.mark.urls("tests.core.error_urls")
@override_settings(DEBUG=False)
def test_a_forced_500_logs_one_record_with_the_request_id_shown_on_the_page_and_in_the_header(db, caplog):
    c = Client(raise_request_exception=False)
    with console_output() as out, caplog.at_level(logging.WARNING):
        resp = c.post("/boom-pii/", {"phone": PHONE, "id_number": ID_NUMBER})
    rid = resp["X-Request-ID"]
    assert resp.status_code == 500 and REQUEST_ID.fullmatch(rid)
    body = resp.content.decode()
    assert 'data-testid="request-id"' in body and rid in body
    [record] = error_records(caplog)
    assert record.exc_info is not None and record.getMessage() == "Internal Server Error: /boom-pii/"
    lines = [line for line in out.getvalue().splitlines() if "Internal Server Error" in line]
    assert len(lines) == 1 and f"ERROR django.request [{rid}] Internal Server Error: /boom-pii/" in lines[0]
    assert "RuntimeError: boom for customer 11" in out.getvalue()  # the traceback is logged
    assert PHONE not in out.getvalue() and ID_NUMBER not in out.getvalue()
    assert PHONE not in body and "Traceback" not in body


@override_settings(DEBUG=False)
def test_an_api_500_carries_the_request_id_in_its_json_and_is_logged_once(world, caplog, monkeypatch):
    from gridcare.core import selectors

    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(selectors, "audit_events_visible", fail)
    c = Client(raise_request_exception=False)
    c.force_login(world.admin)
    with console_output() as out, caplog.at_level(logging.WARNING):
        resp = c.get("/api/v1/audit-events")
    rid = resp["X-Request-ID"]
    assert resp.status_code == 500 and resp["Content-Type"].startswith("application/json")
    assert resp.json() == {"detail": "系统繁忙，请稍后再试", "request_id": rid}
    [record] = error_records(caplog)
    assert record.exc_info[0] is RuntimeError
    assert f"[{rid}] Internal Server Error: /api/v1/audit-events" in out.getvalue()


def test_every_response_carries_a_fresh_request_id(world):
    c = Client()
    ok, missing, api = c.get("/login/"), c.get("/no-such-page/"), c.get("/api/v1/health")
    ids = {ok["X-Request-ID"], missing["X-Request-ID"], api["X-Request-ID"]}
    assert (ok.status_code, missing.status_code, api.status_code) == (200, 404, 200)
    assert len(ids) == 3 and all(REQUEST_ID.fullmatch(i) for i in ids)


@pytest.mark.parametrize(
    ("proxies", "remote", "sent", "kept"),
    [
        (["10.0.0.0/8"], "10.1.2.3", "edge-7f3a9c01", True),  # a trusted proxy's well-formed id is kept
        ([], "10.1.2.3", "edge-7f3a9c01", False),  # no trusted proxies: ignored
        (["10.0.0.0/8"], "203.0.113.9", "edge-7f3a9c01", False),  # from a client: ignored
        (["10.0.0.0/8"], "10.1.2.3", "bad id\nwith newline", False),  # malformed: ignored
        (["10.0.0.0/8"], "10.1.2.3", "short", False),
        (["10.0.0.0/8"], "10.1.2.3", "x" * 65, False),
    ],
)
def test_an_incoming_request_id_is_kept_only_from_a_trusted_proxy(db, settings, proxies, remote, sent, kept):
    settings.TRUSTED_PROXIES = proxies
    resp = Client(REMOTE_ADDR=remote).get("/api/v1/health", headers={"X-Request-ID": sent})
    if kept:
        assert resp["X-Request-ID"] == sent
    else:
        assert REQUEST_ID.fullmatch(resp["X-Request-ID"])


@pytest.mark.urls("tests.core.error_urls")
@override_settings(DEBUG=True, DEBUG_PAGES=False)
def test_debug_500_is_the_branded_page_with_the_request_id_not_the_technical_one(world, caplog):
    c = Client(raise_request_exception=False)
    with caplog.at_level(logging.WARNING):
        resp = c.post("/boom-pii/", {"phone": PHONE})
    body = resp.content.decode()
    assert resp.status_code == 500 and 'data-testid="error-500"' in body
    assert resp["X-Request-ID"] in body
    assert "Traceback" not in body and "RuntimeError" not in body and PHONE not in body
    assert len(error_records(caplog)) == 1
    # the API too: JSON, never the plain-text traceback django-ninja gives under DEBUG
    c.force_login(world.admin)
    from gridcare.core import selectors

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(selectors, "audit_events_visible", lambda **kw: 1 / 0)
        resp = c.get("/api/v1/audit-events")
    assert resp.status_code == 500 and "Traceback" not in resp.content.decode()
    assert resp.json()["request_id"] == resp["X-Request-ID"]


@pytest.mark.urls("tests.core.error_urls")
@override_settings(DEBUG=True, DEBUG_PAGES=True)
def test_debug_pages_opt_in_shows_the_technical_500_with_pii_starred(db):
    c = Client(raise_request_exception=False)
    post = {"phone": PHONE, "id_number": ID_NUMBER, "address": "东关镇人民路18号", "q": "keep-this"}
    resp = c.post("/boom-pii/?name=%E5%BC%A0%E4%B8%89&page=7", post)
    body = resp.content.decode()
    assert resp.status_code == 500 and "Traceback" in body and "RuntimeError" in body
    for pii in (PHONE, ID_NUMBER, "东关镇人民路18号"):
        assert pii not in body, pii
    assert "keep-this" in body  # a field whose name is not personal data stays visible
    # GET parameters are listed cleansed too (the URL itself is shown as requested)
    get_table = body[body.index('id="get-info"') : body.index('id="post-info"')]
    assert "张三" not in get_table and "name" in get_table and "7" in get_table


def test_the_report_filter_stars_pii_named_fields_variables_and_settings(rf, settings):
    from django.views.debug import get_default_exception_reporter_filter

    flt = get_default_exception_reporter_filter()
    request = rf.post("/x/", {"name": "张三", "bank_account": "6222020200112233445", "page": "2"})
    post = flt.get_post_parameters(request)
    assert post["name"] == post["bank_account"] == flt.cleansed_substitute and post["page"] == "2"
    settings.GRIDCARE_TEST_PASSWORD = "hunter22"  # noqa: S105
    assert flt.get_safe_settings()["GRIDCARE_TEST_PASSWORD"] == flt.cleansed_substitute
    # nested: a dict variable holding a phone
    assert flt.cleanse_setting("data", {"phone": PHONE, "unit_id": 3}) == {
        "phone": flt.cleansed_substitute,
        "unit_id": 3,
    }


def test_logging_routes_django_request_and_security_to_the_console_with_the_request_id(settings):
    conf = settings.LOGGING
    handler = conf["handlers"]["console"]
    assert (
        "request_id" in handler["filters"]
        and "%(request_id)s" in conf["formatters"][handler["formatter"]]["format"]
    )
    assert conf["loggers"]["django"]["handlers"] == ["console"]
    for name in ("django.request", "django.security"):
        logger = logging.getLogger(name)
        assert logger.getEffectiveLevel() <= logging.WARNING and logger.propagate
    assert any(
        isinstance(f, RequestIdFilter) for h in logging.getLogger("django").handlers for f in h.filters
    )
