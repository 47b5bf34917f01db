"""Behind a TLS-terminating proxy (issue 13 §7): with production's https redirect on, the channels'
notifications are never redirected (channels do not follow redirects), every other page still is, and the
proxy's header says a request came over https when `GRIDCARE_PROXY_SSL_HEADER` names it."""

import subprocess
import sys

import pytest
from django.test import Client, override_settings

from gridcare.core.audit import Actor
from gridcare.payments.channels import gateways

NOTIFY = ("/api/v1/pay/alipay/notify", "/api/v1/pay/wechat/notify")


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
@pytest.mark.parametrize("path", NOTIFY)
def test_notifications_over_plain_http_are_answered_not_redirected(world, path):
    r = Client().post(path, data="x=1", content_type="application/x-www-form-urlencoded")
    assert r.status_code not in (301, 302, 307, 308)
    assert r.status_code in (200, 400, 401, 404)  # the channel's own refusal of a bad notification


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_a_notification_through_the_proxy_records_the_payment(world, settings):
    """The proxy forwards https as http with X-Forwarded-Proto: the notification is handled (here the sandbox's
    signed notification through the Alipay scheme), and a page elsewhere over plain http is redirected."""
    from gridcare.payments.channels.views import sandbox

    settings.GRIDCARE = {**settings.GRIDCARE, "SANDBOX_PAY": {"ENABLED": True}}
    order = gateways.order_create(actor=Actor(), account=world.acct_a, amount="12.30", channel="portal")
    params = sandbox.notification_for(order)
    assert gateways.sandbox_notification(params) == "success"  # the same verification the endpoint runs
    assert Client().get("/portal/").status_code == 301  # plain http elsewhere: redirected
    r = Client().get("/portal/", HTTP_X_FORWARDED_PROTO="https")
    assert r.status_code != 301  # the proxy says https: served


@pytest.mark.parametrize(
    "value, expected",
    [
        ("HTTP_X_FORWARDED_PROTO=https", "('HTTP_X_FORWARDED_PROTO', 'https')"),
        ("", "None"),
    ],
)
def test_the_proxy_header_is_read_from_the_environment(value, expected):
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"
    env = {"DJANGO_SETTINGS_MODULE": "gridcare.settings", "GRIDCARE_PROXY_SSL_HEADER": value, "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_a_malformed_proxy_header_setting_stops_start_up_with_the_reason():
    code = "import django; django.setup()"
    env = {"DJANGO_SETTINGS_MODULE": "gridcare.settings", "GRIDCARE_PROXY_SSL_HEADER": "https", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "GRIDCARE_PROXY_SSL_HEADER must read HEADER=value" in out.stderr


def test_production_settings_redirect_to_https_but_exempt_the_notify_paths():
    code = (
        "import django, re; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, all(any(re.match(p, u) for p in s.SECURE_REDIRECT_EXEMPT) "
        "for u in ('api/v1/pay/alipay/notify', 'api/v1/pay/wechat/notify')), "
        "any(re.match(p, 'portal/') for p in s.SECURE_REDIRECT_EXEMPT))"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "gridcare.settings",
        "GRIDCARE_DEBUG": "0",
        "GRIDCARE_SECRET_KEY": "x" * 50,
        "PATH": "",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "False"]
