"""Fault-report API of the 95598 service (issue 15 §5), for the public, the portal and 95598 integrations. Mounted at
/api/v1/ by gridcare/api.py. The design (phone proof, rate limits, the short write path) is in `intake.py`.

- `POST /fault-reports/code` `{"phone"}` → 200 `{"detail", "expires_in"}`: an SMS code to a mobile phone (the
  portal's sending limits: 429 over them).
- `POST /fault-reports/verify` `{"phone", "code"}` → 200 `{"phone_token", "expires_at"}`: the stateless proof of
  the phone, good for 2 hours; a wrong or spent code → 422 on `code`.
- `POST /fault-reports` → 201 `{"number", "triage", "message", "est_restoration", "deadlines"}`.
  Body: `phone`, `description`, `account_number` (optional), `address` (required without a known 户号), `area`
  (optional: from the account's transformer area, else urban), `caller_name`; anonymous callers add
  `phone_token` (for that phone: else 401); staff may add `channel` (default `phone`) and `transformer_area`
  (a 台区 code, for a caller without a 户号). Unknown keys → 422.
  Who: anonymous with a phone token (rate-limited per phone and per client address: 429, nothing written);
  a logged-in portal customer (session, CSRF) — channel `portal`, the order is theirs; staff with
  workorder.handle (bearer token or session) on the order's unit (else 404); other staff → 403.

Storm path: an anonymous report (a JSON POST with no cookie and no Authorization header) is answered by
`FaultReportLeanMiddleware` without the browser stack or django-ninja's dispatch, by the same function
(`fault_report_answer`) the route calls once the body is valid: the same answer, byte for byte, and the same
headers. Anything else — a body the schema refuses, a cookie, a token, a NUL, another content type — takes the
whole stack, which answers as it always does.
"""

import json
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict
from pydantic import ValidationError as SchemaError

from gridcare.core import ratelimit
from gridcare.core.api import (
    ErrorOut,
    Text,
    ValidationErrorOut,
    django_errors,
    not_found_message,
    session_auth,
    token_auth,
)
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.clientip import client_ip
from gridcare.core.masking import mask_phone
from gridcare.core.middleware import LeanResponse, stack_would_refuse
from gridcare.core.permissions import Perm, has_perm, is_customer
from gridcare.core.ratelimit import client_key
from gridcare.core.scoping import PermissionDenied

from . import intake
from .choices import OrderChannel
from .deadlines import CHINA

router = Router(tags=["fault-reports"])

REPORT_PATH = "/api/v1/fault-reports"
MAX_BODY_BYTES = 8 * 1024  # a report is a few hundred bytes; anything bigger takes the whole stack
_NUL = (b"\x00", b"\\u0000")


class _Anonymous:
    """`request.auth` of a caller with no credentials: the route then asks for a phone token."""

    def __bool__(self) -> bool:
        return True


ANONYMOUS = _Anonymous()


def anyone(request: HttpRequest) -> _Anonymous:
    """The last auth callback of the report route: no credentials is allowed (a phone token is checked)."""
    return ANONYMOUS


# ---------------------------------------------------------------- schemas


class FaultReportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    phone: Text = Field(..., max_length=20, description="联系电话：11位手机号或带区号的固定电话")
    description: Text = Field(..., max_length=500, description="故障情况")
    account_number: Text | None = Field(None, max_length=20, description="户号；未知户号时须留电话和地址")
    address: Text | None = Field(None, max_length=200, description="故障地址；无户号时必填")
    area: Text | None = Field(None, max_length=8, description="urban / rural / remote；缺省取户号所在台区")
    caller_name: Text | None = Field(None, max_length=50, description="联系人")
    phone_token: Text | None = Field(
        None, max_length=200, description="匿名报修必填：POST /fault-reports/verify 得到的手机验证凭证"
    )
    channel: Text | None = Field(None, max_length=8, description="受理渠道（仅工作人员，缺省 phone）")
    transformer_area: Text | None = Field(
        None, max_length=32, description="台区编号（仅工作人员：无户号的来电用于研判和按台区归并）"
    )


