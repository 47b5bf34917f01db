"""The signed terminal API of the hall (issue 16 §7): the same Ed25519 + nonce scheme as the payment routes
(`payments.channels.signed_requests`, header X-Terminal-Id), new routes. A refused signature answers 401 and
nothing is written (the route never runs). Rules: `terminals_monitor`.

- `POST /terminal/heartbeat` {cash_box_percent?, paper_low?, printer_fault?, acceptor_fault?}: the state.
- `POST /terminal/transactions` {kind: payment|bill_query|invoice_print|other, terminal_txn_id, amount?}: counted
  once per terminal_txn_id (a retry answers the same, 200 both times).
- `POST /terminal/id-card` {name, id_number, address}: what the terminal's ID-card reader read; the customer's
  accounts in the terminal's units, masked.
"""

from datetime import datetime

from django.utils.translation import gettext_noop
from ninja import Field, Router, Schema

from gridcare.core.api import WRITE_ERRORS, Text
from gridcare.core.clientip import client_ip
from gridcare.payments.channels import terminals
from gridcare.payments.channels.api.signed import SignedAuth

from . import terminals_monitor as tm
from .idcard import ADDRESS_MAX, NAME_MAX, PostedReader

router = Router(
    tags=["terminal"], auth=SignedAuth(terminals.TERMINALS, "terminal", gettext_noop("终端签名验证失败"))
)


class HeartbeatIn(Schema):
    cash_box_percent: int | None = Field(None, ge=0, le=100, description="钱箱占用百分比 0–100")
    paper_low: bool | None = Field(None, description="打印纸将尽")
    printer_fault: bool | None = Field(None, description="打印机故障")
    acceptor_fault: bool | None = Field(None, description="纸币识别器故障")


class HeartbeatOut(Schema):
    online: bool
    last_heartbeat_at: datetime
    cash_box_percent: int | None
    paper_low: bool
    printer_fault: bool
    acceptor_fault: bool


@router.post("/terminal/heartbeat", response={200: HeartbeatOut, **WRITE_ERRORS})
def terminal_heartbeat(request, payload: HeartbeatIn):
    """A heartbeat (every minute) with the levels and faults the terminal sees; an omitted one keeps its value."""
    return tm.terminal_heartbeat(terminal=request.terminal, **payload.dict())


class TransactionIn(Schema):
    kind: Text = Field(..., max_length=16, description="payment、bill_query、invoice_print 或 other")
    terminal_txn_id: Text = Field(..., max_length=40)
    amount: Text | None = Field(None, max_length=20, description="金额（元），可省略")


class TransactionOut(Schema):
    terminal_txn_id: str
    kind: str
    amount: str | None
    recorded_at: datetime


@router.post("/terminal/transactions", response={200: TransactionOut, **WRITE_ERRORS})
def terminal_transaction(request, payload: TransactionIn):
    answer, _created = tm.terminal_transaction_record(terminal=request.terminal, **payload.dict())
    return answer


class IdCardIn(Schema):
    name: Text = Field(..., max_length=NAME_MAX)
    id_number: Text = Field(..., max_length=18)
    address: Text = Field("", max_length=ADDRESS_MAX)


class IdAccountOut(Schema):
    account_number: str
    name: str
    address: str
    supply_unit: str


class IdCardOut(Schema):
    name: str = Field(..., description="姓名（脱敏）")
    id_number: str = Field(..., description="身份证号（脱敏）")
    accounts: list[IdAccountOut]


@router.post("/terminal/id-card", response={200: IdCardOut, **WRITE_ERRORS})
def terminal_id_card(request, payload: IdCardIn):
    """The customer's accounts for the card the terminal's reader read (name and address masked); an empty list
    when the number holds no account in the terminal's units."""
    return tm.terminal_id_read(
        terminal=request.terminal, reader=PostedReader(**payload.dict()), ip=client_ip(request)
    )
