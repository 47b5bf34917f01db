"""Self-service terminal API (自助缴费终端), signed per terminal with Ed25519 (rules: `terminals`).

- `GET /terminal/accounts/{户号}`: masked name and address, supply unit, amount due.
- `POST /terminal/payments` {account_number, amount, terminal_txn_id}: records the payment once; a repeat
  answers the same payment with the same body (200 both times).
No session, token or CSRF: the signature is the authentication; a refused request answers 401.
"""

from datetime import datetime
from decimal import Decimal

from django.http import Http404
from django.utils.translation import gettext_noop
from ninja import Field, Router, Schema

from gridcare.core.api import READ_ERRORS, WRITE_ERRORS, Text
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
