"""Self-service payment terminals (自助缴费终端): registration, request signatures, query and payment.

Authentication, per terminal, with Ed25519 (only the public key is stored). Every request carries:

    X-Terminal-Id: T001
    X-Timestamp:   unix seconds
    X-Nonce:       8–64 characters [A-Za-z0-9_-], new for every request
    X-Signature:   base64 of the Ed25519 signature over the UTF-8 bytes of
                   METHOD + "\\n" + PATH + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + hex(SHA-256(body))

METHOD is upper case; PATH is the request path with its query string if any (e.g.
``/api/v1/terminal/accounts/3100000001``); the body is hashed exactly as sent (an empty body for GET).
Refused with 401 (logged on ``gridcare.payments``, nothing written): unknown or disabled terminal, missing
or malformed headers, a bad signature, a timestamp more than 5 minutes from the server clock, a nonce the
terminal already used within the window. Accepted nonces are stored (`TerminalNonce`) and pruned after
twice the window — older requests are refused by their timestamp anyway.

Scope (decision): a terminal belongs to a supply unit and serves the accounts of that unit and every unit
below it (the unit's subtree, as staff scoping does). An account outside it answers 404, like an unknown 户号.

Payments: `terminal_payment` records through `services.payment_record` with channel "terminal" and the
transaction id "<terminal code>:<terminal txn id>", so the (channel, transaction id) uniqueness makes a
repeat return the same payment; the answer is built only from what never changes, so it is the same too.
"""

import base64
import binascii
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_address, mask_customer_name
from gridcare.customers.models import Account

from . import selectors, services
from .choices import PaymentChannel
from .models import Terminal, TerminalNonce

logger = logging.getLogger("gridcare.payments")

LAST_SEEN_RESOLUTION = timedelta(minutes=1)
WINDOW = timedelta(minutes=5)
CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,20}")
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
TXN_RE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
# Plain yuan, as the portal takes it: no exponent or sign.
AMOUNT_RE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


class TerminalAuthError(Exception):
    """The request is not from a registered, enabled terminal (answered 401)."""


# ---------------------------------------------------------------- keys and registration


def generate_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a new Ed25519 key."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _load_public(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise ValidationError({"public_key": [_("公钥不是有效的 PEM 格式")]}) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationError({"public_key": [_("公钥必须是 Ed25519 公钥")]})
    return key


@transaction.atomic
def terminal_add(*, actor: Actor, code: str, unit, public_key: str, name: str = "") -> Terminal:
    """Register a terminal with its Ed25519 public key (PEM). Refused: bad or taken code, bad key."""
    code = (code or "").strip()
    errs: dict[str, list[str]] = {}
    if not CODE_RE.fullmatch(code):
        errs["code"] = [_("终端编号只能是1–20位字母、数字、-、_")]
    elif Terminal.objects.filter(code=code).exists():
        errs["code"] = [_("终端编号已存在：%(c)s") % {"c": code}]
    try:
        _load_public(public_key or "")
    except ValidationError as exc:
        errs.update(exc.message_dict)
    name = (name or "").strip()[:100]
    if errs:
        raise ValidationError(errs)
    terminal = Terminal.objects.create(
        code=code, unit=unit, name=name, public_key=public_key.strip(), created_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="terminal.add",
        obj=terminal,
        unit_id=unit.pk,
        changes={"code": code, "name": name},
    )
    return terminal


