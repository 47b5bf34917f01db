"""The one generic Celery task: run a job row by id (acks late, re-queued when its worker is lost)."""

from celery import shared_task


@shared_task(name="gridcare.jobs.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> None:
    from .services import run

    run(job_id)
