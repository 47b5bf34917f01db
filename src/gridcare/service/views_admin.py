"""Staff pages of the working-day calendar and the time-limit policies (issue 15 §3–4), under /service/.

Everyone with workorder.view reads them; administrators (service.admin) enter a year's holidays and 调休 days
(typed lines or an imported file, the year replaced as a whole) and edit the policy amounts. A refused save
re-renders the page with every error (400) and writes nothing; a good one redirects (post/redirect/get)."""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from gridcare.core.audit import Actor
from gridcare.core.calendar import package_years
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.views import staff_required

from . import calendar_admin as cal
from .choices import DeadlineBasis, DeadlineUnit
from .models import WorkOrderDeadline

WEEKDAYS = [
    gettext_lazy("周一"),
    gettext_lazy("周二"),
    gettext_lazy("周三"),
    gettext_lazy("周四"),
    gettext_lazy("周五"),
    gettext_lazy("周六"),
    gettext_lazy("周日"),
]


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


@staff_required(Perm.WORKORDER_VIEW)
def calendar_list(request):
    """The years of the calendar; an administrator opens a new one by its number."""
    may_edit = has_perm(request.user, Perm.SERVICE_ADMIN)
    errors: list[str] = []
    wanted = (request.GET.get("year") or "").strip()
    if wanted and may_edit:
        if wanted.isdigit() and cal.YEAR_MIN <= int(wanted) <= cal.YEAR_MAX:
            return redirect("service:calendar_year", year=int(wanted))
        errors.append(_("年份须在 %(lo)s 至 %(hi)s 之间") % {"lo": cal.YEAR_MIN, "hi": cal.YEAR_MAX})
    provisional = WorkOrderDeadline.objects.filter(provisional=True, met_at__isnull=True).count()
    return render(
        request,
        "service/calendar.html",
        {
            "years": list(cal.calendar_years()),
            "may_edit": may_edit,
            "errors": errors,
            "wanted": wanted,
            "provisional": provisional,
        },
        status=400 if errors else 200,
    )


def _lines(days) -> str:
    """The year's days as the editable text: one `date,休/班,name` line each."""
    return "\n".join(f"{d[0].isoformat()},{'班' if d[1] else '休'},{d[2]}" for d in days)


@staff_required(Perm.WORKORDER_VIEW)
@require_http_methods(["GET", "POST"])
def calendar_year(request, year: int):
    """A year's holidays and adjusted working days; administrators save typed lines or import a file."""
    if not cal.YEAR_MIN <= year <= cal.YEAR_MAX:
        raise Http404
    may_edit = has_perm(request.user, Perm.SERVICE_ADMIN)
    row, days = cal.calendar_year_get(year)
    if row is None and not may_edit:
        raise Http404
    if request.method == "POST" and not may_edit:
        raise Http404
    entered = [(d.date, d.is_working, d.name) for d in days]
    if row is None:
        entered = package_years().get(year, [])  # a year the package covers but the table lost: a head start
    form = {"text": _lines(entered), "loaded": row.loaded if row is not None else True}
    errors: list[str] = []
    if request.method == "POST":
        loaded = request.POST.get("loaded") == "on"
        form["loaded"] = loaded
        if request.POST.get("action") == "import":
            parsed, file_name = _uploaded(request, errors)
            source = "import"
        else:
            form["text"] = request.POST.get("text", "")[:20000]
            parsed, file_name = cal.parse_text(form["text"]), ""
            source = "manual"
        if parsed is not None:
            errors.extend(parsed.errors)
            try:
                if errors:
                    cal.validate_days(year, parsed.days)  # every problem at once; nothing is written
                else:
                    saved = cal.calendar_year_save(
                        actor=Actor.console(request),
                        year=year,
                        loaded=loaded,
                        days=parsed.days,
                        source=source,
                        file_name=file_name,
                    )
                    query = f"?saved={int(saved.changed)}"
                    if saved.job is not None:
                        query += f"&job={saved.job.pk}"
                    elif saved.job_error:
                        query += "&job_error=1"
                    return redirect(reverse("service:calendar_year", args=[year]) + query)
            except ValidationError as exc:
                errors.extend(_messages(exc))
    job = request.GET.get("job", "")
    rows = [
        {"date": d, "weekday": WEEKDAYS[d.weekday()], "working": w, "name": n, "weekend": d.weekday() >= 5}
        for d, w, n in entered
    ]
    return render(
        request,
        "service/calendar_year.html",
        {
            "year": year,
            "row": row,
            "rows": rows,
            "holidays": sum(1 for r in rows if not r["working"]),
            "working_days": sum(1 for r in rows if r["working"]),
            "form": form,
            "errors": errors,
            "may_edit": may_edit,
            "saved": request.GET.get("saved"),
            "job": int(job) if job.isdigit() and len(job) < 12 else None,
            "job_error": bool(request.GET.get("job_error")),
        },
        status=400 if errors else 200,
    )


def _uploaded(request, errors: list[str]):
    from gridcare.customers import importer

    upload = request.FILES.get("file")
    if upload is None:
        errors.append(_("请选择要导入的文件（CSV 或 Excel .xlsx）"))
        return None, ""
    try:
        data = importer.read_upload(upload)
    except importer.ImportFileError as e:
        errors.append(str(e))
        return None, ""
    return cal.parse_file(data), upload.name[:200]


@staff_required(Perm.WORKORDER_VIEW)
@require_http_methods(["GET", "POST"])
def policies(request):
    """The time-limit policy table; administrators change amounts and units (new orders only)."""
    may_edit = has_perm(request.user, Perm.SERVICE_ADMIN)
    rows = list(cal.policies_list())
    errors: list[str] = []
    posted: dict[int, tuple[str, str]] = {}
    if request.method == "POST":
        if not may_edit:
            raise Http404
        changes = []
        for p in rows:
            amount = request.POST.get(f"p{p.pk}-amount")
            unit = request.POST.get(f"p{p.pk}-unit")
            if amount is None and unit is None:
                continue
            amount, unit = (amount or "").strip(), (unit or p.unit).strip()
            posted[p.pk] = (amount, unit)
            if not amount.isdigit() or len(amount) > 6:
                errors.append(_("%(rule)s：时限须为正整数") % {"rule": cal.policy_label(p)})
                continue
            changes.append(cal.PolicyChange(id=p.pk, amount=int(amount), unit=unit, field=f"p{p.pk}"))
        if not errors:
            try:
                changed = cal.policies_update(actor=Actor.console(request), changes=changes)
                return redirect(reverse("service:policies") + f"?saved={len(changed)}")
            except ValidationError as exc:
                errors.extend(_messages(exc))
    table = [
        {
            "p": p,
            "label": cal.policy_label(p),
            "basis": DeadlineBasis(p.basis).label,
            "amount": posted.get(p.pk, (p.amount, p.unit))[0],
            "unit": posted.get(p.pk, (p.amount, p.unit))[1],
            "limit": cal.limit_text(p.amount, p.unit),
        }
        for p in rows
    ]
    return render(
        request,
        "service/policies.html",
        {
            "table": table,
            "units": DeadlineUnit.choices,
            "may_edit": may_edit,
            "errors": errors,
            "saved": request.GET.get("saved"),
        },
        status=400 if errors else 200,
    )
