"""The channel notification's hot path on PostgreSQL: `notify_paid` in five statements of constant text.

`gateways.notify_paid` runs this on PostgreSQL and its portable ORM path (`gateways._notify_paid_orm`)
elsewhere; both give the same rows (tests/payments/channels/test_notify_paths.py runs both on the same cases).
What makes it cheaper than the ORM path (issue 12 §3):

- raw SQL whose text does not depend on the data (the rows of a payment's allocation travel as arrays through
  `unnest`, never as a VALUES list of varying length), so psycopg prepares each statement after five uses
  (settings: server-side binding) and PostgreSQL stops planning them;
- fewer round trips: BEGIN; one locking read of the order, its account and its payment (a repeat answers from
  it); one read of the account's open bills, with whether a disconnection case is open (the collections hook
  needs a query only then); one statement that inserts the payment (ON CONFLICT DO NOTHING) and — each a CTE
  reading the inserted id, so nothing is written when the transaction id is taken — marks the order paid,
  writes the bills' new figures, the ledger entries, the allocations, the two audit rows and the receipt's
  pending row; COMMIT. A repeat costs BEGIN, the locking read, COMMIT.

The allocation itself is planned by the same Python as the ORM path (`ledger.services._plan`, the pure
late-fee rule); only the reads and the writes differ.
"""

import json
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor
from gridcare.payments.choices import DunningStage, EntryKind, OrderStatus, PaymentStatus
from gridcare.payments.collections.models import HOOK_CASE
from gridcare.payments.collections.services import collections_on_payment
from gridcare.payments.ledger.services import Recorded, _plan, clean_amount
from gridcare.payments.models import Payment, PaymentOrder, Receivable
from gridcare.payments.notices import payment_receipt_row
from gridcare.payments.states import check_transition

ORDER_CREATED, ORDER_PAID = OrderStatus.CREATED, OrderStatus.PAID

PAYMENT_FIELDS = [f.attname for f in Payment._meta.concrete_fields]

LOCK_SQL = (
    "SELECT o.id, o.order_no, o.amount, o.status, o.payment_id, a.id, a.unit_id, a.customer_id, "  # noqa: S608
    "a.account_number, "
    + ", ".join(f"p.{c}" for c in PAYMENT_FIELDS)
    + " FROM payments_paymentorder o JOIN customers_account a ON a.id = o.account_id "
    "LEFT JOIN payments_payment p ON p.id = o.payment_id "
    "WHERE o.order_no = %s AND o.channel = %s FOR UPDATE OF o, a"
)

RECEIVABLE_FIELDS = [
    "id",
    "bill_id",
    "account_id",
    "unit_id",
    "customer_class",
    "bill_year",
    "period",
    "due_date",
    "principal",
    "principal_paid",
    "fee_charged",
    "fee_paid",
    "fee_waived",
    "fee_through",
]

# The open receivables oldest first (`ReceivableQuerySet.open`, ordered as `payment_write` orders them), and on
# every row (one row of NULLs when there is none) whether the account has a disconnection case the payment
# may close (`collections_on_payment`'s first query).
READ_SQL = (
    "SELECT "  # noqa: S608 — fixed table and column names, like every statement here
    + ", ".join(f"r.{c}" for c in RECEIVABLE_FIELDS)
    + ", EXISTS (SELECT 1 FROM payments_dunningnotice d WHERE d.account_id = %s AND d.stage = %s "
    "AND d.case_status = ANY(%s::varchar[])) "
    "FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT * FROM payments_receivable r WHERE r.account_id = %s "
    "AND r.cancelled_at IS NULL AND (r.principal_paid < r.principal OR r.fee_paid < r.fee_charged - r.fee_waived) "
    "ORDER BY r.due_date, r.id) r ON TRUE ORDER BY r.due_date, r.id"
)

AUDIT_COLUMNS = "created_at, actor_id, actor_label, channel, action, object_type, object_id, customer_id, unit_id, changes, ip"

