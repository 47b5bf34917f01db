"""The set-based billing run: chunks of accounts, bulk reads, rating in Python, bulk writes.

Per chunk of accounts (walked in id order after the run's checkpoint), a fixed number of queries,
whatever the chunk size: the accounts already billed, the service points' tariff codes, the period's
read sums (one aggregate), the year-to-date kWh of earlier bills (one aggregate), then `bulk_create`
of bills, lines and exceptions and one update of the run row. Each chunk commits on its own, so a
crash loses at most the chunk in flight and the next execution continues from `last_account_id`.
The partial unique constraint on Bill (account, period_start) is the last guard against a double bill.

Reads of a period: those with `read_at` in [first day 00:00, next month's first day 00:00) local time
and a consumption (a meter's first read has none). Flagged reads are not billed: an account with one
goes to the exceptions ("unvalidated_read") until the reading exception is handled. A bill is
`estimated` when any read it used was estimated (source or status).

TOU tariffs bill the period sums of the reads' TOU kWh (`MeterRead.kwh_*`, which add up to the read's
consumption); a read in the period without them sends the account to the exceptions ("meter_data").
Two-part tariffs take the basic charge by contract capacity (the service point's kVA), or by the period's
maximum demand (the largest `demand_kw` of its reads) when the service point says `basic_by_demand`.
The power factor of a tariff with a PF target is the period's average, kWh / √(kWh² + kvarh²), from the
reads' reactive energy; a period without kWh has no adjustment (PF = the target).

Move-in / move-out: an account opened after the first day or closed before the last day of the period is
rated over its own days only (`rate(month_days=…)` shares the basic charge and monthly tiers by days); an
account closed before the period or opened after it is skipped (neither billed nor an exception).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.customers.models import Account, ServicePoint
from gridcare.metering.choices import ReadSource, ReadStatus
from gridcare.metering.models import MeterRead, RouteMembership

from .models import (
    Bill,
    BillingException,
    BillingExceptionReason,
    BillingRun,
    BillingRunStatus,
    BillLine,
    BillStatus,
    TariffVersion,
)
from .rating import (
    TOU_PERIODS,
    RatingError,
    Usage,
    VersionSpan,
    line_labels,
    parse_params,
    prepare,
    rate_prepared,
    round_pf,
)

CHUNK_SIZE = 5000
ZERO = Decimal("0.00")

Progress = Callable[[BillingRun], None]


def period_bounds(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    """Aware local datetimes [start of the first day, start of the day after the last)."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(period_start, time.min, tzinfo=tz),
        datetime.combine(period_end + timedelta(days=1), time.min, tzinfo=tz),
    )


def load_spans(period_start: date, period_end: date) -> tuple[dict[str, list[VersionSpan]], dict[str, str]]:
    """Every tariff's versions overlapping the period, parsed once: ({code: spans}, {code: parse error})."""
    spans: dict[str, list[VersionSpan]] = {}
    broken: dict[str, str] = {}
    rows = (
        TariffVersion.objects.filter(valid_from__lte=period_end)
        .exclude(valid_to__lt=period_start)
        .select_related("tariff")
        .order_by("tariff__code", "valid_from")
    )
    for v in rows:
        code = v.tariff.code
        try:
            params = parse_params(v.parameters)
        except RatingError as exc:
            broken[code] = "; ".join(f"{k}: {m}" for k, m in exc.errors.items())
            continue
        spans.setdefault(code, []).append(
            VersionSpan(v.valid_from, v.valid_to, params, label=f"{code}@{v.valid_from.isoformat()}")
        )
    return spans, broken


@dataclass
class Rated:
    """What the run computes for one account, before anything is written."""

    account_id: int
    unit_id: int
    tariff_code: str
    kwh: Decimal
    ytd: Decimal
    estimated: bool
    result: object = None
    reason: str = ""
    message: str = ""
    lines: list = field(default_factory=list)
    skipped: bool = False
    tou: dict = field(default_factory=dict)
    kvarh: Decimal | None = None
    max_demand_kw: Decimal | None = None
    power_factor: Decimal | None = None
    start: date | None = None
    end: date | None = None


