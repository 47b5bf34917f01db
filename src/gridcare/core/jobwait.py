"""`run_and_wait`: how a management command runs a job — enqueued and waited for with a progress bar, or
in this process (`--inline`, eager settings, or no worker answering).

A local stand-in for the job engine's own CLI helper (branch `engine`); the commands call only this function,
so swapping it for the engine's is a one-line import change."""

import time
from typing import TextIO

from gridcare.jobs import services
from gridcare.jobs.choices import FINISHED
from gridcare.jobs.models import Job

BAR_WIDTH = 30


def _worker_answers(timeout: float) -> bool:
    from gridcare.celery import app

    try:
        return bool(app.control.ping(timeout=timeout))
    except Exception:  # broker down, or a transport without broadcast: nobody will pick the job up
        return False


def progress_line(job: Job) -> str:
    total = job.total or 0
    done = min(job.done, total) if total else job.done
    filled = int(BAR_WIDTH * done / total) if total else 0
    return f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total or '?'} {job.state}"


def run_and_wait(
    kind: str,
    params: dict,
    *,
    actor,
    inline: bool = False,
    out: TextIO | None = None,
    ping_timeout: float = 1.0,
    poll: float = 0.5,
) -> Job:
    """Start job `kind` and return its row once finished. Raises what `services.start` raises (ValidationError,
    PermissionDenied, BrokerUnavailable) before anything runs."""
    if inline or services.eager() or not _worker_answers(ping_timeout):
        job = services.start(kind, params, actor=actor, inline=True)
    else:
        job = services.start(kind, params, actor=actor)
        while job.state not in FINISHED:
            if out is not None:
                out.write(progress_line(job))
                out.flush()
            time.sleep(poll)
            job.refresh_from_db()
    if out is not None:
        out.write(progress_line(job) + "\n")
    return job