# ---------------------------------------------------------------- signatures


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(private_pem: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """What a terminal does (tests and the demo client use it)."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(string_to_sign(method, path, timestamp, nonce, body))).decode()


def authenticate(
    *, headers, method: str, path: str, body: bytes, now: datetime | None = None, ip: str | None = None
) -> Terminal:
    """The terminal that signed this request, or TerminalAuthError (logged). Stores the nonce."""
    code = (headers.get("X-Terminal-Id") or "").strip()
    try:
        return _authenticate(code, headers, method, path, body, now or timezone.now())
    except TerminalAuthError as exc:
        logger.warning(
            "terminal request refused: terminal %r %s %s from %s: %s", code[:20], method, path[:200], ip, exc
        )
        raise


def _authenticate(code: str, headers, method: str, path: str, body: bytes, now: datetime) -> Terminal:
    ts, nonce, sig = (headers.get(h) or "" for h in ("X-Timestamp", "X-Nonce", "X-Signature"))
    if not CODE_RE.fullmatch(code) or not ts or not nonce or not sig:
        raise TerminalAuthError("missing or malformed headers")
    terminal = Terminal.objects.filter(code=code, enabled=True).first()
    if terminal is None:
        raise TerminalAuthError("unknown or disabled terminal")
    if not re.fullmatch(r"[0-9]{1,12}", ts):
        raise TerminalAuthError("bad timestamp")
    when = datetime.fromtimestamp(int(ts), tz=UTC) if int(ts) < 253402300800 else None
    if when is None or abs(now - when) > WINDOW:
        raise TerminalAuthError("timestamp outside the window")
    if not NONCE_RE.fullmatch(nonce):
        raise TerminalAuthError("bad nonce")
    try:
        raw_sig = base64.b64decode(sig, validate=True)
        _load_public(terminal.public_key).verify(raw_sig, string_to_sign(method, path, ts, nonce, body))
    except (binascii.Error, ValueError, InvalidSignature, ValidationError):
        raise TerminalAuthError("bad signature") from None
    try:
        with transaction.atomic():
            TerminalNonce.objects.create(terminal=terminal, nonce=nonce, seen_at=now)
    except IntegrityError:
        raise TerminalAuthError("nonce replayed") from None
    # Housekeeping at most once a minute per terminal (as API tokens' last use): not two more writes on
    # every request. Nonces older than twice the window can never be replayed inside it.
    if terminal.last_seen_at is None or now - terminal.last_seen_at >= LAST_SEEN_RESOLUTION:
        TerminalNonce.objects.filter(terminal=terminal, seen_at__lt=now - 2 * WINDOW).delete()
        Terminal.objects.filter(pk=terminal.pk).update(last_seen_at=now)
    return terminal


# ---------------------------------------------------------------- services


def account_for(terminal: Terminal, account_number: str) -> Account | None:
    """The account if it belongs to the terminal's unit subtree (else None, like an unknown 户号)."""
    return (
        Account.objects.select_related("customer", "premise", "unit")
        .filter(account_number=str(account_number or "").strip(), unit__path__startswith=terminal.unit.path)
        .first()
    )


def account_query(terminal: Terminal, account_number: str) -> dict[str, Any] | None:
    """What the terminal shows: masked name and address (as the portal's query), supply unit, amount due."""
    account = account_for(terminal, account_number)
    if account is None:
        return None
    st = selectors.statement(account, timezone.localdate())
    return {
        "account_number": account.account_number,
        "name": mask_customer_name(account.customer.name, account.customer.kind),
        "address": mask_address(account.premise.address),
        "supply_unit": account.unit.name,
        "amount_due": st.amount_due,
        "credit": st.credit,
    }


@dataclass(frozen=True)
class TerminalPaid:
    answer: dict[str, Any]
    created: bool


def terminal_payment(
    *, terminal: Terminal, account_number: str, amount: Any, terminal_txn_id: str, ip: str | None = None
) -> TerminalPaid:
    """Record a terminal payment exactly once (see the module docstring). Refused (ValidationError): bad
    transaction id, an account outside the terminal's units, and everything `payment_record` refuses."""
    txn = str(terminal_txn_id or "").strip()
    if not TXN_RE.fullmatch(txn):
        raise ValidationError({"terminal_txn_id": [_("终端流水号必填，1–40位字母、数字或 . _ -")]})
    if not AMOUNT_RE.fullmatch(str(amount or "").strip()):
        raise ValidationError({"amount": [_("金额格式不正确：%(v)s") % {"v": str(amount)[:20]}]})
    if account_for(terminal, account_number) is None:
        raise ValidationError(
            {"account_number": [_("户号不存在：%(n)s") % {"n": str(account_number or "")[:20]}]}
        )
    rec = services.payment_record(
        actor=Actor(channel=Channel.API, ip=ip),
        channel=PaymentChannel.TERMINAL,
        channel_txn_id=f"{terminal.code}:{txn}",
        account_number=account_number,
        amount=amount,
    )
    p = rec.payment
    return TerminalPaid(
        {
            "payment_id": p.pk,
            "account_number": str(account_number).strip(),
            "amount": p.amount,
            "terminal_txn_id": txn,
            "channel_txn_id": p.channel_txn_id,
            "paid_at": p.paid_at,
        },
        rec.created,
    )
