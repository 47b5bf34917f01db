"""Staff pages of the rating runs and on-site assessments (issue 17 §3), under /credit/ (namespace "credit"):

- /credit/runs/ (credit.view): the runs, newest first; credit.admin starts the month's run (as_of optional).
- /credit/runs/<id>/: a run's counts and grade distribution.
- /credit/customers/<id>/rate/ (POST, credit.record): rate the customer now, back to the customer page.
- /credit/assessments/ (credit.view): assessments due (动力户 never assessed or assessed more than the policy's
  months ago) and the assessments waiting for review.
- /credit/assessments/new/?customer=<id> (credit.assess), /credit/assessments/<id>/review/ (credit.approve).
Out of scope or without the permission: 404. A refused write re-renders with its errors (400), writes nothing."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.validators import clean_date, positive_id
from gridcare.core.views import error_messages, staff_required

from . import assessments as svc
from . import runs
from . import standing as sel
from .choices import AssessmentStatus
from .models import SiteAssessment


def _date(raw, field: str) -> date | None:
    raw = str(raw or "").strip()[:10]
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({field: [_("日期格式应为 YYYY-MM-DD")]}) from None
    if not date(2000, 1, 1) <= day <= date(2100, 12, 31):
        raise ValidationError({field: [_("日期超出范围")]})
    return day


# ---------------------------------------------------------------- runs


def _runs_page(request, *, errors=(), as_of="", status=200):
    qs = sel.runs_for(request.user).select_related("customer").order_by("-created_at", "-id")[:100]
    return render(
        request,
        "credit/run_list.html",
        {
            "runs": list(qs),
            "errors": list(errors),
            "as_of": as_of,
            "default_as_of": runs.monthly_as_of(timezone.localdate()),
            "may_start": has_perm(request.user, Perm.CREDIT_ADMIN),
        },
        status=status,
    )


@staff_required(Perm.CREDIT_VIEW)
def run_list(request):
    return _runs_page(request)


@require_POST
@staff_required(Perm.CREDIT_ADMIN)
def run_start(request):
    from gridcare.jobs.services import BrokerUnavailable

    from .api_runs import monthly_run_submit

    raw = (request.POST.get("as_of") or "").strip()[:10]
    try:
        as_of = _date(raw, "as_of")
        run = monthly_run_submit(actor=Actor.console(request), as_of=as_of)
    except ValidationError as exc:
        return _runs_page(request, errors=error_messages(exc), as_of=raw, status=400)
    except BrokerUnavailable:
        return _runs_page(request, errors=[_("任务队列暂不可用，请稍后再试")], as_of=raw, status=400)
    messages.success(request, _("已开始 %(p)s 月度信用评价") % {"p": run.period})
    return redirect("credit:run_detail", run_id=run.pk)


@staff_required(Perm.CREDIT_VIEW)
def run_detail(request, run_id: int):
    run = sel.run_for(request.user, run_id)
    if run is None:
        raise Http404
    return render(request, "credit/run_detail.html", {"run": run, "grades": sel.grade_rows(run)})


@require_POST
@staff_required(Perm.CREDIT_RECORD)
def customer_rate(request, customer_id: int):
    customer = sel.customer_for(request.user, customer_id, Perm.CREDIT_RECORD)
    if customer is None:
        raise Http404
    try:
        raw = (request.POST.get("as_of") or "").strip()
        as_of = clean_date(raw, "as_of") if raw else timezone.localdate()
        score = runs.customer_rate(actor=Actor.console(request), customer=customer, as_of=as_of)
    except ValidationError as exc:
        for m in error_messages(exc):
            messages.error(request, m)
    else:
        messages.success(
            request, _("已完成信用评价：%(g)s 级，%(t)s 分") % {"g": score.grade, "t": score.total}
        )
    return redirect(reverse("console:customer_detail", args=[customer.pk]) + "#credit")


# ---------------------------------------------------------------- assessments


@staff_required(Perm.CREDIT_VIEW)
def assessment_list(request):
    today = timezone.localdate()
    due = svc.assessments_due(request.user, today)
    pending = (
        svc.assessments_for(request.user)
        .filter(status=AssessmentStatus.PENDING)
        .order_by("assessed_on", "id")
    )
    recent = (
        svc.assessments_for(request.user)
        .exclude(status=AssessmentStatus.PENDING)
        .order_by("-reviewed_at", "-id")
    )
    return render(
        request,
        "credit/assessment_list.html",
        {
            "due": list(due[:200]),
            "due_count": due.count(),
            "pending": list(pending[:200]),
            "recent": list(recent[:50]),
            "may_assess": has_perm(request.user, Perm.CREDIT_ASSESS),
            "may_approve": has_perm(request.user, Perm.CREDIT_APPROVE),
        },
    )


@staff_required(Perm.CREDIT_ASSESS)
def assessment_new(request):
    customer_id = positive_id(request.GET.get("customer") or request.POST.get("customer"))
    customer = sel.customer_for(request.user, customer_id, Perm.CREDIT_ASSESS) if customer_id else None
    if customer is None:
        raise Http404
    errors: dict[str, list[str]] = {}
    values = {"conduct": "", "potential": "", "assessed_on": timezone.localdate().isoformat(), "note": ""}
    if request.method == "POST":
        values = {k: (request.POST.get(k) or "").strip() for k in values}
        try:
            day = _date(values["assessed_on"], "assessed_on")
            if day is None:
                raise ValidationError({"assessed_on": [_("请填写评估日期")]})
            a = svc.assessment_create(
                actor=Actor.console(request),
                customer=customer,
                conduct=values["conduct"],
                potential=values["potential"],
                assessed_on=day,
                note=values["note"][:2000],
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        except PermissionDenied:
            raise Http404 from None
        else:
            messages.success(request, _("现场评估已提交，等待复核"))
            return redirect(reverse("credit:assessments") + f"#a-{a.pk}")
    last = svc.latest_approved(customer.pk, timezone.localdate())
    return render(
        request,
        "credit/assessment_form.html",
        {"customer": customer, "values": values, "errors": errors, "last": last},
        status=400 if errors else 200,
    )


@staff_required(Perm.CREDIT_APPROVE)
def assessment_review(request, assessment_id: int):
    a = svc.assessments_for(request.user).filter(pk=assessment_id).first()
    if a is None or not has_perm(request.user, Perm.CREDIT_APPROVE):
        raise Http404
    errors: list[str] = []
    note = ""
    if request.method == "POST":
        note = (request.POST.get("note") or "").strip()
        decision = request.POST.get("decision")
        try:
            if decision not in ("approve", "reject"):
                raise ValidationError({"decision": [_("请选择通过或退回")]})
            svc.assessment_review(
                actor=Actor.console(request), assessment=a, approve=decision == "approve", note=note[:200]
            )
        except ValidationError as exc:
            errors = error_messages(exc)
        except PermissionDenied:
            raise Http404 from None
        else:
            messages.success(request, _("复核完成"))
            return redirect("credit:assessments")
    return render(
        request,
        "credit/assessment_review.html",
        {"a": a, "errors": errors, "note": note, "pending": a.status == AssessmentStatus.PENDING},
        status=400 if errors else 200,
    )


__all__ = ["SiteAssessment"]
