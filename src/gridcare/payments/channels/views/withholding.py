"""Pages for bank withholding (代扣): thin views over `payments.channels.withholding` (Perm.PAYMENT_BATCH;
other units' rows look missing)."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404
from gridcare.core.validators import clean_date
from gridcare.core.views import staff_required
from gridcare.payments.channels import withholding as wh


def _errors(exc: ValidationError) -> list[str]:
    detail = getattr(exc, "message_dict", None) or {"__all__": exc.messages}
    return [m for msgs in detail.values() for m in msgs]


def _date(raw: str | None, field: str) -> date:
    return clean_date(raw, field)


@staff_required(Perm.PAYMENT_BATCH)
def withholding_batches(request):
    """Batches with download links; forms to export a new batch and import a bank's result file."""
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("action") == "export":
                batch = wh.withholding_export(
                    actor=Actor.console(request),
                    bank_code=request.POST.get("bank_code", ""),
                    as_of=_date(request.POST.get("as_of"), "as_of"),
                )
                messages.success(
                    request,
                    _("已生成批次 %(b)s：%(n)d 笔，共 %(t)s 元")
                    % {"b": batch.batch_no, "n": batch.item_count, "t": batch.total},
                )
            else:
                result = wh.withholding_import(
                    actor=Actor.console(request), data=wh.read_file(request.FILES.get("file"))
                )
                messages.success(request, wh.import_message(result))
            return redirect("payments:withholding")
        except ValidationError as exc:
            errors = _errors(exc)
    batches = list(wh.batches_visible(request.user)[:100])
    return render(
        request,
        "payments/withholding_batches.html",
        {
            "batches": batches,
            "banks": wh.bank_choices(),
            "errors": errors,
            "today": timezone.localdate(),
            "can_send": wh.may_send_batch(Actor.console(request)),
        },
        status=400 if errors else 200,
    )


@staff_required(Perm.PAYMENT_BATCH)
def withholding_batch(request, batch_no: str):
    batch = get_or_404(wh.batches_visible(request.user), batch_no=batch_no)
    items = list(batch.items.select_related("account").order_by("serial"))
    wh.batch_view_record(
        actor=Actor.console(request), batch=batch, items=items, source="console.withholding_batch"
    )
    items = [(it, wh.shown_bank_account(request.user, it.bank_account)) for it in items]
    return render(
        request,
        "payments/withholding_batch.html",
        {"batch": batch, "items": items, "can_send": wh.may_send_batch(Actor.console(request))},
    )


@staff_required(Perm.PAYMENT_BATCH)
def withholding_file(request, batch_no: str):
    batch = get_or_404(wh.batches_visible(request.user), batch_no=batch_no)
    data = wh.withholding_download(actor=Actor.console(request), batch=batch)
    resp = HttpResponse(data, content_type="text/csv; charset=gbk")
    resp["Content-Disposition"] = f'attachment; filename="{wh.withholding_file_name(batch)}"'
    return resp


@staff_required(Perm.PAYMENT_BATCH)
def withholding_agreements(request):
    """Agreements of the user's units (bank accounts masked without customer.view_pii); sign or end one."""
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("action") == "deactivate":
                a = (
                    wh.agreements_visible(request.user)
                    .filter(pk=request.POST.get("agreement_id") or 0)
                    .first()
                )
                if a is None:
                    raise Http404
                wh.agreement_deactivate(actor=Actor.console(request), agreement=a)
                messages.success(request, _("已解约"))
            else:
                from gridcare.customers.selectors import accounts_visible

                number = request.POST.get("account_number", "").strip()
                if not accounts_visible(user=request.user).filter(account_number=number).exists():
                    raise ValidationError({"account_number": [_("户号不存在，或不属于本单位")]})
                wh.agreement_create(
                    actor=Actor.console(request),
                    account_number=number,
                    bank_code=request.POST.get("bank_code", ""),
                    bank_account=request.POST.get("bank_account", ""),
                    holder_name=request.POST.get("holder_name", ""),
                    signed_on=_date(request.POST.get("signed_on"), "signed_on"),
                )
                messages.success(request, _("代扣协议已签订"))
            return redirect("payments:withholding_agreements")
        except ValidationError as exc:
            errors = _errors(exc)
    agreements = list(wh.agreements_visible(request.user)[:200])
    wh.agreements_view_record(
        actor=Actor.console(request), agreements=agreements, source="console.withholding_agreements"
    )
    rows = [
        (a, wh.shown_bank_account(request.user, a.bank_account), wh.shown_holder(request.user, a.holder_name))
        for a in agreements
    ]
    return render(
        request,
        "payments/withholding_agreements.html",
        {
            "rows": rows,
            "banks": wh.bank_choices(),
            "errors": errors,
            "post": request.POST,
            "today": timezone.localdate(),
        },
        status=400 if errors else 200,
    )
