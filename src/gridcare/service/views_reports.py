"""The service reports page (`/service/reports/`) and its Excel workbook (`/service/reports.xlsx`), staff with
workorder.view: a unit of their subtree (default their own) and a period (default the last 12 months). The figures
are `reports.service_report`, the same the API serves; bad filters answer 400 with the message, a unit outside the
user's subtree 404."""

from datetime import date

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from gridcare.core.permissions import Perm
from gridcare.core.scoping import visible_unit_ids
from gridcare.core.views import staff_required
from gridcare.org.models import SupplyUnit

from . import reports

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def local_today() -> date:
    """Today in Asia/Shanghai; tests replace it."""
    return timezone.localdate()


def report_now():
    """The instant deciding which deadlines are overdue; tests replace it."""
    return timezone.now()


def _unit_id(request, units: list[SupplyUnit]) -> int:
    raw = request.GET.get("unit") or ""
    ids = {u.pk for u in units}
    if raw:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) not in ids:
            raise Http404
        return int(raw)
    if request.user.unit_id in ids:
        return request.user.unit_id
    if not units:
        raise Http404
    return units[0].pk


@staff_required(Perm.WORKORDER_VIEW)
def reports_page(request, fmt: str = "html"):
    today = local_today()
    units = list(SupplyUnit.objects.filter(pk__in=visible_unit_ids(request.user)).order_by("path"))
    unit_id = _unit_id(request, units)
    first, last, errors = reports.parse_period(request.GET.get("from"), request.GET.get("to"), today)
    messages = [m for ms in errors.values() for m in ms]
    if messages and fmt != "html":
        return HttpResponse("\n".join(messages), status=400, content_type="text/plain; charset=utf-8")
    doc = reports.service_report(
        user=request.user, unit_id=unit_id, first=first, last=last, as_of=report_now()
    )
    if fmt == "xlsx":
        resp = HttpResponse(reports.report_xlsx(doc), content_type=XLSX)
        resp["Content-Disposition"] = f'attachment; filename="{reports.filename(doc)}.xlsx"'
        return resp
    query = f"unit={unit_id}&from={first:%Y-%m-%d}&to={last:%Y-%m-%d}"
    return render(
        request,
        "service/reports.html",
        {
            "doc": doc,
            "chart": reports.chart_data(doc),
            "units": units,
            "unit_id": unit_id,
            "date_from": request.GET.get("from") or f"{first:%Y-%m-%d}",
            "date_to": request.GET.get("to") or f"{last:%Y-%m-%d}",
            "errors": messages,
            "query": query,
        },
        status=400 if messages else 200,
    )
