"""API plumbing shared by every app: authentication, error shapes, paging, health and the audit trail.

Authentication (SPEC §4 security):
- `TokenAuth`: `Authorization: Bearer <key>` for integrations. Only the key's SHA-256 is stored
  (`org.ApiToken.key_hash`); revoked and expired tokens (GRIDCARE_API_TOKEN_DAYS, 90) and inactive users are
  refused. A presented but invalid
  token answers 401 at once, it never falls back to the session. `last_used_at` is written at most
  once a minute per token, with one UPDATE and no read.
- `ConsoleSessionAuth`: the console's Django session, with CSRF enforced for unsafe methods. Requests
  without a session cookie skip the CSRF check so an anonymous caller gets 401, not a CSRF 403.

Error shapes (every error body has a `detail` key):
- 401 `{"detail": "..."}`: no or bad credentials.
- 403 `{"detail": "..."}`: a collection route (list or create) the caller's role may not use.
- 404 `{"detail": "..."}`: an object that is missing, outside the caller's units, or that the caller may
  not act on - all three answer the same body, so the API cannot be used to probe for objects.
- 422 `{"detail": [{"field": "phone", "message": "..."}]}`: bad input, from the schema or a service.
- 409 `{"detail": "..."}`: refused because of a concurrent action (`gridcare.core.locks.Conflict`): a billing
  run already executing, a refund approved by someone else first, ...; the message names it.
- 500 `{"detail": "...", "request_id": "..."}`: anything unexpected, logged once on `django.request` with its
  traceback and the same request id (also in the `X-Request-ID` header). No debug text, even with DEBUG on,
  unless GRIDCARE_DEBUG_PAGES=1 (then Django's technical page, PII cleansed).

Audit trail (`GET /audit-events`): personal data inside `changes` (phones, ID numbers, bank accounts, names,
addresses) is masked for roles without customer.view_pii; for roles with it the page is shown whole and the
request writes one `customer.view_pii` row listing the events that held personal data (none when no event did).
"""

from datetime import date, datetime, timedelta
from functools import wraps
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from django.utils.log import log_response
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import AfterValidator, BaseModel

from gridcare.core.locks import Conflict
from gridcare.core.scoping import PermissionDenied
from gridcare.org.models import ApiToken

from . import selectors
from .audit import Actor, audit_pii_view_record
from .choices import Channel
from .errors import debug_pages
from .masking import mask_actor_label, mask_audit_changes
from .permissions import Perm, has_perm
from .schema_errors import http_error_message, schema_message
from .validators import date_range_message

LAST_USED_RESOLUTION = timedelta(minutes=1)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it as bad input rather than fail in the database.
    if "\x00" in value:
        raise ValueError(_("不能包含空字符（NUL）"))
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""A string input (body, query or path) that is safe to hand to the database."""


# ---------------------------------------------------------------- authentication


class TokenAuth(HttpBearer):
    """Bearer token of an integration; sets `request.user` so services see the token's owner."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        token = (token or "").strip()
        # A token lasts API_TOKEN_DAYS from its creation, unless revoked before (DELETE /tokens/{id}).
        born_after = timezone.now() - timedelta(days=settings.GRIDCARE["API_TOKEN_DAYS"])
        row = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=ApiToken.hash_key(token), revoked=False, created_at__gt=born_after)
            .first()
            if token
            else None
        )
        if row is None or not row.user.is_active:
            raise AuthenticationError(message=_("访问令牌无效或已吊销"))
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        return row.user


class ConsoleSessionAuth(APIKeyCookie):
    """The console's login session; unsafe methods must carry the CSRF token."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.COOKIES.get(self.param_name):
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key is None:
            return None
        user = request.user
        return user if user.is_authenticated else None


token_auth = TokenAuth()
session_auth = ConsoleSessionAuth()
DEFAULT_AUTH = [token_auth, session_auth]


# ---------------------------------------------------------------- errors


class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    field: str = Field(..., description="输入字段名；整体错误为 __all__")
    message: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


# For the OpenAPI document: what each kind of route may answer besides success.
READ_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}
WRITE_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}
CONFLICT_ERRORS = {409: ErrorOut}  # routes that refuse a concurrent action (`Conflict`)
LIST_ERRORS = {401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut}


def not_found_message() -> str:
    return _("未找到该对象，或无权访问")


def _field_of(loc: tuple | list) -> str:
    """`("body", "payload", "phone")` → `phone`; `("query", "page")` → `page`."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[2:]
    elif parts:
        parts = parts[1:]
    return ".".join(parts) or "__all__"


def django_errors(exc: DjangoValidationError) -> list[dict[str, str]]:
    if hasattr(exc, "error_dict"):
        return [{"field": field, "message": str(m)} for field, msgs in exc.message_dict.items() for m in msgs]
    return [{"field": "__all__", "message": str(m)} for m in exc.messages]


