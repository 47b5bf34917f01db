"""Production settings (GRIDCARE_DEBUG=0): security headers on every response, admin and API docs unrouted
unless switched on, the admin for the administrator role only.

Settings are read once at start-up (urls.py routes the admin or not), so the checks in production_checks.py
run in a pytest subprocess with the production environment, as a deployment would start.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from gridcare.core.permissions import Role

ROOT = Path(__file__).resolve().parents[2]
CHECKS = Path(__file__).with_name("production_checks.py")
# Anything that could change what the subprocess checks is taken from the test, not from the caller's shell.
CONTROLLED = (
    "DATABASE_URL",
    "GRIDCARE_TEST_DB_NAME",
    "GRIDCARE_ADMIN_ENABLED",
    "GRIDCARE_API_DOCS_ENABLED",
    "GRIDCARE_CSP",
    "GRIDCARE_CSP_REPORT_ONLY",
    "GRIDCARE_PERMISSIONS_POLICY",
    "GRIDCARE_REFERRER_POLICY",
    "GRIDCARE_SSL_REDIRECT",
    "GRIDCARE_HSTS_SECONDS",
)


def _run_checks(selection: str, **env: str) -> tuple[int, int, str]:
    full = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    full.update(
        GRIDCARE_DEBUG="0",
        GRIDCARE_SECRET_KEY="x" * 20 + "production-secret-" + "y" * 30,
        GRIDCARE_ALLOWED_HOSTS="testserver",
        **env,
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(CHECKS),
            "-k",
            selection,
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", output)
    return result.returncode, (int(passed.group(1)) if passed else 0), output


def test_production_defaults():
    """CSP without 'unsafe-inline', Referrer-Policy, Permissions-Policy, HSTS on pages, API answers and error
    pages; /admin/, /api/v1/docs and /api/v1/openapi.json answer 404 even to an administrator."""
    returncode, passed, output = _run_checks("default")
    # 1 settings + 4 responses + 1 redirect + 4 unrouted paths + 1 header link
    assert returncode == 0 and passed == 11, output


def test_production_with_admin_and_docs_enabled():
    """GRIDCARE_ADMIN_ENABLED=1: the admin role uses the admin, other staff (even with is_staff/is_superuser)
    cannot, and the admin's login form goes through the lockout backend; GRIDCARE_API_DOCS_ENABLED=1 serves the Swagger UI."""
    returncode, passed, output = _run_checks(
        "enabled", GRIDCARE_ADMIN_ENABLED="1", GRIDCARE_API_DOCS_ENABLED="1"
    )
    # 1 settings + 1 admin role + 3 other roles + 1 login + 1 docs
    assert returncode == 0 and passed == 7, output


# In-process, with the development settings of the test run (admin routed): the same rules.


@pytest.mark.parametrize("path", ["/portal/", "/api/v1/customers", "/no-such-page/"])
def test_headers_also_when_debugging(path, db):
    """`make run` sends the same policy, so a page that breaks it breaks while it is being written."""
    resp = Client().get(path)
    assert "'unsafe-inline'" not in resp["Content-Security-Policy"]
    assert resp["Content-Security-Policy"].startswith(
        "default-src 'self'; script-src 'self'; style-src 'self'"
    )
    assert resp["Referrer-Policy"] == "same-origin"
    assert "camera=()" in resp["Permissions-Policy"]


def test_staff_with_is_staff_but_another_role_is_refused_by_the_admin(world, login):
    world.a_manager.is_staff = True
    world.a_manager.save(update_fields=["is_staff"])
    resp = login(world.a_manager).get("/admin/customers/feeder/")
    assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")


def test_administrator_uses_the_admin(world, login):
    world.admin.is_staff = True
    world.admin.save(update_fields=["is_staff"])
    assert world.admin.role == Role.ADMIN
    assert login(world.admin).get("/admin/customers/feeder/").status_code == 200


def test_report_only_switch_renames_the_header(settings, rf):
    from django.http import HttpResponse

    from gridcare.core.middleware import SecurityHeadersMiddleware

    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = True
    resp = SecurityHeadersMiddleware(lambda request: HttpResponse("ok"))(rf.get("/"))
    assert resp["Content-Security-Policy-Report-Only"] == settings.CONTENT_SECURITY_POLICY
    assert "Content-Security-Policy" not in resp


def test_a_page_may_add_sites_to_form_action_and_keeps_the_rest_of_the_policy(settings):
    """The portal pay page's form is answered with a redirect to the channel's cashier, which form-action 'self'
    would block; the page adds the cashier's origin to form-action and nothing else."""
    from gridcare.core.middleware import csp_with_form_action

    settings.CONTENT_SECURITY_POLICY = "default-src 'self'; form-action 'self'; frame-ancestors 'none'"
    assert csp_with_form_action(["https://openapi.alipay.com", "https://wx.tenpay.com", ""]) == (
        "default-src 'self'; form-action 'self' https://openapi.alipay.com https://wx.tenpay.com; "
        "frame-ancestors 'none'"
    )
    assert csp_with_form_action([]) == settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = "default-src 'self'; form-action 'none'"  # chosen by the site: kept
    assert csp_with_form_action(["https://wx.tenpay.com"]) == settings.CONTENT_SECURITY_POLICY
