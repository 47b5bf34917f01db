"""Notices of work orders through the outbox (issue 15 §8): on acceptance, dispatch and closing (and when a
不满意 callback reopens an order). Queued inside the caller's transaction."""

from __future__ import annotations


def queue(order, event: str) -> None:
    """Queue the customer's notice for `event` (accepted / dispatched / closed / reopened); a no-op for an order
    without an account (the caller's phone gets an SMS through `transactional_sms_enqueue` where allowed)."""
    # Filled in by the notices step of issue 15 (notify kinds and templates).
    return None
