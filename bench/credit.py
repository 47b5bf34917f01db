"""Benchmark: the monthly credit rating run over 1,000,000 customers on PostgreSQL (target ≤ 60 s), with three
years of events, through the job engine (issue 17).

    .venv/bin/python bench/credit.py [--customers N] [--db NAME] [--as-of YYYY-MM-DD] [--share 0.25] [--seed S]

1. Reuses the database NAME (default gridcare_bench for 1,000,000 customers, gridcare_bench_<N> otherwise) when
   it holds at least N customers, else seeds it (bench/seed.py); migrates it.
2. Starts clean: the credit runs, scores, standings, events and assessments of the database, the credit jobs and
   the credit notices are deleted (the bench database is the bench's own).
3. Inserts with COPY: for a `--share` of the customers (default 25 %) 1–6 active events of mixed codes dated over
   the 36 months up to the second month's as_of, and an approved on-site assessment for every 动力户.
4. Times `gridcare credit_run --as-of AS_OF --inline` as a user would run it (the command creates the
   `credit.monthly_run` job and runs it in its process; wall time, Django start-up included), then the next
   month (the reasons-pointer path: most customers' reasons are unchanged and point at the first month's).
5. Prints seconds, customers/s and the run's breakdown (read / compute / write / standings / notices) from the
   job's result; the exit status is 1 when a month takes more than 60 s.
Server: GRIDCARE_BENCH_PG (default postgres://postgres@127.0.0.1:5432/), loopback only.
"""

import argparse
import io
import json
import os
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import ROOT, bench_env, check_loopback, database_url  # noqa: E402

TARGET_SECONDS = 60.0
# (code, weight, severity?, count?) — payment events are the most frequent, theft and facility damage rare.
CODES = [
    ("arrears", 30, True, False),
    ("arrears_cleared_next_month", 15, False, False),
    ("wrong_bank_account", 3, False, False),
    ("absconder_report", 1, False, False),
    ("accident", 4, False, False),
    ("trip_branch", 6, False, False),
    ("trip_substation", 1, False, False),
    ("concealment", 1, False, False),
    ("unqualified_electrician", 4, False, True),
    ("rules_missing", 5, False, False),
    ("theft", 1, False, False),
    ("violation", 5, False, False),
    ("obstruction", 1, False, False),
    ("facility_damage", 1, False, False),
    ("report_cooperation", 1, False, False),
    ("contract_bad_faith", 2, False, False),
    ("no_test_cooperation", 3, False, False),
    ("inspection_refused", 3, False, False),
    ("rectification_overdue", 4, False, False),
    ("dispatch_rules_ignored", 1, False, False),
]


def gridcare(*args: str) -> list[str]:
    return [sys.executable, "-m", "gridcare.manage", *args]


def with_src(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)}


