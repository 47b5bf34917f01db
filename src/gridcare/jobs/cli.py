"""Management commands run their work as jobs: `run_and_wait` enqueues the job and waits, drawing a progress
bar (done/total) on the terminal, or runs it in this process — with `--inline`, when the engine runs jobs
eagerly, when the broker cannot be reached, or when no worker answers a ping — drawing the same bar.

Worker detection is `app.control.ping`: a broadcast on the broker's pidbox exchange that every live worker
answers. It works on the three transports we run (checked by tests/jobs/test_real_worker.py): Redis and
RabbitMQ (fanout exchanges), and kombu's filesystem transport, whose fanout lives in `control_folder`
(settings CELERY_BROKER_TRANSPORT_OPTIONS). The answer is live, unlike a heartbeat row a killed worker leaves
behind, and a worker that is up but wedged does not answer, so the command does the work itself.
"""

import sys
import time
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from gridcare.core.audit import Actor

from . import services
from .choices import FINISHED, JobState
from .models import Job

BAR_WIDTH = 30


class Output(Protocol):
    """Where the bar is drawn: sys.stdout, or a management command's self.stdout/self.stderr (Django's
    OutputWrapper, which is an io.TextIOBase and not a typing.TextIO)."""

    def write(self, s: str, /) -> object: ...

    def flush(self) -> None: ...


def _ping_timeout() -> float:
    return float(getattr(settings, "GRIDCARE", {}).get("JOBS_PING_SECONDS", 1.0))


def workers_available(timeout: float | None = None) -> bool:
    """True when the broker answers and at least one worker replies to a ping within `timeout` seconds."""
    if services.eager():
        return False
    from gridcare.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0)
            # limit=1: the first reply is enough (without it the broadcast waits out the whole timeout).
            replies = app.control.ping(
                timeout=timeout if timeout is not None else _ping_timeout(), connection=conn, limit=1
            )
    except Exception:  # broker down or unreachable: nobody will run the job but us
        return False
    return bool(replies)


class ProgressBar:
    """`[#########---------]  12/40  30%  运行中`: redrawn in place on a terminal; elsewhere (a log, a pipe) one
    line per tenth of the way, so logs stay short."""

    def __init__(self, stdout: Output, label: str):
        self.out = stdout
        self.label = label
        self.tty = bool(getattr(stdout, "isatty", lambda: False)())
        self.last_line = ""
        self.last_step = -1

    def _write(self, text: str) -> None:
        """Write exactly `text`: a management command's OutputWrapper would end every write with a newline,
        which breaks the in-place redraw, so its `ending` is turned off."""
        try:
            self.out.write(text, ending="")  # type: ignore[call-arg]  # OutputWrapper.write takes `ending`
        except TypeError:
            self.out.write(text)

    def line(self, done: int, total: int | None, state: str) -> str:
        if total:
            frac = min(1.0, done / total)
            filled = int(frac * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            return f"{self.label} [{bar}] {done}/{total} {int(frac * 100):3d}% {state}"
        return f"{self.label} [{'?' * BAR_WIDTH}] {done}/? {state}"

    def update(self, done: int, total: int | None, state: str) -> None:
        text = self.line(done, total, state)
        if text == self.last_line:
            return
        self.last_line = text
        if self.tty:
            self._write("\r" + text)
            self.out.flush()
            return
        step = int(10 * done / total) if total else 0
        if step != self.last_step:
            self.last_step = step
            self._write(text + "\n")

    def close(self, done: int, total: int | None, state: str) -> None:
        text = self.line(done, total, state)
        if self.tty:
            self._write("\r" + text + "\n")
        elif text != self.last_line:
            self._write(text + "\n")
        self.out.flush()


def run_and_wait(
    kind: str,
    params: dict | None,
    actor: Actor | None,
    stdout: Output | None = None,
    inline: bool = False,
    timeout: float | None = None,
    poll: float = 0.2,
) -> Job:
    """Start the job and wait for its end; returns the finished row. Invalid parameters, a failed job and a
    timeout raise CommandError (the job's row keeps its error; the page /jobs/<id>/ shows it)."""
    out = stdout or sys.stdout
    try:
        job = services.create(kind, params, actor=actor)
    except ValidationError as exc:
        detail = getattr(exc, "message_dict", None) or {"__all__": exc.messages}
        raise CommandError(
            "; ".join(m if f == "__all__" else f"{f}: {m}" for f, ms in detail.items() for m in ms)
        ) from None
    job = execute(job, out, inline=inline, timeout=timeout, poll=poll)
    if job.state == JobState.FAILED:
        raise CommandError(f"{kind} #{job.pk} failed: {job.error}")
    return job


def execute(
    job: Job,
    stdout: Output | None = None,
    *,
    inline: bool = False,
    timeout: float | None = None,
    poll: float = 0.2,
) -> Job:
    """Run an already-created job row with the progress bar (here, or on a worker when one answers) and return
    it finished, whatever its outcome (callers that report a failure their own way use this)."""
    out = stdout or sys.stdout
    label = f"{job.kind} #{job.pk}"
    bar = ProgressBar(out, label)
    if inline or not workers_available():
        if not inline:
            out.write(f"{label}: no worker answered, running in this process\n")
        job = _run_here(job, bar)
    else:
        services.enqueue(job)  # BrokerUnavailable propagates: the broker answered the ping a moment ago
        job = _wait(job, bar, timeout=timeout, poll=poll)
    bar.close(job.done, job.total, job.get_state_display())
    return job


def result_of(job: Job) -> dict[str, Any]:
    """The result a finished job stored; CommandError when it stored none (its handler returned nothing)."""
    if not isinstance(job.result, dict):
        raise CommandError(f"{job.kind} #{job.pk} stored no result")
    return job.result


def _run_here(job: Job, bar: ProgressBar) -> Job:
    def progress(done: int, total: int | None) -> None:
        bar.update(done, total, str(JobState.RUNNING.label))

    finished = services.run(job.pk, on_progress=progress)
    return finished if finished is not None else Job.objects.get(pk=job.pk)


def _wait(job: Job, bar: ProgressBar, *, timeout: float | None, poll: float) -> Job:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        row: Any = Job.objects.filter(pk=job.pk).values("state", "done", "total").get()
        bar.update(row["done"], row["total"], str(JobState(row["state"]).label))
        if row["state"] in FINISHED:
            return Job.objects.get(pk=job.pk)
        if deadline is not None and time.monotonic() > deadline:
            bar.close(row["done"], row["total"], str(JobState(row["state"]).label))
            raise CommandError(
                f"{job.kind} #{job.pk} is still {row['state']} after {timeout:g} s; it goes on in the worker "
                f"(/jobs/{job.pk}/)"
            )
        time.sleep(poll)


def add_job_arguments(parser) -> None:
    """`--inline` (run in this process, no worker) and `--timeout SECONDS` (stop waiting; the job goes on)."""
    parser.add_argument(
        "--inline", action="store_true", help="run the job in this process instead of a worker"
    )
    parser.add_argument("--timeout", type=float, default=None, help="stop waiting after this many seconds")