class DeadlineOut(Schema):
    name: str
    due_at: datetime = Field(..., description="北京时间（+08:00），整秒")
    provisional: bool


class FaultReportOut(Schema):
    number: str = Field(..., description="工单编号")
    triage: str = Field(..., description="dispatch 派发抢修 / outage 已知停电 / arrears 欠费停电")
    message: str = Field(..., description="答复客户的话")
    est_restoration: datetime | None = Field(..., description="已知停电的预计恢复供电时间")
    deadlines: list[DeadlineOut]


class PhoneIn(Schema):
    model_config = ConfigDict(extra="forbid")

    phone: Text = Field(..., max_length=20, description="11位手机号")


class CodeSentOut(Schema):
    detail: str
    expires_in: int = Field(..., description="验证码有效秒数")


class VerifyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    phone: Text = Field(..., max_length=20, description="11位手机号")
    code: Text = Field(..., max_length=10, description="6位短信验证码")


class PhoneTokenOut(Schema):
    phone_token: str = Field(..., description="手机验证凭证，报修时作为 phone_token 提交")
    expires_at: datetime


# ---------------------------------------------------------------- the answer (the route and the storm path)


def _json(status: int, body: dict) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _field_error(field_name: str, message: str) -> JsonResponse:
    return _json(422, {"detail": [{"field": field_name, "message": message}]})


