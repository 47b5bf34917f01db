"""The billing run's chunk task: one message per chunk of a run's plan, so a run spreads over every worker.

acks_late with reject_on_worker_lost: a worker killed mid-chunk leaves the message to be delivered again;
the chunk's row lock and done flag make the second delivery bill nothing twice (`runs.run_chunk`)."""

import logging

from celery import shared_task

log = logging.getLogger("gridcare.billing")


@shared_task(name="gridcare.billing.chunk", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def bill_chunk(run_id: int, index: int, holder: str) -> None:
    from . import leases, runs

    try:
        runs.run_chunk(run_id, index, holder)
    except leases.LeaseLost:
        # The execution this chunk belongs to is over (failed, or taken over by a newer one): nothing written.
        log.info("billing run %s chunk %s: execution %s no longer holds the run", run_id, index, holder)
