"""Simplified Chinese unless the user picks English in the header (cookie), whatever the browser asks for;
the branded 403/404 pages even with DEBUG on (`make run`), unless GRIDCARE_DEBUG_PAGES=1; no NUL character in
any input; the security headers (CSP, Permissions-Policy) on every response; the hottest anonymous JSON routes
without the browser stack (LeanApiMiddleware)."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404


def csp_header_name() -> str:
    """The header the policy goes out in: Content-Security-Policy, or its Report-Only form
    (GRIDCARE_CSP_REPORT_ONLY=1)."""
    if getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", False):
        return "Content-Security-Policy-Report-Only"
    return "Content-Security-Policy"


def csp_with_form_action(origins: list[str]) -> str:
    """The configured policy with `origins` added to its form-action: a page whose form is answered with a
    redirect to another site (a payment channel's cashier) must allow that site, or the browser blocks the
    redirect. A policy without form-action leaves forms unrestricted and is returned as it is."""
    policy = settings.CONTENT_SECURITY_POLICY or ""
    extra = " ".join(o for o in dict.fromkeys(origins) if o)
    if not extra:
        return policy
    directives = [d.strip() for d in policy.split(";")]
    return "; ".join(
        f"{d} {extra}" if d.split(" ", 1)[0].lower() == "form-action" and "'none'" not in d else d
        for d in directives
        if d
    )


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response: pages, API answers, redirects and
    error pages alike (Referrer-Policy comes from Django's SecurityMiddleware, SECURE_REFERRER_POLICY).

    First in MIDDLEWARE, outside everything else, so responses made by other middleware (the HTTPS redirect,
    CSRF failures) carry the headers too. A view that needs another policy sets the header itself;
    it is left alone."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.csp_header = csp_header_name()

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault(self.csp_header, settings.CONTENT_SECURITY_POLICY)
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class ChineseByDefaultMiddleware:
    """Drop Accept-Language before LocaleMiddleware so only the language switch (cookie) changes the UI."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


class BrandedErrorsMiddleware:
    """With DEBUG on, show the branded 403/404 pages instead of Django's technical ones (which list every URL
    pattern in English), unless the developer sets GRIDCARE_DEBUG_PAGES=1 (settings.DEBUG_PAGES).

    - Http404 / PermissionDenied raised by a view → the branded handler's response (`process_exception`).
    - A 404 text/html page that is not already ours (an unmatched URL's technical 404) → the branded 404,
      still a 404, so CommonMiddleware's APPEND_SLASH redirect (/customers → /customers/) still happens.
    - Under /api/ the handlers answer JSON (an unmatched API route's technical 404 becomes
      {"detail": …}); django-ninja's own JSON errors are not text/html and pass untouched. With DEBUG off this
      does nothing (handler403/404 apply).
    500s under DEBUG: the branded page too, through settings.DEFAULT_EXCEPTION_REPORTER (core.errors), unless
    GRIDCARE_DEBUG_PAGES=1; the traceback is in the log either way.
    Sits after AuthenticationMiddleware, innermost, so it sees the resolver's 404 first."""

    def __init__(self, get_response):
        self.get_response = get_response

    @staticmethod
    def _active(request) -> bool:
        return settings.DEBUG and not getattr(settings, "DEBUG_PAGES", False)

    def __call__(self, request):
        from .views import BRANDED_ATTR, page_not_found

        response = self.get_response(request)
        if (
            response.status_code == 404
            and self._active(request)
            and not getattr(response, BRANDED_ATTR, False)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            return page_not_found(request)
        return response

    def process_exception(self, request, exception):
        from .views import page_not_found, permission_denied

        if not self._active(request):
            return None
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return permission_denied(request, exception)
        return None


# ---------------------------------------------------------------- NUL characters in any input

_JSON_NUL = b"\\u0000"


def _nul_in(value, path: list[str]) -> str | None:
    """The dotted name of the first JSON value (or key) holding a NUL character, else None."""
    if isinstance(value, str):
        return ".".join(path) or "__all__" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            if "\x00" in key:
                return ".".join([*path, key.replace("\x00", "")]) or "__all__"
            found = _nul_in(item, [*path, key])
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_in(item, [*path, str(i)])
            if found:
                return found
    return None


def nul_field(request) -> str | None:
    """The name of the first input of `request` holding a NUL character — a path parameter, a query parameter,
    a form field or a JSON value — else None. Multipart bodies are left to the forms (Django's CharField refuses
    NUL) because their files may hold any byte."""
    import json
    from urllib.parse import parse_qsl

    from django.urls import Resolver404, resolve

    if "\x00" in request.path_info:
        try:
            kwargs = resolve(request.path_info).kwargs
        except Resolver404:
            kwargs = {}
        return next((k for k, v in kwargs.items() if "\x00" in str(v)), "path")
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in v for v in values):
            return key.replace("\x00", "") or "__all__"
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        body = request.body
        if b"%00" in body or b"\x00" in body:
            for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
                if "\x00" in key or "\x00" in value:
                    return key.replace("\x00", "") or "__all__"
            return "__all__"
    elif content_type == "application/json" or content_type.endswith("+json"):
        body = request.body
        if _JSON_NUL in body:  # JSON spells the escape with a lower-case u only
            try:
                return _nul_in(json.loads(body), [])
            except ValueError:
                return None  # not JSON: the API's parser answers that
    return None


class NulInputMiddleware:
    """Refuse any request with a NUL character (U+0000) in its path, query string, form or JSON body: PostgreSQL
    text cannot hold one, so it would fail in the database (500) instead of being bad input. Under /api/ the
    answer is the API's 422 `{"detail": [{"field": …, "message": "不能包含空字符（NUL）"}]}`, elsewhere the
    branded 400 page saying which field. Placed after LocaleMiddleware so the message is in the user's
    language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.http import JsonResponse
        from django.utils.translation import gettext as _

        from .views import bad_request

        field = nul_field(request)
        if field is None:
            return self.get_response(request)
        message = _("不能包含空字符（NUL）")
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": [{"field": field, "message": message}]}, status=422)
        return bad_request(request, message=f"{field}：{message}")


# ---------------------------------------------------------------- lean routes: hot anonymous JSON without the browser stack


class LeanApiMiddleware:
    """Serve the hottest anonymous JSON API routes (settings.LEAN_API_ROUTES: a path pattern and a handler) without
    the browser stack: no session, CSRF, authentication, messages, htmx, URL resolution or django-ninja dispatch —
    most of what a request costs when the route's own work is small (the public 户号 query, bench/lookup.py).

    Placed right after SecurityMiddleware, so the request id, the security headers (CSP, Permissions-Policy,
    nosniff, Referrer-Policy, COOP, HSTS) and the HTTPS redirect apply exactly as to every other response, and the
    handler does its own rate limiting and masking as its django-ninja route does. What the skipped middleware
    would have done to such a request is done here: the host is checked (CommonMiddleware), the language is the
    default one (as LocaleMiddleware picks it with no cookie and Accept-Language dropped), and the response gets
    the same X-Frame-Options, Content-Length, Content-Language and Vary headers. The answer is the route's
    byte for byte (tests/core/test_lean_routes.py compares the two).

    Only the plain case is served: a GET without any cookie (no session, CSRF or language cookie to honour), no
    NUL anywhere, and query parameters the handler accepts. A handler returns None to decline; everything else
    (HEAD, POST, cookies, a NUL, a trailing slash, unknown parameters) goes through the whole stack unchanged."""

    def __init__(self, get_response):
        import re

        from django.utils.module_loading import import_string

        self.get_response = get_response
        self.routes = [
            (re.compile(pattern), import_string(handler))
            for pattern, handler in getattr(settings, "LEAN_API_ROUTES", ())
        ]
        self.finish = LeanResponse(get_response)

    def __call__(self, request):
        if self.routes and request.method == "GET" and not request.META.get("HTTP_COOKIE"):
            path = request.path_info
            for pattern, handler in self.routes:
                match = pattern.fullmatch(path)
                if match is not None:
                    response = self._serve(request, handler, match.groupdict())
                    if response is not None:
                        return response
                    break
        return self.get_response(request)

    def _serve(self, request, handler, kwargs):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info or "\x00" in query or "%00" in query:
            return None  # NulInputMiddleware's 422
        if stack_would_refuse(request):
            return None
        response = handler(request, **kwargs)
        return None if response is None else self.finish(request, response)


def stack_would_refuse(request) -> bool:
    """Whether CommonMiddleware would answer this request itself (a www redirect, a refused user agent) or the
    host is not allowed (the stack's 400): a short way through Django then declines, and the stack answers. Also
    activates the default language, as LocaleMiddleware picks it for a request with no language cookie."""
    from django.core.exceptions import DisallowedHost
    from django.utils import translation

    if settings.PREPEND_WWW or settings.DISALLOWED_USER_AGENTS:
        return True
    try:
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
    except DisallowedHost:
        return True
    translation.activate(settings.LANGUAGE_CODE)
    request.LANGUAGE_CODE = translation.get_language()
    return False


class LeanResponse:
    """What the skipped browser middleware would have done to a response served by a short way through Django
    (LeanApiMiddleware, payments.channels.fastpath): X-Frame-Options, Content-Length, Content-Language and the
    Vary headers, by those middleware's own process_response, innermost first (their order in MIDDLEWARE,
    reversed)."""

    def __init__(self, get_response):
        from django.middleware.clickjacking import XFrameOptionsMiddleware
        from django.middleware.common import CommonMiddleware
        from django.middleware.locale import LocaleMiddleware

        self.steps = (
            XFrameOptionsMiddleware(get_response).process_response,
            CommonMiddleware(get_response).process_response,
            LocaleMiddleware(get_response).process_response,
        )

    def __call__(self, request, response):
        from django.utils.cache import patch_vary_headers

        for step in self.steps:
            response = step(request, response)
        # SessionDeadlineMiddleware reads the (empty) session of every request, so the stack adds Vary: Cookie.
        patch_vary_headers(response, ("Cookie",))
        return response
