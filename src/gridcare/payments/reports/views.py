"""Collection report pages (收费报表, issue 4 §9): collection rate 电费回收率 by unit for a billing month,
arrears ageing as of a date, channel mix for a date range — each with an ECharts chart, a table and an
Excel export (`/payments/reports/<report>/export.xlsx`, same filters as the page).

The figures come from `payments.reports.selectors` (through `reports.tables`), scoped to the user's units under
stats.view exactly as the API. Without a period, the collection rate shows the last billing month whose due
date has passed (a month still payable shows a rate that means nothing yet) and the page says which month. Bad filters (period "2026-13", an unparsable date, date_from after date_to)
show a message next to the report they belong to (page answers 400) and make the export answer 400.
"""

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from gridcare.core.permissions import Perm
from gridcare.core.views import staff_required

from .selectors import last_due_period
from .tables import BUILDERS, REPORTS, build, filter_errors, parse_filters, period_note, workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def local_today():
    """Today in Asia/Shanghai (the reports' defaults depend on it); tests replace it."""
    return timezone.localdate()


def _filters(request, today):
    """The filters of the request; without a period, the last month whose bills are all past due."""
    default_period = "" if request.GET.get("period") else last_due_period(user=request.user, today=today)
    return parse_filters(request.GET, today, default_period=default_period)


@staff_required(Perm.STATS_VIEW)
def reports_page(request):
    today = local_today()
    f = _filters(request, today)
    sections = []
    for slug in REPORTS:
        errors = filter_errors(f, slug)
        sections.append(
            {"slug": slug, "errors": errors, "table": None if errors else build(request.user, f, slug)}
        )
    charts = {s["slug"]: s["table"].chart for s in sections if s["table"] is not None}
    return render(
        request,
        "payments/reports.html",
        {
            "filters": f.raw,
            "period_note": period_note(request.user, f.period, today) if f.period else "",
            "sections": sections,
            "charts": charts,
            "query": request.GET.urlencode(),
        },
        status=400 if f.errors else 200,
    )


@staff_required(Perm.STATS_VIEW)
def report_export(request, report: str):
    if report not in BUILDERS:
        raise Http404
    f = _filters(request, local_today())
    errors = filter_errors(f, report)
    if errors:
        return HttpResponse("\n".join(errors), status=400, content_type="text/plain; charset=utf-8")
    resp = HttpResponse(workbook(build(request.user, f, report)), content_type=XLSX)
    resp["Content-Disposition"] = f'attachment; filename="{report}-{timezone.localtime():%Y%m%d%H%M}.xlsx"'
    return resp
