"""Requests signed with Ed25519 by registered machines — self-service terminals (`terminals`) and collection
agents (`agents`): what they share, written once: registration checks, the signature and replay guard, the
account scope, the masked account query and the payment write.

Every request carries:

    <id header>:   the caller's code (X-Terminal-Id for a terminal, X-Agent-Id for an agent)
    X-Timestamp:   unix seconds
    X-Nonce:       8–64 characters [A-Za-z0-9_-], new for every request
    X-Signature:   base64 of the Ed25519 signature over the UTF-8 bytes of
                   METHOD + "\\n" + PATH + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + hex(SHA-256(body))

METHOD is upper case; PATH is the request path with its query string if any (e.g.
``/api/v1/terminal/accounts/3100000001``); the body is hashed exactly as sent (an empty body for GET).
Refused with 401 (logged on ``gridcare.payments``, nothing written): unknown or disabled caller, missing
or malformed headers, a bad signature, a timestamp more than 5 minutes from the server clock, a nonce the
caller already used within the window. Accepted nonces are stored (one nonce table per kind of caller) and
pruned after twice the window — older requests are refused by their timestamp anyway.

Scope (decision): a caller belongs to a supply unit and serves the accounts of that unit and every unit
below it (the unit's subtree, as staff scoping does). An account outside it answers like an unknown 户号.

Payments go through `services.payment_record` with the caller's channel and the transaction id
"<caller code>:<caller's transaction id>", so the (channel, transaction id) uniqueness makes a repeat return
the same payment.
"""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_address, mask_customer_name
from gridcare.customers.models import Account
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors

from . import signatures

logger = logging.getLogger("gridcare.payments")

LAST_SEEN_RESOLUTION = timedelta(minutes=1)
WINDOW = timedelta(minutes=5)
CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,20}")
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
TXN_RE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
# Plain yuan, as the portal takes it: no exponent or sign.
AMOUNT_RE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


class SignedRequestRefused(Exception):
    """The request is not from a registered, enabled caller, or not signed by it (answered 401)."""


@dataclass(frozen=True)
class Callers:
    """One kind of signing caller: its model (code, unit, public_key, enabled, last_seen_at), the model of its
    accepted nonces and that model's foreign key to it, the header naming it, and its name in the log."""

    model: type[models.Model]
    nonce_model: type[models.Model]
    owner: str
    id_header: str
    label: str


# ---------------------------------------------------------------- registration


def check_public_key(pem: str) -> str:
    """The PEM of an Ed25519 public key, trimmed; ValidationError on `public_key` otherwise."""
    try:
        signatures.ed25519_public_key(pem or "")
    except signatures.SignatureError:
        raise ValidationError({"public_key": [_("公钥必须是 PEM 格式的 Ed25519 公钥")]}) from None
    return pem.strip()


def clean_registration(
    callers: Callers, *, code: str, public_key: str, name: str, code_label: str
) -> tuple[str, str, str]:
    """(code, public key, name) of a new caller, or ValidationError naming every bad field."""
    code = (code or "").strip()
    errs: dict[str, list[str]] = {}
    if not CODE_RE.fullmatch(code):
        errs["code"] = [_("%(label)s只能是1–20位字母、数字、-、_") % {"label": code_label}]
    elif callers.model.objects.filter(code=code).exists():
        errs["code"] = [_("%(label)s已存在：%(c)s") % {"label": code_label, "c": code}]
    try:
        public_key = check_public_key(public_key)
    except ValidationError as exc:
        errs.update(exc.message_dict)
    if errs:
        raise ValidationError(errs)
    return code, public_key, (name or "").strip()[:100]


# ---------------------------------------------------------------- signatures


def authenticate(
    callers: Callers, *, headers, method: str, path: str, body: bytes, now: datetime | None = None, ip=None
):
    """The caller that signed this request, or SignedRequestRefused (logged). Stores the nonce."""
    code = (headers.get(callers.id_header) or "").strip()
    try:
        return _authenticate(callers, code, headers, method, path, body, now or timezone.now())
    except SignedRequestRefused as exc:
        logger.warning(
            "%s request refused: %s %r %s %s from %s: %s",
            callers.label,
            callers.label,
            code[:20],
            method,
            path[:200],
            ip,
            exc,
        )
        raise


