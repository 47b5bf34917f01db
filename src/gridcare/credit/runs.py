"""Rating runs (issue 17 §3): monthly over every customer (the scheduler), or on demand for one customer.

A run is set-based: per chunk of customers (keyset on the customer id) four bulk reads — the customers with the
earliest 立户日期 of their accounts, their active events of the last 36 months, the latest approved on-site
assessment of each, and the previous score behind each standing — then pure Python per customer calling
`rules.evaluate` (the single source of the rules), then one bulk write of the chunk's scores (COPY on PostgreSQL,
bulk_create on SQLite). Customers without events in the window share a result keyed by (rated class, the two
customer-since edges, conduct, potential): the rule is evaluated once per key.

Reasons are stored only when the customer's reasons digest differs from its previous score's (the score its
standing holds); otherwise `reasons_from` points at the score that stored them. Each chunk commits its scores, the
standings they change (INSERT … SELECT … ON CONFLICT on both backends, keeping previous_grade / changed_on; a
standing holding a later as_of is left alone) and its notices in one transaction, so a failed run continues after
the last customer it committed:

- `credit_grade_drop` (SMS to the customer manager's phone, deduped per customer and run, on commit): a drop of two or more
  grades, or a drop to D;
- `credit_measure` (the customer, on its channels; written as unrendered PendingNotice rows in the run's
  transaction, rendered by the notify job within the minute): a measure of the new grade that the previous grade did not
  have, among the measures that ask something of the customer (`ASKING_MEASURES`: a deposit or prepaid, split
  settlement). Service improvements (deposit waived, priority service) and internal ones (dunning earlier, the
  业扩 flag) are not notices. A customer rated for the first time has no previous measures.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.customers.models import Account, Customer

from . import policy as credit_policy
from . import rules
from .choices import AssessmentStatus, EventStatus, Measure, RatedClass, RunKind, RunStatus
from .models import CreditEvent, CreditRun, CreditScore, CreditStanding, SiteAssessment

log = logging.getLogger("gridcare.credit")

CHUNK = 50_000
# Measures that ask something of the customer: these are notified when they now apply.
ASKING_MEASURES = (Measure.DEPOSIT_OR_PREPAID.value, Measure.SPLIT_SETTLEMENT.value)
SCORE_COLUMNS = (
    "run_id",
    "customer_id",
    "unit_id_at",
    "as_of",
    "rated_class",
    "payment",
    "safety",
    "legal",
    "cooperation",
    "conduct",
    "potential",
    "total",
    "grade",
    "digest",
    "reasons",
    "reasons_from_id",
)
INCIDENTS = sorted(str(c) for c in rules.SAFETY_INCIDENTS)
DIMS = ("payment", "safety", "legal", "cooperation", "conduct", "potential")


# ---------------------------------------------------------------- dates


def monthly_as_of(today: date) -> date:
    """The default as_of of a monthly run started on `today`: the last day of the previous month."""
    return today.replace(day=1) - timedelta(days=1)


def period_of(as_of: date) -> str:
    return as_of.strftime("%Y-%m")


def period_label(as_of: date) -> str:
    return f"{as_of.year}年{as_of.month}月"


def _day(value) -> date | None:
    """A date from the database (SQLite's raw cursor hands back text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _local_day(value) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.utc)
    return timezone.localdate(value)


# ---------------------------------------------------------------- reasons


def reasons_json(rating: rules.Rating) -> str:
    """The reasons as JSON text: [{dimension, code, date, points, event_id}], built by hand (a million rows)."""
    parts = []
    for d in rating.dimensions:
        for r in d.reasons:
            day = f'"{r.date.isoformat()}"' if r.date is not None else "null"
            pts = "null" if r.points is None else str(r.points)
            ref = "null" if r.ref is None else str(r.ref)
            parts.append(
                f'{{"dimension":"{d.name}","code":"{r.code}","date":{day},"points":{pts},"event_id":{ref}}}'
            )
    return "[" + ",".join(parts) + "]"


def digest_of(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Computed:
    """One rating as the writer needs it: the score columns (rated_class … grade) as COPY text, and parts."""

    fields: str  # "rated_class\tpayment\t…\ttotal\tgrade"
    grade: str
    total: Decimal
    digest: str
    reasons: str
    dims: tuple


def _computed(rated_class: str, rating: rules.Rating) -> Computed:
    by_name = {d.name: d.score for d in rating.dimensions}
    dims = tuple(by_name.get(n) for n in DIMS)
    text = reasons_json(rating)
    cols = "\t".join("\\N" if v is None else str(v) for v in dims)
    return Computed(
        fields=f"{rated_class}\t{cols}\t{rating.total}\t{rating.grade}",
        grade=rating.grade,
        total=rating.total,
        digest=digest_of(text),
        reasons=text,
        dims=dims,
    )


# ---------------------------------------------------------------- reading


@dataclass
class Chunk:
    customers: list[tuple]  # (id, unit_id, customer_class, since)
    events: dict[int, list[rules.Event]]
    assessments: dict[int, tuple[Decimal, Decimal]]
    previous: dict[int, tuple]  # customer id → (grade, score id, digest, reasons_from id, has reasons)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _read_customers(after: int, limit: int, only: int | None) -> list[tuple]:
    """(id, unit_id, customer_class, since as ISO text) of the next `limit` customers after `after` (or the one
    customer `only`): since = the earliest 立户日期 of the customer's accounts, else its creation's local day.
    ISO text compares like the date and costs no conversion for the customers rated from the memo."""
    c, a = _q(Customer._meta.db_table), _q(Account._meta.db_table)
    where, params = ("c.id = %s", [only]) if only is not None else ("c.id > %s", [after])
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # One page of ids first, so the accounts' aggregate reads exactly that range.
            cur.execute(
                f"SELECT max(id) FROM (SELECT c.id FROM {c} c WHERE {where} ORDER BY c.id LIMIT %s) p",  # noqa: S608 (tables from _meta)
                [*params, limit],
            )
            hi = cur.fetchone()[0]
            if hi is None:
                return []
            lo = only if only is not None else after
            op = ">=" if only is not None else ">"
            tz = timezone.get_current_timezone_name()
            cur.execute(
                f"SELECT c.id, c.unit_id, c.customer_class, "  # noqa: S608 (tables from _meta)
                f"COALESCE(f.first, (c.created_at AT TIME ZONE %s)::date)::text FROM {c} c "
                f"LEFT JOIN (SELECT customer_id, MIN(opened_on) AS first FROM {a} "
                f"WHERE customer_id {op} %s AND customer_id <= %s GROUP BY customer_id) f ON f.customer_id = c.id "
                f"WHERE c.id {op} %s AND c.id <= %s ORDER BY c.id",
                [tz, lo, hi, lo, hi],
            )
            return cur.fetchall()
        cur.execute(
            f"SELECT c.id, c.unit_id, c.customer_class, c.created_at, "  # noqa: S608 (tables from _meta)
            f"(SELECT MIN(a.opened_on) FROM {a} a WHERE a.customer_id = c.id) "
            f"FROM {c} c WHERE {where} ORDER BY c.id LIMIT %s",
            [*params, limit],
        )
        rows = cur.fetchall()
    return [(r[0], r[1], r[2], (_day(r[4]) or _local_day(r[3])).isoformat()) for r in rows]


def _read_chunk(
    lo: int, hi: int, customers: list[tuple], *, as_of: date, start12: date, start36: date
) -> Chunk:
    """Events, assessments and previous scores of the customers with lo ≤ id ≤ hi (three range reads).

    Only the events the rule can score are read: those of the 12-month window, and the safety incidents of the
    36 months (an older event of another code changes nothing)."""
    e, s, st, sc = (
        CreditEvent._meta.db_table,
        SiteAssessment._meta.db_table,
        CreditStanding._meta.db_table,
        CreditScore._meta.db_table,
    )
    events: dict[int, list[rules.Event]] = {}
    assessments: dict[int, tuple[Decimal, Decimal]] = {}
    previous: dict[int, tuple] = {}
    Event = rules.Event
    incident_marks = ", ".join(["%s"] * len(INCIDENTS))
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT customer_id, id, code, date, severity, count FROM {_q(e)} "  # noqa: S608 (tables from _meta)
            f"WHERE customer_id >= %s AND customer_id <= %s AND status = %s AND date > %s AND date <= %s "
            f"AND (date > %s OR code IN ({incident_marks})) ORDER BY customer_id, date, id",
            [lo, hi, EventStatus.ACTIVE.value, start36, as_of, start12, *INCIDENTS],
        )
        for cid, eid, code, day, sev, cnt in cur.fetchall():
            ev = Event(code, _day(day), sev, cnt, eid)
            bucket = events.get(cid)
            if bucket is None:
                events[cid] = [ev]
            else:
                bucket.append(ev)
        # The latest approved assessment on or before as_of: ascending order, the last one wins.
        cur.execute(
            f"SELECT customer_id, conduct, potential FROM {_q(s)} "  # noqa: S608 (tables from _meta)
            f"WHERE customer_id >= %s AND customer_id <= %s AND status = %s AND assessed_on <= %s "
            f"ORDER BY customer_id, assessed_on, id",
            [lo, hi, AssessmentStatus.APPROVED.value, as_of],
        )
        for cid, conduct, potential in cur.fetchall():
            if type(conduct) is not Decimal:  # SQLite's raw cursor
                conduct, potential = Decimal(str(conduct)), Decimal(str(potential))
            assessments[cid] = (conduct, potential)
        cur.execute(
            f"SELECT st.customer_id, st.grade, sc.id, sc.digest, sc.reasons_from_id, "  # noqa: S608 (tables from _meta)
            f"CASE WHEN sc.reasons IS NULL THEN 0 ELSE 1 END "
            f"FROM {_q(st)} st JOIN {_q(sc)} sc ON sc.id = st.score_id "
            f"WHERE st.customer_id >= %s AND st.customer_id <= %s",
            [lo, hi],
        )
        for cid, grade, sid, digest, rfrom, has in cur.fetchall():
            previous[cid] = (grade, sid, digest, rfrom, bool(has))
    return Chunk(customers, events, assessments, previous)


# ---------------------------------------------------------------- computing


@dataclass
class Totals:
    rated: int = 0
    reasons_stored: int = 0
    grades: dict[str, int] = field(default_factory=dict)
    read: float = 0.0
    compute: float = 0.0
    write: float = 0.0
    standings: float = 0.0


class Rater:
    """Per-run state: the policy, thresholds and the memo of customers without events."""

    def __init__(self, as_of: date):
        self.as_of = as_of
        self.policy = credit_policy.current_policy()
        self.thresholds = credit_policy.thresholds(self.policy)
        self.start12 = rules.months_back(as_of, 12)
        self.start36 = rules.months_back(as_of, 36)
        self.as_of_text = as_of.isoformat()
        self.start12_text = self.start12.isoformat()
        self.start36_text = self.start36.isoformat()
        self.memo: dict[tuple, Computed] = {}
        self.classes: dict[str, str] = {}

    def rated_class(self, customer_class: str) -> str:
        rc = self.classes.get(customer_class)
        if rc is None:
            rc = self.classes[customer_class] = credit_policy.rated_class_for(customer_class, self.policy)
        return rc

    def rate(self, since: str, customer_class: str, evs, assessment) -> Computed:
        """`since` is ISO text (compared as text; made a date only when the rule is called)."""
        rc = self.rated_class(customer_class)
        conduct = potential = None
        if rc == RatedClass.POWER and assessment is not None:
            conduct, potential = assessment
        if not evs:
            key = (rc, since <= self.start12_text, since <= self.start36_text, conduct, potential)
            hit = self.memo.get(key)
            if hit is None:
                hit = self.memo[key] = self._evaluate(rc, date.fromisoformat(since), conduct, potential, ())
            return hit
        return self._evaluate(rc, date.fromisoformat(since), conduct, potential, evs)

    def _evaluate(self, rc, since, conduct, potential, evs) -> Computed:
        rating = rules.evaluate(
            rated_class=rc,
            as_of=self.as_of,
            customer_since=since,
            conduct=conduct,
            potential=potential,
            events=evs,
            thresholds=self.thresholds,
        )
        return _computed(rc, rating)


# A row to write: (customer id, unit id, Computed, store reasons?, reasons_from id or None).
Row = tuple


def compute_chunk(rater: Rater, chunk: Chunk, totals: Totals) -> list[Row]:
    rows: list[Row] = []
    add = rows.append
    as_of = rater.as_of_text
    grades = totals.grades
    events, assessments, previous = chunk.events, chunk.assessments, chunk.previous
    rate = rater.rate
    stored = 0
    for cid, unit_id, cclass, since in chunk.customers:
        if since > as_of:
            continue  # not yet a customer on as_of
        c = rate(since, cclass, events.get(cid), assessments.get(cid))
        prev = previous.get(cid)
        if prev is not None and prev[2] == c.digest:
            add((cid, unit_id, c, False, prev[1] if prev[4] else prev[3]))
        else:
            add((cid, unit_id, c, True, None))
            stored += 1
        grades[c.grade] = grades.get(c.grade, 0) + 1
    totals.reasons_stored += stored
    totals.rated += len(rows)
    return rows


# ---------------------------------------------------------------- writing

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_payload(rows: list[Row], ids: list[int], *, run_id: int, as_of: date) -> str:
    head = f"\t{run_id}\t"
    day = as_of.isoformat()
    out = []
    add = out.append
    for sid, (cid, unit_id, c, store, rfrom) in zip(ids, rows, strict=True):
        reasons = c.reasons.translate(_COPY_ESCAPES) if store else "\\N"
        ref = "\\N" if rfrom is None else str(rfrom)
        add(f"{sid}{head}{cid}\t{unit_id}\t{day}\t{c.fields}\t{c.digest}\t{reasons}\t{ref}\n")
    return "".join(out)


def write_scores(rows: list[Row], *, run_id: int, as_of: date) -> tuple[int, int] | None:
    """Write the chunk's scores; returns the (lowest, highest) id written (None when no rows).

    PostgreSQL: the ids are drawn from the table's sequence in one query, then the rows go in with COPY."""
    if not rows:
        return None
    if connection.vendor == "postgresql":
        table = CreditScore._meta.db_table
        with connection.cursor() as cur:
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(rows)],
            )
            ids = [r[0] for r in cur.fetchall()]
            with cur.cursor.copy(f"COPY {_q(table)} (id, {', '.join(SCORE_COLUMNS)}) FROM STDIN") as copy:
                copy.write(copy_payload(rows, ids, run_id=run_id, as_of=as_of).encode())
        return min(ids), max(ids)
    import json

    objs = []
    for cid, unit_id, c, store, rfrom in rows:
        objs.append(
            CreditScore(
                run_id=run_id,
                customer_id=cid,
                unit_id_at=unit_id,
                as_of=as_of,
                rated_class=c.fields.split("\t", 1)[0],
                **dict(zip(DIMS, c.dims, strict=True)),
                total=c.total,
                grade=c.grade,
                digest=c.digest,
                reasons=json.loads(c.reasons) if store else None,
                reasons_from_id=rfrom,
            )
        )
    CreditScore.objects.bulk_create(objs, batch_size=2000)
    ids = [o.pk for o in objs if o.pk is not None]
    if len(ids) != len(objs):  # a backend that hands back no ids: the run's rows of these customers
        ids = list(
            CreditScore.objects.filter(run_id=run_id, customer_id__in=[r[0] for r in rows]).values_list(
                "pk", flat=True
            )
        )
    return min(ids), max(ids)


