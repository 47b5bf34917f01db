"""Fault triage (issue 15 §5): before a crew is sent, is the caller inside a known outage, or a prepaid account
with no balance left? Reads only; `services.work_order_create` records the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from gridcare.outages.choices import OutageStatus
from gridcare.outages.models import AffectedAccount, OutageArea

from .choices import Triage


@dataclass(frozen=True)
class TriageResult:
    outcome: str  # Triage value
    outage_id: int | None = None
    outage_number: str = ""
    est_restoration: datetime | None = None
    balance: Decimal | None = None


LIVE = [OutageStatus.PUBLISHED, OutageStatus.IN_PROGRESS]


def triage_fault(*, account_id: int | None, transformer_area_id: int | None, now: datetime) -> TriageResult:
    """The outcome of a fault report: `outage` when the account (or, for an unidentified caller, the transformer
    area) is inside an outage in progress (by its frozen affected accounts, i.e. by transformer area or feeder);
    `arrears` for an enrolled prepaid account whose latest balance estimate is ≤ 0; else `dispatch`."""
    if account_id is not None:
        row = (
            AffectedAccount.objects.filter(
                account_id=account_id,
                event__status=OutageStatus.IN_PROGRESS,
                interruption__end__isnull=True,
            )
            .values("event_id", "event__number", "interruption__area__est_restoration", "event__planned_end")
            .order_by("-event__actual_start")
            .first()
        )
        if row:
            return TriageResult(
                outcome=Triage.OUTAGE,
                outage_id=row["event_id"],
                outage_number=row["event__number"],
                est_restoration=row["interruption__area__est_restoration"] or row["event__planned_end"],
            )
    elif transformer_area_id is not None:
        area = (
            OutageArea.objects.filter(
                transformer_area_id=transformer_area_id,
                event__status=OutageStatus.IN_PROGRESS,
                actual_end__isnull=True,  # an area already back on is not inside the outage any more
            )
            .values("event_id", "event__number", "est_restoration", "event__planned_end")
            .order_by("-event__actual_start")
            .first()
        )
        if area:
            return TriageResult(
                outcome=Triage.OUTAGE,
                outage_id=area["event_id"],
                outage_number=area["event__number"],
                est_restoration=area["est_restoration"] or area["event__planned_end"],
            )
    if account_id is not None:
        from gridcare.payments.prepaid.models import PrepaidAccount

        pre = (
            PrepaidAccount.objects.filter(account_id=account_id, unenrolled_on__isnull=True)
            .values("last_estimate__available")
            .first()
        )
        if pre and pre["last_estimate__available"] is not None and pre["last_estimate__available"] <= 0:
            return TriageResult(outcome=Triage.ARREARS, balance=pre["last_estimate__available"])
    return TriageResult(outcome=Triage.DISPATCH)