def install_error_handlers(api) -> None:
    """The answers of SPEC §4: clear 422s, one 404 for missing and forbidden."""

    def unauthenticated(request, exc):
        response = api.create_response(request, {"detail": http_error_message(str(exc))}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="gridcare"'
        return response

    def not_found(request, exc):
        return api.create_response(request, {"detail": not_found_message()}, status=404)

    def django_invalid(request, exc):
        return api.create_response(request, {"detail": django_errors(exc)}, status=422)

    def schema_invalid(request, exc):
        detail = [
            {
                "field": _field_of(e.get("loc", ())),
                "message": schema_message(e),
            }
            for e in exc.errors
        ]
        return api.create_response(request, {"detail": detail}, status=422)

    def http_error(request, exc):
        return api.create_response(request, {"detail": http_error_message(str(exc))}, status=exc.status_code)

    def conflict(request, exc):
        return api.create_response(request, {"detail": str(exc)}, status=409)

    def server_error(request, exc):
        if debug_pages():
            raise exc  # Django's technical page, for a developer who asked for it
        body = {"detail": _("系统繁忙，请稍后再试"), "request_id": getattr(request, "request_id", "")}
        response = api.create_response(request, body, status=500)
        # One record with the traceback; Django then sees the response as logged and does not log it again.
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request, exception=exc
        )
        return response

    def malformed_body(request, exc):
        # A multipart body without a boundary, or cut short: the client's request, not our failure.
        return api.create_response(
            request, {"detail": _("请求体不是有效的 multipart/form-data：%(e)s") % {"e": exc}}, status=400
        )

    api.add_exception_handler(Exception, server_error)
    api.add_exception_handler(MultiPartParserError, malformed_body)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(Conflict, conflict)
    api.add_exception_handler(AuthenticationError, unauthenticated)
    api.add_exception_handler(Http404, not_found)
    api.add_exception_handler(PermissionDenied, not_found)
    api.add_exception_handler(DjangoValidationError, django_invalid)
    api.add_exception_handler(NinjaValidationError, schema_invalid)


_INT_LIMIT = 2**63 - 1  # what a database integer column holds (PostgreSQL bigint, SQLite INTEGER)


_PLAIN = frozenset({str, float, bool, type(None), bytes})


def _dates_out_of_range(value: Any, path: list[str], errors: dict[str, list[str]], ints: bool = True) -> None:
    if type(value) in _PLAIN:  # the common case first: a large body (100,000 events) is mostly strings
        return
    if ints and isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT_LIMIT:
        # Past 64 bits the database driver overflows (SQLite: OverflowError) before any lookup can miss.
        errors.setdefault(".".join(path) or "__all__", []).append(_("数值超出范围"))
        return
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        message = date_range_message(value)
        if message is not None:
            errors.setdefault(".".join(path) or "__all__", []).append(message)
    elif isinstance(value, BaseModel):
        if getattr(type(value), "checked_by_route", False):
            return  # a model whose route checks its own dates and numbers (the credit what-if: dates from 1900)
        fields = (
            value.__dict__
        )  # pydantic keeps the field values here; getattr would go through ninja's getter
        for name in type(value).model_fields:
            _dates_out_of_range(fields.get(name), [*path, name], errors)
    elif isinstance(value, dict):
        for key, item in value.items():
            _dates_out_of_range(item, [*path, str(key)], errors)
    elif isinstance(value, list | tuple):
        if value and getattr(type(value[0]), "checked_by_route", False):
            return  # a list of models whose route checks every field itself (reliability events: 100,000 of them)
        for i, item in enumerate(value):
            _dates_out_of_range(item, [*path, str(i)], errors)


