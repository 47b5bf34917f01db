"""Benchmark: the billing run over 1,000,000 accounts with a month of reads on PostgreSQL, against its I/O floor.

    .venv/bin/python bench/billing.py [--db NAME] [--period YYYY-MM] [--customers N] [--sqlite-customers N]

1. Reuses the database NAME (default gridcare_bench, as left by bench/seed.py) when it holds at least N
   customers (default 1,000,000), else seeds it (bench/seed.py); migrates it; makes sure every active meter
   has its reads for the period (`gridcare seed_readings --months 1 --end PERIOD`, which skips reads that
   exist). The period's earlier bills, lines, exceptions and runs are deleted first, so each run starts clean.
2. Times `gridcare billing run --period PERIOD` (all routes of the company) as a user would run it.
3. Measures the I/O floor on the same server: reading the period's reads out (COPY … TO STDOUT of the
   columns the run uses), plus writing the same bill and line rows the run wrote with COPY into the same
   two tables (so the same indexes, constraints and reference checks) in one transaction, rolled back.
4. Prints accounts/s, wall time, floor time and the ratio run / floor (targets: ≤ 30 s, ratio ≤ 2.0).
5. Prints the SQLite figure: a fresh SQLite file with --sqlite-customers customers (default 20,000), one
   month of reads, the same command timed.
Server: GRIDCARE_BENCH_PG (default postgres://postgres@127.0.0.1:5432/), loopback only.
"""

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import BIN, ROOT, bench_env, check_loopback, database_url  # noqa: E402


def sh(args: list[str], env: dict[str, str], quiet: bool = True) -> float:
    t0 = time.monotonic()
    out = subprocess.run([str(BIN / "gridcare"), *args], env=env, cwd=ROOT, capture_output=quiet, text=True)
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
        elapsed = sh(["billing", "run", "--period", period], env)
        out = subprocess.run(
            [
                str(BIN / "gridcare"),
                "shell",
                "-c",
                "from gridcare.billing.models import Bill; print(Bill.objects.count())",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return elapsed, int(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="gridcare_bench")
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--sqlite-customers", type=int, default=20_000)
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args()
    check_loopback()
    env = bench_env(args.db)
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
        clean_period(conn, args.period)
        n_reads = count(
            conn,
            "SELECT count(*) FROM metering_meterread WHERE read_at >= %s::timestamptz AND read_at < %s::timestamptz",
            [f"{start} 00:00+08", f"{end_excl} 00:00+08"],
        )
    print(
        f"billing run --period {args.period} over the whole company ({n_reads:,} reads in the period)…",
        flush=True,
    )
    t0 = time.monotonic()
    sh(["billing", "run", "--period", args.period], env)
    wall = time.monotonic() - t0
    with psycopg.connect(database_url(args.db)) as conn:
        run_id, total, billed, exceptions, secs = conn.execute(
            "SELECT id, total_count, billed_count, exception_count, "
            "extract(epoch FROM finished_at - started_at) FROM billing_billingrun WHERE period = %s AND route_id IS NULL",
            [args.period],
        ).fetchone()
        lines = count(
            conn,
            "SELECT count(*) FROM billing_billline l JOIN billing_bill b ON b.id = l.bill_id "
            "WHERE b.run_id = %s",
            [run_id],
        )
        f = floor(conn, start, end_excl, run_id)
    fl = f["read"] + f["write"]
    print()
    print(
        f"accounts in the run:   {total:,} (billed {billed:,}, exceptions {exceptions:,}; {lines:,} bill lines)"
    )
    print(f"billing run wall time: {wall:.1f} s (command, incl. start-up); run itself {float(secs):.1f} s")
    print(f"throughput:            {total / wall:,.0f} accounts/s")
    print(
        f"I/O floor:             {fl:.1f} s = read {f['read']:.1f} s ({f['read_bytes'] / 1e6:.0f} MB) + "
        f"COPY write {f['write']:.1f} s ({f['bill_rows']:,} bills, {f['line_rows']:,} lines)"
    )
    ok_time = wall <= 30
    ratio = wall / fl
    print(
        f"ratio run / floor:     {ratio:.2f} (target ≤ 2.0) {'OK' if ratio <= 2.0 else 'MISSED'}; "
        f"time target ≤ 30 s {'OK' if ok_time else 'MISSED'}"
    )
    if not args.skip_sqlite:
        secs, bills = sqlite_figure(args.sqlite_customers, args.period)
        print(
            f"SQLite: {args.sqlite_customers:,} customers, {bills:,} bills in {secs:.1f} s "
            f"({bills / secs:,.0f} accounts/s, command incl. start-up)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
