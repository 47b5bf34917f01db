"""Benchmark: the public 户号 query at 1,000,000 accounts under gunicorn (target p99 ≤ 20 ms).

    .venv/bin/python bench/lookup.py [--requests 20000] [--concurrency 8[,1,4,16]] [--db gridcare_bench]
                                     [--worker-class gthread] [--workers 2] [--threads 2] [--compare]

Needs the database that bench/seed.py leaves behind (1,000,000 customers by default). Starts gunicorn on
a free loopback port against it, warms up, then sends a fixed number of requests from concurrent
keep-alive clients (pure-Python asyncio, one process) to
  (a) GET /api/v1/public/accounts/{account_number}   random existing active 户号 from the seed
  (b) GET /api/v1/health                               the framework alone: no database, no auth
and prints requests/s, p50, p99 and max for both, and the ratio (how much of the bare framework's
throughput the lookup keeps). Rate limiting is lifted for the run (GRIDCARE_PUBLIC_QUERY_RATE).

Default server: gthread, 2 workers × 2 threads, the fastest of the configurations `--compare` measures on
this 2-core machine (sync -w 2/-w 4, gthread 2×2, 2×4, 2×8, 3×4): two processes give Python both cores;
a second thread per process runs while the first waits on PostgreSQL; more threads only queue on the GIL
(a waiting thread can sit out a 5 ms switch interval, which shows in p99); sync workers cannot keep
connections alive and their core idles while they wait on the database.
"""

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
SERVER = os.environ.get("GRIDCARE_BENCH_PG", "postgres://postgres@127.0.0.1:5432/")
HOST = "127.0.0.1"
MIN_ACCOUNTS = 1_000_000


def database_url(name: str) -> str:
    return urlunsplit(urlsplit(SERVER)._replace(path=f"/{name}"))


def sample_accounts(db: str, n: int, seed: int) -> tuple[int, list[str]]:
    """Count of accounts and `n` random active 户号 (repeatable for a given seed)."""
    try:
        conn = psycopg.connect(database_url(db))
    except psycopg.OperationalError as e:
        sys.exit(f"bench database {db} is not available ({e}). Run: .venv/bin/python bench/seed.py")
    with conn:
        try:
            total = conn.execute("SELECT count(*) FROM customers_account").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            sys.exit(f"bench database {db} is not migrated. Run: .venv/bin/python bench/seed.py")
        conn.execute("SELECT setseed(%s)", [((seed % 1000) / 1000.0)])
        rows = conn.execute(
            "SELECT account_number FROM customers_account WHERE status = 'active' ORDER BY random() LIMIT %s",
            [min(n, 200_000)],
        ).fetchall()
    numbers = [r[0] for r in rows]
    rng = random.Random(seed)
    return total, [rng.choice(numbers) for _ in range(n)] if numbers else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_gunicorn(db: str, port: int, worker_class: str, workers: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(db),
        "GRIDCARE_DEBUG": "0",
        "GRIDCARE_SECRET_KEY": "bench",
        "GRIDCARE_ALLOWED_HOSTS": HOST,
        "GRIDCARE_SSL_REDIRECT": "0",
        "GRIDCARE_PUBLIC_QUERY_RATE": "100000000",
        "GRIDCARE_LOG_LEVEL": "WARNING",
    }
    cmd = [
        str(BIN / "gunicorn"),
        "gridcare.wsgi",
        "-b",
        f"{HOST}:{port}",
        "-w",
        str(workers),
        "-k",
        worker_class,
        "--log-level",
        "warning",
        "--keep-alive",
        "30",
        "--backlog",
        "2048",
    ]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as s:
                s.sendall(
                    f"GET /api/v1/health HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
                )
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    stop(proc)
    sys.exit("gunicorn did not answer /api/v1/health within 30 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.elapsed = 0.0

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies)
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [lat[0]] * 99
        return {
            "n": len(lat),
            "rps": len(lat) / self.elapsed,
            "p50": q[49] * 1000,
            "p99": q[98] * 1000,
            "max": lat[-1] * 1000,
        }


async def _client(port: int, paths: list[str], next_index, result: Result) -> None:
    reader = writer = None
    try:
        while True:
            i = next_index()
            if i is None:
                return
            request = f"GET {paths[i]} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
            t0 = time.perf_counter()
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - t0)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if close:  # sync workers close after each response: reconnect (counted in the latency)
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def _run(port: int, paths: list[str], concurrency: int) -> Result:
    result = Result()
    counter = iter(range(len(paths)))

    def next_index():
        return next(counter, None)

    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, paths, next_index, result) for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - t0
    return result


