"""Benchmark: the public 户号 query at 1,000,000 accounts under gunicorn, against the bare framework.

    .venv/bin/python bench/lookup.py                      # the README's table: 1, 4, 8 and 16 clients
    .venv/bin/python bench/lookup.py [--requests 20000] [--concurrency 1,4,8,16] [--rounds 10] [--db gridcare_bench]
                                     [--worker-class gthread] [--workers 2] [--threads 2] [--cache redis]
                                     [--compare]

Needs the database that bench/seed.py leaves behind (1,000,000 customers by default). Runs this checkout's code
(its src/ first on PYTHONPATH). First, in process (Django's WSGI handler, no HTTP): each endpoint's wall time, CPU
time in Django and CPU time in its PostgreSQL backend per request, and the statements per lookup. Then it starts
gunicorn on a free loopback port against the database, warms up, and at each concurrency level opens that many
keep-alive connections spread evenly over the gunicorn workers (gunicorn's workers race to accept, and the first
to wake takes all waiting connections: left alone, 8 clients landed 8 + 0 or 6 + 2 and the figures swung with it),
then sends over those same connections, in alternating rounds (`--rounds`), a fixed number of requests to each of
  (a) GET /api/v1/public/accounts/{account_number}   random existing active 户号 from the seed, with the
                                                       money fields (amount due, late fee, prepaid balance)
  (b) GET /api/v1/health                               the framework alone: no database, no auth
from pure-Python asyncio clients in one process, and prints requests/s, p50, p99 and max for both, the
lookup/health ratios, the PostgreSQL settings it measured with and the server set-up.

Targets (judged at 8 and at 16 clients, both in the same run as the bare endpoint): lookup p99 at most
1.5 × health p99, lookup throughput at least 0.6 × health's, every answer a 200. Exit status 1 when one is
missed, 2 when the database is not seeded.

The rate limiter counts every query as in production: its store is Redis (`--cache redis`, the default,
GRIDCARE_BENCH_REDIS or redis://127.0.0.1:6379/14) unless `--cache locmem` is given; the limit itself is
lifted (GRIDCARE_PUBLIC_QUERY_RATE) so that one loopback client is never refused.

Default server: gthread, 2 workers × 2 threads, the fastest of the configurations `--compare` measures on
this 2-core machine (sync -w 2/-w 4, gthread 2×2, 2×4, 2×8, 3×4): two processes give Python both cores;
a second thread per process runs while the first waits on PostgreSQL; more threads only queue on the GIL
(a waiting thread can sit out a 5 ms switch interval, which shows in p99); sync workers cannot keep
connections alive and their core idles while they wait on the database. (`--compare` chose this before the lookup
got its short way through Django and its prepared statement; not re-run since: 2×1 also met both targets in one
quiet run.)
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
# The project's venv (make setup), else the interpreter running this script (e.g. a worktree on another venv).
BIN = (
    ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "gridcare").exists() else Path(sys.executable).parent
)
SERVER = os.environ.get("GRIDCARE_BENCH_PG", "postgres://postgres@127.0.0.1:5432/")
REDIS = os.environ.get("GRIDCARE_BENCH_REDIS", "redis://127.0.0.1:6379/14")
HOST = "127.0.0.1"
MIN_ACCOUNTS = 1_000_000
P99_RATIO_MAX = 1.5  # lookup p99 / health p99
THROUGHPUT_RATIO_MIN = 0.6  # lookup req/s / health req/s
JUDGED = (8, 16)  # concurrency levels the targets apply to
PG_SETTINGS = (
    "server_version",
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "synchronous_commit",
    "fsync",
    "full_page_writes",
    "wal_level",
    "max_connections",
    "random_page_cost",
    "jit",
    "plan_cache_mode",
)


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


def pg_settings(db: str) -> dict[str, str]:
    """The server's settings that bear on the figures, read from the server itself (SHOW: with their units)."""
    with psycopg.connect(database_url(db)) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in PG_SETTINGS}