def _authenticate(callers: Callers, code: str, headers, method, path, body, now: datetime):
    ts, nonce, sig = (headers.get(h) or "" for h in ("X-Timestamp", "X-Nonce", "X-Signature"))
    if not CODE_RE.fullmatch(code) or not ts or not nonce or not sig:
        raise SignedRequestRefused("missing or malformed headers")
    caller = callers.model.objects.filter(code=code, enabled=True).select_related("unit").first()
    if caller is None:
        raise SignedRequestRefused(f"unknown or disabled {callers.label}")
    if not re.fullmatch(r"[0-9]{1,12}", ts):
        raise SignedRequestRefused("bad timestamp")
    when = datetime.fromtimestamp(int(ts), tz=UTC) if int(ts) < 253402300800 else None
    if when is None or abs(now - when) > WINDOW:
        raise SignedRequestRefused("timestamp outside the window")
    if not NONCE_RE.fullmatch(nonce):
        raise SignedRequestRefused("bad nonce")
    if not signatures.request_verify(caller.public_key, sig, method, path, ts, nonce, body):
        raise SignedRequestRefused("bad signature")
    try:
        with transaction.atomic():
            callers.nonce_model.objects.create(**{callers.owner: caller}, nonce=nonce, seen_at=now)
    except IntegrityError:
        raise SignedRequestRefused("nonce replayed") from None
    # Housekeeping at most once a minute per caller (as API tokens' last use): not two more writes on
    # every request. Nonces older than twice the window can never be replayed inside it.
    if caller.last_seen_at is None or now - caller.last_seen_at >= LAST_SEEN_RESOLUTION:
        callers.nonce_model.objects.filter(**{callers.owner: caller}, seen_at__lt=now - 2 * WINDOW).delete()
        callers.model.objects.filter(pk=caller.pk).update(last_seen_at=now)
    return caller


# ---------------------------------------------------------------- accounts and payments


def account_for(unit, account_number: str) -> Account | None:
    """The account if it belongs to the unit's subtree (else None, like an unknown 户号)."""
    return (
        Account.objects.select_related("customer", "premise", "unit")
        .filter(account_number=str(account_number or "").strip(), unit__path__startswith=unit.path)
        .first()
    )


def account_query(unit, account_number: str) -> dict[str, Any] | None:
    """What the caller shows: masked name and address (as the portal's query), supply unit, amount due."""
    account = account_for(unit, account_number)
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
class Paid:
    """A signed payment's answer — built only from what never changes, so a retry gets the same — and
    whether this request recorded it."""

    answer: dict[str, Any]
    created: bool


def signed_payment(
    *,
    channel: str,
    caller,
    txn: Any,
    txn_field: str,
    txn_label: str,
    account_number: Any,
    amount: Any,
    paid_at: datetime | None = None,
    errors: dict[str, list[str]] | None = None,
    ip: str | None = None,
) -> Paid:
    """Record a payment of `caller` on `channel` exactly once; the answer names the caller's transaction id
    as `txn_field`. Refused (ValidationError naming every bad field, with the caller's own `errors`): a bad
    transaction id or amount, an account outside the caller's units, and everything `payment_record`
    refuses."""
    txn = str(txn or "").strip()
    errs = dict(errors or {})
    if not TXN_RE.fullmatch(txn):
        errs[txn_field] = [_("%(label)s必填，1–40位字母、数字或 . _ -") % {"label": txn_label}]
    if not AMOUNT_RE.fullmatch(str(amount or "").strip()):
        errs["amount"] = [_("金额格式不正确：%(v)s") % {"v": str(amount)[:20]}]
    else:
        try:
            services.clean_amount(amount)  # 0 and 0.00 too
        except ValidationError as exc:
            errs.update(exc.message_dict)
    if account_for(caller.unit, account_number) is None:
        errs["account_number"] = [_("户号不存在：%(n)s") % {"n": str(account_number or "")[:20]}]
    if errs:
        raise ValidationError(errs)
    rec = services.payment_record(
        actor=Actor(channel=Channel.API, ip=ip),
        channel=channel,
        channel_txn_id=f"{caller.code}:{txn}",
        account_number=account_number,
        amount=amount,
        paid_at=paid_at,
    )
    p = rec.payment
    answer = {
        "payment_id": p.pk,
        "account_number": str(account_number).strip(),
        "amount": p.amount,
        txn_field: txn,
        "channel_txn_id": p.channel_txn_id,
        "paid_at": p.paid_at.astimezone(UTC),  # as read back from the database, whatever zone it came in
    }
    return Paid(answer, rec.created)
