"""Pages for statement reconciliation (对账): thin views over `payments.reconciliation.services`
(Perm.PAYMENT_BATCH; other units' rows look missing)."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.locks import Conflict
from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404
from gridcare.core.validators import clean_date
from gridcare.core.views import staff_required
from gridcare.payments.channels import agents
from gridcare.payments.channels import withholding as wh
from gridcare.payments.choices import ExceptionStatus, ReconKind
from gridcare.payments.reconciliation import services as recon


def _errors(exc: ValidationError) -> list[str]:
    detail = getattr(exc, "message_dict", None) or {"__all__": exc.messages}
    return [m for msgs in detail.values() for m in msgs]


def _date(raw: str | None, field: str) -> date:
    return clean_date(raw, field)


@staff_required(Perm.PAYMENT_BATCH)
def reconcile_list(request):
    """Statement imports; the form to import one."""
    errors: list[str] = []
    status = 400
    if request.method == "POST":
        try:
            upload = request.FILES.get("file")
            result = recon.reconcile_import(
                actor=Actor.console(request),
                channel=request.POST.get("channel", ""),
                statement_date=_date(request.POST.get("statement_date"), "statement_date"),
                data=wh.read_file(upload),
                file_name=getattr(upload, "name", "") or "",
                agent=request.POST.get("agent", ""),
            )
            messages.success(request, recon.import_message(result))
            return redirect("payments:reconcile_detail", result.statement.pk)
        except ValidationError as exc:
            errors = _errors(exc)
        except Conflict as exc:  # another file of this statement was imported at the same moment
            errors, status = [str(exc)], 409
    statements = list(recon.statements_visible(request.user)[:100])
    # Raised by a channel's notification or a query answer (a payment for a closed order, another amount):
    # no statement to open them from, so they are listed here until handled.
    live = list(
        recon.exceptions_visible(request.user)
        .filter(statement__isnull=True, status=ExceptionStatus.OPEN)
        .select_related("payment")
        .order_by("-id")[:200]
    )
    return render(
        request,
        "payments/reconcile_list.html",
        {
            "statements": statements,
            "live": live,
            "kinds": dict(ReconKind.choices),
            "channels": recon.channel_choices(),
            "agents": list(agents.agents_visible(request.user)),
            "post": request.POST,
            "errors": errors,
        },
        status=status if errors else 200,
    )


@staff_required(Perm.PAYMENT_BATCH)
def reconcile_detail(request, pk: int):
    statement = get_or_404(recon.statements_visible(request.user), pk=pk)
    exceptions = list(recon.exceptions_visible(request.user).filter(statement=statement))
    return render(
        request,
        "payments/reconcile_detail.html",
        {
            "statement": statement,
            "exceptions": exceptions,
            "kinds": dict(ReconKind.choices),
        },
    )


@require_POST
@staff_required(Perm.PAYMENT_BATCH)
def reconcile_resolve(request, pk: int):
    e = get_or_404(recon.exceptions_visible(request.user), pk=pk)
    try:
        if request.POST.get("action") == "backfill":
            recon.reconcile_backfill(
                actor=Actor.console(request), exception=e, note=request.POST.get("note", "")
            )
            messages.success(request, _("已补录缴费 %(t)s") % {"t": e.channel_txn_id})
        else:
            recon.reconcile_resolve(
                actor=Actor.console(request), exception=e, note=request.POST.get("note", "")
            )
            messages.success(request, _("差错已处理"))
    except ValidationError as exc:
        for m in _errors(exc):
            messages.error(request, m)
    except Conflict as exc:  # someone else handled it first: their name on the statement's page, 409
        messages.error(request, str(exc))
        if e.statement_id is None:
            return redirect("payments:reconcile")
        page = reconcile_detail(request, e.statement_id)
        page.status_code = 409
        return page
    if e.statement_id is None:
        return redirect("payments:reconcile")
    return redirect("payments:reconcile_detail", e.statement_id)
