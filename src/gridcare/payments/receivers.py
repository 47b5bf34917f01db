"""The payments app listens to billing: an issued bill opens a receivable in the same transaction."""

from django.dispatch import receiver
from django.utils import timezone

from gridcare.billing.signals import bill_cancelled, bills_issued

from .ledger import services


@receiver(bills_issued, dispatch_uid="payments.open_receivables")
def open_receivables(sender, bill_ids, run=None, issued_at=None, **kwargs) -> None:
    services.receivables_open(list(bill_ids), on=timezone.localdate(issued_at) if issued_at else None)


@receiver(bill_cancelled, dispatch_uid="payments.close_receivable")
def close_receivable(sender, bill_id, reason="", cancelled_at=None, **kwargs) -> None:
    services.receivable_cancel(bill_id=bill_id, reason=reason, cancelled_at=cancelled_at)