# The chunk's scores: by id range (the primary key) and run.
_CHUNK_SCORES = "sc.run_id = %s AND sc.id >= %s AND sc.id <= %s"


def _standings_sql() -> str:
    st, sc = _q(CreditStanding._meta.db_table), _q(CreditScore._meta.db_table)
    return (
        f"INSERT INTO {st} (customer_id, score_id, unit_id_at, grade, total, as_of, previous_grade, changed_on) "  # noqa: S608 (tables from _meta)
        f"SELECT sc.customer_id, sc.id, sc.unit_id_at, sc.grade, sc.total, sc.as_of, '', NULL FROM {sc} sc "
        f"WHERE {_CHUNK_SCORES} "
        f"ON CONFLICT (customer_id) DO UPDATE SET score_id = excluded.score_id, "
        f"unit_id_at = excluded.unit_id_at, total = excluded.total, as_of = excluded.as_of, "
        f"previous_grade = CASE WHEN {st}.grade <> excluded.grade THEN {st}.grade "
        f"ELSE {st}.previous_grade END, "
        f"changed_on = CASE WHEN {st}.grade <> excluded.grade THEN excluded.as_of ELSE {st}.changed_on END, "
        f"grade = excluded.grade "
        f"WHERE excluded.as_of >= {st}.as_of"
    )


