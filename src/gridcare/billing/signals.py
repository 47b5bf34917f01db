"""Signals of the billing app."""

from django.dispatch import Signal

# Sent inside the issuing transaction with `bill_ids` (the bills just issued), `run` and `issued_at`. Receivers write in
# that same transaction (the payments app opens the receivables), so an issued bill never lacks them.
bills_issued = Signal()
