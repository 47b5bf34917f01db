"""Job kinds of the customers app: the customer import (`customers.import`) and a large search export
(`customers.export`). Both refuse bad parameters before anything is queued, with the form's message."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core import jobfiles
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied
from gridcare.jobs.models import Job
from gridcare.jobs.registry import job_kind
from gridcare.org.models import User

from . import exports, importer

ERRORS_KEPT = 10_000  # row errors stored on the job row; the count of all of them is stored too


def errors_payload(errors) -> dict:
    return {
        "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in errors[:ERRORS_KEPT]],
        "errors_total": len(errors),
    }


def upload_params(params: dict, actor, perm: str) -> tuple[dict, bytes]:
    """The checks every import job makes before queueing: the file is one of ours, the user may import.
    Returns the cleaned common parameters and the file's bytes."""
    user = getattr(actor, "user", None)
    if user is not None and not has_perm(user, perm):
        raise PermissionDenied
    name = params.get("file")
    if not jobfiles.is_valid_name(name):
        raise ValidationError({"file": [_("上传的文件无效，请重新上传。")]})
    data = read_upload_file(name)
    clean = {
        "file": name,
        "file_name": str(params.get("file_name") or "")[:255],
        "dry_run": bool(params.get("dry_run")),
        "ip": params.get("ip") or None,
        "user_id": user.pk if user is not None else None,
    }
    return clean, data


def read_upload_file(name: str) -> bytes:
    try:
        return jobfiles.path(jobfiles.IMPORTS, name).read_bytes()
    except (OSError, jobfiles.BadFileName):
        raise ValidationError({"file": [_("上传的文件已不存在（可能已过期删除），请重新上传。")]}) from None


def job_actor(params: dict) -> Actor:
    """The import's actor: the user who started it (still active), or the system for a CLI run without --user."""
    user = None
    if params.get("user_id") is not None:
        user = User.objects.filter(pk=params["user_id"], is_active=True).first()
        if user is None:
            raise PermissionDenied("the user who started this import is gone or inactive")
    return Actor(user=user, channel=Channel.IMPORT, ip=params.get("ip"))


def _import_validate(params: dict, actor) -> dict:
    clean, data = upload_params(params, actor, Perm.CUSTOMER_IMPORT)
    clean["unit_code"] = str(params.get("unit_code") or "").strip()
    try:
        importer.resolve_unit(actor, clean["unit_code"])
        clean["rows"] = importer.precheck(data, unit_code=clean["unit_code"])
    except importer.ImportFileError as e:
        raise ValidationError({"file": [str(e)]}) from None
    return clean


def _import_payload(result: importer.ImportResult) -> dict:
    return {
        "rows": result.rows,
        "customers_created": result.customers_created,
        "customers_attached": result.customers_attached,
        "accounts_created": result.accounts_created,
        "dry_run": result.dry_run,
        "written": result.written,
        **errors_payload(result.errors),
    }


def record_written(job_id: int, payload: dict) -> None:
    Job.objects.filter(pk=job_id).update(result=payload)


@job_kind("customers.import", label=gettext_lazy("导入客户"), validate=_import_validate)
def import_customers_job(ctx) -> dict:
    p = ctx.params
    if (ctx.job.result or {}).get("written"):
        # A retry after the write committed (the worker died before finishing): the file is in, nothing to redo.
        jobfiles.delete(jobfiles.IMPORTS, p["file"])
        return ctx.job.result
    ctx.set_total(p["rows"])
    data = read_upload_file(p["file"])
    result = importer.import_customers(
        data=data,
        actor=job_actor(p),
        dry_run=p["dry_run"],
        file_name=p["file_name"],
        unit_code=p["unit_code"] or None,
        progress=ctx.set_done,
        then=lambda r: record_written(ctx.job.pk, _import_payload(r)),
    )
    ctx.set_done(p["rows"])
    jobfiles.delete(jobfiles.IMPORTS, p["file"])
    return _import_payload(result)


# ------------------------------------------------------------------------------------------------- exports


def export_job_rows() -> int:
    return int(settings.GRIDCARE.get("EXPORT_JOB_ROWS", 5000))


def _export_validate(params: dict, actor) -> dict:
    user = getattr(actor, "user", None)
    if user is None or not has_perm(user, Perm.CUSTOMER_EXPORT):
        raise PermissionDenied
    fmt = params.get("format")
    if fmt not in exports.FORMATS:
        raise ValidationError({"format": [_("导出格式应为 csv 或 xlsx")]})
    criteria = exports.clean_criteria(params.get("criteria") or {})  # ValidationError as the search form
    reveal = bool(params.get("reveal"))
    if reveal and not has_perm(user, Perm.CUSTOMER_VIEW_PII):
        raise PermissionDenied
    return {"criteria": criteria, "format": fmt, "reveal": reveal}


@job_kind("customers.export", label=gettext_lazy("导出客户"), validate=_export_validate)
def export_customers_job(ctx) -> dict:
    p = ctx.params
    user = ctx.job.created_by
    # Checked again when the job runs: a user who lost the export (or PII) permission meanwhile gets nothing.
    if user is None or not user.is_active or not has_perm(user, Perm.CUSTOMER_EXPORT):
        raise PermissionDenied("the user who started this export may no longer export")
    reveal = p["reveal"] and has_perm(user, Perm.CUSTOMER_VIEW_PII)
    qs = exports.search_queryset(user, p["criteria"])
    total = min(qs.count(), exports.EXPORT_MAX_ROWS)
    ctx.set_total(total)
    name, rows = exports.write_file(
        qs[: exports.EXPORT_MAX_ROWS], fmt=p["format"], reveal=reveal, progress=ctx.set_done
    )
    ctx.set_done(rows)
    now = timezone.now()
    return {
        "file": name,
        "format": p["format"],
        "rows": rows,
        "download_url": reverse("console:export_download", args=[ctx.job.pk]),
        "expires_at": (now + jobfiles.keep(jobfiles.EXPORTS)).isoformat(),
    }