def sh(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.monotonic()
    out = subprocess.run(gridcare(*args), env=with_src(env), cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"gridcare {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return time.monotonic() - t0, out.stdout


def count(conn, sql: str, params=()) -> int:
    return conn.execute(sql, params).fetchone()[0]


def exists(name: str) -> bool:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        return bool(count(conn, "SELECT count(*) FROM pg_database WHERE datname = %s", [name]))


def months_back(day: date, n: int) -> date:
    import calendar

    index = day.year * 12 + day.month - 1 - n
    y, m = divmod(index, 12)
    return date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


def month_end_after(day: date) -> date:
    nxt = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return (nxt + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def clean(conn) -> None:
    conn.execute(
        "TRUNCATE credit_creditscore, credit_creditstanding, credit_creditrun, credit_siteassessment, "
        "credit_creditevidence, credit_creditcontest, credit_creditevent CASCADE"
    )
    conn.execute("DELETE FROM notify_notification WHERE kind IN ('credit_measure', 'credit_grade_drop')")
    conn.execute("DELETE FROM jobs_job WHERE kind LIKE 'credit.%%'")


def load(conn, *, share: float, first: date, last: date, seed: int) -> tuple[int, int, int]:
    """COPY the synthetic events and assessments; returns (customers with events, events, assessments)."""
    rng = random.Random(seed)
    customers = conn.execute(
        "SELECT id, unit_id, customer_class FROM customers_customer ORDER BY id"
    ).fetchall()
    row = conn.execute("SELECT lighting_classes FROM credit_creditpolicy WHERE id = 1").fetchone()
    lighting = set((row[0] if row else None) or ["residential"])
    codes = [c[0] for c in CODES]
    weights = [c[1] for c in CODES]
    needs_sev = {c[0] for c in CODES if c[2]}
    needs_cnt = {c[0] for c in CODES if c[3]}
    start = months_back(first, 36) + timedelta(days=1)
    span = (last - start).days
    now = "2026-12-01 09:00:00+08"
    ev = io.StringIO()
    sa = io.StringIO()
    n_cust = n_ev = n_sa = 0
    for cid, unit_id, cclass in customers:
        if rng.random() < share:
            n_cust += 1
            k = rng.randint(1, 6)
            for code in rng.choices(codes, weights, k=k):
                day = start + timedelta(days=rng.randrange(span + 1))
                sev = str(rng.randint(1, 3)) if code in needs_sev else "\\N"
                cnt = str(rng.randint(1, 3)) if code in needs_cnt else "\\N"
                ev.write(
                    f"{cid}\t{unit_id}\t{code}\t{day.isoformat()}\t{sev}\t{cnt}\tstaff\tactive\t\t{now}\t\t\t{now}\n"
                )
                n_ev += 1
        if cclass not in lighting:
            day = first - timedelta(days=rng.randrange(365))
            c, p = rng.randint(0, 50) / 10, rng.randint(0, 50) / 10
            sa.write(f"{cid}\t{unit_id}\t{c}\t{p}\t{day.isoformat()}\t\tapproved\t\t{now}\n")
            n_sa += 1
    with conn.cursor() as cur:
        with cur.copy(
            "COPY credit_creditevent (customer_id, unit_id, code, date, severity, count, source, status, "
            "description, recorded_at, decision_note, status_before_contest, updated_at) FROM STDIN"
        ) as copy:
            copy.write(ev.getvalue())
        with cur.copy(
            "COPY credit_siteassessment (customer_id, unit_id, conduct, potential, assessed_on, note, status, "
            "review_note, created_at) FROM STDIN"
        ) as copy:
            copy.write(sa.getvalue())
    conn.execute("ANALYZE credit_creditevent")
    conn.execute("ANALYZE credit_siteassessment")
    return n_cust, n_ev, n_sa


def timed_run(env: dict[str, str], db: str, as_of: date) -> dict:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, out = sh(["credit_run", "--as-of", as_of.isoformat(), "--inline"], env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with psycopg.connect(database_url(db)) as conn:
        row = conn.execute(
            "SELECT result, EXTRACT(EPOCH FROM finished_at - started_at) FROM jobs_job "
            "WHERE kind = 'credit.monthly_run' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    result = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return {
        "wall": wall,
        "job": float(row[1]),
        "cpu": cpu,
        "result": result,
        "out": out.strip().splitlines()[-2:],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--db", default=None, help="default gridcare_bench (1,000,000) or gridcare_bench_<N>")
    ap.add_argument("--as-of", dest="as_of", default="2026-10-31", help="the first month's as_of")
    ap.add_argument("--share", type=float, default=0.25, help="share of customers with events")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    check_loopback()
    db = args.db or ("gridcare_bench" if args.customers == 1_000_000 else f"gridcare_bench_{args.customers}")
    env = bench_env(db)
    have = 0
    if exists(db):
        with psycopg.connect(database_url(db)) as conn:
            if count(
                conn, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'customers_customer'"
            ):
                have = count(conn, "SELECT count(*) FROM customers_customer")
    if have < args.customers:
        print(f"seeding {args.customers:,} customers into {db} (bench/seed.py)…", flush=True)
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "seed.py"), "--customers", str(args.customers), "--db", db],
            check=True,
        )
    sh(["migrate", "-v", "0"], env)
    first = date.fromisoformat(args.as_of)
    second = month_end_after(first)
    with psycopg.connect(database_url(db), autocommit=True) as conn:
        clean(conn)
        t0 = time.monotonic()
        n_cust, n_ev, n_sa = load(conn, share=args.share, first=first, last=second, seed=args.seed)
        total = count(conn, "SELECT count(*) FROM customers_customer")
    print(
        f"database {db}: {total:,} customers; loaded {n_ev:,} events for {n_cust:,} customers "
        f"(36 months to {second}) and {n_sa:,} approved assessments in {time.monotonic() - t0:.1f} s",
        flush=True,
    )
    try:
        print(f"load before the run: {Path('/proc/loadavg').read_text().strip()}")
    except OSError:
        pass
    worst = 0.0
    for label, as_of in (("first month (reasons stored)", first), ("next month (reasons pointer)", second)):
        r = timed_run(env, db, as_of)
        res = r["result"]
        rated = res.get("customers_rated", 0)
        s = res.get("seconds", {})
        worst = max(worst, r["wall"])
        print(
            f"{label}, as of {as_of}: {r['wall']:.1f} s wall (job {r['job']:.1f} s; command CPU {r['cpu']:.1f} s), "
            f"{rated / r['wall']:,.0f} customers/s; rated {rated:,}, reasons stored {res.get('reasons_stored', 0):,}"
        )
        print(
            "  breakdown: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in s.items())
            + f"; grades {' '.join(f'{g}={n:,}' for g, n in res.get('grade_counts', {}).items())}"
        )
        try:
            print(f"  load after: {Path('/proc/loadavg').read_text().strip()}")
        except OSError:
            pass
    ok = worst <= TARGET_SECONDS
    print(f"slowest month {worst:.1f} s (target ≤ {TARGET_SECONDS:.0f} s): {'OK' if ok else 'TOO SLOW'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
