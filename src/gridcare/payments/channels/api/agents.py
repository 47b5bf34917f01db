"""Collection agent API (代收点, 电话银行), signed per agent with Ed25519 (rules: `agents`, `signed_requests`).

- `GET /agent/accounts/{户号}`: masked name and address, supply unit, amount due.
- `POST /agent/payments` {transaction_id, account_number, amount, paid_at}: records the payment once; a
  retry answers the same payment with the same body (200 both times).
No session, token or CSRF: the signature (header X-Agent-Id) is the authentication; refused: 401.
"""

from datetime import datetime
from decimal import Decimal

from django.http import Http404
from django.utils.translation import gettext_noop
from ninja import Field, Router, Schema

from gridcare.core.api import READ_ERRORS, WRITE_ERRORS, Text
from gridcare.core.clientip import client_ip
from gridcare.payments.channels import agents

from .signed import SignedAccountOut, SignedAuth

router = Router(tags=["agent"], auth=SignedAuth(agents.AGENTS, "agent", gettext_noop("代收机构签名验证失败")))


class AgentPaymentIn(Schema):
    transaction_id: Text = Field(..., max_length=40, description="代收机构的交易流水号")
    account_number: Text = Field(..., max_length=10)
    amount: Text = Field(..., max_length=20, description='元，最多两位小数，如 "96.11"')
    paid_at: Text = Field(..., max_length=40, description="缴费时间 ISO 8601，无时区时为北京时间")


class AgentPaymentOut(Schema):
    payment_id: int
    channel: str
    agent: str
    transaction_id: str
    channel_txn_id: str
    account_number: str
    amount: Decimal
    paid_at: datetime


@router.get("/agent/accounts/{account_number}", response={200: SignedAccountOut, **READ_ERRORS})
def agent_account(request, account_number: str):
    """What the agent tells the customer before taking the money; 404 for an unknown 户号 or one outside
    the agent's units."""
    out = agents.account_query(request.agent, account_number)
    if out is None:
        raise Http404
    return out


@router.post("/agent/payments", response={200: AgentPaymentOut, **WRITE_ERRORS})
def agent_pay(request, payload: AgentPaymentIn):
    """Record an agent's payment exactly once per (agent, transaction_id)."""
    paid = agents.agent_payment(
        agent=request.agent,
        transaction_id=payload.transaction_id,
        account_number=payload.account_number,
        amount=payload.amount,
        paid_at=payload.paid_at,
        ip=client_ip(request),
    )
    return paid.answer
