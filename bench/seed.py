"""Benchmark: `gridcare seed` of 1,000,000 customers into a fresh PostgreSQL database (target ≤ 120 s).

    .venv/bin/python bench/seed.py [--customers N] [--seed S] [--db NAME] [--keep-indexes] [--drop]

Drops and recreates the database NAME (default gridcare_bench) on the local server, migrates it, then
times the seed command. The database is kept for bench/lookup.py unless --drop is given.
Server: GRIDCARE_BENCH_PG (default postgres://postgres@127.0.0.1:5432/), loopback only.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# The project's venv (make setup), else the interpreter running this script (e.g. a worktree on another venv).
BIN = (
    ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "gridcare").exists() else Path(sys.executable).parent
)
SERVER = os.environ.get("GRIDCARE_BENCH_PG", "postgres://postgres@127.0.0.1:5432/")


def database_url(name: str) -> str:
    parts = urlsplit(SERVER)
    return urlunsplit(parts._replace(path=f"/{name}"))


def check_loopback() -> None:
    host = urlsplit(SERVER).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"refusing to run against a non-loopback server: {host}")


def recreate(name: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop(name: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_env(name: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url(name), "GRIDCARE_DEBUG": "1"}


def run_step(cmd: list[str], env: dict[str, str]) -> None:
    """Run one command of the bench; a failure ends the bench with the command's exit status."""
    done = subprocess.run(cmd, env=env)
    if done.returncode != 0:
        print(f"FAILED (exit {done.returncode}): {' '.join(cmd)}", file=sys.stderr)
        sys.exit(done.returncode)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("customers_pos", nargs="?", type=int, help="number of customers (same as --customers)")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", default="gridcare_bench")
    ap.add_argument("--keep-indexes", action="store_true", help="load with indexes and foreign keys in place")
    ap.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = ap.parse_args()
    n = args.customers_pos or args.customers
    check_loopback()

    print(f"database {args.db}: recreating and migrating…", flush=True)
    try:
        recreate(args.db)
    except psycopg.OperationalError as e:
        print(f"cannot reach PostgreSQL at {SERVER}: {e}", file=sys.stderr)
        return 2
    env = bench_env(args.db)
    t = time.monotonic()
    run_step([str(BIN / "gridcare"), "migrate", "--noinput", "-v", "0"], env)
    print(f"migrated in {time.monotonic() - t:.1f}s", flush=True)

    cmd = [str(BIN / "gridcare"), "seed", "--customers", str(n), "--seed", str(args.seed)]
    if args.keep_indexes:
        cmd.append("--keep-indexes")
    print("$ " + " ".join(cmd[1:]), flush=True)
    t = time.monotonic()
    run_step(cmd, env)
    seconds = time.monotonic() - t

    with psycopg.connect(database_url(args.db)) as conn:
        rows = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "customers_customer",
                "customers_account",
                "customers_premise",
                "customers_accountholding",
                "customers_servicepoint",
                "customers_meter",
            )
        }
    total = sum(rows.values())
    print()
    print(
        f"seed of {n:,} customers: {seconds:.1f} s (target ≤ 120 s) {'OK' if seconds <= 120 else 'TOO SLOW'}"
    )
    detail = ", ".join(f"{k.removeprefix('customers_')} {v:,}" for k, v in rows.items())
    print(f"rows written: {total:,} ({detail})")
    print(f"throughput: {n / seconds:,.0f} customers/s, {total / seconds:,.0f} rows/s")
    if args.drop:
        drop(args.db)
        print(f"database {args.db} dropped")
    else:
        print(f"database kept for bench/lookup.py: DATABASE_URL={database_url(args.db)}")
    return 0 if seconds <= 120 else 1


if __name__ == "__main__":
    sys.exit(main())