def run(port: int, paths: list[str], concurrency: int) -> Result:
    return asyncio.run(_run(port, paths, concurrency))


def measure(args, accounts: list[str], worker_class: str, workers: int, threads: int) -> list[dict]:
    """Start gunicorn once, then run both endpoints at every concurrency level; one row per level."""
    port = free_port()
    label = f"{worker_class} -w {workers}" + (f" --threads {threads}" if worker_class == "gthread" else "")
    print(f"\ngunicorn {label} on {HOST}:{port}", flush=True)
    proc = start_gunicorn(args.db, port, worker_class, workers, threads)
    rows = []
    try:
        lookup_paths = [f"/api/v1/public/accounts/{n}" for n in accounts]
        health_paths = ["/api/v1/health"] * args.requests
        # Warm-up: every worker process and thread opens its database connection and imports lazily.
        run(port, lookup_paths[: args.warmup] + health_paths[: args.warmup], max(args.concurrency))
        for concurrency in args.concurrency:
            figures = {"config": label, "concurrency": concurrency}
            for name, paths in (("lookup", lookup_paths), ("health", health_paths)):
                res = run(port, paths, concurrency)
                figures[name] = res.summary()
                figures[name]["statuses"] = dict(sorted(res.statuses.items()))
            print(f"  {concurrency} concurrent clients:")
            for name, title in (
                ("lookup", "GET /api/v1/public/accounts/{户号}"),
                ("health", "GET /api/v1/health"),
            ):
                f = figures[name]
                print(
                    f"    {title:<34} {f['n']:>6,} req  {f['rps']:>7,.0f} req/s  p50 {f['p50']:6.2f} ms  "
                    f"p99 {f['p99']:6.2f} ms  max {f['max']:7.2f} ms  status {f['statuses']}"
                )
            figures["ratio"] = figures["lookup"]["rps"] / figures["health"]["rps"]
            print(f"    lookup/health throughput ratio: {figures['ratio']:.2f}", flush=True)
            rows.append(figures)
    finally:
        stop(proc)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="gridcare_bench")
    ap.add_argument("--requests", type=int, default=20_000, help="requests per endpoint (default 20,000)")
    ap.add_argument(
        "--concurrency",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[8],
        help="concurrent keep-alive clients, or a comma list to sweep (default 8; the first one is judged)",
    )
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-accounts", type=int, default=MIN_ACCOUNTS, help="refuse smaller databases")
    ap.add_argument(
        "--compare", action="store_true", help="also measure sync workers and other thread counts"
    )
    args = ap.parse_args()
    if urlsplit(SERVER).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("loopback servers only")

    total, accounts = sample_accounts(args.db, args.requests, args.seed)
    if total < args.min_accounts or not accounts:
        print(
            f"bench database {args.db} has {total:,} accounts, fewer than {args.min_accounts:,}: not seeded. "
            "Run: .venv/bin/python bench/seed.py",
            file=sys.stderr,
        )
        return 2
    print(f"database {args.db}: {total:,} accounts; {len(accounts):,} random active 户号 per run")

    configs = [(args.worker_class, args.workers, args.threads)]
    if args.compare:
        others = [
            ("sync", 2, 1),
            ("sync", 4, 1),
            ("gthread", 2, 2),
            ("gthread", 2, 4),
            ("gthread", 2, 8),
            ("gthread", 3, 4),
        ]
        configs += [c for c in others if c != configs[0]]
    rows = [row for cfg in configs for row in measure(args, accounts, *cfg)]
    print("\nsummary: public 户号 query vs bare framework (/api/v1/health)")
    for r in rows:
        lookup, health = r["lookup"], r["health"]
        print(
            f"  {r['config']:<24} c={r['concurrency']:<3} lookup {lookup['rps']:6,.0f} req/s p50 {lookup['p50']:5.1f} "
            f"p99 {lookup['p99']:5.1f} ms | health {health['rps']:6,.0f} req/s p99 {health['p99']:5.1f} ms "
            f"| ratio {r['ratio']:.2f}"
        )
    judged = rows[0]["lookup"]
    ok = judged["p99"] <= 20.0 and set(judged["statuses"]) == {200}
    print(
        f"\npublic 户号 query at {rows[0]['concurrency']} concurrent clients ({rows[0]['config']}): "
        f"p99 {judged['p99']:.2f} ms (target ≤ 20 ms): {'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