WRITE_SQL = (
    "WITH p AS ("  # noqa: S608
    " INSERT INTO payments_payment (account_id, unit_id, channel, channel_txn_id, amount, unallocated, paid_at,"
    " status, received_by_id, reversal_reason, created_at)"
    " VALUES (%(account)s, %(unit)s, %(channel)s, %(txn)s, %(amount)s, %(unallocated)s, %(paid_at)s,"
    " %(status)s, %(user)s::bigint, '', %(now)s)"
    " ON CONFLICT (channel, channel_txn_id) DO NOTHING RETURNING id),"
    " o AS (UPDATE payments_paymentorder SET status = %(paid)s, payment_id = p.id, paid_at = %(paid_at)s"
    " FROM p WHERE payments_paymentorder.id = %(order)s),"
    " r AS (UPDATE payments_receivable r SET principal_paid = v.pp, fee_charged = v.fc, fee_paid = v.fp,"
    " fee_through = v.ft FROM p, unnest(%(r_id)s::bigint[], %(r_pp)s::numeric[], %(r_fc)s::numeric[],"
    " %(r_fp)s::numeric[], %(r_ft)s::date[]) v(id, pp, fc, fp, ft) WHERE r.id = v.id),"
    " e AS (INSERT INTO payments_ledgerentry (account_id, unit_id, kind, amount, bill_id, payment_id,"
    " occurred_on, note, created_at)"
    " SELECT %(account)s, v.unit, v.kind, v.amount, v.bill, CASE WHEN v.own THEN p.id END, %(on)s, v.note,"
    " %(now)s FROM p, unnest(%(e_unit)s::bigint[], %(e_kind)s::varchar[], %(e_amount)s::numeric[],"
    " %(e_bill)s::bigint[], %(e_own)s::boolean[], %(e_note)s::varchar[])"
    " WITH ORDINALITY v(unit, kind, amount, bill, own, note, n) ORDER BY v.n),"
    " a AS (INSERT INTO payments_allocation (payment_id, receivable_id, principal, late_fee, reversed, created_at)"
    " SELECT p.id, v.rid, v.pr, v.lf, FALSE, %(now)s FROM p, unnest(%(a_r)s::bigint[], %(a_pr)s::numeric[],"
    " %(a_lf)s::numeric[]) WITH ORDINALITY v(rid, pr, lf, n) ORDER BY v.n),"
    " n AS (INSERT INTO notify_pendingnotice (kind, customer_id, account_id, account_number, context, dedupe_key,"
    " created_at) SELECT %(n_kind)s, %(customer)s, %(account)s, %(number)s, %(n_context)s::jsonb,"
    " 'receipt:' || p.id, %(now)s FROM p WHERE %(n_on)s)"
    f" INSERT INTO core_auditevent ({AUDIT_COLUMNS})"
    " SELECT %(now)s, %(user)s::bigint, %(label)s, %(actor_channel)s, v.action, v.type,"
    " coalesce(v.oid, p.id::text), %(customer)s, %(unit)s,"
    " CASE WHEN v.with_id THEN v.changes || jsonb_build_object('payment_id', p.id) ELSE v.changes END,"
    " %(ip)s::inet"
    " FROM p, (VALUES ('payment.record', 'payments.payment', NULL::varchar, %(audit_payment)s::jsonb, FALSE, 1),"
    " ('payment_order.paid', 'payments.paymentorder', %(order_id_text)s::varchar, %(audit_order)s::jsonb, TRUE, 2))"
    " v(action, type, oid, changes, with_id, n) ORDER BY v.n"
    " RETURNING (SELECT id FROM p)"
)


