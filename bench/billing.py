"""Benchmark: the billing run over 1,000,000 accounts through the job engine on PostgreSQL, against its I/O floor.

    .venv/bin/python bench/billing.py [--db NAME] [--period YYYY-MM] [--customers N] [--workers 1,2]
                                      [--redis URL] [--sqlite-customers N] [--skip-sqlite]

1. Reuses the database NAME (default gridcare_bench, as left by bench/seed.py) when it holds at least N
   customers (default 1,000,000), else seeds it (bench/seed.py); migrates it; makes sure every active meter
   has its reads for the period (`gridcare seed_readings --months 1 --end PERIOD`, which skips reads that
   exist). The period's earlier bills, lines, exceptions and runs are deleted first, so each run starts clean.
2. For each count of worker processes (default 1 then 2): starts a Celery worker with that many processes on
   Redis (--redis, default redis://127.0.0.1:6379/13, a database of its own that is purged first), waits
   until it answers a ping, and times `gridcare billing run --period PERIOD` (all routes of the company) as
   a user would run it: the command queues the run's job and waits; the workers bill its chunks. The
   period is cleaned before each run; the worker is stopped after it.
3. Measures the I/O floor on the same server: reading the period's reads out (COPY … TO STDOUT of the
   columns the run uses), plus writing the same bill and line rows the run wrote with COPY into the same
   two tables (so the same indexes, constraints and reference checks) in one transaction, rolled back.
4. Prints accounts/s, wall time, floor time and the ratio run / floor of the run with the most workers
   (targets: ≤ 20 s, ratio ≤ 1.2; the exit status is 1 when either is missed), and a line per worker count.
5. Prints the SQLite figure: a fresh SQLite file with --sqlite-customers customers (default 20,000), one
   month of reads, the same command timed.
Server: GRIDCARE_BENCH_PG (default postgres://postgres@127.0.0.1:5432/), loopback only.
"""

import argparse
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import ROOT, bench_env, check_loopback, database_url  # noqa: E402

TARGET_SECONDS = 20.0
TARGET_RATIO = 1.2


def gridcare(*args: str) -> list[str]:
    """The `gridcare` command of this checkout (its src/ first on the path, whichever venv runs the bench)."""
    return [sys.executable, "-m", "gridcare.manage", *args]


def with_src(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)}


def sh(args: list[str], env: dict[str, str], quiet: bool = True) -> float:
    t0 = time.monotonic()
    out = subprocess.run(gridcare(*args), env=with_src(env), cwd=ROOT, capture_output=quiet, text=True)
    if out.returncode != 0:
        sys.exit(
            f"gridcare {' '.join(args)} failed:\n{out.stdout if quiet else ''}{out.stderr if quiet else ''}"
        )
    return time.monotonic() - t0


def count(conn, sql: str, params=()) -> int:
    return conn.execute(sql, params).fetchone()[0]


def exists(name: str) -> bool:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        return bool(count(conn, "SELECT count(*) FROM pg_database WHERE datname = %s", [name]))


def clean_period(conn, period: str) -> None:
    """Delete the period's bills (and their lines), exceptions and runs: the run starts from nothing."""
    conn.execute(
        "DELETE FROM billing_billline WHERE bill_id IN "
        "(SELECT b.id FROM billing_bill b JOIN billing_billingrun r ON r.id = b.run_id WHERE r.period = %s)",
        [period],
    )
    conn.execute(
        "DELETE FROM billing_bill WHERE run_id IN (SELECT id FROM billing_billingrun WHERE period = %s)",
        [period],
    )
    conn.execute(
        "DELETE FROM billing_billingexception WHERE run_id IN (SELECT id FROM billing_billingrun WHERE period = %s)",
        [period],
    )
    for table in ("billing_billingrunchunk", "billing_billingrunlease"):
        conn.execute(
            f"DELETE FROM {table} WHERE run_id IN (SELECT id FROM billing_billingrun WHERE period = %s)",  # noqa: S608
            [period],
        )
    conn.execute("DELETE FROM billing_billingrun WHERE period = %s", [period])
    conn.execute("VACUUM ANALYZE billing_bill")
    conn.execute("VACUUM ANALYZE billing_billline")


