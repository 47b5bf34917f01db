"""Public API (no login): the 95598-style 户号 query with what is owed, and paying it (`public_pay`).

- `GET /public/accounts/{户号}?name=`: masked name and address, supply unit, and money as strings with two
  decimals: `amount_due` (= `principal_due` + `late_fee`, what paying today settles in full),
  `unpaid_periods`, `prepaid_balance` (estimated, prepaid accounts only, else null). Unknown, malformed,
  closed and name mismatch all answer one 404 body; 429 when the client is over the query limit.
- `POST /public/orders` `{"account_number", "amount", "channel"}` → 201 `{"order_no", "pay_url",
  "expires_at", "receipt_url"}`; 422 naming each bad field; 429 over the limit (same limits, own bucket).

Both are anonymous: no credentials are read (`auth=None`), so no session and no CSRF token either — the
links in the answer are the payer's only key to the order.
"""

from typing import Annotated, Any

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import WithJsonSchema

from gridcare.core.api import ErrorOut, ValidationErrorOut
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.ratelimit import client_key
from gridcare.customers.schemas import PublicFoundOut, PublicMessageOut
from gridcare.payments.channels import gateways, public_pay

router = Router(tags=["public"])


class PublicAccountOut(PublicFoundOut):
    amount_due: str = Field(..., description="应缴金额（元）= principal_due + late_fee，今日缴清所需")
    principal_due: str = Field(..., description="欠费本金（元）")
    late_fee: str = Field(..., description="违约金（元），计至今日")
    unpaid_periods: list[str] = Field(..., description="欠费账期 YYYY-MM，由早到晚")
    prepaid_balance: str | None = Field(..., description="智能交费户的估算剩余余额（元），其他户为 null")


@router.get(
    "/public/accounts/{account_number}",
    auth=None,
    response={200: PublicAccountOut, 404: PublicMessageOut, 429: PublicMessageOut},
)
def public_account(request, account_number: str, name: str | None = None):
    """Public 户号 query (no login): masked name and address, the supply unit and what is owed today.

    Unknown, malformed, closed and name-mismatch all answer the same 404 body. Rate-limited per client.
    """
    return _account_answer(request, account_number, name)


def _account_answer(request, account_number: str, name: str | None) -> JsonResponse:
    result = public_pay.public_account_query(
        client_key=client_key(request), account_number=account_number, name=name
    )
    response = JsonResponse(result.payload, status=result.status)
    response["Cache-Control"] = "no-store"
    return response


def public_account_lean(request, account_number: str) -> HttpResponse | None:
    """The same query served by `core.middleware.LeanApiMiddleware` (settings.LEAN_API_ROUTES) without the
    browser stack or django-ninja: the same answer, headers and rate limit. Declines (None) a query string with
    anything but one `name`, which the route above then answers as django-ninja parses it."""
    params = request.GET
    if params and (params.keys() != {"name"} or len(params.getlist("name")) != 1):
        return None
    try:
        return _account_answer(request, account_number, params.get("name"))
    except Exception as exc:
        from gridcare.api import api  # the root API imports this module

        return api.on_exception(request, exc)  # the route's own 500 (logged, with the request id)


class PublicOrderIn(Schema):
    account_number: str = Field(..., description="10位户号")
    # Read by the service as given (a bool or a list is refused there with the same 422 on `amount`).
    amount: Annotated[Any, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}]})] = Field(
        ..., description='缴费金额（元），0.01 起，最多两位小数，如 "96.11"'
    )
    channel: str = Field(..., description="alipay（支付宝）、wechat（微信支付）或 portal（网上缴费）")


class PublicOrderOut(Schema):
    order_no: str
    scene: str = Field(
        ...,
        description="qr（pay_url 为二维码内容）、wap/page/h5（pay_url 为收银台地址）或 sandbox（模拟支付网关）",
    )
    pay_url: str = Field(..., description="支付宝/微信支付的二维码内容或收银台地址，或模拟支付网关页面")
    expires_at: str = Field(..., description="支付截止时间（北京时间，ISO 8601）")
    receipt_url: str = Field(..., description="缴费凭证页面，链接含随机密钥，请妥善保存")


@router.post(
    "/public/orders",
    auth=None,
    response={201: PublicOrderOut, 422: ValidationErrorOut, 429: ErrorOut, 503: ErrorOut},
)
def public_order(request, payload: PublicOrderIn, response: HttpResponse):
    """Pay a 户号 without logging in: an order through the payment gateway and the payer's receipt link."""
    try:
        created = public_pay.public_order_create(
            actor=Actor.from_request(request, Channel.API),
            client_key=client_key(request),
            account_number=payload.account_number,
            amount=payload.amount,
            channel=payload.channel,
        )
    except public_pay.RateLimited as exc:
        return Status(429, {"detail": str(exc) or _("操作过于频繁，请稍后再试")})
    order, token = created.order, created.token
    response["Cache-Control"] = "no-store"
    placed = created.placed
    if placed is not None and placed.placement is None:  # the channel could not be reached: try again
        return Status(503, {"detail": placed.error})
    pay_url = (
        placed.placement.url
        if placed is not None
        else request.build_absolute_uri(reverse("payments:public_sandbox", args=[token]))
    )
    return Status(
        201,
        {
            "order_no": order.order_no,
            "scene": placed.placement.scene if placed is not None else "sandbox",
            "pay_url": pay_url,
            "expires_at": timezone.localtime(order.expires_at, gateways.BEIJING).isoformat(),
            "receipt_url": request.build_absolute_uri(
                reverse("payments_portal:public_receipt", args=[token])
            ),
        },
    )