def average_pf(kwh: Decimal, kvarh: Decimal) -> Decimal:
    """Monthly average power factor kWh / √(kWh² + kvarh²), before rounding."""
    return kwh / (kwh * kwh + kvarh * kvarh).sqrt()


@dataclass(frozen=True)
class Traits:
    """What a tariff's versions over the period ask of the reads."""

    tou: bool
    two_part: bool
    pf_target: Decimal | None


def traits_of(spans: list[VersionSpan]) -> Traits:
    targets = [s.params.pf_target for s in spans if s.params.pf_target is not None]
    return Traits(
        tou=any(s.params.is_tou for s in spans),
        two_part=any(s.params.two_part for s in spans),
        pf_target=targets[0] if targets else None,
    )


def among(field: str, ids: list[int]) -> Q:
    """`field` in the sorted `ids`: as a range when they are dense (a million-account run walks contiguous ids,
    and a range scan beats a 5,000-element IN list), else as IN. Callers ignore rows of other ids in the range."""
    if ids and ids[-1] - ids[0] < 2 * len(ids) + 100:
        return Q(**{f"{field}__gte": ids[0], f"{field}__lte": ids[-1]})
    return Q(**{f"{field}__in": ids})


def compute(
    account_ids: Iterable[int],
    period_start: date,
    period_end: date,
    spans: dict[str, list[VersionSpan]],
    broken: dict[str, str],
    plans: dict | None = None,
) -> list[Rated]:
    """Rate the given accounts from their current reads: four queries, then Python only.

    `plans` caches the prepared tariffs ((code, start, end) → Prepared or RatingError) across chunks."""
    plans = {} if plans is None else plans
    month_days = (period_end - period_start).days + 1
    traits = {code: traits_of(v) for code, v in spans.items()}
    ids = sorted(account_ids)
    labels = line_labels()
    accounts = {
        pk: (unit_id, opened, closed)
        for pk, unit_id, opened, closed in Account.objects.filter(among("pk", ids)).values_list(
            "pk", "unit_id", "opened_on", "closed_on"
        )
    }
    tariff_of: dict[int, str] = {}
    capacity_of: dict[int, Decimal | None] = {}
    by_demand: dict[int, bool] = {}
    for acc, code, kva, demand in (
        ServicePoint.objects.filter(among("account_id", ids))
        .exclude(tariff_code="")
        .order_by("account_id", "id")
        .values_list("account_id", "tariff_code", "contract_capacity_kva", "basic_by_demand")
    ):
        tariff_of.setdefault(acc, code)
        capacity_of.setdefault(acc, kva)
        by_demand.setdefault(acc, demand)
    lo, hi = period_bounds(period_start, period_end)
    estimated_q = Q(source=ReadSource.ESTIMATED) | Q(status=ReadStatus.ESTIMATED)
    ok = ~Q(status=ReadStatus.FLAGGED)
    no_tou = Q(kwh_sharp__isnull=True, kwh_peak__isnull=True, kwh_flat__isnull=True, kwh_valley__isnull=True)
    reads = {
        row["account_id"]: row
        for row in MeterRead.objects.filter(
            among("account_id", ids), read_at__gte=lo, read_at__lt=hi, consumption__isnull=False
        )
        .values("account_id")
        .annotate(
            kwh=Sum("consumption", filter=ok),
            n=Count("id", filter=ok),
            flagged=Count("id", filter=Q(status=ReadStatus.FLAGGED)),
            estimated=Count("id", filter=estimated_q & ok),
            tou_missing=Count("id", filter=no_tou & ok),
            kvarh_missing=Count("id", filter=Q(kvarh__isnull=True) & ok),
            kvarh=Sum("kvarh", filter=ok),
            demand=Max("demand_kw", filter=ok),
            **{f"kwh_{p}": Sum(f"kwh_{p}", filter=ok) for p in TOU_PERIODS},
        )
        .order_by()
    }
    ytd = dict(
        Bill.objects.filter(
            among("account_id", ids),
            period_start__gte=date(period_start.year, 1, 1),
            period_start__lt=period_start,
        )
        .exclude(status=BillStatus.CANCELLED)
        .values("account_id")
        .annotate(s=Sum("kwh_total"))
        .order_by()
        .values_list("account_id", "s")
    )
    out: list[Rated] = []
    for acc in ids:
        row = reads.get(acc)
        code = tariff_of.get(acc, "")
        unit_id, opened, closed = accounts[acc]
        item = Rated(
            account_id=acc,
            unit_id=unit_id,
            tariff_code=code,
            kwh=(row["kwh"] if row and row["kwh"] is not None else ZERO),
            ytd=ytd.get(acc) or ZERO,
            estimated=bool(row and row["estimated"]),
            start=max(period_start, opened) if opened else period_start,
            end=min(period_end, closed) if closed else period_end,
        )
        out.append(item)
        if item.start > item.end:
            item.skipped = True  # closed before the period or opened after it: nothing to bill
            continue
        if row and row["flagged"]:
            item.reason = BillingExceptionReason.UNVALIDATED_READ
            item.message = _("有 %(n)s 条异常示数尚未处理") % {"n": row["flagged"]}
            continue
        if not row or not row["n"]:
            item.reason = BillingExceptionReason.NO_READ
            item.message = _("本期没有可计费的抄表记录")
            continue
        if code in broken or code not in spans:
            item.reason = BillingExceptionReason.UNKNOWN_TARIFF
            item.message = broken.get(code) or _("电价代码“%(c)s”在本期没有有效版本") % {"c": code or "—"}
            continue
        tr = traits[code]
        missing = _meter_data_missing(row, tr, by_demand.get(acc, False))
        if missing:
            item.reason = BillingExceptionReason.METER_DATA
            item.message = missing
            continue
        if tr.tou:
            item.tou = {p: row[f"kwh_{p}"] for p in TOU_PERIODS if row[f"kwh_{p}"] is not None}
            if sum(item.tou.values(), ZERO) != item.kwh:
                item.reason = BillingExceptionReason.METER_DATA
                item.message = _("分时段电量之和 %(s)s 与总电量 %(t)s 不符") % {
                    "s": sum(item.tou.values(), ZERO), "t": item.kwh}
                continue
            usage = Usage.of(**item.tou)
        else:
            usage = Usage.of(total=item.kwh)
        if tr.two_part and by_demand.get(acc, False):
            item.max_demand_kw = row["demand"]
        if tr.pf_target is not None:
            item.kvarh = row["kvarh"]
            item.power_factor = round_pf(average_pf(item.kwh, item.kvarh)) if item.kwh > 0 else tr.pf_target
        key = (code, item.start, item.end)
        try:
            plan = plans.get(key)
            if plan is None:
                try:
                    plan = plans[key] = prepare(
                        versions=spans[code], period_start=item.start, period_end=item.end, month_days=month_days
                    )
                except RatingError as exc:
                    plan = plans[key] = exc
            if isinstance(plan, RatingError):
                raise plan
            item.result = rate_prepared(
                plan,
                usage,
                ytd_kwh_before=item.ytd,
                capacity_kva=None if item.max_demand_kw is not None else capacity_of.get(acc),
                max_demand_kw=item.max_demand_kw,
                power_factor=item.power_factor,
                labels=labels,
            )
        except RatingError as exc:
            item.reason = BillingExceptionReason.RATING_ERROR
            item.message = "; ".join(f"{k}: {m}" for k, m in exc.errors.items())
    return out