def floor(conn, period_start: str, period_end_excl: str, run_id: int) -> dict[str, float]:
    """Read the period's reads out, and COPY the run's bill and line rows into the real tables once more
    (same indexes, constraints and reference triggers), then roll that back. The copies get fresh ids and a
    period 100 years earlier so they do not collide with the run's bills."""
    figures: dict[str, float] = {}
    t0 = time.monotonic()
    buf = io.BytesIO()
    with conn.cursor().copy(
        "COPY (SELECT account_id, consumption, kwh_sharp, kwh_peak, kwh_flat, kwh_valley, kvarh, demand_kw, "
        "status, source FROM metering_meterread "
        f"WHERE read_at >= '{period_start} 00:00+08' AND read_at < '{period_end_excl} 00:00+08') TO STDOUT"
    ) as copy:
        for data in copy:
            buf.write(data)
    figures["read"] = time.monotonic() - t0
    figures["read_bytes"] = buf.tell()
    conn.commit()
    # The rows to write, fetched and shifted before the clock starts.
    offset = count(conn, "SELECT coalesce(max(id), 0) FROM billing_bill") + 1
    bill_cols = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'billing_bill' ORDER BY ordinal_position"
        ).fetchall()
    ]
    line_cols = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'billing_billline' AND column_name <> 'id' "
            "ORDER BY ordinal_position"
        ).fetchall()
    ]
    shifted = {c: c for c in bill_cols}
    shifted["id"] = f"id + {offset}"
    shifted["period_start"] = "period_start - interval '100 years'"
    shifted["period_end"] = "period_end - interval '100 years'"
    bills = io.BytesIO()
    lines = io.BytesIO()
    select_bills = ", ".join(shifted[c] for c in bill_cols)
    select_lines = ", ".join(f"l.bill_id + {offset}" if c == "bill_id" else f"l.{c}" for c in line_cols)
    with conn.cursor().copy(
        f"COPY (SELECT {select_bills} FROM billing_bill WHERE run_id = {int(run_id)}) TO STDOUT"
    ) as copy:
        for data in copy:
            bills.write(data)
    with conn.cursor().copy(
        f"COPY (SELECT {select_lines} FROM billing_billline l JOIN billing_bill b ON b.id = l.bill_id "
        f"WHERE b.run_id = {int(run_id)}) TO STDOUT"
    ) as copy:
        for data in copy:
            lines.write(data)
    conn.commit()
    t0 = time.monotonic()
    with conn.cursor().copy(f"COPY billing_bill ({', '.join(bill_cols)}) FROM STDIN") as copy:
        copy.write(bills.getvalue())
    with conn.cursor().copy(f"COPY billing_billline ({', '.join(line_cols)}) FROM STDIN") as copy:
        copy.write(lines.getvalue())
    figures["bill_rows"] = count(conn, "SELECT count(*) FROM billing_bill WHERE id >= %s", [offset])
    figures["write"] = time.monotonic() - t0
    figures["line_rows"] = count(conn, "SELECT count(*) FROM billing_billline WHERE bill_id >= %s", [offset])
    conn.rollback()
    return figures


def month_bounds(period: str) -> tuple[str, str]:
    y, m = (int(x) for x in period.split("-"))
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    return f"{y:04d}-{m:02d}-01", f"{ny:04d}-{nm:02d}-01"


