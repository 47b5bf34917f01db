"""Job kind of the outage import (`outages.import`): `gridcare import outages FILE.csv` runs it (import it from
`outages/jobs.py` so it is registered)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

from gridcare.core import jobfiles
from gridcare.core.permissions import Perm
from gridcare.customers.jobs import errors_payload, job_actor, read_upload_file, record_written, upload_params
from gridcare.jobs.registry import job_kind

from . import importer


def _validate(params: dict, actor) -> dict:
    clean, data = upload_params(params, actor, Perm.OUTAGE_DRAFT)
    try:
        clean["rows"] = importer.precheck(data)
    except importer.ImportFileError as e:
        raise ValidationError({"file": [str(e)]}) from None
    return clean


def _payload(result: dict) -> dict:
    return {**{k: v for k, v in result.items() if k != "errors"}, **errors_payload(result["errors"])}


@job_kind("outages.import", label=gettext_lazy("导入停电记录"), validate=_validate)
def import_outages_job(ctx) -> dict:
    p = ctx.params
    if (ctx.job.result or {}).get("written"):
        # A retry after the write committed (the worker died before finishing): the file is in, nothing to redo.
        jobfiles.delete(jobfiles.IMPORTS, p["file"])
        return ctx.job.result
    ctx.set_total(p["rows"])
    result = importer.import_outages_file(
        data=read_upload_file(p["file"]),
        actor=job_actor(p),
        dry_run=p["dry_run"],
        file_name=p["file_name"],
        then=lambda r: record_written(ctx.job.pk, _payload(r)),
    )
    ctx.set_done(p["rows"])
    jobfiles.delete(jobfiles.IMPORTS, p["file"])
    return _payload(result)