# Run in a child process on the bench database: statements and in-process cost of each endpoint through Django's
# WSGI handler as gunicorn calls it (no HTTP), so the bench shows where a lookup's time goes without a profiler:
# wall time, CPU time of this process and CPU time of its PostgreSQL backend (from /proc, when the server runs on
# this machine). The endpoints alternate in 10 rounds; each figure is the median of its rounds.
_IN_PROCESS = r"""
import io, json, os, statistics, sys, time
import django
django.setup()
from django.core.wsgi import get_wsgi_application
from django.db import connection
numbers = json.loads(sys.stdin.read())
app = get_wsgi_application()
TICKS = os.sysconf("SC_CLK_TCK")
def environ(path):
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(),
            "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": sys.stderr}
statuses = []
def start_response(status, headers, exc_info=None):
    statuses.append(status)
def get(path):
    body = app(environ(path), start_response)
    b"".join(body)
    body.close()
plans = {"health": ["/api/v1/health"] * len(numbers), "lookup": [f"/api/v1/public/accounts/{n}" for n in numbers]}
for paths in plans.values():
    for p in paths[:200]:
        get(p)  # warm-up: connection, prepared statements, imports
backend = None
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
def backend_cpu():
    try:
        with open(f"/proc/{backend}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, TypeError):
        return None
counts = {name: [] for name in plans}
current = []
def counting(execute, sql, params, many, context):
    current[-1] += 1
    return execute(sql, params, many, context)
rounds = 10
per = {name: {"ms": [], "cpu_ms": [], "db_cpu_ms": []} for name in plans}
for r in range(rounds):
    for name in ("health", "lookup") if r % 2 == 0 else ("lookup", "health"):
        part = plans[name][r::rounds]
        statuses.clear()
        current.clear()
        db0, cpu0, t0 = backend_cpu(), time.process_time(), time.perf_counter()
        with connection.execute_wrapper(counting):
            for p in part:
                current.append(0)
                get(p)
        wall, cpu, db1 = time.perf_counter() - t0, time.process_time() - cpu0, backend_cpu()
        assert statuses == ["200 OK"] * len(part), set(statuses)
        counts[name] += current
        per[name]["ms"].append(wall / len(part) * 1000)
        per[name]["cpu_ms"].append(cpu / len(part) * 1000)
        if db0 is not None and db1 is not None:
            per[name]["db_cpu_ms"].append((db1 - db0) / len(part) * 1000)
out = {}
for name, figures in per.items():
    out[name] = {key: statistics.median(v) if v else None for key, v in figures.items()}
    out[name].update(min=min(counts[name]), max=max(counts[name]), mean=sum(counts[name]) / len(counts[name]))
print(json.dumps(out))
"""


def in_process(db: str, accounts: list[str], cache: str, n: int = 2000) -> dict:
    import json

    env = {**gunicorn_env(db, cache), "DJANGO_SETTINGS_MODULE": "gridcare.settings"}
    done = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS],
        input=json.dumps(accounts[:n]),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"in-process measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def redis_up(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or HOST, parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def gunicorn_env(db: str, cache: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(db),
        "GRIDCARE_DEBUG": "0",
        "GRIDCARE_SECRET_KEY": "bench",
        "GRIDCARE_ALLOWED_HOSTS": HOST,
        "GRIDCARE_SSL_REDIRECT": "0",
        "GRIDCARE_PUBLIC_QUERY_RATE": "100000000",
        "GRIDCARE_LOG_LEVEL": "WARNING",
        # This checkout's code, whatever the venv has installed (a worktree runs on the main checkout's venv).
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
    }
    env.pop("GRIDCARE_REDIS_URL", None)
    if cache == "redis":
        env["GRIDCARE_REDIS_URL"] = REDIS
    return env


def start_gunicorn(
    db: str, port: int, worker_class: str, workers: int, threads: int, cache: str
) -> subprocess.Popen:
    env = gunicorn_env(db, cache)
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


class Slot:
    """One client's keep-alive connection, kept across both endpoints and every round of a level."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader: asyncio.StreamReader | None = reader
        self.writer: asyncio.StreamWriter | None = writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _get(port: int, slot: Slot, path: str) -> int:
    """One request on the slot's connection (reconnecting when the server closed it); its status."""
    if slot.reader is None or slot.writer is None:
        slot.reader, slot.writer = await asyncio.open_connection(HOST, port)
    slot.writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    head = await slot.reader.readuntil(b"\r\n\r\n")
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
        await slot.reader.readexactly(length)
    if close:  # sync workers close after each response: reconnect next time (counted in the latency)
        slot.close()
    return status


