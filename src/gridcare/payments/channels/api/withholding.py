"""Bank withholding (代扣) API (Perm.PAYMENT_BATCH, unit-scoped).

- `GET/POST /withholding/agreements`, `POST /withholding/agreements/{id}/deactivate`
- `GET/POST /withholding/batches` (POST exports a debit batch), `GET /withholding/batches/{batch_no}`,
  `GET /withholding/batches/{batch_no}/file` (the GBK debit file), `POST /withholding/results` (the bank's
  result file, multipart `file`)

File layouts and rules: `payments.channels.withholding`.
"""

from datetime import date, datetime
from decimal import Decimal

from django.http import Http404, HttpResponse
from ninja import Field, File, Router, Schema, Status, UploadedFile

from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    Text,
    api_actor,
    require_object_perm,
    require_perm,
)
from gridcare.core.idempotency import idempotent
from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404
from gridcare.core.validators import BoundedDate
from gridcare.payments.channels import withholding as wh

router = Router(tags=["payments-batch"])


class AgreementIn(Schema):
    account_number: Text = Field(..., max_length=10)
    bank_code: Text = Field(
        ..., max_length=8, description="102 工商 103 农业 104 中国 105 建设 301 交通 403 邮储 402 农信"
    )
    bank_account: Text = Field(..., max_length=30)
    holder_name: Text = Field(..., max_length=40)
    signed_on: date


class AgreementOut(Schema):
    id: int
    account_number: str
    bank_code: str
    bank_name: str
    bank_account: str
    holder_name: str
    active: bool
    signed_on: date


def _agreement_out(request, a) -> dict:
    return {
        "id": a.pk,
        "account_number": a.account.account_number,
        "bank_code": a.bank_code,
        "bank_name": a.bank_name,
        "bank_account": wh.shown_bank_account(request.user, a.bank_account),
        "holder_name": wh.shown_holder(request.user, a.holder_name),
        "active": a.active,
        "signed_on": a.signed_on,
    }


@router.get("/withholding/agreements", response={200: list[AgreementOut], **LIST_ERRORS})
def agreement_list(request, account_number: Text = "", active: bool | None = None):
    """Withholding agreements of the caller's units (bank account masked without customer.view_pii)."""
    require_perm(request, Perm.PAYMENT_BATCH)
    qs = wh.agreements_visible(request.user)
    if account_number:
        qs = qs.filter(account__account_number=account_number)
    if active is not None:
        qs = qs.filter(active=active)
    agreements = list(qs[:500])
    wh.agreements_view_record(
        actor=api_actor(request), agreements=agreements, source="api.withholding_agreements"
    )
    return [_agreement_out(request, a) for a in agreements]


@router.post("/withholding/agreements", response={201: AgreementOut, **WRITE_ERRORS})
@idempotent
def agreement_create(request, payload: AgreementIn):
    require_perm(request, Perm.PAYMENT_BATCH)
    from gridcare.customers.selectors import accounts_visible

    if not accounts_visible(user=request.user).filter(account_number=payload.account_number).exists():
        raise Http404
    a = wh.agreement_create(
        actor=api_actor(request),
        account_number=payload.account_number,
        bank_code=payload.bank_code,
        bank_account=payload.bank_account,
        holder_name=payload.holder_name,
        signed_on=payload.signed_on,
    )
    return Status(201, _agreement_out(request, a))


@router.post(
    "/withholding/agreements/{agreement_id}/deactivate", response={200: AgreementOut, **WRITE_ERRORS}
)
def agreement_deactivate(request, agreement_id: int):
    a = get_or_404(wh.agreements_visible(request.user), pk=agreement_id)
    return _agreement_out(request, wh.agreement_deactivate(actor=api_actor(request), agreement=a))


class BatchIn(Schema):
    bank_code: Text = Field(..., max_length=8)
    as_of: BoundedDate


class BatchOut(Schema):
    batch_no: str
    bank_code: str
    as_of: date
    status: str
    item_count: int
    total: Decimal
    created_at: datetime


class ItemOut(Schema):
    serial: int
    account_number: str
    bank_account: str
    amount: Decimal
    status: str
    result_code: str
    result_message: str


class BatchDetailOut(BatchOut):
    items: list[ItemOut]


def _batch_out(b) -> dict:
    return {
        "batch_no": b.batch_no,
        "bank_code": b.bank_code,
        "as_of": b.as_of,
        "status": b.status,
        "item_count": b.item_count,
        "total": b.total,
        "created_at": b.created_at,
    }


def _batch(request, batch_no: str):
    require_object_perm(request, Perm.PAYMENT_BATCH)
    b = get_or_404(wh.batches_visible(request.user), batch_no=batch_no)
    return b


@router.get("/withholding/batches", response={200: list[BatchOut], **LIST_ERRORS})
def batch_list(request):
    require_perm(request, Perm.PAYMENT_BATCH)
    return [_batch_out(b) for b in wh.batches_visible(request.user)[:200]]


@router.post("/withholding/batches", response={201: BatchOut, **WRITE_ERRORS})
@idempotent
def batch_export(request, payload: BatchIn):
    """Export a debit batch of one bank for what is due as of `as_of`."""
    require_perm(request, Perm.PAYMENT_BATCH)
    b = wh.withholding_export(actor=api_actor(request), bank_code=payload.bank_code, as_of=payload.as_of)
    return Status(201, _batch_out(b))


@router.get("/withholding/batches/{batch_no}", response={200: BatchDetailOut, **READ_ERRORS})
def batch_detail(request, batch_no: str):
    b = _batch(request, batch_no)
    rows = list(b.items.select_related("account").order_by("serial"))
    wh.batch_view_record(actor=api_actor(request), batch=b, items=rows, source="api.withholding_batch")
    items = [
        {
            "serial": it.serial,
            "account_number": it.account.account_number,
            "bank_account": wh.shown_bank_account(request.user, it.bank_account),
            "amount": it.amount,
            "status": it.status,
            "result_code": it.result_code,
            "result_message": it.result_message,
        }
        for it in rows
    ]
    return {**_batch_out(b), "items": items}


@router.get("/withholding/batches/{batch_no}/file", response={200: None, **READ_ERRORS})
def batch_file(request, batch_no: str):
    """The debit file (GBK CSV, layout in `payments.channels.withholding`): bank accounts and holder names whole only
    for payment.batch_send (the billing clerk; audited as customer.view_pii), masked for every other role."""
    b = _batch(request, batch_no)
    resp = HttpResponse(
        wh.withholding_download(actor=api_actor(request), batch=b), content_type="text/csv; charset=gbk"
    )
    resp["Content-Disposition"] = f'attachment; filename="{wh.withholding_file_name(b)}"'
    return resp


class ImportOut(Schema):
    batch_no: str
    debited: int
    failed: int
    unchanged: int
    changed: bool
    message: str


@router.post("/withholding/results", response={200: ImportOut, **WRITE_ERRORS})
def batch_import(request, file: File[UploadedFile]):
    """Import a bank's result file: all rows valid or nothing written (422 lists every bad row)."""
    require_perm(request, Perm.PAYMENT_BATCH)
    r = wh.withholding_import(actor=api_actor(request), data=wh.read_file(file))
    return {
        "batch_no": r.batch.batch_no,
        "debited": r.debited,
        "failed": r.failed,
        "unchanged": r.unchanged,
        "changed": r.changed,
        "message": wh.import_message(r),
    }
