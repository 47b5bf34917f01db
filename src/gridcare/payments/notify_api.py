"""Payment channel notifications: the URLs Alipay and WeChat Pay call when a customer has paid.

- `POST /api/v1/pay/alipay/notify`: form-encoded parameters signed with RSA2; answers text/plain
  ``success`` or ``failure`` (anything but ``success`` makes Alipay deliver it again).
- `POST /api/v1/pay/wechat/notify`: a JSON body signed in the ``Wechatpay-*`` headers; answers 204 with no
  body, or 4xx/5xx with ``{"code": "FAIL", "message": ...}``.

No session, token or CSRF: the channel's signature is the authentication, verified over the bytes exactly
as received. The rules live in `gateways`; these views only move bytes in and out.
"""

from urllib.parse import unquote_to_bytes

from django.http import HttpResponse, JsonResponse
from ninja import Router, Schema

from gridcare.core.clientip import client_ip

from . import gateways

router = Router(tags=["payment notifications"])

# A real notification is a few kilobytes; anything far larger is not one.
MAX_NOTIFICATION_BYTES = 64 * 1024
MAX_FIELDS = 200


class WechatFailOut(Schema):
    code: str
    message: str


def _alipay_params(body: bytes) -> dict[str, str]:
    """The form parameters, percent-decoded to bytes and then decoded in the charset the notification
    names (utf-8 unless told otherwise; Alipay also sends gbk). Undecodable → no parameters (refused)."""
    fields = [f for f in body.split(b"&") if f]
    if len(fields) > MAX_FIELDS:
        return {}
    pairs = []
    for field in fields:
        name, _eq, value = field.partition(b"=")
        pairs.append(
            (unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" ")))
        )
    charset = next((v for k, v in pairs if k == b"charset"), b"").decode("ascii", errors="replace") or "utf-8"
    try:
        return {k.decode(charset): v.decode(charset) for k, v in pairs}
    except (LookupError, UnicodeDecodeError):
        return {}


@router.post(
    "/pay/alipay/notify",
    auth=None,
    response={200: None},
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
    params = _alipay_params(body) if len(body) <= MAX_NOTIFICATION_BYTES else {}
    answer = gateways.alipay_notification(params, ip=client_ip(request))
    return HttpResponse(answer, content_type="text/plain; charset=utf-8")


@router.post(
    "/pay/wechat/notify",
    auth=None,
    response={204: None, 400: WechatFailOut, 401: WechatFailOut, 500: WechatFailOut},
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def wechat_notify(request):
    """WeChat Pay v3 payment notification (支付通知): signature, AEAD_AES_256_GCM resource, then the order."""
    body = request.body
    if len(body) > MAX_NOTIFICATION_BYTES:
        status, out = 400, {"code": "FAIL", "message": "报文过大"}
    else:
        status, out = gateways.wechat_notification(request.headers, body, ip=client_ip(request))
    if out is None:
        return HttpResponse(status=status)
    return JsonResponse(out, status=status, json_dumps_params={"ensure_ascii": False})