async def _client(port: int, slot: Slot, paths: list[str], next_index, result: Result) -> None:
    while True:
        i = next_index()
        if i is None:
            return
        t0 = time.perf_counter()
        status = await _get(port, slot, paths[i])
        result.latencies.append(time.perf_counter() - t0)
        result.statuses[status] = result.statuses.get(status, 0) + 1


async def _chunk(port: int, slots: list[Slot], paths: list[str], result: Result) -> None:
    """Send `paths` over the slots, each client taking the next path as soon as its previous answer is in."""
    counter = iter(range(len(paths)))

    def next_index():
        return next(counter, None)

    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, slot, paths, next_index, result) for slot in slots))
    result.elapsed += time.perf_counter() - t0


# ---------------------------------------------------------------- which worker holds a connection (Linux /proc)
# gunicorn's workers race to accept on one listening socket and each keeps its keep-alive connections to the end;
# the worker that wakes first takes every connection waiting, so 8 clients often landed 8 + 0 or 6 + 2 on the 2
# workers and 16 landed 15 + 1: one process, one core, serving nearly all of them. The split changed from run to
# run and from one endpoint's run to the other's, and the figures with it (health 915 req/s at 8 clients, 2,277 at
# 16). So each level opens its connections until every worker holds its share, and both endpoints use them.


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's worker processes (its children)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == master:
                pids.append(int(entry))
    return sorted(pids)


def _owner(port: int, slot: Slot, pids: list[int]) -> int | None:
    """The worker holding the server side of the slot's connection, if it can be told."""
    if slot.writer is None:
        return None
    client_port = slot.writer.get_extra_info("sockname")[1]
    inode = None
    try:
        with open("/proc/net/tcp") as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if (
                    int(local.rsplit(":", 1)[1], 16) == port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port
                ):
                    inode = fields[9]
                    break
        if inode is None:
            return None
        wanted = f"socket:[{inode}]"
        for pid in pids:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                        return pid
                except OSError:
                    continue
    except OSError:
        return None
    return None


async def open_slots(port: int, concurrency: int, pids: list[int]) -> tuple[list[Slot], list[int]]:
    """`concurrency` keep-alive connections spread evenly over the workers `pids`, and the count each holds.
    A connection that a worker with its share already accepted is held open until the others have theirs (so
    the next race goes elsewhere), then closed. Where the holder cannot be told (no /proc, sync workers, a single
    id) the connections stay as they land."""
    quota = {
        pid: concurrency // len(pids) + (1 if i < concurrency % len(pids) else 0)
        for i, pid in enumerate(pids)
    }
    held: dict[int | None, list[Slot]] = {pid: [] for pid in pids}
    spare: list[Slot] = []
    for _ in range(concurrency * 40):
        if sum(len(group) for group in held.values()) >= concurrency:
            break
        reader, writer = await asyncio.open_connection(HOST, port)
        slot = Slot(reader, writer)
        await _get(port, slot, "/api/v1/health")  # a worker accepts the connection to answer this
        owner = _owner(port, slot, pids) if len(pids) > 1 else None
        if owner is None:
            held.setdefault(None, []).append(slot)
        elif len(held[owner]) < quota[owner]:
            held[owner].append(slot)
        else:
            spare.append(slot)
    while sum(len(group) for group in held.values()) < concurrency and spare:  # no balance within the tries
        slot = spare.pop()
        held.setdefault(_owner(port, slot, pids), []).append(slot)
    for slot in spare:
        slot.close()
    slots = [slot for group in held.values() for slot in group]
    return slots, [len(group) for group in held.values() if group]


