"""Starting, running, retrying and finishing jobs.

`start(kind, params, actor=…)` validates the parameters (refused before anything is queued), writes the job row
and hands it to the engine: a Celery task `gridcare.jobs.run` carrying only the job id. With
`CELERY_TASK_ALWAYS_EAGER` (the test suite's default) or `inline=True` the job runs here, in this process.
A broker that cannot be reached marks the row failed ("broker unavailable") and raises BrokerUnavailable; the
connection attempt is one try, no retry loop (see `_publish`).

`run(job_id, task_id)` is what the worker (or the inline path) executes: it claims the row, calls the kind's
function with a JobContext, then stores the result or the error. Which message may run a row: the row keeps
the id of the one message it was last handed to (`task_id`, new at every start, retry and stale re-queue).
That message claims a queued row; a redelivered copy of it (its worker was killed: RabbitMQ redelivers at
once, Redis after the visibility timeout) takes a running row over; any other message is ignored. Kinds are
idempotent: a job run twice continues from what is already written and never duplicates it.

While a kind runs, a heartbeat thread stamps `heartbeat_at` every JOBS_HEARTBEAT_SECONDS, so a running row
whose heartbeat stopped belongs to a process that died. `cleanup_stale` (a schedule, every minute) re-queues
such rows: the filesystem transport deletes a message when a worker fetches it, so a worker killed with -9
loses it, and only the row can bring the job back.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied

from . import registry
from .choices import FINISHED, JobState
from .models import Job

log = logging.getLogger("gridcare.jobs")

HEARTBEAT_EVERY = timedelta(seconds=2)
BROKER_UNAVAILABLE = "broker unavailable"


class BrokerUnavailable(Exception):
    """The job could not be handed to the engine; its row is failed and nothing else was written."""


class NotRetryable(Exception):
    """Only a failed job can be retried."""


@dataclass
class JobContext:
    job: Job
    params: dict
    actor: Actor
    _last_beat: Any = field(default=None, repr=False)
    detached: bool = False
    # Told (done, total) at every step: the CLI's progress bar when the job runs in its process.
    on_progress: Callable[[int, int | None], None] | None = field(default=None, repr=False)

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.job.done, self.job.total)

    def set_total(self, total: int | None) -> None:
        self.job.total = total
        Job.objects.filter(pk=self.job.pk).update(total=total, heartbeat_at=timezone.now())
        self._progress()

    def set_done(self, done: int) -> None:
        """Progress as an absolute count (a resumed job starts from what is already done)."""
        now = timezone.now()
        self.job.done = done
        Job.objects.filter(pk=self.job.pk).update(done=done, heartbeat_at=now)
        self._last_beat = now
        self._progress()

    def advance(self, n: int = 1) -> None:
        """Progress by `n` (an atomic increment, safe from several processes)."""
        now = timezone.now()
        Job.objects.filter(pk=self.job.pk).update(done=F("done") + n, heartbeat_at=now)
        self.job.done += n
        self._last_beat = now
        self._progress()

    def heartbeat(self, force: bool = False) -> None:
        now = timezone.now()
        if force or self._last_beat is None or now - self._last_beat >= HEARTBEAT_EVERY:
            Job.objects.filter(pk=self.job.pk).update(heartbeat_at=now)
            self._last_beat = now

    def detach(self) -> None:
        """The job's work goes on elsewhere (e.g. chunk tasks), which call `finish` when it is over."""
        self.detached = True


def _conf(key: str, default: int) -> int:
    return int(getattr(settings, "GRIDCARE", {}).get(key, default))


def actor_for(job: Job) -> Actor:
    return Actor(user=job.created_by, channel=Channel.JOB)


def eager() -> bool:
    return bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))


def create(
    kind: str, params: dict | None, *, actor: Actor | None, schedule: str = "", task_id: str = ""
) -> Job:
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
        schedule=schedule,
        task_id=task_id,
    )


def _publish(job_id: int, task_id: str, *, probe_only: bool = False) -> None:
    """Send the run message on a pooled connection; one connection attempt, no retry loop (a broker that is
    down answers in well under a second instead of kombu's default retries for the connect timeout)."""
    from gridcare.celery import app

    from .tasks import run_job

    with app.pool.acquire(block=True, timeout=5) as conn:
        try:
            conn.ensure_connection(max_retries=0)
            if not probe_only:
                run_job.apply_async(args=[job_id], task_id=task_id, connection=conn, retry=False)
        except Exception:
            conn.close()  # a pooled connection that went stale is not reused
            raise


