"""Signals of the billing app."""

from django.dispatch import Signal

# Sent inside the issuing transaction with `bill_ids` (the bills just issued), `run` and `issued_at`. Receivers write in
# that same transaction (the payments app opens the receivables), so an issued bill never lacks them.
bills_issued = Signal()

# Sent inside the cancelling transaction with `bill_id`, `reason` and `cancelled_at`: the payments app closes
# the bill's receivable (what was paid on it becomes credit for the correcting bill).
bill_cancelled = Signal()