async def _level(port: int, concurrency: int, pids: list[int], plan: dict[str, list[str]], rounds: int):
    """Every endpoint of `plan` over the same connections, in alternating rounds (lookup, health, health, lookup,
    ...), so that neither gets the quieter moments of a shared machine."""
    slots, split = await open_slots(port, concurrency, pids)
    results = {name: Result() for name in plan}
    try:
        names = list(plan)
        for r in range(rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                size = -(-len(plan[name]) // rounds)
                await _chunk(port, slots, plan[name][r * size : (r + 1) * size], results[name])
    finally:
        for slot in slots:
            slot.close()
    return results, split


def run_level(port: int, concurrency: int, pids: list[int], plan: dict[str, list[str]], rounds: int = 1):
    return asyncio.run(_level(port, concurrency, pids, plan, rounds))


def measure(args, accounts: list[str], worker_class: str, workers: int, threads: int) -> list[dict]:
    """Start gunicorn once, then run both endpoints at every concurrency level; one row per level."""
    port = free_port()
    label = f"{worker_class} -w {workers}" + (f" --threads {threads}" if worker_class == "gthread" else "")
    print(f"\ngunicorn {label} on {HOST}:{port}", flush=True)
    proc = start_gunicorn(args.db, port, worker_class, workers, threads, args.cache)
    rows = []
    try:
        # Sync workers close every connection after its answer: nothing to balance.
        pids = worker_pids(proc.pid) if worker_class == "gthread" and os.path.isdir("/proc") else []
        lookup_paths = [f"/api/v1/public/accounts/{n}" for n in accounts]
        health_paths = ["/api/v1/health"] * args.requests
        # Warm-up over connections that every worker holds, so that each process and thread has opened its
        # database connection, imported lazily and prepared the lookup's statement before anything is timed.
        run_level(
            port,
            max(args.concurrency),
            pids,
            {"lookup": lookup_paths[: args.warmup], "health": health_paths[: args.warmup]},
        )
        for concurrency in args.concurrency:
            figures: dict = {"config": label, "concurrency": concurrency}
            results, split = run_level(
                port, concurrency, pids, {"lookup": lookup_paths, "health": health_paths}, args.rounds
            )
            for name, res in results.items():
                figures[name] = res.summary()
                figures[name]["statuses"] = dict(sorted(res.statuses.items()))
            figures["split"] = split
            where = f" (connections per worker: {' + '.join(map(str, split))})" if len(pids) > 1 else ""
            print(f"  {concurrency} concurrent clients{where}:")
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
            figures["p99_ratio"] = figures["lookup"]["p99"] / figures["health"]["p99"]
            print(
                f"    lookup/health: throughput {figures['ratio']:.2f}, p99 {figures['p99_ratio']:.2f}",
                flush=True,
            )
            rows.append(figures)
    finally:
        stop(proc)
    return rows


def judge(row: dict) -> list[str]:
    """What a judged row misses (empty: every target met)."""
    lookup, health = row["lookup"], row["health"]
    missed = []
    if row["p99_ratio"] > P99_RATIO_MAX:
        missed.append(f"p99 {lookup['p99']:.1f} ms > {P99_RATIO_MAX} × health's {health['p99']:.1f} ms")
    if row["ratio"] < THROUGHPUT_RATIO_MIN:
        missed.append(f"throughput {row['ratio']:.2f} × health's < {THROUGHPUT_RATIO_MIN}")
    if set(lookup["statuses"]) != {200} or set(health["statuses"]) != {200}:
        missed.append(f"answers other than 200: lookup {lookup['statuses']}, health {health['statuses']}")
    return missed


def server_setup(args) -> list[str]:
    import django
    import gunicorn

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    store = f"Redis {REDIS}" if args.cache == "redis" else "local memory (per process)"
    return [
        f"gunicorn {gunicorn.__version__} -k {args.worker_class} -w {args.workers}"
        + (f" --threads {args.threads}" if args.worker_class == "gthread" else "")
        + " --keep-alive 30 --backlog 2048; GRIDCARE_DEBUG=0",
        f"Python {sys.version.split()[0]}, Django {django.get_version()}; database connections persistent "
        f"(CONN_MAX_AGE {os.environ.get('GRIDCARE_DB_CONN_MAX_AGE', '60')} s), server-side binding "
        f"{'off' if os.environ.get('GRIDCARE_DB_SERVER_SIDE_BINDING') == '0' else 'on'}, a statement prepared "
        f"after {os.environ.get('GRIDCARE_DB_PREPARE_THRESHOLD', '5')} runs on a connection (GRIDCARE_DB_PREPARE_THRESHOLD)",
        f"code: {ROOT / 'src'}",
        f"rate-limit store: {store} (every query counted, limit lifted)",
        f"machine: {os.cpu_count()} CPUs shared by the load generator, gunicorn, PostgreSQL and Redis; "
        f"load average at start {load}",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="gridcare_bench")
    ap.add_argument("--requests", type=int, default=20_000, help="requests per endpoint and level (20,000)")
    ap.add_argument(
        "--concurrency",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1, 4, 8, 16],
        help="concurrent keep-alive clients, a comma list (default 1,4,8,16; the targets apply at 8 and 16)",
    )
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="each level alternates the two endpoints in this many rounds over the same connections (10)",
    )
    ap.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="redis", choices=["redis", "locmem"], help="the rate limiter's store")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-accounts", type=int, default=MIN_ACCOUNTS, help="refuse smaller databases")
    ap.add_argument(
        "--compare", action="store_true", help="also measure sync workers and other thread counts"
    )
    args = ap.parse_args()
    if urlsplit(SERVER).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("loopback servers only")
    if args.cache == "redis" and not redis_up(REDIS):
        print(f"no Redis at {REDIS}: start it, or measure with --cache locmem", file=sys.stderr)
        return 2

    total, accounts = sample_accounts(args.db, args.requests, args.seed)
    if total < args.min_accounts or not accounts:
        print(
            f"bench database {args.db} has {total:,} accounts, fewer than {args.min_accounts:,}: not seeded. "
            "Run: .venv/bin/python bench/seed.py",
            file=sys.stderr,
        )
        return 2
    print(f"database {args.db}: {total:,} accounts; {len(accounts):,} random active 户号 per run")
    print("PostgreSQL: " + ", ".join(f"{k} {v}" for k, v in pg_settings(args.db).items()))
    setup = server_setup(args)
    for line in setup:
        print("server: " + line)
    proc_figures = in_process(args.db, accounts, args.cache)
    lk, hl = proc_figures["lookup"], proc_figures["health"]

    def cost(f: dict) -> str:
        db = f" + {f['db_cpu_ms']:.2f} ms in its PostgreSQL backend" if f["db_cpu_ms"] is not None else ""
        return f"{f['ms']:.2f} ms wall, CPU {f['cpu_ms']:.2f} ms in Django{db}"

    print(
        f"in process (Django's WSGI handler, one thread, 2,000 requests each, medians of 10 rounds): lookup "
        f"{cost(lk)}, {lk['mean']:.2f} SQL statements per request ({lk['min']}–{lk['max']}); health {cost(hl)}, "
        f"{hl['mean']:.0f} statements",
        flush=True,
    )

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
            f"| ratios: throughput {r['ratio']:.2f}, p99 {r['p99_ratio']:.2f}"
        )
    first = [r for r in rows if r["config"] == rows[0]["config"]]
    print("\nREADME table (" + first[0]["config"] + "):\n")
    print(
        "| concurrent clients | 户号 query req/s | p50 | p99 | health req/s | health p99 | "
        "throughput ratio | p99 ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in first:
        lookup, health = r["lookup"], r["health"]
        print(
            f"| {r['concurrency']} | {lookup['rps']:,.0f} | {lookup['p50']:.1f} ms | {lookup['p99']:.1f} ms | "
            f"{health['rps']:,.0f} | {health['p99']:.1f} ms | {r['ratio']:.2f} | {r['p99_ratio']:.2f} |"
        )

    judged = [r for r in first if r["concurrency"] in JUDGED]
    missing_levels = sorted(set(JUDGED) - {r["concurrency"] for r in judged})
    print(
        f"\ntargets at {' and '.join(map(str, JUDGED))} clients: lookup p99 ≤ {P99_RATIO_MAX} × health p99, "
        f"throughput ≥ {THROUGHPUT_RATIO_MIN} × health's, every answer 200"
    )
    ok = not missing_levels
    if missing_levels:
        print(f"  not measured at {missing_levels}: MISSED (add them to --concurrency)")
    for r in judged:
        missed = judge(r)
        ok = ok and not missed
        print(
            f"  {r['concurrency']:>2} clients: p99 ratio {r['p99_ratio']:.2f}, throughput ratio {r['ratio']:.2f}: "
            + ("OK" if not missed else "MISSED (" + "; ".join(missed) + ")")
        )
    print("lookup benchmark: " + ("OK" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
