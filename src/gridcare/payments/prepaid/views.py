"""Console pages of prepaid accounts (智能交费): the unit's list with the latest daily estimate, one
account's estimate and alerts, enrolment and unenrolment. Reads need customer.view, writes customer.edit;
an account outside the user's units is a 404 like a missing one."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.masking import mask_customer_name
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import get_or_404
from gridcare.core.views import form_errors_from, staff_required
from gridcare.customers.selectors import accounts_visible
from gridcare.payments.choices import PrepaidAlertState

from . import services as prepaid

PAGE_SIZE = 50


class PrepaidFilterForm(forms.Form):
    alert_state = forms.ChoiceField(
        label=gettext_lazy("提醒状态"),
        required=False,
        choices=[("", gettext_lazy("全部")), *PrepaidAlertState.choices],
    )
    max_days = forms.IntegerField(
        label=gettext_lazy("预计可用天数不超过"), required=False, min_value=0, max_value=100000
    )
    q = forms.CharField(label=gettext_lazy("户号"), required=False, max_length=10)


class PrepaidEnrolForm(forms.Form):
    account_number = forms.CharField(label=gettext_lazy("户号"), max_length=10)
    threshold = forms.CharField(label=gettext_lazy("余额提醒阈值(元)"), max_length=20, initial="50.00")
    threshold_days = forms.CharField(
        label=gettext_lazy("可用天数提醒阈值"),
        max_length=6,
        required=False,
        help_text=gettext_lazy("可选：预计可用天数少于该值时也提醒"),
    )


def _list_page(request, enrol_form, status=200):
    form = PrepaidFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = prepaid.prepaid_search(
        user=request.user,
        alert_state=data.get("alert_state", ""),
        max_days=data.get("max_days"),
        q=(data.get("q") or "").strip(),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "p": p,
            "e": p.last_estimate,
            "name": mask_customer_name(p.account.customer.name, p.account.customer.kind),
        }
        for p in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "payments/prepaid_list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "querystring": query.urlencode(),
            "enrol_form": enrol_form,
            "can_edit": has_perm(request.user, Perm.CUSTOMER_EDIT),
        },
        status=status,
    )


@staff_required(Perm.CUSTOMER_VIEW)
def prepaid_list(request):
    return _list_page(request, PrepaidEnrolForm())


@staff_required(Perm.CUSTOMER_EDIT)
@require_POST
def prepaid_enrol(request):
    form = PrepaidEnrolForm(request.POST)
    if form.is_valid():
        number = form.cleaned_data["account_number"].strip()
        account = accounts_visible(user=request.user).filter(account_number=number).first()
        if account is None:
            form.add_error("account_number", _("户号不存在，或不属于本单位"))
        else:
            try:
                prepaid.prepaid_enrol(
                    actor=Actor.console(request),
                    account=account,
                    threshold=form.cleaned_data["threshold"],
                    threshold_days=form.cleaned_data["threshold_days"],
                )
            except ValidationError as exc:
                form_errors_from(form, exc)
            else:
                messages.success(request, _("户号 %(n)s 已开通智能交费") % {"n": number})
                return redirect("payments:prepaid_detail", number)
    if request.POST.get("from") == "detail" and form.data.get("account_number"):
        account = (
            accounts_visible(user=request.user).filter(account_number=form.data["account_number"]).first()
        )
        if account is not None:
            return _detail_page(request, account, form, status=400)
    return _list_page(request, form, status=400)


def _detail_page(request, account, enrol_form=None, status=200):
    p = prepaid.prepaid_of(account)
    today = timezone.localdate()
    enrolled = p is not None and p.enrolled
    initial = {"account_number": account.account_number}
    if enrolled:
        initial.update(threshold=p.threshold, threshold_days=p.threshold_days or "")
    return render(
        request,
        "payments/prepaid_detail.html",
        {
            "account": account,
            "name": mask_customer_name(account.customer.name, account.customer.kind),
            "p": p,
            "enrolled": enrolled,
            "estimate": prepaid.prepaid_estimate_live(account, today=today) if enrolled else None,
            "today": today,
            "estimates": prepaid.prepaid_recent_estimates(p) if p else [],
            "alerts": prepaid.prepaid_recent_alerts(p) if p else [],
            "enrol_form": enrol_form or PrepaidEnrolForm(initial=initial),
            "can_edit": has_perm(request.user, Perm.CUSTOMER_EDIT),
        },
        status=status,
    )


@staff_required(Perm.CUSTOMER_VIEW)
def prepaid_detail(request, account_number: str):
    account = get_or_404(accounts_visible(user=request.user), account_number=account_number)
    return _detail_page(request, account)


@staff_required(Perm.CUSTOMER_EDIT)
@require_POST
def prepaid_unenrol(request, account_number: str):
    account = get_or_404(accounts_visible(user=request.user), account_number=account_number)
    try:
        prepaid.prepaid_unenrol(actor=Actor.console(request), account=account)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, _("户号 %(n)s 已取消智能交费") % {"n": account_number})
    return redirect("payments:prepaid_detail", account_number)
