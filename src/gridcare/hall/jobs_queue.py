"""Job kinds of the hall queue: `hall.expire_remote` (every minute) closes the remote tickets whose holder was
told to come (`remote_called_at`) and did not check in within the hall's `remote_checkin_minutes` (default 30)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.jobs.registry import default_schedule, job_kind

from .choices import TicketSource, TicketStatus, TicketStep
from .models import HallProfile, Ticket, TicketEvent

DEFAULT_REMOTE_CHECKIN_MINUTES = 30


def remote_expire(*, now: datetime | None = None) -> dict:
    """Expire the remote tickets past their check-in time, set-based: one UPDATE per distinct check-in limit in
    use (halls without a profile take the default), one bulk insert of their `expired` events. Idempotent: an
    expired ticket is no longer waiting."""
    now = now or timezone.now()
    stale = Ticket.objects.filter(
        source=TicketSource.PORTAL,
        status=TicketStatus.WAITING,
        checked_in_at__isnull=True,
        remote_called_at__isnull=False,
    ).annotate(
        limit=Coalesce(
            Subquery(
                HallProfile.objects.filter(hall_id=OuterRef("hall_id")).values("remote_checkin_minutes")[:1],
                output_field=IntegerField(),
            ),
            DEFAULT_REMOTE_CHECKIN_MINUTES,
        )
    )
    expired = 0
    with transaction.atomic():
        limits = sorted(set(stale.values_list("limit", flat=True)))
        for minutes in limits:
            ids = list(
                stale.filter(
                    limit=minutes, remote_called_at__lt=now - timedelta(minutes=minutes)
                ).values_list("id", flat=True)[:10_000]
            )
            if not ids:
                continue
            done = list(
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(pk__in=ids, status=TicketStatus.WAITING, checked_in_at__isnull=True)
                .values_list("id", flat=True)
            )
            n = Ticket.objects.filter(pk__in=done, status=TicketStatus.WAITING).update(
                status=TicketStatus.EXPIRED, closed_at=now
            )
            TicketEvent.objects.bulk_create(
                TicketEvent(ticket_id=i, kind=TicketStep.EXPIRED, at=now, detail={"minutes": minutes})
                for i in done
            )
            expired += n
    return {"expired": expired}


@job_kind("hall.expire_remote", label=gettext_lazy("远程取号逾时失效"), perm=Perm.HALL_MANAGE)
def hall_expire_remote(ctx):
    ctx.set_total(1)
    result = remote_expire()
    ctx.set_done(1)
    return result


default_schedule("hall.expire_remote", every=1, period="minutes")


def past_days_close(*, now: datetime | None = None) -> dict:
    """Close the tickets of past days still open (waiting, called or serving when the hall closed): numbers restart
    every day and an old ticket must never head tomorrow's line. Set-based (one UPDATE, one bulk insert of their
    `expired` events, in chunks); idempotent."""
    from .opening import china_day

    now = now or timezone.now()
    today = china_day(now)
    closed = 0
    while True:
        with transaction.atomic():
            ids = list(
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(
                    status__in=[TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING],
                    day__lt=today,
                )
                .values_list("id", flat=True)[:10_000]
            )
            if not ids:
                break
            n = Ticket.objects.filter(pk__in=ids).update(status=TicketStatus.EXPIRED, closed_at=now)
            TicketEvent.objects.bulk_create(
                TicketEvent(ticket_id=i, kind=TicketStep.EXPIRED, at=now, detail={"day_closed": True})
                for i in ids
            )
            closed += n
    return {"closed": closed}


@job_kind("hall.close_past_days", label=gettext_lazy("关闭往日未办结的排队号"), perm=Perm.HALL_MANAGE)
def hall_close_past_days(ctx):
    ctx.set_total(1)
    result = past_days_close()
    ctx.set_done(1)
    return result


default_schedule("hall.close_past_days", crontab={"minute": "5", "hour": "0"})
