"""Checks run under the production settings (GRIDCARE_DEBUG=0) by test_production_settings.py, in a pytest
subprocess: not collected on its own (the file name does not start with test_).

Two runs: `-k default` with the defaults (admin and API docs unrouted), `-k enabled` with
GRIDCARE_ADMIN_ENABLED=1 and GRIDCARE_API_DOCS_ENABLED=1.
"""

import pytest
from django.conf import settings
from django.test import Client

from gridcare.core.permissions import Role

pytestmark = pytest.mark.django_db


def _signed_in(user, *, is_staff=True, is_superuser=False) -> Client:
    user.is_staff, user.is_superuser = is_staff, is_superuser
    user.save(update_fields=["is_staff", "is_superuser"])
    client = Client()
    client.force_login(user)
    return client


def _get(client: Client, path: str, **extra):
    # Production redirects plain HTTP to HTTPS (SECURE_SSL_REDIRECT); requests here arrive over HTTPS.
    return client.get(path, secure=True, **extra)


def test_default_runs_with_production_settings():
    assert settings.DEBUG is False and settings.SECURE_SSL_REDIRECT is True
    assert settings.ADMIN_ENABLED is False and settings.API_DOCS_ENABLED is False


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/portal/", 200, "text/html"),  # a page
        ("/login/", 200, "text/html"),  # the console login
        ("/api/v1/customers", 401, "application/json"),  # an API answer
        ("/no-such-page/", 404, "text/html"),  # an error page
    ],
)
def test_default_security_headers_on_every_response(path, status, kind):
    resp = _get(Client(), path)
    assert resp.status_code == status and resp["Content-Type"].startswith(kind)
    csp = resp["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert resp["Referrer-Policy"] == "same-origin"
    permissions = resp["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment"):
        assert f"{feature}=()" in permissions
    assert resp["Strict-Transport-Security"].startswith("max-age=31536000")


def test_default_plain_http_is_redirected_with_the_headers():
    resp = Client().get("/portal/")
    assert resp.status_code == 301 and resp["Location"] == "https://testserver/portal/"
    assert "Content-Security-Policy" in resp and "Permissions-Policy" in resp


@pytest.mark.parametrize("path", ["/admin/", "/admin/login/", "/api/v1/docs", "/api/v1/openapi.json"])
def test_default_admin_and_api_docs_answer_404(path, world):
    anonymous = _get(Client(), path)
    signed_in = _get(_signed_in(world.admin, is_superuser=True), path)
    assert anonymous.status_code == 404 and signed_in.status_code == 404


def test_default_console_header_has_no_api_docs_link(world):
    resp = _get(_signed_in(world.a_clerk, is_staff=False), "/")
    assert resp.status_code == 200 and b"/api/v1/docs" not in resp.content


def test_enabled_runs_with_admin_and_docs_switched_on():
    assert settings.DEBUG is False
    assert settings.ADMIN_ENABLED is True and settings.API_DOCS_ENABLED is True


def test_enabled_admin_role_uses_the_admin(world):
    resp = _get(_signed_in(world.admin), "/admin/")
    assert resp.status_code == 200 and b"/admin/customers/feeder/" in resp.content
    assert "'unsafe-inline'" not in resp["Content-Security-Policy"]


@pytest.mark.parametrize("who", ["a_manager", "a_clerk", "a_agent"])
def test_enabled_staff_without_the_admin_role_cannot_use_the_admin(who, world):
    # is_staff and even is_superuser set by mistake: the role decides.
    user = getattr(world, who)
    assert user.role != Role.ADMIN
    client = _signed_in(user, is_superuser=True)
    for path in ("/admin/", "/admin/customers/feeder/", "/admin/org/supplyunit/"):
        resp = _get(client, path)
        assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/"), path


def test_enabled_admin_login_goes_through_the_console_login():
    resp = _get(Client(), "/admin/login/?next=/admin/")
    assert resp.status_code == 302 and resp["Location"] == "/login/?next=%2Fadmin%2F"


def test_enabled_api_docs_served_under_the_policy():
    resp = _get(Client(), "/api/v1/docs")
    assert resp.status_code == 200 and b"swagger-ui-init.js" in resp.content
    assert "'unsafe-inline'" not in resp["Content-Security-Policy"]
    assert _get(Client(), "/api/v1/openapi.json").status_code == 200
