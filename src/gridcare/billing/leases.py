"""Who may execute a billing run now: a lease row per executing run (issue 11 §4).

`claim(run)` takes the lease in its own transaction, under the per-period lock (`core.locks.serialise`,
named after the period) so two claimers of a month decide one after the other: if a live lease of the
same period covers accounts of this run, the claim is refused with `RunBusy` (a `Conflict`, answered 409)
naming that run; otherwise the run's lease row is written (an expired row of a crashed executor is replaced;
the one-row-per-run constraint is the last guard). Scopes overlap when they share accounts: a route run and
the unit-wide run of its route's unit or of any unit above it; two unit-wide runs when one unit is in the
other's subtree (units carry a materialised `path` ending with a dot, so a prefix test is a subtree test).

An execution holds the lease under one holder token whichever workers run its chunks: every chunk checks
the lease is still the execution's before it writes and renews it in its own transaction (so a chunk of an
execution that lost its lease writes nothing); the last chunk, a failure, or the in-process executor's end
releases it. A lease lives
GRIDCARE["BILLING_LEASE_SECONDS"] (default 600) past its last renewal.
"""

import os
import secrets
import socket
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.locks import Conflict, serialise

from .models import BillingRun, BillingRunLease

DEFAULT_LEASE_SECONDS = 600


class RunBusy(Conflict):
    """The run, or a run sharing accounts with it, is being executed (`holder`: that run)."""


class LeaseLost(RuntimeError):
    """Another executor took over this run's lease (ours had expired): stop writing."""


def lease_length() -> timedelta:
    seconds = getattr(settings, "GRIDCARE", {}).get("BILLING_LEASE_SECONDS") or DEFAULT_LEASE_SECONDS
    return timedelta(seconds=max(1, int(seconds)))


def run_label(run: BillingRun) -> str:
    """计费批次 #12（2026-10，抄表段 R01）/ （2026-10，东关供电所全部抄表段）"""
    scope = (
        _("抄表段 %(c)s") % {"c": run.route.code}
        if run.route_id
        else _("%(u)s全部抄表段") % {"u": run.unit.name}
    )
    return _("计费批次 #%(id)s（%(p)s，%(s)s）") % {"id": run.pk, "p": run.period, "s": scope}


def scope_of(run: BillingRun) -> tuple[str, int | None]:
    """(unit path, route id or None) of the run's accounts."""
    if run.route_id:
        return run.route.unit.path, run.route_id
    return run.unit.path, None


def overlaps(path: str, route_id: int | None, other_path: str, other_route_id: int | None) -> bool:
    """Whether two runs' scopes (see `scope_of`) share accounts."""
    if route_id is not None and other_route_id is not None:
        return route_id == other_route_id
    if route_id is not None:  # the other is unit-wide: does it cover this route's unit?
        return path.startswith(other_path)
    if other_route_id is not None:
        return other_path.startswith(path)
    return path.startswith(other_path) or other_path.startswith(path)


def token() -> str:
    return secrets.token_hex(4)


def _holder() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{token()}"


def _busy(active: BillingRun, run: BillingRun) -> RunBusy:
    if active.pk == run.pk:
        message = _("%(r)s 正在执行，请等它结束后再试") % {"r": run_label(active)}
    else:
        message = _("%(r)s 正在执行，与本批次（#%(id)s）的用户有重叠，请等它结束后再试") % {
            "r": run_label(active),
            "id": run.pk,
        }
    return RunBusy(message, holder=active)


def claim(run: BillingRun, *, holder: str | None = None, takeover: str | None = None) -> str:
    """Take the run's lease (see the module docstring); returns the holder token for `renew`/`release`.
    Raises RunBusy naming the active run when the run, or an overlapping run of its period, is executing.

    `holder`: the token to hold it under (default host:pid:random). `takeover`: a live lease of this same run
    whose holder starts with it is taken over (an earlier attempt of the same job, whose chunks then find
    the lease gone and write nothing)."""
    run = BillingRun.objects.select_related("route__unit", "unit").get(pk=run.pk)
    path, route_id = scope_of(run)
    holder = holder or _holder()
    with transaction.atomic():
        serialise(f"billing-run:{run.period}")
        now = timezone.now()
        live = (
            BillingRunLease.objects.filter(period=run.period, expires_at__gt=now)
            .select_related("run__route", "run__unit")
            .order_by("run_id")
        )
        for lease in live:
            if takeover and lease.run_id == run.pk and lease.holder.startswith(takeover):
                continue
            if overlaps(path, route_id, lease.path, lease.route_id):
                raise _busy(lease.run, run)
        BillingRunLease.objects.filter(run=run).delete()  # expired: its executor is gone
        try:
            with transaction.atomic():
                BillingRunLease.objects.create(
                    run=run,
                    period=run.period,
                    path=path,
                    route_id=route_id,
                    holder=holder,
                    acquired_at=now,
                    expires_at=now + lease_length(),
                )
        except IntegrityError:  # only without the period lock (never on PostgreSQL or SQLite)
            raise _busy(run, run) from None
    return holder


def ensure_free(run: BillingRun) -> None:
    """RunBusy (naming the active run) when the run, or a run sharing its accounts, is executing now: the
    refusal a start gives before queueing anything. `claim` decides again when the execution begins."""
    run = BillingRun.objects.select_related("route__unit", "unit").get(pk=run.pk)
    path, route_id = scope_of(run)
    live = (
        BillingRunLease.objects.filter(period=run.period, expires_at__gt=timezone.now())
        .select_related("run__route", "run__unit")
        .order_by("run_id")
    )
    for lease in live:
        if overlaps(path, route_id, lease.path, lease.route_id):
            raise _busy(lease.run, run)


def renew(run: BillingRun, holder: str) -> None:
    """Push the lease's expiry forward; LeaseLost when it is no longer ours."""
    n = BillingRunLease.objects.filter(run_id=run.pk, holder=holder).update(
        expires_at=timezone.now() + lease_length()
    )
    if not n:
        raise LeaseLost(f"billing run {run.pk}: lease taken over by another executor")


def release(run: BillingRun, holder: str) -> None:
    BillingRunLease.objects.filter(run_id=run.pk, holder=holder).delete()


def active_lease(run: BillingRun) -> BillingRunLease | None:
    """The run's live lease (the run is executing), if any."""
    return BillingRunLease.objects.filter(run_id=run.pk, expires_at__gt=timezone.now()).first()
