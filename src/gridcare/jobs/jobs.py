"""Job kinds of the jobs app itself: the engine's housekeeping."""

from django.utils.translation import gettext_lazy as _

from .registry import default_schedule, job_kind


@job_kind("jobs.cleanup_stale", label=_("清理失联任务"))
def cleanup_stale(ctx):
    """Re-queue running jobs whose heartbeat stopped (their worker died); see services.cleanup_stale."""
    from .services import cleanup_stale as run_cleanup

    r = run_cleanup()
    return {"requeued": r.requeued, "failed": r.failed, "pruned": r.pruned}


default_schedule("jobs.cleanup_stale", every=1, period="minutes")