def _grade_changes(run_id: int, lo: int, hi: int, measure_grades: list[str]) -> list[tuple[int, str, str]]:
    """(customer id, previous grade or '', new grade) of the chunk's scores that change a standing's grade, or
    that start a standing at a grade with measures to notify. Read before the standings are upserted."""
    st, sc = _q(CreditStanding._meta.db_table), _q(CreditScore._meta.db_table)
    marks = ", ".join(["%s"] * len(measure_grades)) or "''"
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT sc.customer_id, COALESCE(st.grade, ''), sc.grade FROM {sc} sc "  # noqa: S608 (tables from _meta)
            f"LEFT JOIN {st} st ON st.customer_id = sc.customer_id WHERE {_CHUNK_SCORES} AND ("
            f"(st.customer_id IS NULL AND sc.grade IN ({marks})) "
            f"OR (st.grade <> sc.grade AND sc.as_of >= st.as_of))",
            [run_id, lo, hi, *measure_grades],
        )
        return list(cur.fetchall())


def _upsert_standings_pg(
    run_id: int, span: tuple[int, int], customers: tuple[int, int], measure_grades: list[str]
) -> list[tuple[int, str, str]]:
    """PostgreSQL: the standings upsert and the grade changes in one statement — the CTE `prev` reads the
    standings as they were before the statement (one snapshot), the upsert returns what it wrote."""
    st = _q(CreditStanding._meta.db_table)
    marks = ", ".join(["%s"] * len(measure_grades)) or "''"
    with connection.cursor() as cur:
        cur.execute(
            f"WITH prev AS (SELECT customer_id, grade FROM {st} WHERE customer_id >= %s AND customer_id <= %s), "  # noqa: S608 (tables from _meta)
            f"up AS ({_standings_sql()} RETURNING customer_id, grade) "
            f"SELECT up.customer_id, COALESCE(prev.grade, ''), up.grade FROM up "
            f"LEFT JOIN prev ON prev.customer_id = up.customer_id "
            f"WHERE (prev.customer_id IS NULL AND up.grade IN ({marks})) OR prev.grade <> up.grade",
            [*customers, run_id, *span, *measure_grades],
        )
        return list(cur.fetchall())