def _china(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(CHINA).replace(microsecond=0).isoformat()


def fault_report_answer(request: HttpRequest, payload: FaultReportIn, user) -> JsonResponse:
    """The answer to a fault report whose body the schema accepted; `user` is the authenticated caller or None.
    Every outcome is a JsonResponse built here, so the route and the storm path answer alike."""
    staff = customer = False
    if user is not None:
        customer = is_customer(user)
        staff = not customer and has_perm(user, Perm.WORKORDER_HANDLE)
        if not (customer or staff):
            return _json(403, {"detail": _("当前角色无此权限：%(perm)s") % {"perm": Perm.WORKORDER_HANDLE}})
    if not staff:
        if payload.channel is not None:
            return _field_error("channel", _("只有工作人员可以指定受理渠道"))
        if payload.transformer_area is not None:
            return _field_error("transformer_area", _("只有工作人员可以指定台区"))
    channel = OrderChannel.PORTAL
    if staff:
        channel = payload.channel or OrderChannel.PHONE
        if channel not in OrderChannel.values:
            return _field_error("channel", _("未知的渠道：%(v)s") % {"v": channel})
    actor = Actor(user=user, channel=Channel.PORTAL if customer else Channel.API, ip=client_ip(request))
    if customer and not ratelimit.hit("portal_orders", str(user.pk), 20, 3600):  # the portal's own limit
        return _json(429, {"detail": _("提交过于频繁，请稍后再试；紧急情况请拨打 95598")})
    report = {
        "phone": payload.phone,
        "description": payload.description,
        "address": payload.address or "",
        "account_number": payload.account_number,
        "area": payload.area,
        "caller_name": payload.caller_name or "",
    }
    try:
        if user is None:
            made = intake.anonymous_fault_report(
                actor=actor, client_key=client_key(request), phone_token=payload.phone_token, **report
            )
        else:
            made = intake.fault_report_create(
                actor=actor,
                channel=channel,
                transformer_area_code=payload.transformer_area,
                customer_user=user if customer else None,
                **report,
            )
    except intake.PhoneTokenRefused as e:
        response = _json(401, {"detail": str(e)})
        response["WWW-Authenticate"] = 'Bearer realm="gridcare"'
        return response
    except intake.ReportRateLimited as e:
        return _json(429, {"detail": str(e)})
    except ValidationError as e:
        return _json(422, {"detail": django_errors(e)})
    except PermissionDenied:
        return _json(404, {"detail": not_found_message()})
    return _json(
        201,
        {
            "number": made.number,
            "triage": made.triage,
            "message": made.message,
            "est_restoration": _china(made.est_restoration),
            "deadlines": [
                {"name": d.name, "due_at": _china(d.due_at), "provisional": d.provisional}
                for d in made.deadlines
            ],
        },
    )


@router.post(
    "/fault-reports",
    auth=[token_auth, session_auth, anyone],
    response={
        201: FaultReportOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
        429: ErrorOut,
    },
)
def fault_report(request, payload: FaultReportIn):
    """Report a fault (故障报修) and hear the triage: a crew is dispatched within the arrival commitment, or the
    caller is inside a known outage (its estimated restoration), or a prepaid account has no balance left.

    Anonymous callers need `phone_token` for their phone (`/fault-reports/code`, `/fault-reports/verify`) and are
    rate-limited per phone and per client address (429)."""
    user = None if request.auth is ANONYMOUS else request.auth
    return fault_report_answer(request, payload, user)


@router.post(
    "/fault-reports/code", auth=None, response={200: CodeSentOut, 422: ValidationErrorOut, 429: ErrorOut}
)
def fault_report_code(request, payload: PhoneIn):
    """Send an SMS code to the phone that will report a fault (the public form's first step). Rate-limited per
    phone and per client address (429)."""
    from gridcare.portal.codes import CodeRateLimited

    try:
        phone = intake.fault_code_send(
            actor=Actor.from_request(request, Channel.API),
            phone=payload.phone,
            client_key=client_key(request),
        )
    except CodeRateLimited as e:
        return Status(429, {"detail": str(e)})
    ttl = int(settings.GRIDCARE["SMS_CODE_TTL_SECONDS"])
    return {
        "detail": _("验证码已发送至 %(p)s，%(m)s分钟内有效")
        % {"p": mask_phone(phone), "m": max(ttl // 60, 1)},
        "expires_in": ttl,
    }


@router.post("/fault-reports/verify", auth=None, response={200: PhoneTokenOut, 422: ValidationErrorOut})
def fault_report_verify(request, payload: VerifyIn):
    """Spend the SMS code and get the phone token (valid 2 hours) to send with each fault report."""
    proof = intake.fault_code_verify(
        actor=Actor.from_request(request, Channel.API), phone=payload.phone, code=payload.code
    )
    return {"phone_token": proof.token, "expires_at": proof.expires_at.astimezone(CHINA)}


# ---------------------------------------------------------------- the storm path


class FaultReportLeanMiddleware:
    """Answer an anonymous `POST /api/v1/fault-reports` without the browser stack (sessions, CSRF, authentication,
    messages, htmx) or django-ninja's dispatch — most of what such a request costs besides its own statements.

    Placed right after core.middleware.LeanApiMiddleware (after SecurityMiddleware), so the request id, the security
    headers and the HTTPS redirect apply as to every response; `core.middleware.LeanResponse` adds what the skipped
    middleware would have (X-Frame-Options, Content-Length, Content-Language, Vary). Only the plain case is
    served: POST, that exact path, no query string, no cookie, no Authorization header, a JSON body of at most
    MAX_BODY_BYTES with no NUL in any spelling, a host the stack accepts, and a body the route's schema accepts
    (`FaultReportIn`, validated as django-ninja validates it). Everything else goes through the whole stack."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.finish = LeanResponse(get_response)

    def __call__(self, request):
        if request.method != "POST" or request.path_info != REPORT_PATH:
            return self.get_response(request)
        response = self._serve(request)
        return self.get_response(request) if response is None else response

    def _serve(self, request):
        meta = request.META
        if meta.get("HTTP_COOKIE") or meta.get("HTTP_AUTHORIZATION") or meta.get("QUERY_STRING"):
            return None
        content_type = meta.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        length = meta.get("CONTENT_LENGTH") or ""
        if content_type != "application/json" or not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return None
        body = request.body
        if any(nul in body for nul in _NUL) or stack_would_refuse(request):
            return None
        try:
            data = json.loads(body)
            payload = FaultReportIn.model_validate(data) if isinstance(data, dict) else None
        except (ValueError, SchemaError):
            return None  # the route's 400 / 422, as django-ninja words them
        if payload is None:
            return None
        try:
            response = fault_report_answer(request, payload, None)
        except Exception as exc:  # the API's answer to it: its JSON 500 with the request id, logged once
            from gridcare.api import api  # the root API imports this module

            return api.on_exception(request, exc)
        return self.finish(request, response)
