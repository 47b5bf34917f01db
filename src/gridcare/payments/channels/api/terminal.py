"""Self-service terminal API (自助缴费终端), signed per terminal with Ed25519 (rules: `terminals`).

- `GET /terminal/accounts/{户号}`: masked name and address, supply unit, amount due.
- `POST /terminal/payments` {account_number, amount, terminal_txn_id}: records the payment once; a repeat
  answers the same payment with the same body (200 both times).
- `POST /terminal/orders` {account_number, amount, channel}: an Alipay 当面付 / WeChat Native order whose QR
  code the terminal shows (201; 503 when the channel cannot be reached, the order then stays payable);
  `GET /terminal/orders/{order_no}`: its state (the channel is asked when the order is due), paid or not.
No session, token or CSRF: the signature is the authentication; a refused request answers 401.
"""

from datetime import datetime
from decimal import Decimal

from django.http import Http404
from django.utils.translation import gettext_noop
from ninja import Field, Router, Schema, Status

from gridcare.core.api import READ_ERRORS, WRITE_ERRORS, ErrorOut, Text
from gridcare.core.clientip import client_ip
from gridcare.payments.channels import terminals

from .signed import SignedAccountOut, SignedAuth

router = Router(
    tags=["terminal"], auth=SignedAuth(terminals.TERMINALS, "terminal", gettext_noop("终端签名验证失败"))
)


class TerminalPaymentIn(Schema):
    account_number: Text = Field(..., max_length=10)
    amount: Text = Field(..., max_length=20)
    terminal_txn_id: Text = Field(..., max_length=40)


class TerminalPaymentOut(Schema):
    payment_id: int
    account_number: str
    amount: Decimal
    terminal_txn_id: str
    channel_txn_id: str
    paid_at: datetime


@router.get("/terminal/accounts/{account_number}", response={200: SignedAccountOut, **READ_ERRORS})
def terminal_account(request, account_number: str):
    """What the terminal shows before paying; 404 for an unknown 户号 or one outside the terminal's units."""
    out = terminals.account_query(request.terminal, account_number)
    if out is None:
        raise Http404
    return out


@router.post("/terminal/payments", response={200: TerminalPaymentOut, **WRITE_ERRORS})
def terminal_pay(request, payload: TerminalPaymentIn):
    """Record a terminal payment exactly once per (terminal, terminal_txn_id)."""
    paid = terminals.terminal_payment(
        terminal=request.terminal,
        account_number=payload.account_number,
        amount=payload.amount,
        terminal_txn_id=payload.terminal_txn_id,
        ip=client_ip(request),
    )
    return paid.answer


class TerminalOrderIn(Schema):
    account_number: Text = Field(..., max_length=10)
    amount: Text = Field(..., max_length=20)
    channel: Text = Field(
        ..., max_length=16, description="alipay（支付宝当面付）或 wechat（微信 Native 支付）"
    )


class TerminalOrderOut(Schema):
    order_no: str
    channel: str
    amount: Decimal
    status: str = Field(..., description="created（待支付）、paid（已支付）或 closed（已关闭）")
    qr_code: str = Field(..., description="二维码内容，终端据此显示二维码")
    expires_at: datetime | None
    paid_at: datetime | None


def _order_out(order) -> dict:
    return {
        "order_no": order.order_no,
        "channel": order.channel,
        "amount": order.amount,
        "status": order.status,
        "qr_code": order.pay_url,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
    }


@router.post("/terminal/orders", response={201: TerminalOrderOut, 503: ErrorOut, **WRITE_ERRORS})
def terminal_order(request, payload: TerminalOrderIn):
    """Open an order paid by scanning the terminal's screen; 404 for an account outside the terminal's units."""
    placed = terminals.terminal_order(
        terminal=request.terminal,
        account_number=payload.account_number,
        amount=payload.amount,
        channel=payload.channel,
        ip=client_ip(request),
    )
    if placed is None:
        raise Http404
    if placed.placement is None:
        return Status(503, {"detail": placed.error})
    return Status(201, _order_out(placed.order))


@router.get("/terminal/orders/{order_no}", response={200: TerminalOrderOut, **READ_ERRORS})
def terminal_order_get(request, order_no: str):
    order = terminals.terminal_order_get(request.terminal, order_no)
    if order is None:
        raise Http404
    return _order_out(order)