@dataclass
class Notices:
    drops: list[tuple[int, str, str]] = field(default_factory=list)
    measures: list[tuple[int, str, list[str]]] = field(default_factory=list)


def notices_for(changes: list[tuple[int, str, str]], pol) -> Notices:
    out = Notices()
    for cid, prev, new in changes:
        if prev and (credit_policy.grade_steps(prev, new) >= 2 or (new == "D" and prev != "D")):
            out.drops.append((cid, prev, new))
        before = set(credit_policy.measures_for(prev, pol)) if prev else set()
        fresh = [m for m in credit_policy.measures_for(new, pol) if m in ASKING_MEASURES and m not in before]
        if fresh:
            out.measures.append((cid, new, fresh))
    return out


def measure_notices_write(notices: Notices, *, run_id: int, as_of: date, now: datetime | None = None) -> int:
    """The measure notices as unrendered `PendingNotice` rows (`notify.outbox.notice_row`), inserted with the
    chunk's scores and standings in its transaction; the notify job renders them onto the customers' channels
    within the minute (rendering tens of thousands here would double a first run). PostgreSQL: COPY."""
    import json

    from gridcare.notify.models import PendingNotice
    from gridcare.notify.outbox import notice_row

    if not notices.measures:
        return 0
    now = now or timezone.now()
    label = period_label(as_of)
    rows: list[PendingNotice] = []
    texts: dict[tuple, str | None] = {}
    copy_lines: list[str] = []
    pg = connection.vendor == "postgresql"
    for cid, grade, measures in notices.measures:
        key = f"credit_measure:{run_id}:{cid}"
        context = {
            "period": label,
            "grade": grade,
            "measures": "；".join(str(Measure(m).label) for m in measures),
        }
        shape = (grade, tuple(measures))
        if (
            shape not in texts
        ):  # one checked row per kind of notice: the others differ by customer and key only
            row = notice_row(kind="credit_measure", customer_id=cid, context=context, dedupe_key=key, now=now)
            texts[shape] = (
                None if row is None else json.dumps(row.context, ensure_ascii=False).translate(_COPY_ESCAPES)
            )
        if texts[shape] is None:
            continue  # notices muted
        if pg:
            copy_lines.append(f"credit_measure\t{cid}\t\\N\t\t{texts[shape]}\t{key}\t{now.isoformat()}\n")
        else:
            rows.append(
                PendingNotice(
                    kind="credit_measure",
                    customer_id=cid,
                    context=json.loads(texts[shape]),
                    dedupe_key=key,
                    created_at=now,
                )
            )
    if pg and copy_lines:
        table = _q(PendingNotice._meta.db_table)
        with connection.cursor() as cur:
            with cur.cursor.copy(
                f"COPY {table} (kind, customer_id, account_id, account_number, context, dedupe_key, created_at) "
                "FROM STDIN"
            ) as copy:
                copy.write("".join(copy_lines).encode())
        return len(copy_lines)
    PendingNotice.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def drop_sms_enqueue(notices: Notices, *, run_id: int, as_of: date, now: datetime | None = None) -> int:
    """The customer managers' grade-drop SMS (called on commit; few per run): one per customer and run."""
    from gridcare.notify.outbox import transactional_sms_enqueue

    label = period_label(as_of)
    written = 0
    ids = [cid for cid, _p, _g in notices.drops]
    info = {}
    for i in range(0, len(ids), 5000):
        info.update(
            (r[0], r[1:])
            for r in Customer.objects.filter(pk__in=ids[i : i + 5000]).values_list(
                "id", "name", "customer_manager__phone"
            )
        )
    for cid, prev, grade in notices.drops:
        name, phone = info.get(cid, ("", None))
        if not phone:
            continue  # no manager, or a manager without a phone: nobody to tell
        transactional_sms_enqueue(
            kind="credit_grade_drop",
            phone=phone,
            context={
                "customer_name": name,
                "customer_id": cid,
                "period": label,
                "previous": prev,
                "grade": grade,
            },
            dedupe_key=f"credit_grade_drop:{run_id}:{cid}",
            now=now,
        )
        written += 1
    return written


