"""Electronic invoices (电子发票) of paid bills: a 增值税普通发票 per fully paid bill, as a PDF.

Who: the customer the account is bound to, from the portal (`portal_bill_get` decides). What: only a bill
whose principal and every late fee charged on it are paid (`bill_is_paid`); any other bill gets a clear
refusal and nothing is written. One invoice per bill: asking again returns the invoice already issued, so
the same PDF comes back every time (its fields are frozen in `Invoice`, the PDF is rendered from them).

**Tax arithmetic.** A bill's amount is the price including VAT (价税合计). Electricity carries 13 % VAT:

    amount without tax (金额) = total ÷ 1.13, rounded half-up to the fen
    tax (税额)               = total − amount without tax

so amount + tax is always exactly the bill. Example: 114.60 ÷ 1.13 = 101.4159… → 101.42; tax 114.60 −
101.42 = 13.18. The unit price without tax is amount ÷ kWh to 8 decimals, half-up (as tax invoices print it);
none for a bill of 0 kWh.

**Issuing service** (`settings.GRIDCARE["EINVOICE"]["BACKEND"]`, env `GRIDCARE_EINVOICE_BACKEND`):
- `demo` (default): numbers invoices here — code `09999` + the year's two digits + `00011` (12 digits), number
  the next of that code (8 digits), a 20-digit check code derived from them — and marks every page
  "演示发票，不作报销凭证". Not a tax document.
- a dotted path to a class: `Backend().issue(draft: InvoiceDraft) -> IssuedNumbers` returns the numbers the
  tax authority's platform gave; `Backend.name` is stored with the invoice and `Backend.demo` says whether
  to mark it. Such invoices are not marked.
Seller fields come from the same settings (blank: the company's name and demo values).
"""

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.money import rmb_upper
from gridcare.core.validators import uscc_check_char
from gridcare.customers.choices import CustomerKind
from gridcare.org.models import SupplyUnit

from .choices import BillStatus
from .models import Bill, Invoice

CENT = Decimal("0.01")
UNIT_PRICE_PLACES = Decimal("0.00000001")
VAT_RATE = Decimal("0.13")
ITEM_NAME = "*供电*电费"
DEMO_CODE_PREFIX = "09999"
DEMO_CODE_SUFFIX = "00011"  # 11: the 增值税电子普通发票 kind in a 12-digit invoice code
_DEMO_TAX_ID_BODY = "91330000MA0000000"
DEMO_TAX_ID = _DEMO_TAX_ID_BODY + uscc_check_char(_DEMO_TAX_ID_BODY)
DEMO_ADDRESS = "示范市人民路1号 95598"
DEMO_BANK = "中国工商银行示范支行 1202000000000000000"
DEMO_ISSUER = "GridCare"
ISSUE_ATTEMPTS = 5


# ---------------------------------------------------------------- pure arithmetic


def tax_split(total: Decimal) -> tuple[Decimal, Decimal]:
    """(amount without tax, tax) of a VAT-inclusive total at 13 %: total ÷ 1.13 half-up, and the rest."""
    total = Decimal(total).quantize(CENT, ROUND_HALF_UP)
    amount = (total / (1 + VAT_RATE)).quantize(CENT, ROUND_HALF_UP)
    return amount, total - amount


def unit_price(amount: Decimal, kwh: Decimal) -> Decimal | None:
    """Price per kWh without tax, 8 decimals half-up; None for 0 kWh."""
    if not kwh:
        return None
    return (amount / kwh).quantize(UNIT_PRICE_PLACES, ROUND_HALF_UP)


# ---------------------------------------------------------------- issuing services


@dataclass(frozen=True)
class InvoiceDraft:
    """What an issuing service needs to issue the invoice of one bill."""

    bill_id: int
    issued_on: date
    buyer_name: str
    buyer_tax_id: str
    seller_name: str
    seller_tax_id: str
    item_name: str
    quantity: Decimal
    amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    total: Decimal


@dataclass(frozen=True)
class IssuedNumbers:
    invoice_code: str
    invoice_number: str
    check_code: str


class Backend(Protocol):
    name: str
    demo: bool

    def issue(self, draft: InvoiceDraft) -> IssuedNumbers: ...


class DemoBackend:
    """Numbers invoices itself: one code a year, the next 8-digit number of it. Not a tax document."""

    name = "demo"
    demo = True

    def issue(self, draft: InvoiceDraft) -> IssuedNumbers:
        code = f"{DEMO_CODE_PREFIX}{draft.issued_on.year % 100:02d}{DEMO_CODE_SUFFIX}"
        last = (
            Invoice.objects.filter(invoice_code=code)
            .order_by("-invoice_number")
            .values_list("invoice_number", flat=True)
            .first()
        )
        number = f"{int(last or 0) + 1:08d}"
        seed = f"{code}|{number}|{draft.issued_on:%Y%m%d}|{draft.total}|{draft.bill_id}".encode()
        check = f"{int(hashlib.sha256(seed).hexdigest(), 16) % 10**20:020d}"
        return IssuedNumbers(invoice_code=code, invoice_number=number, check_code=check)


def _conf() -> dict[str, str]:
    return settings.GRIDCARE.get("EINVOICE", {})


def backend() -> Backend:
    path = _conf().get("BACKEND") or "demo"
    return DemoBackend() if path == "demo" else import_string(path)()


# ---------------------------------------------------------------- reads


def invoice_of(bill: Bill) -> Invoice | None:
    return Invoice.objects.filter(bill_id=bill.pk).first()


