"""Job kinds of core: housekeeping of the files jobs leave under var/ (scheduled by the engine's beat)."""

from django.utils.translation import gettext_lazy as _

from gridcare.jobs.registry import default_schedule, job_kind

from . import jobfiles


@job_kind("core.purge_job_files", label=_("清理过期的导入导出文件"))
def purge_job_files(ctx) -> dict:
    return jobfiles.purge()


# Exports keep 48 hours by default: an hourly sweep removes each within the hour after it expires.
default_schedule("core.purge_job_files", every=1, period="hours")
