"""Self-service payment terminals (自助缴费终端): registration, request signatures, query and payment.

Authentication, per terminal, with Ed25519 (only the public key is stored): the scheme of
`signed_requests`, with the terminal's code in ``X-Terminal-Id``.

Scope (decision): a terminal belongs to a supply unit and serves the accounts of that unit and every unit
below it (the unit's subtree, as staff scoping does). An account outside it answers 404, like an unknown 户号.

Payments: `terminal_payment` records through `services.payment_record` with channel "terminal" and the
transaction id "<terminal code>:<terminal txn id>", so the (channel, transaction id) uniqueness makes a
repeat return the same payment; the answer is built only from what never changes, so it is the same too.
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.payments.choices import PaymentChannel
from gridcare.payments.models import Terminal, TerminalNonce

from . import signatures, signed_requests

TERMINALS = signed_requests.Callers(Terminal, TerminalNonce, "terminal", "X-Terminal-Id", "terminal")

# The names the terminal API, the command and the tests use.
TerminalAuthError = signed_requests.SignedRequestRefused
generate_key_pair = signatures.ed25519_key_pair
sign = signatures.request_sign


@transaction.atomic
def terminal_add(*, actor: Actor, code: str, unit, public_key: str, name: str = "") -> Terminal:
    """Register a terminal with its Ed25519 public key (PEM). Refused: bad or taken code, bad key."""
    code, public_key, name = signed_requests.clean_registration(
        TERMINALS, code=code, public_key=public_key, name=name, code_label=_("终端编号")
    )
    terminal = Terminal.objects.create(
        code=code, unit=unit, name=name, public_key=public_key, created_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="terminal.add",
        obj=terminal,
        unit_id=unit.pk,
        changes={"code": code, "name": name},
    )
    return terminal


def authenticate(
    *, headers, method: str, path: str, body: bytes, now: datetime | None = None, ip: str | None = None
) -> Terminal:
    """The terminal that signed this request, or TerminalAuthError (logged). Stores the nonce."""
    return signed_requests.authenticate(
        TERMINALS, headers=headers, method=method, path=path, body=body, now=now, ip=ip
    )


def account_query(terminal: Terminal, account_number: str) -> dict[str, Any] | None:
    """What the terminal shows: masked name and address, supply unit, amount due (None: not one of its)."""
    return signed_requests.account_query(terminal.unit, account_number)


def terminal_payment(
    *,
    terminal: Terminal,
    account_number: str,
    amount: Any,
    terminal_txn_id: str,
    ip: str | None = None,
    now: datetime | None = None,
) -> signed_requests.Paid:
    """Record a terminal payment exactly once (see the module docstring), paid at `now` (default the real
    time: the API never passes it; the demo builders pass their clock). Refused (ValidationError): bad
    transaction id, an account outside the terminal's units, and everything `payment_record` refuses."""
    return signed_requests.signed_payment(
        channel=PaymentChannel.TERMINAL,
        caller=terminal,
        txn=terminal_txn_id,
        txn_field="terminal_txn_id",
        txn_label=_("终端流水号"),
        account_number=account_number,
        amount=amount,
        paid_at=now,
        ip=ip,
    )


# ---------------------------------------------------------------- Alipay / WeChat Pay QR codes (issue 13)


def terminal_order(
    *, terminal: Terminal, account_number: str, amount: Any, channel: str, ip: str | None = None
):
    """An order paid by scanning: Alipay 当面付 (precreate) or WeChat Native, for an account of the terminal's
    units; the terminal shows the QR code. `online.Placed` (no placement: the channel could not be reached, the
    order stays payable); ValidationError naming the field (nothing written); None: not one of its accounts."""
    from . import online

    account = signed_requests.account_for(terminal.unit, account_number)
    if account is None:
        return None
    return online.place(
        actor=Actor(user=None, channel=Channel.API, ip=ip),
        account=account,
        amount=amount,
        channel=channel,
        scene="qr",
        origin="",
    )


def terminal_order_get(terminal: Terminal, order_no: str):
    """An order of an account of the terminal's units (None otherwise), settled from the channel if it is due."""
    from gridcare.payments.models import PaymentOrder

    from .online import settle_if_due

    order = (
        PaymentOrder.objects.select_related("account", "payment")
        .filter(order_no=str(order_no or "")[:32], account__unit__path__startswith=terminal.unit.path)
        .exclude(scene="")
        .first()
    )
    return settle_if_due(order) if order is not None else None
