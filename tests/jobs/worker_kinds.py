"""Job kinds for the real-worker tests, imported by the test and by the worker (`celery worker -I …`).

`test.chunks` processes `n` resumable chunks: each chunk writes its record and its progress in one
transaction, and a run (first or retried) skips the chunks already recorded, so a worker killed mid-way
leaves nothing half-done and a retry never duplicates a chunk."""

import time

from django.db import transaction

from gridcare.core.audit import audit_record
from gridcare.core.models import AuditEvent
from gridcare.jobs.registry import job_kind


def chunk_ids(job_id: int) -> list[str]:
    return list(
        AuditEvent.objects.filter(action="test.chunk", object_type=f"test.job{job_id}").values_list(
            "object_id", flat=True
        )
    )


@job_kind("test.chunks", label="chunks")
def chunks(ctx):
    n, delay = ctx.params["n"], ctx.params.get("delay", 0.3)
    ctx.set_total(n)
    done = set(chunk_ids(ctx.job.pk))
    ctx.set_done(len(done))
    for i in range(n):
        if str(i) in done:
            continue
        time.sleep(delay)
        with transaction.atomic():
            audit_record(
                actor=ctx.actor, action="test.chunk", object_type=f"test.job{ctx.job.pk}", object_id=i
            )
            ctx.advance()
    return {"chunks": n}


@job_kind("test.tick", label="tick")
def tick(ctx):
    ctx.set_total(1)
    ctx.set_done(1)
    return {"tick": True}
