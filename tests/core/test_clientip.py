"""Client address behind trusted proxies: the forwarded client only when the request comes from a proxy."""

import pytest
from django.test import RequestFactory, override_settings

from gridcare.core.clientip import client_ip
from gridcare.core.ratelimit import client_key

rf = RequestFactory()


def _req(remote, xff=None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return rf.get("/", **extra)


@override_settings(TRUSTED_PROXIES=[])
def test_without_trusted_proxies_the_header_is_ignored():
    assert client_ip(_req("203.0.113.7", "1.2.3.4")) == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
@pytest.mark.parametrize(
    ("remote", "xff", "expected"),
    [
        ("10.0.0.5", "198.51.100.9", "198.51.100.9"),  # one proxy
        ("10.0.0.5", "6.6.6.6, 198.51.100.9, 10.1.1.1", "198.51.100.9"),  # spoofed left part skipped
        ("203.0.113.7", "198.51.100.9", "203.0.113.7"),  # not from a proxy: header ignored
        ("10.0.0.5", "", "10.0.0.5"),  # proxy sent no header
        ("10.0.0.5", "not-an-ip", "10.0.0.5"),  # garbled header: the proxy, not the garbage
        ("10.0.0.5", "10.2.2.2", "10.2.2.2"),  # only proxies: the left-most one
    ],
)
def test_behind_trusted_proxies(remote, xff, expected):
    assert client_ip(_req(remote, xff)) == expected


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_rate_limit_key_uses_the_forwarded_client():
    assert client_key(_req("10.0.0.5", "198.51.100.9")) == "198.51.100.9"
    assert client_key(rf.get("/", REMOTE_ADDR="")) == "unknown"
