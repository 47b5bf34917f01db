"""Sending the outbox: `outbox_dispatch` claims due rows, sends each through its channel backend and records
the outcome (retries after 1 min, 5 min, 30 min, 2 h, 12 h; `dead` after NOTIFY["MAX_ATTEMPTS"]; quiet hours
hold for retries too). Notices are sent only here: `gridcare notify_dispatch`, which a scheduled job runs
every minute."""

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from gridcare.core.masking import mask_codes

from . import backends
from .choices import (
    DUE_STATUSES,
    QUIET_HOURS_EXEMPT,
    REDACTED_KINDS,
    NotificationStatus,
)
from .models import Notification, NotifyPreference
from .preferences import DEFAULT_QUIET, quiet_release

log = logging.getLogger("gridcare.notify")

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)


# ---------------------------------------------------------------- dispatch


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0


def _fail(n: Notification, now: datetime, error: str, permanent: bool) -> str:
    n.attempts += 1
    n.last_error = error[:2000]
    if permanent or n.attempts >= settings.NOTIFY["MAX_ATTEMPTS"]:
        n.status = NotificationStatus.DEAD
    else:
        n.status = NotificationStatus.RETRYING
        n.next_attempt_at = now + BACKOFF[min(n.attempts, len(BACKOFF)) - 1]
    return n.status


def _retries_respect_quiet_hours(rows: list[Notification]) -> None:
    """A retry that would fall in the customer's quiet hours waits for them to end (outage/emergency excepted)."""
    later = [n for n in rows if n.status == NotificationStatus.RETRYING and n.kind not in QUIET_HOURS_EXEMPT]
    if not later:
        return
    # Keyed by customer id; a notice without a customer (customer_id None) finds no row and gets the default.
    quiet: dict[int | None, tuple[time, time]] = {
        cid: (qs, qe)
        for cid, qs, qe in NotifyPreference.objects.filter(
            customer_id__in={n.customer_id for n in later}
        ).values_list("customer_id", "quiet_start", "quiet_end")
    }
    for n in later:
        n.next_attempt_at = (
            quiet_release(n.next_attempt_at, *quiet.get(n.customer_id, DEFAULT_QUIET)) or n.next_attempt_at
        )


def outbox_dispatch(*, now: datetime | None = None, limit: int = 500, batch: int = 50) -> DispatchResult:
    """Send the due notices (status pending/retrying, next_attempt_at <= now), at most `limit` of them.

    Rows are claimed in batches inside a transaction with `select_for_update(skip_locked=True)` (PostgreSQL),
    sent, and their outcome written before the lock is released, so a second dispatcher skips them and a
    notice is never sent twice by two dispatchers. (A crash between a send and the commit sends it again:
    at-least-once, as every SMS gateway assumes.)"""
    result = DispatchResult()
    skip_locked = connection.features.has_select_for_update_skip_locked
    fields = ["status", "attempts", "next_attempt_at", "last_error", "provider_id", "sent_at"]
    while result.claimed < limit:
        when = now or timezone.now()
        with transaction.atomic():
            qs = Notification.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=when).order_by(
                "next_attempt_at", "id"
            )
            qs = qs.select_for_update(skip_locked=True) if skip_locked else qs.select_for_update()
            rows = list(qs[: min(batch, limit - result.claimed)])
            redacted = False
            if not rows:
                break
            result.claimed += len(rows)
            for n in rows:
                try:
                    n.provider_id = backends.backend_for(n.channel).send(n)[:128]
                except backends.PermanentError as exc:
                    _fail(n, when, str(exc), permanent=True)
                except backends.TemporaryError as exc:
                    _fail(n, when, str(exc), permanent=False)
                except Exception as exc:  # a backend bug must not stop the other notices
                    log.exception("notify backend crashed on %s", n.pk)
                    _fail(n, when, f"{type(exc).__name__}: {exc}", permanent=False)
                else:
                    n.attempts += 1
                    n.status, n.sent_at, n.last_error = NotificationStatus.SENT, when, ""
                    if n.kind in REDACTED_KINDS:
                        # A verification code, once handed to the gateway, is not kept readable in the outbox.
                        n.body = mask_codes(n.body)
                        redacted = True
                if n.status == NotificationStatus.SENT:
                    result.sent += 1
                elif n.status == NotificationStatus.DEAD:
                    result.dead += 1
                else:
                    result.retrying += 1
            _retries_respect_quiet_hours(rows)
            Notification.objects.bulk_update(rows, [*fields, "body"] if redacted else fields)
    return result
