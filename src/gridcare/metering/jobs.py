"""Job kinds of the metering app: the meter-read import (`metering.import_readings`)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

from gridcare.core import jobfiles
from gridcare.core.permissions import Perm
from gridcare.customers.jobs import errors_payload, job_actor, read_upload_file, record_written, upload_params
from gridcare.jobs.registry import job_kind

from . import importer


def _validate(params: dict, actor) -> dict:
    clean, data = upload_params(params, actor, Perm.METER_EDIT)
    try:
        clean["rows"] = importer.precheck(data)
    except importer.ImportFileError as e:
        raise ValidationError({"file": [str(e)]}) from None
    return clean


def _payload(result: importer.ReadingsResult) -> dict:
    return {
        "rows": result.rows,
        "flagged": result.flagged,
        "dry_run": result.dry_run,
        "written": result.written,
        **errors_payload(result.errors),
    }


@job_kind("metering.import_readings", label=gettext_lazy("导入电能表示数"), validate=_validate)
def import_readings_job(ctx) -> dict:
    p = ctx.params
    if (ctx.job.result or {}).get("written"):
        # A retry after the write committed (the worker died before finishing): the file is in, nothing to redo.
        jobfiles.delete(jobfiles.IMPORTS, p["file"])
        return ctx.job.result
    ctx.set_total(p["rows"])
    result = importer.import_readings(
        data=read_upload_file(p["file"]),
        actor=job_actor(p),
        dry_run=p["dry_run"],
        file_name=p["file_name"],
        progress=ctx.set_done,
        then=lambda r: record_written(ctx.job.pk, _payload(r)),
    )
    ctx.set_done(p["rows"])
    jobfiles.delete(jobfiles.IMPORTS, p["file"])
    return _payload(result)