def enqueue(job: Job) -> None:
    """Hand the job to the engine; a broker that cannot be reached fails the row and raises BrokerUnavailable.

    Inside a transaction the message goes out when it commits (a worker must see the row); the broker is
    probed first, so the caller learns now that it is down and its transaction rolls back."""
    task_id = uuid.uuid4().hex
    Job.objects.filter(pk=job.pk).update(task_id=task_id)
    job.task_id = task_id
    if eager():
        run(job.pk, task_id=task_id)
        return
    try:
        if connection.in_atomic_block:
            _publish(job.pk, task_id, probe_only=True)
            transaction.on_commit(lambda: _publish_or_fail(job.pk, task_id))
        else:
            _publish(job.pk, task_id)
    except Exception as exc:  # kombu.exceptions.OperationalError and socket errors alike
        log.warning("job %s: broker unavailable: %s", job.pk, exc)
        fail(job.pk, BROKER_UNAVAILABLE)
        raise BrokerUnavailable(str(exc)) from exc


def _publish_or_fail(job_id: int, task_id: str) -> None:
    try:
        _publish(job_id, task_id)
    except Exception as exc:
        log.warning("job %s: broker unavailable at commit: %s", job_id, exc)
        fail(job_id, BROKER_UNAVAILABLE)


def start(kind: str, params: dict | None = None, *, actor: Actor | None = None, inline: bool = False) -> Job:
    """Validate, write the row and run the job: in this process when `inline` or eager, else on a worker."""
    job = create(kind, params, actor=actor)
    if inline:
        run(job.pk)
    else:
        enqueue(job)
    job.refresh_from_db()
    return job