def bill_is_paid(bill: Bill, *, lock: bool = False) -> bool:
    """An issued bill whose principal and every late fee charged on it are paid (its receivable says so).
    `lock`: hold the receivable's row until the transaction ends, so no reversal re-opens it meanwhile."""
    from gridcare.payments.models import Receivable

    if bill.status != BillStatus.ISSUED:
        return False
    rs = Receivable.objects.filter(bill_id=bill.pk, cancelled_at__isnull=True)
    r = (rs.select_for_update() if lock else rs).first()
    return r is not None and r.principal_paid >= r.principal and r.fee_outstanding <= 0


# ---------------------------------------------------------------- the write


def _seller(bill: Bill) -> dict[str, str]:
    conf = _conf()
    name = conf.get("SELLER_NAME")
    if not name:
        root = SupplyUnit.objects.filter(code=bill.unit.path.split(".")[0]).only("name").first()
        name = root.name if root is not None else bill.unit.name
    return {
        "seller_name": name,
        "seller_tax_id": conf.get("SELLER_TAX_ID") or DEMO_TAX_ID,
        "seller_address": conf.get("SELLER_ADDRESS") or DEMO_ADDRESS,
        "seller_bank": conf.get("SELLER_BANK") or DEMO_BANK,
    }


def invoice_issue(*, actor: Actor, bill: Bill, today: date | None = None) -> Invoice:
    """The invoice of a fully paid bill, issued now if it has none yet (audited), else the one it has.

    Raises ValidationError({"bill": [message]}) for a bill that is not fully paid or owes nothing, writing
    nothing. The caller has checked that the actor may see the bill."""
    existing = invoice_of(bill)
    if existing is not None:
        return existing
    if not bill_is_paid(bill):
        raise ValidationError({"bill": [_("该账单尚未缴清，缴清后方可开具电子发票")]})
    if bill.amount <= 0:
        raise ValidationError({"bill": [_("该账单金额为零，无需开具发票")]})
    today = today or timezone.localdate()
    customer = bill.account.customer
    person = customer.kind != CustomerKind.ORGANISATION
    amount, tax = tax_split(bill.amount)
    seller = _seller(bill)
    draft = InvoiceDraft(
        bill_id=bill.pk,
        issued_on=today,
        # The invoice is a Chinese tax document whatever the page's language: its fields are never translated.
        buyer_name=f"{customer.name}（个人）" if person else customer.name,
        buyer_tax_id="" if person else customer.id_number,
        seller_name=seller["seller_name"],
        seller_tax_id=seller["seller_tax_id"],
        item_name=ITEM_NAME,
        quantity=bill.kwh_total,
        amount=amount,
        tax_rate=VAT_RATE,
        tax_amount=tax,
        total=bill.amount,
    )
    service = backend()
    conf = _conf()
    for _attempt in range(ISSUE_ATTEMPTS):
        try:
            with transaction.atomic():
                if not bill_is_paid(bill, lock=True):  # checked again under the lock: a reversal waits for us
                    raise ValidationError({"bill": [_("该账单尚未缴清，缴清后方可开具电子发票")]})
                numbers = service.issue(draft)
                invoice = Invoice.objects.create(
                    bill=bill,
                    account_id=bill.account_id,
                    backend=service.name,
                    is_demo=bool(service.demo),
                    invoice_code=numbers.invoice_code,
                    invoice_number=numbers.invoice_number,
                    check_code=numbers.check_code,
                    issued_on=today,
                    buyer_name=draft.buyer_name,
                    buyer_tax_id=draft.buyer_tax_id,
                    **seller,
                    item_name=ITEM_NAME,
                    quantity=bill.kwh_total,
                    unit_price=unit_price(amount, bill.kwh_total),
                    amount=amount,
                    tax_rate=VAT_RATE,
                    tax_amount=tax,
                    total=bill.amount,
                    issuer=conf.get("ISSUER") or DEMO_ISSUER,
                    created_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
                    created_at=timezone.now(),
                )
                audit_record(
                    actor=actor,
                    action="invoice.issue",
                    obj=invoice,
                    customer_id=customer.pk,
                    unit_id=bill.unit_id,
                    changes={
                        "after": {
                            "bill": bill.pk,
                            "invoice_code": invoice.invoice_code,
                            "invoice_number": invoice.invoice_number,
                            "total": str(invoice.total),
                            "demo": invoice.is_demo,
                        }
                    },
                )
        except IntegrityError:
            # Either the same bill was invoiced meanwhile (return that one) or another bill took the number.
            existing = invoice_of(bill)
            if existing is not None:
                return existing
            continue
        return invoice
    raise RuntimeError("no free invoice number after several attempts")


# ---------------------------------------------------------------- the document


def invoice_document(invoice: Invoice, *, account_number: str, period: str) -> dict[str, Any]:
    """What the invoice PDF prints."""
    check = invoice.check_code
    return {
        "invoice": invoice,
        "account_number": account_number,
        "period": period,
        "check_code_grouped": " ".join(check[i : i + 5] for i in range(0, len(check), 5)),
        "tax_rate_percent": f"{(invoice.tax_rate * 100).normalize():f}%",
        "total_upper": rmb_upper(invoice.total),
        "buyer_tax_id": invoice.buyer_tax_id,
    }


def pdf_filename(invoice: Invoice) -> str:
    return f"einvoice-{invoice.invoice_code}-{invoice.invoice_number}.pdf"


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF (WeasyPrint, like the e-bill; no URL is fetched). The same invoice gives the
    same bytes: everything printed comes from the frozen row."""
    from weasyprint import HTML

    from .ebill import refusing_url_fetcher

    bill = invoice.bill
    doc = invoice_document(
        invoice, account_number=bill.account.account_number, period=f"{bill.period_start:%Y-%m}"
    )
    html = render_to_string("billing/einvoice_print.html", {"doc": doc})
    return HTML(string=html, base_url=None, url_fetcher=refusing_url_fetcher()).write_pdf()