def _notify_safely(notices: Notices, *, run_id: int, as_of: date, now) -> None:
    try:
        with transaction.atomic():
            drop_sms_enqueue(notices, run_id=run_id, as_of=as_of, now=now)
    except Exception:  # the scores and standings are committed; a notice problem is logged, not fatal
        log.exception("credit run %s: grade-drop SMS not enqueued", run_id)


class Writer:
    """Commits one chunk: its scores, the standings they change and its notices, in one transaction."""

    def __init__(self, run: CreditRun, now: datetime | None):
        self.run_id, self.as_of, self.now = run.pk, run.as_of, now
        self.policy = credit_policy.current_policy()
        self.measure_grades = [
            g
            for g, ms in (self.policy.measures or {}).items()
            if any(m in ASKING_MEASURES for m in (ms or []))
        ]

    def __call__(self, rows: list[Row]) -> tuple[float, float]:
        """(seconds writing scores, seconds on standings and notices)."""
        t0 = time.perf_counter()
        with transaction.atomic():
            pg = connection.vendor == "postgresql"
            if pg:
                with connection.cursor() as cur:
                    # A batch chunk: a crash loses at most the last commits, which a rerun redoes.
                    cur.execute("SET LOCAL synchronous_commit TO OFF")
            span = write_scores(rows, run_id=self.run_id, as_of=self.as_of)
            t1 = time.perf_counter()
            if span is not None:
                if pg:
                    changes = _upsert_standings_pg(
                        self.run_id, span, (rows[0][0], rows[-1][0]), self.measure_grades
                    )
                else:
                    changes = _grade_changes(self.run_id, *span, self.measure_grades)
                    with connection.cursor() as cur:
                        cur.execute(_standings_sql(), [self.run_id, *span])
                notices = notices_for(changes, self.policy)
                measure_notices_write(notices, run_id=self.run_id, as_of=self.as_of, now=self.now)
                if notices.drops:
                    run_id, as_of, now = self.run_id, self.as_of, self.now
                    transaction.on_commit(
                        lambda: _notify_safely(notices, run_id=run_id, as_of=as_of, now=now)
                    )
        return t1 - t0, time.perf_counter() - t1


