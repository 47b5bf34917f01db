"""A short way through Django for the payment channels' signed notifications (issue 12 §3).

A channel's server POSTs to `/api/v1/pay/alipay/notify` and `/api/v1/pay/wechat/notify` with no cookie, no
session and no CSRF token: the channel's signature, verified over the body, is the only authentication. The
middleware a browser needs (sessions, locale, CSRF, authentication, the session deadline, messages, htmx,
the branded error pages) has nothing to do for them, yet costs a good part of the request's CPU at hundreds
of notifications a second. `ChannelNotifyMiddleware`, placed in settings.MIDDLEWARE right after Django's
SecurityMiddleware (so the request id, the security headers and the HTTPS redirect still apply), answers these
two exact paths itself, with the same functions the API views call (`api.notify.alipay_answer`,
`wechat_answer`): same verification, same writes, same answer.

Anything unusual takes the full stack instead, which then answers exactly as without this middleware: another
method, a query string, a declared body over the notification limit, a body holding a NUL character in any
spelling (`NulInputMiddleware`'s 422), an Alipay body that is not decodable (the API's 422), a host not in
ALLOWED_HOSTS (the stack's 400): `core.middleware.stack_would_refuse`, shared with LeanApiMiddleware. The answer gets
the headers the skipped middleware would have added to it (Content-Length, X-Frame-Options, Content-Language and
Vary: Accept-Language, Cookie) from those middleware themselves (`core.middleware.LeanResponse`); the log messages are in the default language, as LocaleMiddleware would pick for a
request without the language cookie.
"""

from django.core.exceptions import ValidationError

from gridcare.core.middleware import LeanResponse, stack_would_refuse

from .api import notify

ALIPAY_PATH = "/api/v1/pay/alipay/notify"
WECHAT_PATH = "/api/v1/pay/wechat/notify"
_NUL = (b"\x00", b"%00", b"\\u0000")


def _alipay(request, body: bytes):
    try:
        params = notify.alipay_params(body)
    except ValidationError:
        return None  # the API's 422, logged by the view
    return notify.alipay_answer(request, params)


def _wechat(request, body: bytes):
    return notify.wechat_answer(request, body)


ROUTES = {ALIPAY_PATH: _alipay, WECHAT_PATH: _wechat}


class ChannelNotifyMiddleware:
    """Answer the channels' notifications without the browser middleware (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.finish = LeanResponse(get_response)

    def __call__(self, request):
        handle = ROUTES.get(request.path_info) if request.method == "POST" else None
        length = request.META.get("CONTENT_LENGTH") or "0"
        if (
            handle is None
            or request.META.get("QUERY_STRING")
            or not length.isdigit()
            or int(length) > notify.MAX_NOTIFICATION_BYTES
        ):
            return self.get_response(request)
        body = request.body
        if any(nul in body for nul in _NUL) or stack_would_refuse(request):
            return self.get_response(request)
        try:
            response = handle(request, body)
        except Exception as exc:  # the API's answer to it: its JSON 500 with the request id, logged once
            from gridcare.api import api

            return api.on_exception(request, exc)
        return self.get_response(request) if response is None else self.finish(request, response)
