"""Benchmark: the Python CPU of a billing run's chunk, in process (repeatable while other work shares the CPUs).

    .venv/bin/python bench/billing_cpu.py [--db NAME] [--period YYYY-MM] [--chunks 20] [--chunk-size 5000]
                                          [--profile FILE]

Against a database that holds the period's reads (as `bench/billing.py` leaves it, or any database seeded with
`gridcare seed` and `gridcare seed_readings`): creates a run of the whole company for the period in a
transaction, bills `--chunks` chunks of `--chunk-size` accounts (the first accounts of the company's routes,
their bills of the period deleted first) through the run's own chunk code (`runs._chunk_write`: reads, rating,
COPY), each in a savepoint rolled back, and rolls everything back at the end: the database is left as found.
Prints the CPU time of this process (time.process_time: the database server's time is not in it) per 1,000
accounts, split into the reads and rating (`compute`), the COPY text (`copy_payloads`) and the rest (COPY
calls, exceptions, the already-billed check). `--profile FILE` writes a cProfile of the chunks; `--check` also rates every chunk without the integer rater
(`rating.compile_prepared`) and compares every bill and line.
Server: GRIDCARE_BENCH_PG (default postgres://postgres@127.0.0.1:5432/), loopback only.
"""

import argparse
import cProfile
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import ROOT, check_loopback, database_url  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="gridcare_bench")
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--chunk-size", type=int, default=5000)
    ap.add_argument("--profile", default="")
    ap.add_argument(
        "--check",
        action="store_true",
        help="also rate every chunk without the integer rater and compare every bill and line (not timed)",
    )
    args = ap.parse_args()
    check_loopback()
    os.environ["DATABASE_URL"] = database_url(args.db)
    os.environ.setdefault("GRIDCARE_DEBUG", "1")  # as bench_env() and the workers of bench/billing.py
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from gridcare.billing import runs
    from gridcare.billing.models import BillingRun
    from gridcare.billing.services import parse_period
    from gridcare.org.models import SupplyUnit

    print(f"gridcare from {runs.__file__}")
    start, end = parse_period(args.period)
    timers = {"compute": 0.0, "copy_payloads": 0.0}

    def timed(name, fn):
        def wrapper(*a, **kw):
            t0 = time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                timers[name] += time.process_time() - t0

        return wrapper

    plain_compute = runs.compute
    runs.compute = timed("compute", runs.compute)
    runs.copy_payloads = timed("copy_payloads", runs.copy_payloads)
    profiler = cProfile.Profile() if args.profile else None
    accounts = bills = checked = 0
    total = 0.0
    with transaction.atomic():
        root = SupplyUnit.objects.order_by("path").first()
        # A run of its own (the period's dates under another name, so it does not meet the company's run of
        # the period), and the accounts it bills rid of the period's bills, all rolled back at the end.
        run = BillingRun.objects.create(
            period="cpu", period_start=start, period_end=end, unit=root, created_at=timezone.now()
        )
        members = list(
            runs.scope_memberships(run).order_by("account_id").values_list("account_id", flat=True)
        )
        members = members[: args.chunks * args.chunk_size]
        with connection.cursor() as cur:
            cur.execute(
                "DELETE FROM billing_billline WHERE bill_id IN (SELECT id FROM billing_bill "
                "WHERE period_start = %s AND account_id BETWEEN %s AND %s)",
                [start, members[0], members[-1]],
            )
            cur.execute(
                "DELETE FROM billing_bill WHERE period_start = %s AND account_id BETWEEN %s AND %s",
                [start, members[0], members[-1]],
            )
        spans, broken, plans, _routes = runs._execution(run, "bench")
        for n in range(args.chunks):
            ids = members[n * args.chunk_size : (n + 1) * args.chunk_size]
            if not ids:
                break
            sid = transaction.savepoint()
            if profiler:
                profiler.enable()
            t0 = time.process_time()
            done, _exc, _skipped = runs._chunk_write(run, ids, spans, broken, plans)
            total += time.process_time() - t0
            if profiler:
                profiler.disable()
            transaction.savepoint_rollback(sid)
            if args.check:
                checked += check(runs, plain_compute, ids, start, end, spans, broken)
            accounts += len(ids)
            bills += done
        transaction.set_rollback(True)
    if not accounts:
        sys.exit("no accounts to bill: does the database hold routes and the period's reads?")
    per = 1000 / accounts
    rest = total - timers["compute"] - timers["copy_payloads"]
    print(
        f"{accounts:,} accounts ({bills:,} bills) in {args.chunks} chunk(s) of {args.chunk_size:,}: CPU "
        f"{total * per * 1000:.1f} ms per 1,000 accounts = compute (reads + rating) "
        f"{timers['compute'] * per * 1000:.1f} + COPY text {timers['copy_payloads'] * per * 1000:.1f} "
        f"+ rest {rest * per * 1000:.1f}"
    )
    if args.check:
        print(f"check: {checked:,} bills rated identically with and without the integer rater")
    if profiler:
        profiler.dump_stats(args.profile)
        print(f"profile written to {args.profile}")
    return 0


def check(runs, compute, ids, start, end, spans, broken) -> int:
    """Rate the chunk's accounts with and without the integer rater (fresh plan caches); every bill's lines
    and total must be the same. Returns the bills compared."""
    fast = compute(ids, start, end, spans, broken, {})
    real = runs.compile_prepared
    runs.compile_prepared = lambda *a, **k: None
    try:
        reference = compute(ids, start, end, spans, broken, {})
    finally:
        runs.compile_prepared = real
    n = 0
    for a, b in zip(fast, reference, strict=True):
        assert (a.account_id, a.reason, a.message, a.skipped) == (
            b.account_id,
            b.reason,
            b.message,
            b.skipped,
        )
        if a.result is None:
            assert b.result is None
            continue
        lines_a, lines_b = [tuple(x) for x in a.result.lines], [tuple(x) for x in b.result.lines]
        assert lines_a == lines_b and a.result.total == b.result.total, (a.account_id, lines_a, lines_b)
        n += 1
    return n


if __name__ == "__main__":
    sys.exit(main())