def finish(run: CreditRun, totals: Totals, *, resumed: bool, now: datetime | None = None) -> None:
    """Set the run's counts (from its rows when it was resumed after a failure) and mark it done."""
    rated, stored, grades = totals.rated, totals.reasons_stored, dict(totals.grades)
    if resumed:
        sc = _q(CreditScore._meta.db_table)
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT grade, COUNT(*), COUNT(reasons) FROM {sc} WHERE run_id = %s GROUP BY grade",  # noqa: S608 (tables from _meta)
                [run.pk],
            )
            rows = cur.fetchall()
        grades = {g: n for g, n, _r in rows}
        rated, stored = sum(n for _g, n, _r in rows), sum(r for _g, _n, r in rows)
    CreditRun.objects.filter(pk=run.pk).update(
        status=RunStatus.DONE,
        customers_rated=rated,
        reasons_stored=stored,
        grade_counts={g: grades.get(g, 0) for g in ("AAA", "AA", "A", "B", "C", "D")},
        finished_at=now or timezone.now(),
        error="",
    )


# ---------------------------------------------------------------- execution


def _load(after: int, size: int, only: int | None, rater: Rater) -> tuple[Chunk | None, float]:
    t0 = time.perf_counter()
    customers = _read_customers(after, size, only)
    if not customers:
        return None, time.perf_counter() - t0
    chunk = _read_chunk(
        customers[0][0],
        customers[-1][0],
        customers,
        as_of=rater.as_of,
        start12=rater.start12,
        start36=rater.start36,
    )
    return chunk, time.perf_counter() - t0