def claim(job_id: int, task_id: str | None = None) -> Job | None:
    """Take the row for this execution (running, attempts + 1), or None when this message may not run it.

    `task_id` None is the inline path (a queued row only). A message claims a queued row handed to it (or
    any queued row when the row names no message); a running row only when it is the redelivery of the very
    message that claimed it, whose worker was lost."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state in FINISHED:
            return None
        mine = task_id is not None and job.task_id == task_id
        if job.state == JobState.QUEUED:
            if task_id is not None and job.task_id and not mine:
                return None  # an older message of a re-queued row: the newer one runs it
        elif not mine:
            return None  # running under another message
        job.state = JobState.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.error = ""
        job.save(update_fields=["state", "attempts", "started_at", "heartbeat_at", "error"])
    return job


class _Heartbeat:
    """A thread stamping the row's heartbeat while the kind runs: the process is alive, whatever the kind
    reports. The first beat comes after one interval, so a short job never writes from a second connection."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    def _beat(self) -> None:
        every = _conf("JOBS_HEARTBEAT_SECONDS", 30)
        try:
            while not self.stop.wait(every):
                try:
                    Job.objects.filter(pk=self.job_id, state=JobState.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a database hiccup must not kill the job; the next beat tries again
                    log.warning("job %s: heartbeat failed", self.job_id, exc_info=True)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


def run(
    job_id: int, task_id: str | None = None, on_progress: Callable[[int, int | None], None] | None = None
) -> Job | None:
    """Execute the job (worker or inline). Errors end on the row and in the log, and are not re-raised."""
    job = claim(job_id, task_id)
    if job is None:
        return None
    try:
        kind = registry.get(job.kind)
        ctx = JobContext(job=job, params=job.params, actor=actor_for(job), on_progress=on_progress)
        with _Heartbeat(job.pk):
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


# ---------------------------------------------------------------- retry, schedules, stale jobs


def may_retry(user, job: Job) -> bool:
    """Its creator or an administrator (a scheduled run has no creator: administrators only)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if getattr(user, "role", None) == Role.ADMIN and user.unit_id:
        return True
    return job.created_by_id is not None and job.created_by_id == user.pk


def job_retry(*, actor: Actor, job: Job) -> Job:
    """Re-queue a failed job on the same row (its done count kept: a resumable kind continues), audited."""
    if not may_retry(actor.user, job):
        raise PermissionDenied
    if job.state != JobState.FAILED:
        raise NotRetryable
    if not eager():
        try:  # a broker that is down: the row says so again, and no retry is recorded
            _publish(job.pk, "", probe_only=True)
        except Exception as exc:
            fail(job.pk, BROKER_UNAVAILABLE)
            raise BrokerUnavailable(str(exc)) from exc
    with transaction.atomic():
        n = Job.objects.filter(pk=job.pk, state=JobState.FAILED).update(
            state=JobState.QUEUED, error="", finished_at=None
        )
        if not n:
            raise NotRetryable
        audit_record(
            actor=actor,
            action="job.retry",
            obj=job,
            unit_id=job.unit_id,
            changes={"kind": job.kind, "error": job.error, "attempts": job.attempts},
        )
    enqueue(job)
    job.refresh_from_db()
    return job


def start_scheduled(
    kind: str, *, schedule: str, params: dict | None = None, actor: Actor | None = None
) -> Job:
    """A schedule's run (by beat, or "run now" on the schedules page): one row tagged with the schedule."""
    job = create(kind, params, actor=actor, schedule=schedule)
    enqueue(job)
    job.refresh_from_db()
    return job


def run_scheduled(kind: str, *, schedule: str, params: dict | None, task_id: str) -> Job | None:
    """What the worker does with a message of beat: the row of this message (written once, found again when
    the message is redelivered) is run here. "Today" is the kind's business: read from the clock now."""
    job = Job.objects.filter(schedule=schedule, task_id=task_id).first()
    if job is None:
        job = create(kind, params, actor=None, schedule=schedule, task_id=task_id)
    return run(job.pk, task_id=task_id)


@dataclass
class CleanupResult:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    pruned: int = 0


def cleanup_stale(
    *, now: datetime | None = None, stale_minutes: int | None = None, max_attempts: int | None = None
) -> CleanupResult:
    """Re-queue every running job whose heartbeat stopped more than `stale_minutes` ago (its worker died and
    its message may be gone); one that has already run `max_attempts` times is failed with the reason.
    Also prunes the rows of finished scheduled runs older than JOBS_KEEP_SCHEDULED_DAYS."""
    now = now or timezone.now()
    stale_minutes = stale_minutes if stale_minutes is not None else _conf("JOBS_STALE_MINUTES", 5)
    max_attempts = max_attempts if max_attempts is not None else _conf("JOBS_MAX_ATTEMPTS", 3)
    cutoff = now - timedelta(minutes=stale_minutes)
    out = CleanupResult()
    stale = Job.objects.filter(state=JobState.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", "attempts")
    for pk, attempts in list(stale):
        if attempts >= max_attempts:
            error = (
                f"worker lost: no heartbeat for more than {stale_minutes} min, "
                f"given up after {attempts} attempts (max {max_attempts})"
            )
            n = Job.objects.filter(pk=pk, state=JobState.RUNNING, heartbeat_at__lt=cutoff).update(
                state=JobState.FAILED, error=error, finished_at=now
            )
            if n:
                log.error("job %s: %s", pk, error)
                out.failed.append(pk)
            continue
        # Conditional on the row still being stale: a worker that beats meanwhile keeps its job.
        n = Job.objects.filter(pk=pk, state=JobState.RUNNING, heartbeat_at__lt=cutoff).update(
            state=JobState.QUEUED, detached=False, heartbeat_at=now
        )
        if n:
            log.warning("job %s: heartbeat stopped, re-queued (attempt %s)", pk, attempts + 1)
            job = Job.objects.get(pk=pk)
            try:
                enqueue(job)
            except BrokerUnavailable:
                out.failed.append(pk)
            else:
                out.requeued.append(pk)
    keep = now - timedelta(days=_conf("JOBS_KEEP_SCHEDULED_DAYS", 7))
    out.pruned, _ = (
        Job.objects.filter(created_by=None, state=JobState.SUCCEEDED, finished_at__lt=keep)
        .exclude(schedule="")
        .delete()
    )
    return out


def broker_reachable() -> bool:
    """Whether the engine's broker answers a connection now (a few seconds at most): callers that must not
    leave anything half-started check it before writing."""
    from gridcare.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=app.conf.broker_connection_timeout or 3)
    except Exception:  # kombu.exceptions.OperationalError, socket errors alike
        return False
    return True
