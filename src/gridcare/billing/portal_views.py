"""The customer's bill page in the portal with its payment status and payments, and its electronic invoice
(电子发票): issued on request (POST) for a fully paid bill, then downloaded as a PDF as often as wanted.

Bills are those `ebill.portal_bill_get` lets the customer open (issued, of a bound account); anything else is
the portal's 404. A refused invoice request answers the bill page with the reason (400) and writes nothing.
"""

from urllib.parse import quote as url_quote

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.views import customer_required
from gridcare.portal import selectors as portal_selectors

from . import ebill, einvoice


def bill_page(request, bill, *, error: str = "", status: int = 200):
    """The portal bill page: the e-bill, what has been paid of it and by which payments, and its invoice."""
    pay = portal_selectors.bill_payments(bill.account, [bill], portal_selectors.today(), with_payments=True)[
        bill.pk
    ]
    context = {
        "doc": ebill.bill_document(bill, holder=True),
        "pay": pay,
        "invoice": einvoice.invoice_of(bill),
        "invoice_error": error,
    }
    return render(request, "billing/ebill_portal.html", context, status=status)


@customer_required
@require_POST
def invoice_issue(request, pk: int):
    """开具电子发票: the bill's invoice (issued now if it has none), then its PDF."""
    bill = ebill.portal_bill_get(user=request.user, pk=pk)
    try:
        einvoice.invoice_issue(
            actor=Actor.from_request(request, Channel.PORTAL), bill=bill, today=portal_selectors.today()
        )
    except ValidationError as exc:
        return bill_page(request, bill, error=" ".join(exc.message_dict["bill"]), status=400)
    return redirect("billing_portal:invoice_pdf", bill.pk)


@customer_required
def invoice_pdf(request, pk: int):
    """The issued invoice as a PDF; a bill without one gets its page saying why (never issues on a GET)."""
    bill = ebill.portal_bill_get(user=request.user, pk=pk)
    invoice = einvoice.invoice_of(bill)
    if invoice is None:
        if einvoice.bill_is_paid(bill):
            return bill_page(request, bill, error=_("尚未开具电子发票，请点击“开具电子发票”"), status=404)
        return bill_page(request, bill, error=_("该账单尚未缴清，缴清后方可开具电子发票"), status=400)
    resp = HttpResponse(einvoice.invoice_pdf(invoice), content_type="application/pdf")
    name = _("电子发票-%(code)s-%(number)s.pdf") % {
        "code": invoice.invoice_code,
        "number": invoice.invoice_number,
    }
    resp["Content-Disposition"] = (
        f"inline; filename=\"{einvoice.pdf_filename(invoice)}\"; filename*=utf-8''{url_quote(name)}"
    )
    return resp