def _in_thread(fn):
    """Run `fn` on a pool thread with that thread's own connection (closed by the pool's last task)."""

    def call(*args):
        try:
            return fn(*args)
        except BaseException:
            connections.close_all()
            raise

    return call


def execute(
    run: CreditRun,
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int = CHUNK,
    now: datetime | None = None,
) -> Totals:
    """Rate the run's customers (all, or its one customer) and finish it.

    Each chunk commits its scores, the standings they change and its notices together, so a run that failed
    continues after the last customer it committed when it is run again (never rating a customer twice).
    Outside a transaction on PostgreSQL the chunks are pipelined: a reader thread fetches chunk i + 1 and a
    writer thread commits chunk i − 1 (each on its own connection) while this thread rates chunk i, so the
    database server's work overlaps the Python work. Inside a transaction (tests) or on SQLite, one after the
    other on this connection. Totals.read / write / standings are the reader's and writer's own times."""
    totals = Totals()
    CreditRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=now or timezone.now())
    rater = Rater(run.as_of)
    writer = Writer(run, now)
    only = run.customer_id if run.kind == RunKind.SINGLE else None
    # Where a failed run stopped (an aggregate on the run's index; ordering by customer would walk every
    # month's scores when the run has none yet).
    # `+ 0` keeps PostgreSQL off the backward walk of the (customer, as_of) index for max().
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT MAX(customer_id + 0) FROM {_q(CreditScore._meta.db_table)} WHERE run_id = %s",  # noqa: S608 (tables from _meta)
            [run.pk],
        )
        after = cur.fetchone()[0] or 0
    resumed = after > 0
    total = 1 if only is not None else Customer.objects.count()
    done = 0 if not resumed else Customer.objects.filter(pk__lte=after).count()
    pipelined = only is None and connection.vendor == "postgresql" and not connection.in_atomic_block
    try:
        if pipelined:
            _execute_pipelined(rater, writer, totals, after, chunk_size, done, total, progress)
        elif not (only is not None and resumed):
            while True:
                chunk, took = _load(after, chunk_size, only, rater)
                totals.read += took
                if chunk is None:
                    break
                t1 = time.perf_counter()
                rows = compute_chunk(rater, chunk, totals)
                totals.compute += time.perf_counter() - t1
                w, st = writer(rows)
                totals.write += w
                totals.standings += st
                done += len(chunk.customers)
                if progress is not None:
                    progress(done, total)
                if only is not None:
                    break
                after = chunk.customers[-1][0]
        finish(run, totals, resumed=resumed, now=now)
    except Exception as exc:
        CreditRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error=str(exc)[:2000])
        raise
    return totals


def _execute_pipelined(rater, writer, totals, after, chunk_size, done, total, progress) -> None:
    from concurrent.futures import ThreadPoolExecutor

    reader_pool, writer_pool = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    try:
        load, store = _in_thread(_load), _in_thread(writer)
        ahead = reader_pool.submit(load, after, chunk_size, None, rater)
        writing = None
        while True:
            chunk, took = ahead.result()
            totals.read += took
            if chunk is None:
                break
            ahead = reader_pool.submit(load, chunk.customers[-1][0], chunk_size, None, rater)
            t1 = time.perf_counter()
            rows = compute_chunk(rater, chunk, totals)
            totals.compute += time.perf_counter() - t1
            if writing is not None:
                w, st = writing.result()
                totals.write += w
                totals.standings += st
            writing = writer_pool.submit(store, rows)
            done += len(chunk.customers)
            if progress is not None:
                progress(done, total)
        if writing is not None:
            w, st = writing.result()
            totals.write += w
            totals.standings += st
    finally:
        for pool in (reader_pool, writer_pool):
            pool.submit(connections.close_all).result()
            pool.shutdown(wait=True)


