"""Statement reconciliation (对账) API (Perm.PAYMENT_BATCH, unit-scoped).

- `GET/POST /reconciliations` (POST: multipart `channel`, `statement_date`, `file`, and `agent` — the
  collection agent's code — for channels collection_point and phone_bank),
  `GET /reconciliations/{id}` with its exceptions, `POST /reconciliation-exceptions/{id}/resolve` and
  `/backfill` (补录)

File layouts and rules: `payments.reconciliation.services`.
"""

from datetime import date, datetime
from decimal import Decimal

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
from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404
from gridcare.core.validators import BoundedDate
from gridcare.payments.channels import withholding as wh
from gridcare.payments.reconciliation import services as recon

router = Router(tags=["payments-batch"])


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