def _meter_data_missing(row: dict, tr: Traits, by_demand: bool) -> str:
    """Why the period's reads cannot feed this tariff (empty when they can)."""
    if tr.tou and row["tou_missing"]:
        return _("本期有 %(n)s 条示数没有分时段电量，分时电价无法计费") % {"n": row["tou_missing"]}
    if tr.two_part and by_demand and row["demand"] is None:
        return _("基本电费按最大需量计收，但本期示数没有最大需量")
    if tr.pf_target is not None and (row["kvarh_missing"] or row["kvarh"] is None):
        return _("本期示数缺少无功电量，无法计算功率因数")
    return ""


BILL_COLUMNS = (
    "id", "account_id", "unit_id", "period_start", "period_end", "run_id", "tariff_code", "kwh_total", "kwh_sharp",
    "kwh_peak", "kwh_flat", "kwh_valley", "kvarh", "max_demand_kw", "power_factor", "ytd_kwh_before", "estimated",
    "amount", "status", "due_date", "issued_at", "cancelled_at", "cancel_reason", "corrects_id", "created_at",
)
LINE_COLUMNS = (
    "bill_id", "seq", "code", "label", "quantity", "unit_price", "amount", "part_start", "part_end", "note",
)


def bill_values(
    it: Rated, *, run_id: int | None, period_start: date, period_end: date, now: datetime, corrects_id: int | None
) -> dict:
    """A new draft bill's column values (everything but its id)."""
    tou = it.tou
    return {
        "account_id": it.account_id,
        "unit_id": it.unit_id,
        "period_start": period_start,
        "period_end": period_end,
        "run_id": run_id,
        "tariff_code": it.tariff_code,
        "kwh_total": it.kwh,
        "kwh_sharp": tou.get("sharp"),
        "kwh_peak": tou.get("peak"),
        "kwh_flat": tou.get("flat"),
        "kwh_valley": tou.get("valley"),
        "kvarh": it.kvarh,
        "max_demand_kw": it.max_demand_kw,
        "power_factor": it.power_factor,
        "ytd_kwh_before": it.ytd,
        "estimated": it.estimated,
        "amount": it.result.total,
        "status": BillStatus.DRAFT.value,
        "due_date": None,
        "issued_at": None,
        "cancelled_at": None,
        "cancel_reason": "",
        "corrects_id": corrects_id,
        "created_at": now,
    }