def _element(v) -> str:
    """One element of a PostgreSQL array literal: NULL, t/f, a number or date as text, a string double-quoted."""
    if v is None:
        return "NULL"
    if v is True or v is False:
        return "t" if v else "f"
    if isinstance(v, (int, Decimal, date)):
        return str(v)  # Decimal: plain or exponent notation, both valid numeric input; date: ISO
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array(values: list) -> str:
    """`values` as the text of a PostgreSQL array literal (`{1,2}`), cast by the statement (`%(x)s::bigint[]`).
    Sent as one text parameter, it costs a join here where psycopg's list adaptation looked up a dumper per
    element (~15 % of a notification's Python in a profile)."""
    return "{" + ",".join(map(_element, values)) + "}"


@contextmanager
def _prepared(cur):
    """Let psycopg prepare the statements run in this block on their first use (their text is constant), rather
    than after the site's threshold (settings: GRIDCARE_DB_PREPARE_THRESHOLD, 5 by default).

    When the site turned preparing off (a pooler that cannot keep prepared statements), it stays off here too.
    Without server-side binding (GRIDCARE_DB_SERVER_SIDE_BINDING=0) psycopg's client-side cursor prepares
    nothing and this changes nothing."""
    raw = cur.cursor.connection  # Django's cursor wraps psycopg's
    before = raw.prepare_threshold
    if before is None:
        yield
        return
    raw.prepare_threshold = 0
    try:
        yield
    finally:
        raw.prepare_threshold = before


# The codes of the two refusals a channel's "paid" must not be dropped for (`online.settle_paid`).
AMOUNT_DIFFERS, ORDER_CLOSED = "amount_differs", "order_closed"


def order_check(
    *,
    order_no: str,
    order_amount: Decimal,
    status: str,
    paid: Payment | None,
    payment_id: int | None,
    amount: Decimal,
    txn: str,
    txn_errs: dict,
) -> Payment | None:
    """The rules of `notify_paid` on a locked order (both paths): refuse (ValidationError), or the payment a
    repeat of the same transaction answers with, or None (go on and pay it)."""
    if amount != order_amount:
        raise ValidationError(
            {
                "amount": [
                    ValidationError(
                        _("支付金额 %(a)s 元与订单金额 %(o)s 元不符") % {"a": amount, "o": order_amount},
                        code=AMOUNT_DIFFERS,
                    )
                ]
            }
        )
    if status == ORDER_PAID:
        if paid is None and payment_id is not None:
            # We waited for the lock while a copy paid the order: PostgreSQL re-read the locked rows, not
            # the joined payment (still the statement's old snapshot). Read it now.
            paid = Payment.objects.filter(pk=payment_id).first()
        if paid is not None and paid.channel_txn_id == txn:
            return paid
        raise ValidationError({"channel_txn_id": [_("订单 %(o)s 已由另一笔交易支付") % {"o": order_no}]})
    if status != ORDER_CREATED:
        raise ValidationError(
            {"order_no": [ValidationError(_("订单 %(o)s 已关闭") % {"o": order_no}, code=ORDER_CLOSED)]}
        )
    if txn_errs:
        raise ValidationError(txn_errs)
    return None


