"""Console page for bulk customer import: upload a CSV, optionally only validate, see errors or the summary.

The upload is checked as a whole at once (size, encoding, header: an error on the form, nothing queued), saved
under var/imports/ with a generated name, and imported by a job (`customers.import`); the page then follows the
job (`?job=<id>`, its creator only) and shows its result — the per-row errors or the summary — when it ends."""

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from gridcare.core import jobfiles
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import form_errors_from, staff_required
from gridcare.jobs import services as job_services
from gridcare.jobs.choices import FINISHED, JobState
from gridcare.jobs.models import Job

from . import importer

# A page listing more errors than this gets slow to read; the CLI lists every one.
ERRORS_SHOWN = 1000
KIND = "customers.import"


class CustomerImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV 文件"), help_text=_("UTF-8、带 BOM 的 UTF-8 或 GBK 编码（Excel 另存为 CSV 即可）")
    )
    dry_run = forms.BooleanField(label=_("仅校验 (dry run)"), required=False, initial=True)


def _start(request, form) -> Job | None:
    """Save the upload and start its job; None (with the reason on the form) when refused."""
    upload = form.cleaned_data["file"]
    try:
        data = importer.read_upload(upload)
    except importer.ImportFileError as e:
        form.add_error("file", str(e))
        return None
    name = jobfiles.save(jobfiles.IMPORTS, data, "csv")
    actor = Actor.from_request(request, Channel.IMPORT)
    try:
        return job_services.start(
            KIND,
            {"file": name, "file_name": upload.name, "dry_run": form.cleaned_data["dry_run"], "ip": actor.ip},
            actor=actor,
        )
    except ValidationError as exc:
        form_errors_from(form, exc)
    except job_services.BrokerUnavailable:
        form.add_error(None, _("后台任务服务暂时不可用，未开始导入，请稍后再试。"))
    except PermissionDenied:
        jobfiles.delete(jobfiles.IMPORTS, name)
        raise Http404 from None
    jobfiles.delete(jobfiles.IMPORTS, name)
    return None


def _own_job(request) -> Job | None:
    job_id = request.GET.get("job")
    if not job_id:
        return None
    if not (job_id.isascii() and job_id.isdigit() and len(job_id) <= 18):
        raise Http404
    job = Job.objects.filter(pk=int(job_id), kind=KIND, created_by=request.user).first()
    if job is None:
        raise Http404
    return job


@staff_required(Perm.CUSTOMER_IMPORT)
@require_http_methods(["GET", "POST"])
def import_page(request):
    if request.method == "GET" and request.GET.get("template") == "csv":
        response = HttpResponse(importer.template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="customers-import-template.csv"'
        return response
    form = (
        CustomerImportForm(request.POST, request.FILES) if request.method == "POST" else CustomerImportForm()
    )
    if form.is_bound and form.is_valid():
        job = _start(request, form)
        if job is not None:
            return redirect(f"{reverse('console:import')}?job={job.pk}")
    job = _own_job(request) if request.method == "GET" else None
    result = job.result if job is not None and job.state == JobState.SUCCEEDED else None
    context = {
        "form": form,
        "job": job,
        "running": job is not None and job.state not in FINISHED,
        "result": result,
        "errors_shown": result["errors"][:ERRORS_SHOWN] if result else [],
        "columns": importer.COLUMNS,
    }
    return render(request, "customers/import.html", context, status=400 if form.errors else 200)
