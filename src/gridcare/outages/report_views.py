"""Reliability pages (供电可靠性): the yearly report with its monthly ECharts trend (SAIDI, SAIFI, RS-1, with and
without Major Event Days), the SPEC C5 targets as traffic lights per area group and the MED table; the
frequent-outage list (频繁停电) with its cases; trip remediation (故障跳闸治理); voltage compliance (电压合格率); the
monthly review (月度例会) as a page, an Excel workbook and a PDF. Every figure comes from the same selectors the API
serves, scoped to the user's units; bad filters answer 400 with the message."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, visible_unit_ids
from gridcare.core.views import staff_required
from gridcare.org.models import SupplyUnit

from . import frequent, indices, review, selectors, services, targets, trips, voltage
from .choices import ActionStatus, AreaGroup, Basis

TARGET_FIELDS = ("saidi_hours_max", "rs1_percent_min", "saifi_max")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def local_today() -> date:
    """Today in Asia/Shanghai; tests replace it."""
    return timezone.localdate()


def _units(user) -> list[SupplyUnit]:
    return list(SupplyUnit.objects.filter(pk__in=visible_unit_ids(user)).order_by("path"))


def _unit_id(request, units: list[SupplyUnit]) -> int:
    raw = request.GET.get("unit") or ""
    if raw:
        try:
            uid = int(raw)
        except ValueError:
            raise Http404 from None
        if uid not in {u.pk for u in units}:
            raise Http404
        return uid
    if request.user.unit_id in {u.pk for u in units}:
        return request.user.unit_id
    if not units:
        raise Http404
    return units[0].pk


def _month(raw: str, today: date) -> tuple[date, str]:
    """A YYYY-MM month (default: last month) and an error message for a bad one."""
    if not raw:
        first = today.replace(day=1)
        prev = date(first.year - 1, 12, 1) if first.month == 1 else date(first.year, first.month - 1, 1)
        return prev, ""
    try:
        y, m = raw.split("-")
        return date(int(y), int(m), 1), ""
    except ValueError:
        return today.replace(day=1), _("月份格式应为 YYYY-MM")


def _actor(request) -> Actor:
    return Actor.from_request(request, Channel.CONSOLE)


@staff_required(Perm.RELIABILITY_VIEW)
def report(request):
    today = local_today()
    units = _units(request.user)
    unit_id = _unit_id(request, units)
    errors = []
    try:
        year = int(request.GET.get("year") or today.year)
        if not 2000 <= year <= today.year:
            raise ValueError
    except ValueError:
        errors.append(_("年份应为 2000 至今年之间的整数"))
        year = today.year
    basis = request.GET.get("basis") or Basis.LV
    if basis not in Basis.values:
        errors.append(_("口径应为 lv（低压用户）或 mv（中压用户）"))
        basis = Basis.LV
    data = indices.reliability_monthly(
        user=request.user, unit_id=unit_id, year=year, basis=basis, today=today
    )
    chart = {
        "months": [_("%(m)s月") % {"m": m["month"]} for m in data["months"]],
        "labels": {
            "saidi": _("SAIDI（小时/户）"),
            "saidi_ex": _("SAIDI 剔除重大事件日"),
            "saifi": _("SAIFI（次/户）"),
            "saifi_ex": _("SAIFI 剔除重大事件日"),
            "rs1": _("RS-1（%）"),
            "rs1_ex": _("RS-1 剔除重大事件日"),
        },
        "saidi": [m["all"]["saidi_hours"] if m.get("all") else None for m in data["months"]],
        "saidi_ex": [m["excluding_med"]["saidi_hours"] if m.get("all") else None for m in data["months"]],
        "saifi": [m["all"]["saifi"] if m.get("all") else None for m in data["months"]],
        "saifi_ex": [m["excluding_med"]["saifi"] if m.get("all") else None for m in data["months"]],
        "rs1": [m["all"]["asai_percent"] if m.get("all") else None for m in data["months"]],
        "rs1_ex": [m["excluding_med"]["asai_percent"] if m.get("all") else None for m in data["months"]],
    }
    groups = dict(AreaGroup.choices)
    targets = [dict(v, group=k, group_label=groups.get(k, k)) for k, v in data["targets"].items()]
    return render(
        request,
        "outages/report.html",
        {
            "data": data,
            "chart": chart,
            "targets": targets,
            "units": units,
            "unit_id": unit_id,
            "year": year,
            "basis": basis,
            "bases": Basis.choices,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


@staff_required(Perm.RELIABILITY_VIEW)
def frequent_page(request):
    units = _units(request.user)
    unit_id = _unit_id(request, units)
    rows = frequent.frequent_outage_list(request.user, unit_id=unit_id, today=local_today())
    return render(
        request,
        "outages/frequent.html",
        {
            "rows": rows,
            "units": units,
            "unit_id": unit_id,
            "statuses": ActionStatus.choices,
            "may_edit": has_perm(request.user, Perm.OUTAGE_DRAFT),
            "errors": request.session.pop("outages_form_errors", []),
        },
    )


@staff_required(Perm.OUTAGE_DRAFT)
@require_POST
def frequent_case_update(request, case_id: int):
    case = frequent.frequent_case_get(request.user, case_id=case_id)
    try:
        frequent.frequent_case_update(
            actor=_actor(request),
            case=case,
            action=request.POST.get("action", "").strip(),
            status=request.POST.get("status", ""),
        )
    except ValidationError as exc:
        request.session["outages_form_errors"] = [m for ms in exc.message_dict.values() for m in ms]
    except PermissionDenied:
        raise Http404 from None
    return redirect(f"/reliability/frequent/?unit={case.unit_id}")


@staff_required(Perm.RELIABILITY_VIEW)
def trips_page(request):
    units = _units(request.user)
    unit_id = _unit_id(request, units)
    rows = trips.trip_ranking(request.user, unit_id=unit_id, today=local_today())
    return render(
        request,
        "outages/trips.html",
        {
            "rows": rows,
            "units": units,
            "unit_id": unit_id,
            "statuses": ActionStatus.choices,
            "may_edit": has_perm(request.user, Perm.OUTAGE_DRAFT),
            "errors": request.session.pop("outages_form_errors", []),
        },
    )


@staff_required(Perm.OUTAGE_DRAFT)
@require_POST
def trip_action_create(request):
    try:
        trips.trip_action_create(
            actor=_actor(request),
            feeder_code=request.POST.get("feeder_code", "").strip(),
            action=request.POST.get("action", "").strip(),
        )
    except ValidationError as exc:
        request.session["outages_form_errors"] = [m for ms in exc.message_dict.values() for m in ms]
    except PermissionDenied:
        request.session["outages_form_errors"] = [_("您无权为该线路登记治理措施")]
    return redirect(f"/reliability/trips/?{request.GET.urlencode()}")


@staff_required(Perm.OUTAGE_DRAFT)
@require_POST
def trip_action_update(request, action_id: int):
    act = trips.trip_action_get(request.user, action_id=action_id)
    raw = request.POST.get("done_on", "").strip()
    try:
        try:
            done_on = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise ValidationError({"done_on": [_("完成日期格式应为 YYYY-MM-DD")]}) from None
        trips.trip_action_update(
            actor=_actor(request), action=act, status=request.POST.get("status", ""), done_on=done_on
        )
    except ValidationError as exc:
        request.session["outages_form_errors"] = [m for ms in exc.message_dict.values() for m in ms]
    except PermissionDenied:
        raise Http404 from None
    return redirect(f"/reliability/trips/?unit={act.unit_id}")


@staff_required(Perm.RELIABILITY_VIEW)
def voltage_page(request):
    today = local_today()
    units = _units(request.user)
    unit_id = _unit_id(request, units)
    month, error = _month(request.GET.get("month", ""), today)
    rows = [] if error else voltage.voltage_monthly_rates(request.user, unit_id=unit_id, month=month)
    return render(
        request,
        "outages/voltage.html",
        {
            "rows": rows,
            "below": [r for r in rows if r["below_target"]],
            "units": units,
            "unit_id": unit_id,
            "month": month.strftime("%Y-%m"),
            "error": error,
        },
        status=400 if error else 200,
    )


@staff_required(Perm.RELIABILITY_VIEW)
def review_page(request, fmt: str = "html"):
    today = local_today()
    units = _units(request.user)
    unit_id = _unit_id(request, units)
    month, error = _month(request.GET.get("month", ""), today)
    if not error and month > today.replace(day=1):
        error = _("不能对将来的月份开月度例会")
    if error:
        if fmt != "html":
            return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
        return render(
            request, "outages/review.html", {"error": error, "units": units, "unit_id": unit_id}, status=400
        )
    doc = review.monthly_review(user=request.user, unit_id=unit_id, month=month, today=today)
    if fmt == "xlsx":
        resp = HttpResponse(review.review_xlsx(doc), content_type=XLSX)
        resp["Content-Disposition"] = f'attachment; filename="{review.filename(doc)}.xlsx"'
        return resp
    if fmt == "pdf":
        resp = HttpResponse(review.review_pdf(doc), content_type="application/pdf")
        resp["Content-Disposition"] = f'attachment; filename="{review.filename(doc)}.pdf"'
        return resp
    return render(
        request,
        "outages/review.html",
        {
            "doc": doc,
            "units": units,
            "unit_id": unit_id,
            "month": month.strftime("%Y-%m"),
            "query": request.GET.urlencode(),
        },
    )


@staff_required(Perm.RELIABILITY_VIEW)
@require_http_methods(["GET", "POST"])
def targets_page(request):
    """The unit's yearly targets per area group (low-voltage basis; SPEC C5 defaults until set) and its
    planned-outage budget (预安排停电指标); managers edit both here, everyone else reads them."""
    today = local_today()
    units = _units(request.user)
    unit_id = _unit_id(request, units)
    unit = next(u for u in units if u.pk == unit_id)
    try:
        year = int(request.GET.get("year") or today.year)
        if not 2000 <= year <= 2100:
            raise ValueError
    except ValueError:
        raise Http404 from None
    may_edit = has_perm(request.user, Perm.OUTAGE_APPROVE)
    errors: list[str] = []
    saved = False
    if request.method == "POST":
        if not may_edit:
            raise Http404
        actor = _actor(request)
        p = request.POST
        try:
            with transaction.atomic():
                for g in AreaGroup.values:
                    values = {k: (p.get(f"{g}-{k}") or "").strip() or None for k in TARGET_FIELDS}
                    if any(values.values()):
                        targets.reliability_target_set(
                            actor=actor, unit=unit, year=year, area_group=g, basis=Basis.LV, **values
                        )
                if (p.get("budget") or "").strip():
                    services.planned_budget_set(
                        actor=actor, unit=unit, year=year, customer_hours=p["budget"].strip()
                    )
            saved = True
        except ValidationError as exc:
            errors = [m for ms in exc.message_dict.values() for m in ms]
        except PermissionDenied:
            raise Http404 from None
    stored = indices.targets_for(unit, year, Basis.LV)
    groups = dict(AreaGroup.choices)
    rows = [{"group": g, "label": groups[g], **stored[g]} for g in AreaGroup.values]
    budget = selectors.budget_status(unit=unit, year=year)
    return render(
        request,
        "outages/targets.html",
        {
            "rows": rows,
            "budget": budget,
            "units": units,
            "unit_id": unit_id,
            "year": year,
            "may_edit": may_edit,
            "errors": errors,
            "saved": saved,
        },
        status=400 if errors else 200,
    )