def line_values(bill_id: int, item: Rated):
    for n, ln in enumerate(item.result.lines, start=1):
        yield (bill_id, n, ln.code, str(ln.label)[:100], ln.quantity, ln.unit_price, ln.amount, ln.part_start,
               ln.part_end, str(ln.note)[:200])


def bill_rows(
    items: list[Rated],
    *,
    run_id: int | None,
    period_start: date,
    period_end: date,
    now: datetime,
    corrects_id: int | None = None,
) -> list[Bill]:
    """Unsaved Bill objects for the rated items (their lines come from `line_rows` once ids exist)."""
    return [
        Bill(**bill_values(it, run_id=run_id, period_start=period_start, period_end=period_end, now=now,
                           corrects_id=corrects_id))
        for it in items
    ]


def line_rows(bill: Bill, item: Rated) -> list[BillLine]:
    return [BillLine(**dict(zip(LINE_COLUMNS, values, strict=True))) for values in line_values(bill.pk, item)]


def save_bills(items: list[Rated], bills: list[Bill]) -> None:
    """bulk_create bills then their lines. PostgreSQL and SQLite ≥ 3.35 both hand back the new ids."""
    Bill.objects.bulk_create(bills)
    if any(b.pk is None for b in bills):  # a backend without RETURNING: look the ids up once
        ids = dict(
            Bill.objects.filter(
                account_id__in=[b.account_id for b in bills], period_start=bills[0].period_start
            )
            .exclude(status=BillStatus.CANCELLED)
            .values_list("account_id", "pk")
        )
        for b in bills:
            b.pk = ids[b.account_id]
    BillLine.objects.bulk_create([ln for b, it in zip(bills, items, strict=True) for ln in line_rows(b, it)])


def copy_bills(items: list[Rated], *, run_id: int, period_start: date, period_end: date, now: datetime) -> None:
    """PostgreSQL: the bills' ids drawn from their sequence in one query, then bills and lines with COPY."""
    q = connection.ops.quote_name
    bill_table, line_table = Bill._meta.db_table, BillLine._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [bill_table, len(items)]
        )
        ids = [r[0] for r in cur.fetchall()]
        raw = cur.cursor
        cols = BILL_COLUMNS[1:]
        with raw.copy(f"COPY {q(bill_table)} ({', '.join(BILL_COLUMNS)}) FROM STDIN") as copy:
            for bill_id, it in zip(ids, items, strict=True):
                values = bill_values(it, run_id=run_id, period_start=period_start, period_end=period_end, now=now,
                                     corrects_id=None)
                copy.write_row((bill_id, *(values[c] for c in cols)))
        with raw.copy(f"COPY {q(line_table)} ({', '.join(LINE_COLUMNS)}) FROM STDIN") as copy:
            for bill_id, it in zip(ids, items, strict=True):
                for row in line_values(bill_id, it):
                    copy.write_row(row)


