"""Console page for bulk customer import: upload a CSV, optionally only validate, see errors or the summary."""

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required

from . import importer

# A page listing more errors than this gets slow to read; the CLI lists every one.
ERRORS_SHOWN = 1000


class CustomerImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV 文件"), help_text=_("UTF-8、带 BOM 的 UTF-8 或 GBK 编码（Excel 另存为 CSV 即可）")
    )
    dry_run = forms.BooleanField(label=_("仅校验 (dry run)"), required=False, initial=True)


@staff_required(Perm.CUSTOMER_IMPORT)
@require_http_methods(["GET", "POST"])
def import_page(request):
    if request.method == "GET" and request.GET.get("template") == "csv":
        response = HttpResponse(importer.template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="customers-import-template.csv"'
        return response
    result = None
    form = (
        CustomerImportForm(request.POST, request.FILES) if request.method == "POST" else CustomerImportForm()
    )
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = importer.import_customers(
                data=importer.read_upload(upload),
                actor=Actor.from_request(request, Channel.IMPORT),
                dry_run=form.cleaned_data["dry_run"],
                file_name=upload.name,
            )
        except importer.ImportFileError as e:
            form.add_error("file", str(e))
        except PermissionDenied:
            raise Http404 from None
    context = {
        "form": form,
        "result": result,
        "errors_shown": result.errors[:ERRORS_SHOWN] if result else [],
        "columns": importer.COLUMNS,
    }
    return render(request, "customers/import.html", context, status=400 if form.errors else 200)
