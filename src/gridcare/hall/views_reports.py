"""Pages of the hall reports, staff with hall.report on halls of their unit subtree (a hall outside it: 404):
- `/hall/kpis/` (+ `.xlsx`): `kpis.hall_kpis` for halls (`hall`, repeatable; default every hall in scope), a period
  (`from`/`to`, default this month to today) and a grouping (`group`: hall, category, day, hour);
- `/hall/peaks/` (+ `.xlsx`): `kpis.hall_peaks` for one hall (`hall`, default the first in scope) over `from`/`to`
  (default the three months up to `to`, itself default today);
- `/hall/<hall_id>/staffing/` (+ `.xlsx`): `staffing_plan.staffing_plan` for the week holding `week` (default
  today) at `service_level` (default 0.8).
Bad filters answer 400 with the messages (the page shows them next to the form)."""

from datetime import date, datetime
from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.permissions import Perm
from gridcare.core.views import staff_required

from . import kpis, selectors, staffing_plan

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def local_today() -> date:
    """Today in Asia/Shanghai; tests replace it."""
    return timezone.localdate()


def report_now() -> datetime:
    """The instant open counter sessions run to; tests replace it."""
    return timezone.now()


def _bad(messages: list[str]) -> HttpResponse:
    return HttpResponse("\n".join(messages), status=400, content_type="text/plain; charset=utf-8")


def _xlsx(data: bytes, name: str) -> HttpResponse:
    resp = HttpResponse(data, content_type=XLSX)
    resp["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return resp


def _messages(errors: dict) -> list[str]:
    return [m for ms in errors.values() for m in ms]


@staff_required(Perm.HALL_REPORT)
def kpis_page(request, fmt: str = "html"):
    today = local_today()
    f = kpis.parse_period(request.GET.get("from"), request.GET.get("to"), today=today)
    group = kpis.parse_group(request.GET.get("group"), f.errors)
    ids = kpis.parse_hall_ids(request.GET.getlist("hall"), f.errors)
    messages = _messages(f.errors)
    if messages and fmt != "html":
        return _bad(messages)
    if messages:  # the page says what was wrong and shows the default period, never the bad range
        f = kpis.parse_period(None, None, today=today)
    doc = kpis.hall_kpis(
        user=request.user, hall_ids=ids, first=f.first, last=f.last, group=group, now=report_now()
    )
    if fmt == "xlsx":
        return _xlsx(kpis.kpis_xlsx(doc), f"hall-kpis-{group}-{f.first:%Y%m%d}-{f.last:%Y%m%d}")
    query = urlencode(
        [("hall", i) for i in ids]
        + [("from", f"{f.first:%Y-%m-%d}"), ("to", f"{f.last:%Y-%m-%d}"), ("group", group)]
    )
    return render(
        request,
        "hall/reports/kpis.html",
        {
            "doc": doc,
            "chart": kpis.kpi_chart(doc),
            "halls": list(selectors.halls_for(request.user, Perm.HALL_REPORT)),
            "selected": set(ids),
            "groups": [
                ("hall", _("营业厅")),
                ("category", _("业务类别")),
                ("day", _("日期")),
                ("hour", _("时段")),
            ],
            "group": group,
            "date_from": request.GET.get("from") or f"{f.first:%Y-%m-%d}",
            "date_to": request.GET.get("to") or f"{f.last:%Y-%m-%d}",
            "errors": messages,
            "query": query,
        },
        status=400 if messages else 200,
    )


def _hall_id(request) -> int:
    raw = (request.GET.get("hall") or "").strip()
    if raw:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise Http404
        return int(raw)
    first = selectors.halls_for(request.user, Perm.HALL_REPORT).values_list("pk", flat=True).first()
    if first is None:
        raise Http404
    return first


@staff_required(Perm.HALL_REPORT)
def peaks_page(request, fmt: str = "html"):
    today = local_today()
    hall_id = _hall_id(request)
    f = kpis.parse_period(request.GET.get("from"), request.GET.get("to"), today=today, default="quarter")
    messages = _messages(f.errors)
    if messages and fmt != "html":
        return _bad(messages)
    if messages:  # the page says what was wrong and shows the default period, never the bad range
        f = kpis.parse_period(None, None, today=today, default="quarter")
    doc = kpis.hall_peaks(user=request.user, hall_id=hall_id, first=f.first, last=f.last)
    if fmt == "xlsx":
        return _xlsx(
            kpis.peaks_xlsx(doc), f"hall-peaks-{doc['hall']['code']}-{f.first:%Y%m%d}-{f.last:%Y%m%d}"
        )
    query = urlencode({"hall": hall_id, "from": f"{f.first:%Y-%m-%d}", "to": f"{f.last:%Y-%m-%d}"})
    return render(
        request,
        "hall/reports/peaks.html",
        {
            "doc": doc,
            "chart": kpis.peaks_chart(doc),
            "halls": list(selectors.halls_for(request.user, Perm.HALL_REPORT)),
            "hall_id": hall_id,
            "date_from": request.GET.get("from") or f"{f.first:%Y-%m-%d}",
            "date_to": request.GET.get("to") or f"{f.last:%Y-%m-%d}",
            "errors": messages,
            "query": query,
        },
        status=400 if messages else 200,
    )


@staff_required(Perm.HALL_REPORT)
def staffing_page(request, hall_id: int, fmt: str = "html"):
    today = local_today()
    week, level, errors = staffing_plan.parse_plan_filters(
        request.GET.get("week"), request.GET.get("service_level"), today=today
    )
    messages = _messages(errors)
    if messages and fmt != "html":
        return _bad(messages)
    doc = staffing_plan.staffing_plan(
        user=request.user, hall_id=hall_id, week=week, service_level=level, now=report_now()
    )
    if fmt == "xlsx":
        return _xlsx(staffing_plan.plan_xlsx(doc), f"hall-staffing-{doc['hall']['code']}-{week:%Y%m%d}")
    query = urlencode({"week": f"{week:%Y-%m-%d}", "service_level": level})
    return render(
        request,
        "hall/reports/staffing.html",
        {
            "doc": doc,
            "chart": staffing_plan.plan_chart(doc),
            "halls": list(selectors.halls_for(request.user, Perm.HALL_REPORT)),
            "week_value": request.GET.get("week") or f"{today:%Y-%m-%d}",
            "level_value": request.GET.get("service_level") or level,
            "errors": messages,
            "query": query,
        },
        status=400 if messages else 200,
    )
