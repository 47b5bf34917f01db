"""A request id for every request: in the `X-Request-ID` response header, on the error pages, in the API's 500
body and on every log line written while the request runs, so a user's "请求编号" finds the log record.

- The id is a fresh random 32-hex string, or the `X-Request-ID` a trusted reverse proxy sent
  (GRIDCARE_TRUSTED_PROXIES, `core.clientip.from_trusted_proxy`) when it is well formed (8–64 of
  A–Z a–z 0–9 . _ -). Anyone else's header is ignored: a client cannot plant text in our logs.
- It lives in a context variable from the start of the request until `request_finished` (after Django has
  logged the response), and on `request.request_id`.
- `RequestIdFilter` (a logging filter, on the console handler in settings.LOGGING) puts it on each record as
  `%(request_id)s`; "-" outside a request.
"""

import logging
import re
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished

from .clientip import from_trusted_proxy

HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")
_current: ContextVar[str | None] = ContextVar("gridcare_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled in this context, if any."""
    return _current.get()


def _incoming(request) -> str | None:
    value = request.META.get("HTTP_X_REQUEST_ID", "")
    if value and _WELL_FORMED.fullmatch(value) and from_trusted_proxy(request):
        return value
    return None


class RequestIdMiddleware:
    """Outermost: gives the request its id before anything can fail, and sends it back on every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = _incoming(request) or uuid.uuid4().hex
        request.request_id = request_id
        _current.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _forget(**kwargs) -> None:
    _current.set(None)


request_finished.connect(_forget, dispatch_uid="gridcare.core.requestid.forget")


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id`: the request the record was logged for (Django's request logs pass it along),
    else the one being handled, else "-". Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or _current.get() or "-"
        return True