def sqlite_figure(customers: int, period: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as var:
        env = {**os.environ, "GRIDCARE_VAR": var, "GRIDCARE_DEBUG": "1"}
        env.pop("DATABASE_URL", None)
        sh(["migrate", "-v", "0"], env)
        sh(["seed", "--customers", str(customers), "--seed", "1"], env)
        sh(["seed_readings", "--months", "1", "--end", period, "--seed", "42"], env)
        elapsed = sh(["billing", "run", "--period", period, "--inline"], env)
        out = subprocess.run(
            gridcare("shell", "-c", "from gridcare.billing.models import Bill; print(Bill.objects.count())"),
            env=with_src(env),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return elapsed, int(out.stdout.strip().splitlines()[-1])


def celery(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "gridcare.celery", *args],
        env=with_src(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def start_worker(env: dict[str, str], processes: int, log: Path) -> subprocess.Popen:
    """A Celery worker with `processes` prefork processes; returns once it answers a ping."""
    celery(env, "purge", "-f")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "gridcare.celery",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(processes),
            "-n",
            f"bench{processes}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        env=with_src(env),
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the worker exited ({proc.returncode}); see {log}")
        if celery(env, "inspect", "ping", "-t", "1").returncode == 0:
            return proc
        time.sleep(0.5)
    stop_worker(proc)
    sys.exit(f"the worker did not answer a ping within 60 s; see {log}")


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # warm shutdown of the worker and its processes
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def engine_run(args, env: dict[str, str], processes: int) -> dict:
    """Clean the period, start a worker of `processes` processes, time the command, stop the worker."""
    with psycopg.connect(database_url(args.db), autocommit=True) as conn:
        clean_period(conn, args.period)
    log = Path(tempfile.gettempdir()) / f"gridcare-bench-billing-worker{processes}.log"
    worker = start_worker(env, processes, log)
    try:
        t0 = time.monotonic()
        sh(["billing", "run", "--period", args.period], env)
        wall = time.monotonic() - t0
    finally:
        stop_worker(worker)
    with psycopg.connect(database_url(args.db)) as conn:
        run_id, total, billed, exceptions, secs, chunks = conn.execute(
            "SELECT id, total_count, billed_count, exception_count, "
            "extract(epoch FROM finished_at - started_at), chunks_total FROM billing_billingrun "
            "WHERE period = %s AND route_id IS NULL",
            [args.period],
        ).fetchone()
        lines = count(
            conn,
            "SELECT count(*) FROM billing_billline l JOIN billing_bill b ON b.id = l.bill_id "
            "WHERE b.run_id = %s",
            [run_id],
        )
    return {
        "processes": processes,
        "wall": wall,
        "secs": float(secs),
        "run_id": run_id,
        "total": total,
        "billed": billed,
        "exceptions": exceptions,
        "lines": lines,
        "chunks": chunks,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="gridcare_bench")
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--workers", default="1,2", help="worker process counts, in order (targets: the last)")
    ap.add_argument(
        "--redis",
        default=os.environ.get("GRIDCARE_BENCH_REDIS", "redis://127.0.0.1:6379/13"),
        help="the broker (a Redis database of its own: it is purged)",
    )
    ap.add_argument("--sqlite-customers", type=int, default=20_000)
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args()
    check_loopback()
    env = {**bench_env(args.db), "CELERY_BROKER_URL": args.redis}
    have = 0
    if exists(args.db):
        with psycopg.connect(database_url(args.db)) as conn:
            if count(
                conn, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'customers_customer'"
            ):
                have = count(conn, "SELECT count(*) FROM customers_customer")
    if have < args.customers:
        print(f"seeding {args.customers:,} customers into {args.db} (bench/seed.py)…", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "seed.py"),
                "--customers",
                str(args.customers),
                "--db",
                args.db,
            ],
            check=True,
        )
    sh(["migrate", "-v", "0"], env)
    t = sh(["seed_readings", "--months", "1", "--end", args.period, "--seed", "42"], env)
    print(f"reads for {args.period} in place ({t:.1f} s)", flush=True)
    start, end_excl = month_bounds(args.period)
    with psycopg.connect(database_url(args.db), autocommit=True) as conn:
        n_reads = count(
            conn,
            "SELECT count(*) FROM metering_meterread WHERE read_at >= %s::timestamptz AND read_at < %s::timestamptz",
            [f"{start} 00:00+08", f"{end_excl} 00:00+08"],
        )
    results = []
    for processes in (int(x) for x in args.workers.split(",")):
        print(
            f"billing run --period {args.period} over the whole company ({n_reads:,} reads in the period), "
            f"{processes} worker process(es) on {args.redis}…",
            flush=True,
        )
        results.append(engine_run(args, env, processes))
    last = results[-1]
    with psycopg.connect(database_url(args.db)) as conn:
        f = floor(conn, start, end_excl, last["run_id"])
    fl = f["read"] + f["write"]
    print()
    print(
        f"accounts in the run:   {last['total']:,} (billed {last['billed']:,}, exceptions {last['exceptions']:,}; "
        f"{last['lines']:,} bill lines; {last['chunks']} chunks)"
    )
    print(
        f"I/O floor:             {fl:.1f} s = read {f['read']:.1f} s ({f['read_bytes'] / 1e6:.0f} MB) + "
        f"COPY write {f['write']:.1f} s ({f['bill_rows']:,} bills, {f['line_rows']:,} lines)"
    )
    for r in results:
        print(
            f"{r['processes']} worker process(es): {r['wall']:.1f} s (command, incl. start-up; run itself "
            f"{r['secs']:.1f} s), {r['total'] / r['wall']:,.0f} accounts/s, {r['wall'] / fl:.2f}× the floor"
        )
    wall = last["wall"]
    ratio = wall / fl
    ok_time, ok_ratio = wall <= TARGET_SECONDS, ratio <= TARGET_RATIO
    print(
        f"targets ({last['processes']} processes): time {wall:.1f} s (≤ {TARGET_SECONDS:.0f} s) "
        f"{'OK' if ok_time else 'MISSED'}; ratio run / floor {ratio:.2f} (≤ {TARGET_RATIO}) "
        f"{'OK' if ok_ratio else 'MISSED'}"
    )
    if not args.skip_sqlite:
        secs, bills = sqlite_figure(args.sqlite_customers, args.period)
        print(
            f"SQLite: {args.sqlite_customers:,} customers, {bills:,} bills in {secs:.1f} s "
            f"({bills / secs:,.0f} accounts/s, command --inline incl. start-up)"
        )
    return 0 if ok_time and ok_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
