"""Who is acting, and the one function every service calls to leave its audit row."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

from .choices import Channel
from .models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """The person (or job) behind a write and the door it came through."""

    user: Any = None
    channel: str = Channel.SYSTEM
    ip: str | None = None

    @property
    def label(self) -> str:
        if self.user is not None and getattr(self.user, "is_authenticated", False):
            from .masking import mask_actor_label

            # A customer's user name is their phone number: the audit trail keeps it masked.
            return mask_actor_label(self.user.get_username())
        return str(self.channel)

    @classmethod
    def from_request(cls, request, channel: str) -> "Actor":
        from .clientip import client_ip

        ip = client_ip(request)
        user = request.user if getattr(request, "user", None) and request.user.is_authenticated else None
        return cls(user=user, channel=channel, ip=ip)

    @classmethod
    def console(cls, request) -> "Actor":
        """The logged-in staff user acting on a console page."""
        from .choices import Channel

        return cls.from_request(request, Channel.CONSOLE)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The concrete field values of `obj`, JSON-ready, for a before/after record."""
    names = fields or [f.attname for f in obj._meta.concrete_fields if f.attname != "id"]
    return {name: _jsonable(getattr(obj, name)) for name in names}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Only the fields that changed: {field: [before, after]}."""
    keys = set(before) | set(after)
    return {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}


def audit_record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    object_type: str | None = None,
    object_id: Any = None,
    customer_id: int | None = None,
    unit_id: int | None = None,
    changes: dict[str, Any] | None = None,
    save: bool = True,
) -> AuditEvent:
    """One audit row; with save=False it is built, not written (a hot path inserts it with its other rows in one
    statement)."""
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    event = AuditEvent(
        created_at=timezone.now(),
        actor=user,
        actor_label=actor.label,
        channel=actor.channel,
        action=action,
        object_type=object_type or (obj._meta.label_lower if obj is not None else ""),
        object_id=str(object_id if object_id is not None else (obj.pk if obj is not None else "")),
        customer_id=customer_id,
        unit_id=unit_id,
        changes=changes or {},
        ip=actor.ip,
    )
    if save:
        event.save(force_insert=True)
    return event


def pii_view_record(
    *,
    actor: Actor,
    source: str,
    object_type: str,
    object_ids: Any = (),
    customer_ids: Any = (),
    unit_id: int | None = None,
) -> AuditEvent | None:
    """One `customer.view_pii` row for one unmasked view of personal data (phone, ID number, bank account…)
    in a page, an API answer, an export or a file: set-based, one row per request listing the objects shown
    and their customers, never one row per object. Nothing is written when nothing was shown unmasked."""
    ids = sorted({str(i) for i in object_ids}, key=lambda s: (len(s), s))
    customers = sorted({int(c) for c in customer_ids if c is not None})
    if not ids and not customers:
        return None
    return audit_record(
        actor=actor,
        action="customer.view_pii",
        object_type=object_type,
        object_id=ids[0] if len(ids) == 1 else "",
        customer_id=customers[0] if len(customers) == 1 else None,
        unit_id=unit_id if unit_id is not None else getattr(actor.user, "unit_id", None),
        changes={"source": source, "object_ids": ids, "customer_ids": customers},
    )


def audit_pii_view_record(*, actor: Actor, events, source: str) -> AuditEvent | None:
    """Audit rows shown with the personal data in their `changes` whole (a customer.view_pii role reading the
    audit trail): one customer.view_pii row listing those events and their customers. Events with nothing
    to mask are not listed; nothing is written when none had any."""
    from .masking import audit_changes_hold_pii

    shown = [e for e in events if audit_changes_hold_pii(e.changes, about_customer=e.customer_id is not None)]
    return pii_view_record(
        actor=actor,
        source=source,
        object_type="core.auditevent",
        object_ids=[e.pk for e in shown],
        customer_ids=[e.customer_id for e in shown],
    )