def notify_paid_pg(
    *, actor: Actor, channel: str, order_no: str, txn: str, txn_errs: dict, amount, paid_at: datetime | None
) -> Recorded | None:
    """`notify_paid` after its argument checks, inside its transaction, on PostgreSQL (see the module doc).
    None: the transaction id is taken by a payment not of this order, and nothing was written (the caller
    decides, as the ORM path does)."""
    with connection.cursor() as cur, _prepared(cur):
        row = None
        if order_no and len(order_no) <= 32:
            cur.execute(LOCK_SQL, [order_no, channel])
            row = cur.fetchone()
        if row is None:
            raise ValidationError({"order_no": [_("订单不存在：%(o)s") % {"o": order_no[:32]}]})
        order_pk, order_no, order_amount, status, payment_id, account_pk, unit_id, customer_id, number = row[
            :9
        ]
        prow = row[9:]
        paid = Payment.from_db(connection.alias, PAYMENT_FIELDS, prow) if prow[0] is not None else None
        if not isinstance(amount, Decimal):
            amount = clean_amount(amount)
        repeat = order_check(
            order_no=order_no,
            order_amount=order_amount,
            status=status,
            paid=paid,
            payment_id=payment_id,
            amount=amount,
            txn=txn,
            txn_errs=txn_errs,
        )
        if repeat is not None:
            return Recorded(repeat, False)
        check_transition(PaymentOrder, status, ORDER_PAID)
        paid_at = paid_at or timezone.now()
        on, now = timezone.localdate(paid_at), timezone.now()
        cur.execute(READ_SQL, [account_pk, DunningStage.DISCONNECT, list(HOOK_CASE), account_pk])
        rows = cur.fetchall()
        open_case = bool(rows[0][-1])
        open_rs = [
            Receivable.from_db(connection.alias, RECEIVABLE_FIELDS, r[:-1]) for r in rows if r[0] is not None
        ]
        user = actor.user if actor.user is not None and actor.user.is_authenticated else None
        payment = Payment(
            account_id=account_pk,
            unit_id=unit_id,
            channel=channel,
            channel_txn_id=txn,
            amount=amount,
            unallocated=amount,
            paid_at=paid_at,
            created_at=now,
            received_by=user,
        )
        plan = _plan([payment], open_rs, on=on, now=now)  # sets payment.unallocated to what is left
        entries = [(unit_id, EntryKind.PAYMENT, -amount, None, True, f"{channel}:{txn}")] + [
            (e.unit_id, e.kind, e.amount, e.bill_id, False, e.note) for e in plan.entries
        ]
        account = SimpleNamespace(pk=account_pk, account_number=number)  # what the receipt row reads
        receipt = payment_receipt_row(payment=payment, customer_id=customer_id, account=account)
        params = {
            "account": account_pk,
            "unit": unit_id,
            "channel": channel,
            "txn": txn,
            "amount": amount,
            "unallocated": payment.unallocated,
            "paid_at": paid_at,
            "status": PaymentStatus.POSTED.value,
            "user": user.pk if user is not None else None,
            "now": now,
            "on": on,
            "paid": ORDER_PAID.value,
            "order": order_pk,
            "r_id": _array([r.pk for r in plan.receivables]),
            "r_pp": _array([r.principal_paid for r in plan.receivables]),
            "r_fc": _array([r.fee_charged for r in plan.receivables]),
            "r_fp": _array([r.fee_paid for r in plan.receivables]),
            "r_ft": _array([r.fee_through for r in plan.receivables]),
            "e_unit": _array([e[0] for e in entries]),
            "e_kind": _array([e[1] for e in entries]),
            "e_amount": _array([e[2] for e in entries]),
            "e_bill": _array([e[3] for e in entries]),
            "e_own": _array([e[4] for e in entries]),
            "e_note": _array([e[5] for e in entries]),
            "a_r": _array([a.receivable_id for a in plan.allocations]),
            "a_pr": _array([a.principal for a in plan.allocations]),
            "a_lf": _array([a.late_fee for a in plan.allocations]),
            "n_on": receipt is not None,
            "n_kind": receipt.kind if receipt is not None else "",
            "n_context": json.dumps(receipt.context if receipt is not None else {}),
            "customer": customer_id,
            "number": number,
            "label": actor.label,
            "actor_channel": str(actor.channel),
            "ip": actor.ip,
            "order_id_text": str(order_pk),
            "audit_payment": json.dumps(
                {
                    "channel": channel,
                    "channel_txn_id": txn,
                    "amount": str(amount),
                    "account_number": number,
                    "unallocated": str(payment.unallocated),
                }
            ),
            "audit_order": json.dumps({"status": [ORDER_CREATED, ORDER_PAID], "channel_txn_id": txn}),
        }
        cur.execute(WRITE_SQL, params)
        written = cur.fetchone()
    if written is None:  # the transaction id is taken: nothing was written
        return None
    payment.pk = written[0]
    payment._state.adding = False
    if open_case:
        collections_on_payment(account_id=account_pk, now=paid_at)  # arrears paid off → reconnection order
    return Recorded(payment, True)