def dates_in_range(view):
    """An API-wide operation decorator (`api.add_decorator`): every date or datetime an API route receives —
    path, query or body, nested included — must lie within core.validators DATE_MIN..DATE_MAX (2000-01-01 ..
    2100-12-31), and every query or body integer within 64 bits, else a 422 on that field. Far outside it date
    arithmetic overflows (0001-01-01 − 30 days) and database drivers overflow. An id in the path past the column's
    range stays the 404 of a missing object."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        errors: dict[str, list[str]] = {}
        in_path = set(getattr(getattr(request, "resolver_match", None), "kwargs", None) or ())
        for name, value in kwargs.items():
            # A schema argument (payload, filters) reports its own fields, as the schema errors do.
            path = [] if isinstance(value, BaseModel) else [name]
            _dates_out_of_range(value, path, errors, ints=name not in in_path)
        if errors:
            raise DjangoValidationError(errors)
        return view(request, *args, **kwargs)

    return wrapped


def document_common_errors(api) -> None:
    """Add to every route's documented answers the errors the API plumbing itself may give, so the
    OpenAPI document lists every status a client can see: 401 on an authenticated route, 422 on every route
    (a path, query or body field the schema refuses, a NUL character anywhere) and 400 on a route with a JSON
    body (a body that is not JSON at all). Call once, after every router is added. Routes documenting a
    single non-200 answer are left alone: ninja would then stop defaulting to that status."""
    for bound in api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for op in path_view.operations:
                codes = op.response_models
                if len(codes) == 1 and 200 not in codes:
                    continue
                sources = {m.__ninja_param_source__ for m in op.signature.models}
                wanted: dict[int, type[Schema]] = {}
                if op.auth_callbacks:
                    wanted[401] = ErrorOut
                # Any route: a field the schema refuses, or a NUL anywhere in the query string or body (refused
                # by core.middleware before the route reads its raw body, as the payment notifications do).
                wanted[422] = ValidationErrorOut
                if sources - {
                    "query",
                    "path",
                    "header",
                    "cookie",
                }:  # a body that is not JSON / multipart at all
                    wanted[400] = ErrorOut
                for code, model in wanted.items():
                    if code not in codes:
                        codes[code] = op._create_response_model(model)


# ---------------------------------------------------------------- helpers for route functions


def api_actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request, Channel.API)


def require_perm(request: HttpRequest, *perms: str) -> None:
    """Collection routes: a role with none of `perms` gets 403 (nothing about any object is revealed)."""
    if not any(has_perm(request.user, p) for p in perms):
        raise HttpError(403, _("当前角色无此权限：%(perm)s") % {"perm": " / ".join(perms)})


def require_object_perm(request: HttpRequest, perm: str) -> None:
    """Object routes: a role without `perm` gets the same 404 as a missing object."""
    if not has_perm(request.user, perm):
        raise Http404


class PageParams(Schema):
    page: int = Field(1, ge=1, le=1_000_000, description="页码，从 1 开始")
    page_size: int = Field(
        settings.NINJA_PAGINATION_PER_PAGE, ge=1, le=200, description="每页条数（最多 200）"
    )


def paginate(qs: QuerySet, params: PageParams, row=lambda obj: obj) -> dict[str, Any]:
    """One COUNT and one slice; `row` turns each object into the item shape."""
    start = (params.page - 1) * params.page_size
    return {
        "count": qs.count(),
        "page": params.page,
        "page_size": params.page_size,
        "items": [row(obj) for obj in qs[start : start + params.page_size]],
    }


def aware(value: datetime | None) -> datetime | None:
    """Naive datetimes from a query string are read as local (Asia/Shanghai) time."""
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value)


# ---------------------------------------------------------------- routes: health and audit events

router = Router(tags=["system"])


class HealthOut(Schema):
    status: str


@router.get("/health", auth=None, response=HealthOut, summary="Liveness (no database, no auth)")
def health(request):
    return {"status": "ok"}


class AuditEventOut(Schema):
    id: int
    created_at: datetime
    actor_id: int | None
    actor_label: str
    channel: str
    action: str
    object_type: str
    object_id: str
    customer_id: int | None
    unit_id: int | None
    changes: dict[str, Any]
    ip: str | None


class AuditEventPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[AuditEventOut]


class AuditFilter(Schema):
    object_type: Text = Field("", description="如 customers.customer")
    object_id: Text = ""
    customer_id: int | None = None
    action: Text = Field("", description="如 customer.update、customer.view_pii")
    since: datetime | None = Field(None, description="此时刻及之后（无时区按北京时间）")


def audit_event_row(e, *, reveal: bool = False) -> dict[str, Any]:
    """One audit row for the API; personal data in `changes` masked unless `reveal`."""
    return {
        "id": e.pk,
        "created_at": e.created_at,
        "actor_id": e.actor_id,
        "actor_label": mask_actor_label(e.actor_label),
        "channel": e.channel,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "customer_id": e.customer_id,
        "unit_id": e.unit_id,
        "changes": e.changes if reveal else mask_audit_changes(e.changes),
        "ip": e.ip,
    }


@router.get("/audit-events", response={200: AuditEventPage, **LIST_ERRORS}, tags=["audit"])
def audit_events(request, filters: Query[AuditFilter], paging: Query[PageParams]):
    """Audit trail of the caller's units, newest first (requires audit.view)."""
    require_perm(request, Perm.AUDIT_VIEW)
    qs = selectors.audit_events_visible(user=request.user)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id:
        qs = qs.filter(object_id=filters.object_id)
    if filters.customer_id is not None:
        qs = qs.filter(customer_id=filters.customer_id)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.since is not None:
        qs = qs.filter(created_at__gte=aware(filters.since))
    # Personal data inside the changes only for roles that may see it (the audit trail keeps it whole);
    # showing it whole is itself audited, one row for the page.
    reveal = has_perm(request.user, Perm.CUSTOMER_VIEW_PII)
    page = paginate(qs.order_by("-created_at", "-id"), paging)
    if reveal:
        audit_pii_view_record(actor=api_actor(request), events=page["items"], source="api.audit_events")
    page["items"] = [audit_event_row(e, reveal=reveal) for e in page["items"]]
    return page
