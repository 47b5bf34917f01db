"""Payment channel notifications: the URLs Alipay and WeChat Pay call when a customer has paid.

- `POST /api/v1/pay/alipay/notify`: form-encoded parameters signed with RSA2; answers text/plain
  ``success`` or ``failure`` (anything but ``success`` makes Alipay deliver it again).
- `POST /api/v1/pay/wechat/notify`: a JSON body signed in the ``Wechatpay-*`` headers; answers 204 with no
  body, or 4xx with ``{"code": "FAIL", "message": ...}`` (404 when the channel is not configured here).
- A body that is not text in the charset it names (or names one Alipay does not use) is a 422 with the field.

No session, token or CSRF: the channel's signature is the authentication, verified over the bytes exactly
as received. The rules live in `gateways`; these views only move bytes in and out.
"""

import logging
from urllib.parse import unquote_to_bytes

from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema

from gridcare.core.api import ValidationErrorOut
from gridcare.core.clientip import client_ip
from gridcare.payments.channels import gateways, signatures

logger = logging.getLogger("gridcare.payments")

router = Router(tags=["payment notifications"])

# A real notification is a few kilobytes; anything far larger is not one.
MAX_NOTIFICATION_BYTES = 64 * 1024
MAX_FIELDS = 200


class WechatFailOut(Schema):
    code: str
    message: str


def _alipay_params(body: bytes) -> dict[str, str]:
    """The form parameters, percent-decoded to bytes and then decoded in the charset the notification
    names (utf-8 unless told otherwise; Alipay also sends gbk). Too many fields → no parameters (refused).
    A charset Alipay does not use, or bytes that are not text in the named one → ValidationError (422)."""
    fields = [f for f in body.split(b"&") if f]
    if len(fields) > MAX_FIELDS:
        return {}
    pairs = []
    for field in fields:
        name, _eq, value = field.partition(b"=")
        pairs.append(
            (unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" ")))
        )
    named = next((v for k, v in pairs if k == b"charset"), b"").decode("ascii", errors="replace")
    charset = signatures.alipay_charset(named)
    if charset is None:
        raise ValidationError(
            {
                "charset": [
                    _("不支持的字符集：%(v)s（只接受 UTF-8、GBK、GB2312、GB18030）") % {"v": named[:32]}
                ]
            }
        )
    params = {}
    for k, v in pairs:
        try:
            key = k.decode(charset)
        except UnicodeError:
            raise ValidationError({"__all__": [_("参数名不是有效的 %(c)s 文本") % {"c": charset}]}) from None
        try:
            params[key] = v.decode(charset)
        except UnicodeError:
            raise ValidationError({key[:64]: [_("不是有效的 %(c)s 文本") % {"c": charset}]}) from None
    return params


@router.post(
    "/pay/alipay/notify",
    auth=None,
    response={200: None, 422: ValidationErrorOut},
    openapi_extra={
        "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
        "responses": {
            200: {
                "description": "success：已受理；failure：未受理（支付宝将重发）",
                "content": {"text/plain": {"schema": {"type": "string", "enum": ["success", "failure"]}}},
            }
        },
    },
)
def alipay_notify(request):
    """Alipay's asynchronous notification (异步通知): RSA2-verified, then the order is paid once."""
    body = request.body
    try:
        params = alipay_params(body)
    except ValidationError as exc:
        logger.warning(
            "alipay notification refused: not decodable: %s, from %s", exc.messages, client_ip(request)
        )
        raise
    return alipay_answer(request, params)


def alipay_params(body: bytes) -> dict[str, str]:
    """The notification's parameters; none when it is too large to be one (ValidationError: not decodable)."""
    return _alipay_params(body) if len(body) <= MAX_NOTIFICATION_BYTES else {}


def alipay_answer(request, params: dict[str, str]) -> HttpResponse:
    """The answer to Alipay's notification: the view above and the short way through Django
    (`channels.fastpath`) both answer with it."""
    answer = gateways.alipay_notification(params, ip=client_ip(request))
    return HttpResponse(answer, content_type="text/plain; charset=utf-8")


@router.post(
    "/pay/wechat/notify",
    auth=None,
    response={204: None, 400: WechatFailOut, 401: WechatFailOut, 404: WechatFailOut},
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def wechat_notify(request):
    """WeChat Pay v3 payment notification (支付通知): signature, AEAD_AES_256_GCM resource, then the order."""
    return wechat_answer(request, request.body)


def wechat_answer(request, body: bytes) -> HttpResponse:
    """The answer to WeChat Pay's notification `body` (the view above and `channels.fastpath`)."""
    if len(body) > MAX_NOTIFICATION_BYTES:
        status, out = 400, {"code": "FAIL", "message": "报文过大"}
    else:
        status, out = gateways.wechat_notification(request.headers, body, ip=client_ip(request))
    if out is None:
        return HttpResponse(status=status)
    return JsonResponse(out, status=status, json_dumps_params={"ensure_ascii": False})
