"""Credit report pages (credit.view; issue 17 §5), each with its Excel workbook (`?…` the same filters):
- `/credit/reports/grades/` (+ `grades.xlsx`): grade distribution by unit, rated class and month, with charts;
- `/credit/reports/movers/` (+ `movers.xlsx`): customers whose grade rose or fell between two monthly runs;
- `/credit/reports/d-list/` (+ `d-list.xlsx`): D customers of a monthly run with their measures and reasons.
Bad filters answer 400 with the messages (the page shows them above the form and the default report); a unit
outside the user's subtree 404. Lists show 50 a page."""

from __future__ import annotations

import tempfile
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.permissions import Perm
from gridcare.core.views import staff_required

from . import reports
from .choices import RatedClass

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPOOL_BYTES = 8 * 1024 * 1024


def _xlsx(data: bytes, name: str) -> FileResponse:
    """Streamed from a spooled temporary file (memory up to 8 MB, disk beyond), never one big string in the
    response."""
    fh = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - FileResponse closes it
    fh.write(data)
    fh.seek(0)
    return FileResponse(fh, as_attachment=True, filename=f"{name}.xlsx", content_type=XLSX)


def _bad(messages: list[str]) -> HttpResponse:
    return HttpResponse("\n".join(messages), status=400, content_type="text/plain; charset=utf-8")


def _messages(exc: ValidationError) -> list[str]:
    return [m for ms in exc.message_dict.values() for m in ms]


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d%H%M")


def _filters(request, names: list[str]) -> dict[str, str]:
    return {n: request.GET.get(n, "") for n in names}


def _query(values: dict[str, str]) -> str:
    return urlencode({k: v for k, v in values.items() if v})


def _common(request, f: dict, errors: list[str]) -> dict:
    from gridcare.core.scoping import visible_unit_ids
    from gridcare.org.models import SupplyUnit

    return {
        "f": f,
        "errors": errors,
        "classes": RatedClass.choices,
        "units": list(
            SupplyUnit.objects.filter(pk__in=visible_unit_ids(request.user))
            .order_by("path")
            .values("id", "name")
        ),
    }


@staff_required(Perm.CREDIT_VIEW)
def grades_page(request, fmt: str = "html"):
    f = _filters(request, ["unit_id", "rated_class", "month", "from", "to"])
    errors: list[str] = []
    kwargs = {
        "unit_id": f["unit_id"],
        "rated_class": f["rated_class"],
        "month": f["month"],
        "date_from": f["from"],
        "date_to": f["to"],
    }
    try:
        doc = reports.grade_distribution(user=request.user, **kwargs)
    except ValidationError as exc:
        errors = _messages(exc)
        if fmt != "html":
            return _bad(errors)
        doc = reports.grade_distribution(user=request.user)
    if fmt == "xlsx":
        return _xlsx(reports.grades_xlsx(doc), f"credit-grades-{doc['month'] or 'none'}-{_stamp()}")
    return render(
        request,
        "credit/report_grades.html",
        {**_common(request, f, errors), "doc": doc, "chart": reports.grades_chart(doc), "query": _query(f)},
        status=400 if errors else 200,
    )


def _page_links(count: int, page: int, f: dict) -> dict:
    pages = max(1, -(-count // reports.PAGE_SIZE))
    base = {k: v for k, v in f.items() if v and k != "page"}
    return {
        "count": count,
        "page": page,
        "pages": pages,
        "prev": urlencode({**base, "page": page - 1}) if page > 1 else None,
        "next": urlencode({**base, "page": page + 1}) if page < pages else None,
    }


@staff_required(Perm.CREDIT_VIEW)
def movers_page(request, fmt: str = "html"):
    f = _filters(request, ["unit_id", "rated_class", "from", "to", "direction", "page"])
    errors: list[str] = []
    page_errors: dict[str, list[str]] = {}
    page = reports.parse_page(f["page"], page_errors)
    kwargs = {
        "unit_id": f["unit_id"],
        "rated_class": f["rated_class"],
        "date_from": f["from"],
        "date_to": f["to"],
        "direction": f["direction"],
    }
    try:
        reports.raise_errors(page_errors)
        result = reports.movers(user=request.user, **kwargs)
    except ValidationError as exc:
        errors = _messages(exc)
        if fmt != "html":
            return _bad(errors)
        page, result = 1, reports.movers(user=request.user)
    if fmt == "xlsx":
        rows = reports.movers_xlsx_rows(result)
        head = next(rows)
        month = (
            f"{result.before.period if result.before else ''}-{result.after.period if result.after else ''}"
        )
        return _xlsx(reports.rows_xlsx(_("信用等级升降"), head, rows), f"credit-movers-{month}-{_stamp()}")
    count, items = reports.page_of(result.rows, page)
    return render(
        request,
        "credit/report_movers.html",
        {
            **_common(request, f, errors),
            "result": result,
            "rows": reports.mover_rows(items, result.units),
            "paging": _page_links(count, page, f),
            "query": _query({k: v for k, v in f.items() if k != "page"}),
        },
        status=400 if errors else 200,
    )


@staff_required(Perm.CREDIT_VIEW)
def d_list_page(request, fmt: str = "html"):
    f = _filters(request, ["unit_id", "rated_class", "month", "page"])
    errors: list[str] = []
    page_errors: dict[str, list[str]] = {}
    page = reports.parse_page(f["page"], page_errors)
    try:
        reports.raise_errors(page_errors)
        result = reports.d_list(
            user=request.user, unit_id=f["unit_id"], rated_class=f["rated_class"], month=f["month"]
        )
    except ValidationError as exc:
        errors = _messages(exc)
        if fmt != "html":
            return _bad(errors)
        page, result = 1, reports.d_list(user=request.user)
    if fmt == "xlsx":
        rows = reports.d_list_xlsx_rows(result)
        head = next(rows)
        month = result.run.period if result.run else "none"
        return _xlsx(reports.rows_xlsx(_("D级客户"), head, rows), f"credit-d-list-{month}-{_stamp()}")
    count, items = reports.page_of(result.rows, page)
    from .choices import Measure

    return render(
        request,
        "credit/report_d_list.html",
        {
            **_common(request, f, errors),
            "result": result,
            "measure_labels": [str(dict(Measure.choices).get(m, m)) for m in result.measures],
            "rows": reports.d_rows(items, result.measures, result.units),
            "paging": _page_links(count, page, f),
            "query": _query({k: v for k, v in f.items() if k != "page"}),
        },
        status=400 if errors else 200,
    )
