"""GridCare's own HTTP client for the channels: one pooled `requests` session, the configured timeout, http(s)
only, and every failure to get an answer turned into `ChannelError` (the order stays payable)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings

from .base import ChannelError

logger = logging.getLogger("gridcare.payments")
MAX_BODY = 8 * 1024 * 1024  # a day's statement fits; anything larger is not an answer we expect

_local = threading.local()


def _session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = _local.session = requests.Session()
        s.trust_env = False  # no proxy from the environment unless configured explicitly
    return s


def timeout() -> float:
    return float(settings.GRIDCARE.get("PAY", {}).get("HTTP_TIMEOUT") or 5)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def call(method: str, url: str, *, channel: str, headers: dict | None = None, data=None) -> Answer:
    """One request; ChannelError when there is no answer (refused, timed out, not http(s), too large)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ChannelError(f"not an http(s) URL: {url[:80]!r}", channel=channel)
    try:
        resp = _session().request(
            method,
            url,
            headers=headers or {},
            data=data,
            timeout=timeout(),
            allow_redirects=False,
            stream=True,
        )
        body = resp.raw.read(MAX_BODY + 1, decode_content=True)
    except requests.RequestException as exc:
        logger.warning("%s channel unreachable: %s %s: %s", channel, method, url[:120], exc)
        raise ChannelError(f"{method} {url[:120]}: {exc.__class__.__name__}: {exc}", channel=channel) from exc
    if len(body) > MAX_BODY:
        raise ChannelError(f"{method} {url[:120]}: answer larger than {MAX_BODY} bytes", channel=channel)
    return Answer(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, body)
