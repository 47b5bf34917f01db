"""Base view helpers: staff-only pages guarded by a permission; refusals look like 404."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404

from .permissions import has_perm, is_customer


def staff_required(*perms: str):
    """Anonymous users go to the console login; users with none of `perms` (customers included) get 404."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), "console:login")
            if not any(has_perm(request.user, p) for p in perms):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def customer_required(view):
    """Logged-in customers only (the portal's pages, whichever app serves them): anonymous → portal login,
    staff (or inactive) → 404."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "portal:login")
        if not is_customer(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def error_messages(exc) -> list[str]:
    """Every message of a ValidationError (field errors flattened), for the messages framework."""
    if hasattr(exc, "error_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


def form_errors_from(form, exc) -> None:
    """Copy a service's ValidationError({field: [msg]}) onto a bound form."""
    detail = getattr(exc, "message_dict", None) or {"__all__": exc.messages}
    for field, messages in detail.items():
        target = field if field in form.fields else None
        for m in messages:
            form.add_error(target, m if target else f"{field}: {m}" if field != "__all__" else m)


# ---------------------------------------------------------------- branded error pages (DEBUG off)


# Set on every response of these handlers, so `BrandedErrorsMiddleware` can tell them from Django's own pages.
BRANDED_ATTR = "gridcare_branded_error"


def _error_page(request, template: str, status: int, message: str = ""):
    """The console's or the portal's error page (templates/error_base.html); the API answers its JSON shape."""
    from django.http import HttpResponse, JsonResponse
    from django.shortcuts import render
    from django.utils.translation import gettext as _

    path = request.path or ""
    if path.startswith("/api/"):
        if not message:
            message = {404: _("未找到该对象，或无权访问"), 400: _("请求有误")}.get(
                status, _("当前角色无此权限")
            )
        response: HttpResponse = JsonResponse({"detail": message}, status=status)
    else:
        portal = path.startswith("/portal/")
        # Nothing of the request goes into the page: a missing and a forbidden object answer the same bytes.
        response = render(
            request,
            template,
            {"portal": portal, "home_url": "/portal/" if portal else "/", "message": message},
            status=status,
        )
    setattr(response, BRANDED_ATTR, True)
    return response


def page_not_found(request, exception=None):
    """handler404: 页面不存在, in the portal's frame under /portal/, else the console's."""
    return _error_page(request, "404.html", 404)


def bad_request(request, exception=None, message: str = ""):
    """handler400: 请求有误, with what was wrong when the caller knows (e.g. a NUL character in a field)."""
    return _error_page(request, "400.html", 400, message=message)


def permission_denied(request, exception=None):
    """handler403: 无权访问."""
    return _error_page(request, "403.html", 403)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form posted from a stale page (no or old CSRF cookie) → the branded 403 page saying
    页面已过期，请刷新后重试, never Django's stock English-and-Chinese technical page. `reason` is not shown."""
    from django.utils.translation import gettext as _

    return _error_page(request, "403.html", 403, message=_("页面已过期，请刷新后重试"))


def server_error(request=None):
    """handler500: templates/500.html with the request id (请求编号), rendered without a request context or
    the database, which may be what failed."""
    from django.http import HttpResponseServerError
    from django.template.loader import render_to_string

    from .requestid import current_request_id

    return HttpResponseServerError(render_to_string("500.html", {"request_id": current_request_id()}))
