"""The engine's Celery tasks: run a job row by id, and a schedule's run (acks late, re-queued when the worker
is lost). Both carry ids and names only; the row holds the rest."""

from celery import shared_task

SCHEDULED_TASK = "gridcare.jobs.scheduled"


@shared_task(
    bind=True, name="gridcare.jobs.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def run_job(self, job_id: int) -> None:
    from .services import run

    run(job_id, task_id=self.request.id)


@shared_task(bind=True, name=SCHEDULED_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_scheduled(self, kind: str, schedule: str = "", params: dict | None = None) -> None:
    """Sent by beat (django-celery-beat PeriodicTask kwargs {"kind", "schedule"}): one Job row per run."""
    from .services import run_scheduled as run_it

    run_it(kind, schedule=schedule or kind, params=params, task_id=self.request.id)
