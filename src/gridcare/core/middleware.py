"""Simplified Chinese unless the user picks English in the header (cookie), whatever the browser asks for;
the branded 403/404 pages even with DEBUG on (`make run`), unless GRIDCARE_DEBUG_PAGES=1; the security headers
(CSP, Permissions-Policy) on every response."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response: pages, API answers, redirects and
    error pages alike (Referrer-Policy comes from Django's SecurityMiddleware, SECURE_REFERRER_POLICY).

    First in MIDDLEWARE, outside everything else, so responses made by other middleware (the HTTPS redirect,
    CSRF failures) carry the headers too. A view that needs another policy sets the header itself;
    it is left alone."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.csp_header = (
            "Content-Security-Policy-Report-Only"
            if getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", False)
            else "Content-Security-Policy"
        )

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
      {"detail": …}); django-ninja's own JSON errors are not text/html and pass untouched. 500s keep Django's technical page under DEBUG:
      developers need the traceback. With DEBUG off this does nothing (handler403/404 apply).
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
