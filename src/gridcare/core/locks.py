"""Concurrency guards shared by the domain apps (issue 11 §4).

- `Conflict`: someone else is doing, or has just done, the same thing. The API answers it with 409 and its
  message (`gridcare.core.api`); pages show the message with status 409.
- `serialise(name)`: inside a transaction, wait until no other transaction holds the same name, and hold it
  until this one ends. On PostgreSQL a transaction-level advisory lock (`pg_advisory_xact_lock`, released at
  commit or rollback, so a crashed process never keeps it); SQLite runs one writing transaction at a time
  (`transaction_mode: IMMEDIATE` in settings), so it needs nothing more.
"""

import hashlib

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _


class Conflict(Exception):  # noqa: N818 — the HTTP name of the answer
    """Refused because of a concurrent action: `message` says which (e.g. the run being executed, who
    approved first); `holder` is the object that holds it, when there is one."""

    def __init__(self, message: str, *, holder=None):
        super().__init__(message)
        self.message = message
        self.holder = holder

    def __str__(self) -> str:
        return str(self.message)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (advisory locks are keyed by bigint)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def serialise(name: str) -> None:
    """Hold the lock `name` until the current transaction ends (see the module docstring)."""
    if not connection.in_atomic_block:
        raise RuntimeError("serialise() needs a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(name)])


def try_serialise(name: str) -> bool:
    """Like `serialise`, without waiting: False when another transaction holds `name` now (PostgreSQL's
    `pg_try_advisory_xact_lock`; always True on SQLite, whose writers never overlap)."""
    if not connection.in_atomic_block:
        raise RuntimeError("try_serialise() needs a transaction")
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_key(name)])
        return bool(cur.fetchone()[0])


def person(user) -> str:
    """How a refusal names the user who got there first: the name, else the login."""
    if user is None:
        return _("系统")
    return getattr(user, "display_name", "") or user.get_username()


def when(moment) -> str:
    """A moment in a refusal, local time to the minute ("2026-11-23 10:05")."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""
