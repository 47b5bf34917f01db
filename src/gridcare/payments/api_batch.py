"""Bank withholding (代扣) and statement reconciliation (对账) API (Perm.PAYMENT_BATCH, unit-scoped).

- `GET/POST /withholding/agreements`, `POST /withholding/agreements/{id}/deactivate`
- `GET/POST /withholding/batches` (POST exports a debit batch), `GET /withholding/batches/{batch_no}`,
  `GET /withholding/batches/{batch_no}/file` (the GBK debit file), `POST /withholding/results` (the bank's
  result file, multipart `file`)
- `GET/POST /reconciliations` (POST: multipart `channel`, `statement_date`, `file`, and `agent` — the
  collection agent's code — for channels collection_point and phone_bank),
  `GET /reconciliations/{id}` with its exceptions, `POST /reconciliation-exceptions/{id}/resolve` and
  `/backfill` (补录)

File layouts and rules: `payments.withholding` and `payments.reconciliation`.
"""

from datetime import date, datetime
from decimal import Decimal

from django.http import Http404, HttpResponse
from ninja import Field, File, Form, Router, Schema, Status, UploadedFile

from gridcare.core.api import (
    CONFLICT_ERRORS,
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

from . import reconciliation as recon
from . import withholding as wh

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
    """The debit file (GBK CSV, layout in `payments.withholding`): bank accounts and holder names whole only
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


class ReconStatementOut(Schema):
    id: int
    channel: str
    agent: str | None = Field(None, description="代收机构编号（代收点、电话银行的对账文件）")
    statement_date: date
    status: str
    row_count: int
    total: Decimal
    matched_count: int
    created_at: datetime


class ExceptionOut(Schema):
    id: int
    kind: str
    channel_txn_id: str
    order_no: str
    account_number: str
    our_amount: Decimal | None
    their_amount: Decimal | None
    their_time: datetime | None
    row_number: int | None
    status: str
    note: str
    can_backfill: bool


class StatementDetailOut(ReconStatementOut):
    exceptions: list[ExceptionOut]


class StatementImportOut(ReconStatementOut):
    created: bool
    message: str


def _statement_out(s) -> dict:
    return {
        "id": s.pk,
        "channel": s.channel,
        "agent": s.agent.code if s.agent_id else None,
        "statement_date": s.statement_date,
        "status": s.status,
        "row_count": s.row_count,
        "total": s.total,
        "matched_count": s.matched_count,
        "created_at": s.created_at,
    }


def _exception_out(e) -> dict:
    return {
        "id": e.pk,
        "kind": e.kind,
        "channel_txn_id": e.channel_txn_id,
        "order_no": e.order_no,
        "account_number": e.account_number,
        "our_amount": e.our_amount,
        "their_amount": e.their_amount,
        "their_time": e.their_time,
        "row_number": e.row_number,
        "status": e.status,
        "note": e.note,
        "can_backfill": e.can_backfill,
    }


@router.get("/reconciliations", response={200: list[ReconStatementOut], **LIST_ERRORS})
def statement_list(request):
    require_perm(request, Perm.PAYMENT_BATCH)
    return [_statement_out(s) for s in recon.statements_visible(request.user)[:200]]


@router.post(
    "/reconciliations",
    response={201: StatementImportOut, 200: StatementImportOut, **WRITE_ERRORS, **CONFLICT_ERRORS},
)
def statement_import(
    request,
    channel: Form[Text],
    statement_date: Form[BoundedDate],
    file: File[UploadedFile],
    agent: Form[str] = "",
):
    """Import a channel's daily statement; 201 when new, 200 when the same file was imported before."""
    require_perm(request, Perm.PAYMENT_BATCH)
    r = recon.reconcile_import(
        actor=api_actor(request),
        channel=channel,
        statement_date=statement_date,
        data=wh.read_file(file),
        file_name=file.name or "",
        agent=agent,
    )
    body = {**_statement_out(r.statement), "created": r.created, "message": recon.import_message(r)}
    return Status(201 if r.created else 200, body)


@router.get("/reconciliations/{statement_id}", response={200: StatementDetailOut, **READ_ERRORS})
def statement_detail(request, statement_id: int):
    require_object_perm(request, Perm.PAYMENT_BATCH)
    s = get_or_404(recon.statements_visible(request.user), pk=statement_id)
    excs = recon.exceptions_visible(request.user).filter(statement=s)
    return {**_statement_out(s), "exceptions": [_exception_out(e) for e in excs]}


class NoteIn(Schema):
    note: Text = Field("", max_length=500)


def _exception(request, exception_id: int):
    e = get_or_404(recon.exceptions_visible(request.user), pk=exception_id)
    return e


@router.post(
    "/reconciliation-exceptions/{exception_id}/resolve",
    response={200: ExceptionOut, **WRITE_ERRORS, **CONFLICT_ERRORS},
)
def exception_resolve(request, exception_id: int, payload: NoteIn):
    e = recon.reconcile_resolve(
        actor=api_actor(request), exception=_exception(request, exception_id), note=payload.note
    )
    return _exception_out(e)


@router.post(
    "/reconciliation-exceptions/{exception_id}/backfill",
    response={200: ExceptionOut, **WRITE_ERRORS, **CONFLICT_ERRORS},
)
def exception_backfill(request, exception_id: int, payload: NoteIn):
    """补录: record the channel's payment for our order (exactly once), then close the exception."""
    e = recon.reconcile_backfill(
        actor=api_actor(request), exception=_exception(request, exception_id), note=payload.note
    )
    return _exception_out(e)
