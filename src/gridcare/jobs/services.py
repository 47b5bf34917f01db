"""Starting, running and finishing jobs.

`start(kind, params, actor=…)` validates the parameters (refused before anything is queued), writes the job row
and hands it to the engine: a Celery task `gridcare.jobs.run` carrying only the job id. With
`CELERY_TASK_ALWAYS_EAGER` (the test suite's default) or `inline=True` the job runs here, in this process.
A broker that cannot be reached marks the row failed ("broker unavailable") and raises BrokerUnavailable.

`run(job_id)` is what the worker (or the inline path) executes: it claims the row (queued → running, or a
running row whose heartbeat stopped), calls the kind's function with a JobContext, then stores the result or
the error. Kinds are idempotent: a job run twice (a worker killed mid-way, a retry) continues from what is
already written and never duplicates it.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gridcare.core.audit import Actor

from . import registry
from .choices import FINISHED, JobState
from .models import Job

log = logging.getLogger("gridcare.jobs")

HEARTBEAT_EVERY = timedelta(seconds=2)


class BrokerUnavailable(Exception):
    """The job could not be handed to the engine; its row is failed and nothing else was written."""


class JobDetached(Exception):
    """Raised by nothing; a kind calls ctx.detach() so that another piece of work finishes its job."""


@dataclass
class JobContext:
    job: Job
    params: dict
    actor: Actor
    _last_beat: Any = field(default=None, repr=False)
    detached: bool = False

    def set_total(self, total: int | None) -> None:
        self.job.total = total
        Job.objects.filter(pk=self.job.pk).update(total=total, heartbeat_at=timezone.now())

    def set_done(self, done: int) -> None:
        """Progress as an absolute count (a resumed job starts from what is already done)."""
        now = timezone.now()
        self.job.done = done
        Job.objects.filter(pk=self.job.pk).update(done=done, heartbeat_at=now)
        self._last_beat = now

    def advance(self, n: int = 1) -> None:
        """Progress by `n` (an atomic increment, safe from several processes)."""
        now = timezone.now()
        Job.objects.filter(pk=self.job.pk).update(done=F("done") + n, heartbeat_at=now)
        self.job.done += n
        self._last_beat = now

    def heartbeat(self, force: bool = False) -> None:
        now = timezone.now()
        if force or self._last_beat is None or now - self._last_beat >= HEARTBEAT_EVERY:
            Job.objects.filter(pk=self.job.pk).update(heartbeat_at=now)
            self._last_beat = now

    def detach(self) -> None:
        """The job's work goes on elsewhere (e.g. chunk tasks), which call `finish` when it is over."""
        self.detached = True


def actor_for(job: Job) -> Actor:
    from gridcare.core.choices import Channel

    return Actor(user=job.created_by, channel=Channel.JOB)


def eager() -> bool:
    return bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))


def create(kind: str, params: dict | None, *, actor: Actor | None) -> Job:
    """Validate and write the job row (queued), without handing it to the engine."""
    k = registry.get(kind)
    params = dict(params or {})
    actor = actor or Actor()
    if k.validate is not None:
        params = k.validate(params, actor)  # ValidationError: refused, nothing written
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    return Job.objects.create(
        kind=kind,
        params=params,
        created_by=user,
        unit_id=k.unit(params) if k.unit else getattr(user, "unit_id", None),
    )


def enqueue(job: Job) -> None:
    """Hand the job to the engine now; a broker that cannot be reached fails the row and raises."""
    from .tasks import run_job

    try:
        run_job.apply_async(args=[job.pk], retry=False)
    except Exception as exc:  # kombu.exceptions.OperationalError and socket errors alike
        log.warning("job %s: broker unavailable: %s", job.pk, exc)
        fail(job.pk, "broker unavailable")
        raise BrokerUnavailable(str(exc)) from exc


def start(kind: str, params: dict | None = None, *, actor: Actor | None = None, inline: bool = False) -> Job:
    """Validate, write the row and run the job: in this process when `inline` or eager, else on a worker."""
    job = create(kind, params, actor=actor)
    if inline or eager():
        run(job.pk)
    else:
        enqueue(job)
    job.refresh_from_db()
    return job


def claim(job_id: int) -> Job | None:
    """queued → running (attempts + 1); a finished job is not run again. Returns the claimed row or None."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state in FINISHED:
            return None
        job.state = JobState.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.error = ""
        job.save(update_fields=["state", "attempts", "started_at", "heartbeat_at", "error"])
    return job


def run(job_id: int) -> Job | None:
    """Execute the job (worker or inline). Errors end on the row and in the log, and are not re-raised."""
    job = claim(job_id)
    if job is None:
        return None
    try:
        kind = registry.get(job.kind)
        ctx = JobContext(job=job, params=job.params, actor=actor_for(job))
        result = kind.run(ctx)
    except Exception as exc:
        log.exception("job %s (%s) failed", job.pk, job.kind)
        fail(job.pk, f"{type(exc).__name__}: {exc}")
    else:
        if ctx.detached:
            Job.objects.filter(pk=job.pk, state=JobState.RUNNING).update(detached=True)
        else:
            finish(job.pk, result)
    job.refresh_from_db()
    return job


def finish(job_id: int, result: Any = None) -> None:
    now = timezone.now()
    Job.objects.filter(pk=job_id).exclude(state__in=FINISHED).update(
        state=JobState.SUCCEEDED, result=result, finished_at=now, heartbeat_at=now
    )


def fail(job_id: int, error: str) -> None:
    now = timezone.now()
    Job.objects.filter(pk=job_id).exclude(state=JobState.SUCCEEDED).update(
        state=JobState.FAILED, error=error[:4000], finished_at=now, heartbeat_at=now
    )