def totals_result(totals: Totals) -> dict:
    return {
        "customers_rated": totals.rated,
        "reasons_stored": totals.reasons_stored,
        "grade_counts": {g: totals.grades.get(g, 0) for g in ("AAA", "AA", "A", "B", "C", "D")},
        "seconds": {
            "read": round(totals.read, 3),
            "compute": round(totals.compute, 3),
            "write": round(totals.write, 3),
            "standings": round(totals.standings, 3),
        },
    }


# ---------------------------------------------------------------- services


def _existing_monthly(period: str) -> CreditRun | None:
    return (
        CreditRun.objects.filter(kind=RunKind.MONTHLY, period=period).exclude(status=RunStatus.FAILED).first()
    )


def refusal_for(as_of: date) -> ValidationError | None:
    """The refusal of a second monthly run for as_of's month (None when the month is free)."""
    existing = _existing_monthly(period_of(as_of))
    if existing is None:
        return None
    return ValidationError(
        {
            "as_of": [
                _("%(p)s 已有月度评价批次 #%(id)s（%(s)s），每月只评价一次")
                % {"p": existing.period, "id": existing.pk, "s": existing.get_status_display()}
            ]
        }
    )


def monthly_run_create(
    *, actor: Actor, as_of: date | None = None, today: date | None = None, now: datetime | None = None
) -> CreditRun:
    """The monthly run of as_of's month (default: the last day of the previous month), pending. A month that
    already has a run that did not fail is refused (ValidationError on as_of); a failed one is run again (it
    continues after the last customer it committed, with its as_of)."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    as_of = as_of or monthly_as_of(today)
    if as_of > today:
        raise ValidationError({"as_of": [_("评价基准日不能晚于今天")]})
    period = period_of(as_of)
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            refused = refusal_for(as_of)
            if refused is not None:
                raise refused
            run = (
                CreditRun.objects.select_for_update()
                .filter(kind=RunKind.MONTHLY, period=period, status=RunStatus.FAILED)
                .order_by("-id")
                .first()
            )
            if run is not None:
                CreditRun.objects.filter(pk=run.pk).update(
                    status=RunStatus.PENDING, error="", finished_at=None
                )
                run.refresh_from_db()
            else:
                run = CreditRun.objects.create(
                    kind=RunKind.MONTHLY,
                    period=period,
                    as_of=as_of,
                    status=RunStatus.PENDING,
                    created_by=user,
                    created_at=now,
                )
            audit_record(
                actor=actor,
                action="credit.run_start",
                obj=run,
                changes={"kind": RunKind.MONTHLY.value, "rating_month": period, "as_of": as_of.isoformat()},
            )
    except IntegrityError:  # a concurrent request made the month's run first
        raise refusal_for(as_of) or ValidationError({"as_of": [_("该月份已有评价批次")]}) from None
    return run


def customer_rate(
    *, actor: Actor, customer: Customer, as_of: date, now: datetime | None = None
) -> CreditScore:
    """On demand: one run for one customer as of `as_of`, stored like a monthly run's score; the standing takes
    it unless it already holds a later as_of. The customer's ledger events are derived first (as of today). The
    caller checked credit.record on the customer's unit."""
    now = now or timezone.now()
    if as_of > timezone.localdate(now):
        raise ValidationError({"as_of": [_("评价基准日不能晚于今天")]})
    since = Account.objects.filter(customer_id=customer.pk).order_by("opened_on").values_list(
        "opened_on", flat=True
    ).first() or timezone.localdate(customer.created_at)
    if since > as_of:
        raise ValidationError({"as_of": [_("评价基准日早于客户立户日期")]})
    # The night's derivation may be a day old: this customer's arrears events are brought up to date first, so a
    # bill paid (or fallen overdue) today counts in the rating asked for now.
    from .ledger import arrears_derive

    arrears_derive(
        today=timezone.localdate(now),
        actor=actor,
        account_ids=list(Account.objects.filter(customer_id=customer.pk).values_list("pk", flat=True)),
        now=now,
    )
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    run = CreditRun.objects.create(
        kind=RunKind.SINGLE,
        period=period_of(as_of),
        as_of=as_of,
        customer=customer,
        status=RunStatus.PENDING,
        created_by=user,
        created_at=now,
    )
    execute(run, now=now)
    score = CreditScore.objects.filter(run_id=run.pk).first()
    audit_record(
        actor=actor,
        action="credit.customer_rate",
        obj=run,
        customer_id=customer.pk,
        unit_id=customer.unit_id,
        changes={
            "as_of": as_of.isoformat(),
            "grade": score.grade if score else "",
            "score_total": str(score.total) if score else "",
        },
    )
    return score