def scope_memberships(run: BillingRun):
    """The run's accounts: its route's, or those of every route of its unit's subtree."""
    qs = RouteMembership.objects.all()
    if run.route_id:
        return qs.filter(route_id=run.route_id)
    return qs.filter(route__unit__path__startswith=run.unit.path)


def _chunk(run: BillingRun, ids: list[int], spans, broken, plans: dict) -> None:
    billed = set(
        Bill.objects.filter(among("account_id", ids), period_start=run.period_start)
        .exclude(status=BillStatus.CANCELLED)
        .values_list("account_id", flat=True)
    )
    todo = [i for i in ids if i not in billed]
    items = compute(todo, run.period_start, run.period_end, spans, broken, plans)
    now = timezone.now()
    good = [it for it in items if it.result is not None]
    if good and connection.vendor == "postgresql":
        copy_bills(good, run_id=run.pk, period_start=run.period_start, period_end=run.period_end, now=now)
    elif good:
        save_bills(
            good,
            bill_rows(good, run_id=run.pk, period_start=run.period_start, period_end=run.period_end, now=now),
        )
    # An account's exception is re-decided each time it is processed.
    removed, _by_model = BillingException.objects.filter(among("account_id", ids), run=run).delete()
    added = BillingException.objects.bulk_create(
        [
            BillingException(
                run=run, account_id=it.account_id, reason=it.reason, message=it.message[:1000], created_at=now
            )
            for it in items
            if it.result is None and not it.skipped
        ]
    )
    run.last_account_id = ids[-1]
    run.processed_count += len(ids)
    run.billed_count += len(good)
    run.exception_count += len(added) - removed
    run.save(update_fields=["last_account_id", "processed_count", "billed_count", "exception_count"])


def execute(run_id: int, *, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None) -> BillingRun:
    """Run (or continue) a billing run; a finished run is walked again from the start, billing only
    the accounts still without a bill. Unexpected errors mark the run failed and are re-raised."""
    run = BillingRun.objects.select_related("unit").get(pk=run_id)
    if run.status == BillingRunStatus.DONE:
        run.last_account_id = 0
        run.processed_count = 0
    scope = scope_memberships(run)
    run.status = BillingRunStatus.RUNNING
    run.error = ""
    run.started_at = run.started_at or timezone.now()
    run.finished_at = None
    run.total_count = scope.count()
    run.processed_count = scope.filter(account_id__lte=run.last_account_id).count()
    # Counted once here; each chunk then adds what it wrote.
    run.billed_count = Bill.objects.filter(run=run).exclude(status=BillStatus.CANCELLED).count()
    run.exception_count = BillingException.objects.filter(run=run).count()
    run.save()
    spans, broken = load_spans(run.period_start, run.period_end)
    plans: dict = {}
    if progress:
        progress(run)
    try:
        while True:
            ids = list(
                scope.filter(account_id__gt=run.last_account_id)
                .order_by("account_id")
                .values_list("account_id", flat=True)[:chunk_size]
            )
            if not ids:
                break
            checkpoint = (run.last_account_id, run.processed_count, run.billed_count, run.exception_count)
            try:
                with transaction.atomic():
                    _chunk(run, ids, spans, broken, plans)
            except IntegrityError:
                # Another writer billed some of these accounts meanwhile: the re-check skips them.
                run.last_account_id, run.processed_count, run.billed_count, run.exception_count = checkpoint
                with transaction.atomic():
                    _chunk(run, ids, spans, broken, plans)
            if progress:
                progress(run)
    except Exception as exc:
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    run.status = BillingRunStatus.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at"])
    return run
