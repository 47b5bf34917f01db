"""Billing pages: the console quote, billing runs and electronic bills (电子账单), and the
portal's public quote (电费试算) and the customer's own bills."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote as url_quote

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods

from gridcare.core import ratelimit
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.locks import Conflict
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import customer_required, form_errors_from, staff_required
from gridcare.jobs.services import BrokerUnavailable
from gridcare.metering import selectors as metering_selectors

from . import ebill, selectors, services
from .forms import FIELD_OF_ERROR, QuoteForm


def _add_errors(form, exc: ValidationError) -> None:
    for field, msgs in exc.message_dict.items():
        target = FIELD_OF_ERROR.get(field, field)
        for m in msgs:
            form.add_error(target if target in form.fields else None, m)


def _quote_page(request, template: str, *, rate_limited: bool):
    tariffs = list(selectors.tariffs_with_versions())
    form = QuoteForm(request.POST or None, tariffs=tariffs)
    quote = None
    if request.method == "POST" and form.is_valid():
        if rate_limited and not services.quote_allowed(ratelimit.client_key(request)):
            form.add_error(None, _("试算过于频繁，请稍后再试"))
        else:
            try:
                quote = services.bill_quote(**form.quote_kwargs())
            except ValidationError as exc:
                _add_errors(form, exc)
    return render(request, template, {"form": form, "quote": quote, "tariffs": tariffs})


@staff_required(Perm.CUSTOMER_VIEW)
@require_http_methods(["GET", "POST"])
def quote(request):
    return _quote_page(request, "billing/quote.html", rate_limited=False)


@require_http_methods(["GET", "POST"])
def portal_quote(request):
    return _quote_page(request, "billing/portal_quote.html", rate_limited=True)


# ---------------------------------------------------------------- billing runs (核算员: `meter.edit`)


class RunForm(forms.Form):
    # A month picker (<input type="month"> sends YYYY-MM); the service checks the format and that the
    # month has ended, so a typed or forged value gets the same message as the API and the CLI.
    period = forms.CharField(
        label=gettext_lazy("账期（电费年月）"),
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        error_messages={"required": gettext_lazy("请选择账期")},
    )
    route = forms.ModelChoiceField(
        label=_lazy("抄表段"), queryset=None, required=False, empty_label=_lazy("本单位全部抄表段")
    )

    def __init__(self, *args, user, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["route"].queryset = metering_selectors.routes_visible(user=user)
        # The picker offers ended months only: up to last month.
        last_month = today.replace(day=1) - timedelta(days=1)
        self.fields["period"].widget.attrs["max"] = f"{last_month:%Y-%m}"


@staff_required(Perm.BILLING_RUN)
@require_http_methods(["GET", "POST"])
def runs(request):
    today = services.local_today()
    form = RunForm(request.POST or None, user=request.user, today=today)
    busy = unavailable = False
    if request.method == "POST" and form.is_valid():
        try:
            run, _job = services.billing_run_submit(
                actor=Actor.from_request(request, Channel.CONSOLE),
                period=form.cleaned_data["period"],
                route=form.cleaned_data["route"],
                today=today,
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        except Conflict as exc:  # this run, or one sharing its accounts, is executing: say which
            form.add_error(None, str(exc))
            busy = True
        except BrokerUnavailable as exc:  # nothing started: the job row alone says "broker unavailable"
            form.add_error(None, str(exc))
            unavailable = True
        else:
            # The run's chunks go to the workers; the detail page polls the run row until it ends.
            return redirect("billing:run_detail", run.pk)
    rows = list(selectors.runs_visible(user=request.user)[:50])
    totals = selectors.run_totals(r.pk for r in rows)
    empty = {"bills": 0, "kwh": None, "amount": None}
    for r in rows:
        r.totals = totals.get(r.pk, empty)
    page_totals = {
        "bills": sum(t["bills"] for t in totals.values()),
        "kwh": sum((t["kwh"] or 0 for t in totals.values()), Decimal("0")),
        "amount": sum((t["amount"] or 0 for t in totals.values()), Decimal("0")),
    }
    return render(
        request,
        "billing/runs.html",
        {"form": form, "runs": rows, "page_totals": page_totals},
        status=409 if busy else 503 if unavailable else 400 if form.is_bound and form.errors else 200,
    )


@staff_required(Perm.BILLING_RUN)
def run_detail(request, pk: int):
    run = selectors.run_get(user=request.user, pk=pk)
    context = {
        "run": run,
        "job": run.job,
        "stalled": selectors.run_stalled(run),
        "exceptions": selectors.run_exceptions(run)[:200],
        "has_drafts": selectors.run_has_drafts(run),
    }
    if request.htmx:
        return render(request, "billing/_run_progress.html", context)
    context["bills"] = [] if run.is_active else ebill.run_bills(user=request.user, run=run)
    context["totals"] = selectors.run_totals([run.pk]).get(run.pk)
    context["can_delete"] = not run.is_active and selectors.run_issued_count(run) == 0
    return render(request, "billing/run_detail.html", context)


@staff_required(Perm.BILLING_RUN)
@require_http_methods(["POST"])
def run_retry(request, pk: int):
    """重新执行: a failed (or never started) run continues from its checkpoint as a new job."""
    run = selectors.run_get(user=request.user, pk=pk)
    try:
        services.billing_run_submit(
            actor=Actor.from_request(request, Channel.CONSOLE),
            period=run.period,
            route=run.route,
            unit=None if run.route_id else run.unit,
            today=services.local_today(),
        )
    except ValidationError as exc:
        for m in exc.messages:
            messages.error(request, m)
    except (Conflict, BrokerUnavailable) as exc:
        messages.error(request, str(exc))
    except PermissionDenied:
        raise Http404 from None
    return redirect("billing:run_detail", run.pk)


@staff_required(Perm.BILLING_RUN)
@require_http_methods(["POST"])
def run_issue(request, pk: int):
    run = selectors.run_get(user=request.user, pk=pk)
    n = services.bills_issue(actor=Actor.from_request(request, Channel.CONSOLE), run=run)
    messages.success(request, _("已发行账单 %(n)s 张") % {"n": n})
    return redirect("billing:run_detail", run.pk)


@staff_required(Perm.BILLING_RUN)
@require_http_methods(["POST"])
def run_delete(request, pk: int):
    """删除未发行的计费批次; a refusal (bills issued, run executing) comes back as a message, nothing written."""
    run = selectors.run_get(user=request.user, pk=pk)
    try:
        removed = services.billing_run_delete(actor=Actor.from_request(request, Channel.CONSOLE), run=run)
    except ValidationError as exc:
        for m in exc.messages:
            messages.error(request, m)
        return redirect("billing:run_detail", run.pk)
    messages.success(
        request,
        _("已删除计费批次 %(p)s（草稿账单 %(n)s 张）") % {"p": run.period, "n": removed["bills"]},
    )
    return redirect("billing:runs")


# ---------------------------------------------------------------- electronic bill 电子账单


def _pdf_response(doc) -> HttpResponse:
    resp = HttpResponse(ebill.ebill_pdf(None, doc=doc), content_type="application/pdf")
    # An ASCII name for old clients, the Chinese one (RFC 6266 filename*) for the rest.
    ascii_name = ebill.pdf_filename(doc)
    name = _("电费账单-%(n)s-%(p)s.pdf") % {"n": doc["account_number"], "p": doc["period"]}
    resp["Content-Disposition"] = f"inline; filename=\"{ascii_name}\"; filename*=utf-8''{url_quote(name)}"
    return resp


class CancelRebillForm(forms.Form):
    reason = forms.CharField(
        label=_lazy("原因"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _lazy("请填写作废原因")},
    )


def _bill_page(request, bill, *, form=None, status: int = 200):
    """The console bill page; `form` is the 作废并重开 form, bound and with its errors after a refused POST."""
    can_cancel = ebill.can_cancel_rebill(user=request.user, bill=bill)
    context = {
        "doc": ebill.bill_document(bill),
        "links": ebill.bill_corrections(user=request.user, bill=bill),
        "can_cancel": can_cancel,
        "cancel_form": (form or CancelRebillForm()) if can_cancel or form is not None else None,
    }
    return render(request, "billing/ebill.html", context, status=status)


@staff_required(Perm.CUSTOMER_VIEW)
def bill_detail(request, pk: int):
    return _bill_page(request, ebill.bill_get(user=request.user, pk=pk))


@staff_required(Perm.BILLING_RUN)
@require_http_methods(["POST"])
def bill_cancel_rebill(request, pk: int):
    """作废并重开: cancel the bill and open its re-rated correction; errors stay on the bill page (400)."""
    bill = ebill.bill_get(user=request.user, pk=pk)
    form = CancelRebillForm(request.POST)
    if form.is_valid():
        try:
            new = services.bill_cancel_rebill(
                actor=Actor.from_request(request, Channel.CONSOLE),
                bill=bill,
                reason=form.cleaned_data["reason"],
            )
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(
                request,
                _("原账单已作废，已生成更正账单（草稿）：%(old)s 元 → %(new)s 元")
                % {"old": bill.amount, "new": new.amount},
            )
            return redirect("billing:bill_detail", new.pk)
        bill = ebill.bill_get(user=request.user, pk=bill.pk)  # as it now is (e.g. cancelled meanwhile)
    return _bill_page(request, bill, form=form, status=400)


@staff_required(Perm.CUSTOMER_VIEW)
def bill_pdf(request, pk: int):
    return _pdf_response(ebill.bill_document(ebill.bill_get(user=request.user, pk=pk)))


@customer_required
def portal_bill_detail(request, pk: int):
    from .portal_views import bill_page  # the portal page also shows the bill's payments and invoice

    return bill_page(request, ebill.portal_bill_get(user=request.user, pk=pk))


@customer_required
def portal_bill_pdf(request, pk: int):
    bill = ebill.portal_bill_get(user=request.user, pk=pk)
    return _pdf_response(ebill.bill_document(bill, holder=True))
