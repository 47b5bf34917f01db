"""Console page of the portal app: a counter clerk lifts a 户号's bind lock after checking the customer's ID."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404
from gridcare.core.views import form_errors_from, staff_required
from gridcare.customers import selectors as customer_selectors

from . import services
from .forms import BindUnlockForm


@staff_required(Perm.CUSTOMER_EDIT)
@require_http_methods(["GET", "POST"])
def bind_unlock(request, account_number: str):
    account = get_or_404(
        customer_selectors.accounts_visible(user=request.user).select_related("customer"),
        account_number=account_number,
    )
    form = BindUnlockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.bind_lock_lift(
                actor=Actor.console(request),
                account=account,
                id_checked=form.cleaned_data["id_checked"],
                id_last4=form.cleaned_data["id_last4"],
            )
        except ValidationError as e:
            form_errors_from(form, e)
        else:
            messages.success(request, _("户号 %(n)s 的网上绑定锁定已解除") % {"n": account.account_number})
            return redirect(reverse("console:customer_detail", args=[account.customer_id]))
    return render(
        request,
        "customers/form.html",
        {
            "form": form,
            "title": _("解除网上绑定锁定 %(n)s") % {"n": account.account_number},
            "customer": account.customer,
        },
        status=400 if form.is_bound else 200,
    )
