"""Writing one credit event: the one place every source (staff, inspection, withholding, the ledger jobs) adds a
row to the register, audited as `credit.event_create`. Callers check permissions and scope first."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from gridcare.core.audit import Actor, audit_record

from .models import CreditEvent


def event_create(
    *,
    actor: Actor,
    customer_id: int,
    unit_id: int,
    code: str,
    day: date,
    source: str,
    status: str,
    account_id: int | None = None,
    severity: int | None = None,
    count: int | None = None,
    description: str = "",
    source_key: str | None = None,
    inspection_id: int | None = None,
    inspector_id: int | None = None,
    now: datetime | None = None,
) -> CreditEvent:
    """Create one event (the caller validated the code and its severity/count) and its audit row, in one
    transaction. `unit_id` is the customer's unit (what scoping reads)."""
    now = now or timezone.now()
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    with transaction.atomic():
        event = CreditEvent.objects.create(
            customer_id=customer_id,
            account_id=account_id,
            unit_id=unit_id,
            code=code,
            date=day,
            severity=severity,
            count=count,
            source=source,
            status=status,
            description=description,
            source_key=source_key,
            inspection_id=inspection_id,
            inspector_id=inspector_id,
            recorded_by=user,
            recorded_at=now,
            updated_at=now,
        )
        audit_record(
            actor=actor,
            action="credit.event_create",
            obj=event,
            customer_id=customer_id,
            unit_id=unit_id,
            changes={
                "code": code,
                "date": day.isoformat(),
                "source": source,
                "status": status,
                **({"severity": severity} if severity is not None else {}),
                **({"count": count} if count is not None else {}),
            },
        )
    return event
