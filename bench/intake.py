"""Benchmark: storm intake, POST /api/v1/fault-reports under an open-loop load on gunicorn with PostgreSQL.

    .venv/bin/python bench/intake.py                       # the README's figures: 1,000 reports/s for 60 s + search
    .venv/bin/python bench/intake.py [--rate 1000] [--duration 60] [--search | --no-search] [--trial 12]
                                     [--worker-class gthread] [--workers 2] [--threads 2] [--connections 128]
                                     [--customers 5000] [--db gridcare_bench_intake] [--cache redis] [--quick]

Set-up (30–50 s): drops and recreates the database (default gridcare_bench_intake) on the local PostgreSQL
server, migrates it with the project's migrations and seeds a small county with the project's own command
(`gridcare seed --customers 5000`: supply units, feeders, 35 transformer areas, 5,180 accounts), then enters,
through the outage service, one fault outage in progress over three transformer areas, so that the reports from
those areas triage to `outage` (the caller is told the estimated restoration) and the rest to `dispatch`.

The load: a storm of customers. Every report comes from its own phone (a valid mainland mobile number, new in
each run) and its own client address (X-Forwarded-For, believed because the server runs with
GRIDCARE_TRUSTED_PROXIES=127.0.0.1, as behind the production proxy): the per-phone and per-IP rate limits stay as
configured and count every report, on Redis as in production (`--cache redis`, GRIDCARE_BENCH_REDIS or
redis://127.0.0.1:6379/14). Each carries the phone's `phone_token` (what the SMS-code step hands the web form),
minted for the bench by the intake module's own issuing function in a Django child process on the bench settings
(`--mint module:function`, found in gridcare.service.intake by default). Of the reports, 30 % name a 户号 inside
the outage, 50 % a 户号 elsewhere, 20 % no 户号 (an unidentified caller: phone and the premise's address).

The client is open-loop: requests leave at fixed intervals of the offered rate whatever the answers, and each
latency runs from the request's scheduled send time, so a slow answer delays nothing and hides nothing (no
coordinated omission: a request that waits for a free connection waits on the clock). The requests are built as
bytes beforehand and sent over `--connections` keep-alive connections spread evenly over the gunicorn workers, from
one asyncio process (`--loop uvloop` if installed; at 1,000/s plain asyncio uses well under 10 % of a core) whose CPU
time and send lag (how late it sent against the schedule) are printed with each phase: a client over 90 % of a core
is the limit, not the server, and is flagged.

Before the server starts, the in-process cost of each endpoint (Django's WSGI handler, no HTTP, one thread): wall
time, CPU time in Django and in its PostgreSQL backend, SQL statements per request, and the report rate two cores
could serve at that cost. These hardly move with the machine's load, unlike the latencies.

Phases, all on one server start: warm-up; then
  (1) POST /api/v1/fault-reports   at --rate for --duration (1,000/s for 60 s)
  (2) GET  /api/v1/health          at --rate for --duration (the framework alone: no database, no auth)
  (3) --search (default on): for each endpoint, the highest constant rate at which p99 stays ≤ 50 ms with every
      answer right, by doubling from 500/s until a trial fails, then bisecting to within 10 %, each trial
      --trial seconds (12) on fresh phones and addresses; a trial stops early once more than 1 % of its requests
      are late, and a failed trial in which the client itself sent over 50 ms late (another process had the
      cores) is repeated once. Each trial waits for a quiet server first (gunicorn and the database's backends,
      autovacuum included, under 10 % of a core), at most 20 s.
For each it prints offered and achieved rate, p50, p99, max, answers by status, the CPU used by the client,
gunicorn and the PostgreSQL backends (and per answer), and after (1) the work orders written by triage outcome;
then the ratio of the two highest rates. gunicorn's own log goes to var/bench-intake-server.log (its first lines
are shown in the summary).

Targets: the fault-report endpoint holds 1,000 req/s (achieved ≥ 99 % of offered) with p99 ≤ 50 ms; max-rate
ratio fault-report ÷ health ≥ 0.5; every answer 201 (fault report) or 200 (health): anything else, a dropped
connection or no answer within 30 s after the phase counts as an error. Exit status 1 when a target is missed
(each named), 0 when all are met, 2 when PostgreSQL, Redis or the intake code is not there.
`--quick` (200/s for 5 s, no search) checks the whole path in under a minute after set-up.

Default server: gthread, 2 workers × 2 threads, as bench/lookup.py chose: two processes give Python both cores
(sync workers cannot keep connections alive, and their core idles while they wait); a report's wall time in
process is about its CPU time in Django plus its PostgreSQL backend's (3.26 ms against 2.09 + 0.80 ms), so while
one thread waits on PostgreSQL or Redis the other has the core, and more threads only queue on the GIL (a waiting
thread can sit out a 5 ms switch interval, which shows in p99). One comparison on a busy machine (load 2-3, 6 s
trials, the intake code of 2026-12-08): highest fault-report rate with p99 ≤ 50 ms 300/s at 2 × 2, 280/s at 2 × 4,
250/s at 2 × 8; health 940, 750 and 470/s. Noisy: compare again on a quiet machine with --threads.
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from lookup import HOST, database_url, free_port, pg_settings, redis_up, stop, worker_pids

ROOT = Path(__file__).resolve().parent.parent
BIN = (
    ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "gridcare").exists() else Path(sys.executable).parent
)
SERVER = os.environ.get("GRIDCARE_BENCH_PG", "postgres://postgres@127.0.0.1:5432/")
REDIS = os.environ.get("GRIDCARE_BENCH_REDIS", "redis://127.0.0.1:6379/14")
REPORTS = "/api/v1/fault-reports"
HEALTH = "/api/v1/health"
TARGET_RATE = 1000  # fault reports/s held
P99_MAX_MS = 50.0
RATIO_MIN = 0.5  # fault-report max rate ÷ health max rate
HELD = 0.99  # achieved ≥ this share of the offered rate
DRAIN_SECONDS = 30.0  # after a phase's last send, how long its answers may take
MINT_CANDIDATES = (
    "phone_token_issue",
    "phone_token_mint",
    "phone_token_make",
    "issue_phone_token",
    "phone_token",
)
# What a storm caller says (gettext is the server's business: these are customer's words, as typed).
DESCRIPTIONS = (
    "家里突然停电了，邻居家也没电",
    "整栋楼都停电了，电梯里可能有人",
    "台风过后门口电线杆倾斜，电线垂到地面",
    "电表箱冒烟，有焦糊味",
    "空开跳闸后合不上，屋里全黑",
    "小区路灯和楼道灯都不亮了",
    "电压很低，灯一闪一闪的，冰箱启动不了",
    "打雷后家里没电了，请尽快派人来看看",
)


# ---------------------------------------------------------------- the server side: database, code, gunicorn


def code_path() -> str:
    """PYTHONPATH for every child: the caller's first (PYTHONPATH=/work/wt-x/src measures that checkout), then
    this checkout's src/."""
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join([*parts, str(ROOT / "src")])


def django_env(db: str, cache: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(db),
        "DJANGO_SETTINGS_MODULE": "gridcare.settings",
        "GRIDCARE_DEBUG": "0",
        "GRIDCARE_SECRET_KEY": "bench-intake",
        "GRIDCARE_ALLOWED_HOSTS": HOST,
        "GRIDCARE_SSL_REDIRECT": "0",
        "GRIDCARE_TRUSTED_PROXIES": HOST,
        "GRIDCARE_LOG_LEVEL": "WARNING",
        "PYTHONPATH": code_path(),
    }
    env.pop("GRIDCARE_REDIS_URL", None)
    if cache == "redis":
        env["GRIDCARE_REDIS_URL"] = REDIS
    return env


def run_step(cmd: list[str], env: dict[str, str], quiet: bool = True) -> str:
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        print(f"FAILED (exit {done.returncode}): {' '.join(cmd)}", file=sys.stderr)
        sys.exit(2)
    return done.stdout


def recreate(db: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')


# Run once after the seed, in a child on the bench database: one fault outage in progress (entered through the
# outage service as the system, as the dispatcher would), and the accounts and addresses the reports name.
_PREPARE = r"""
import json, sys
from datetime import timedelta
import django
django.setup()
from django.utils import timezone
from gridcare.core.audit import Actor
from gridcare.customers.models import Account, Premise, TransformerArea
from gridcare.outages.models import AffectedAccount
from gridcare.outages.services import outage_create
areas = int(sys.argv[1])
now = timezone.now()
codes = list(TransformerArea.objects.order_by("code").values_list("code", flat=True)[:areas])
event = outage_create(
    actor=Actor(), kind="fault", cause_category="typhoon", title="台风致10kV线路故障（压测）",
    scope=[("area", c) for c in codes], planned_start=now - timedelta(minutes=30),
    planned_end=now + timedelta(hours=4), now=now,
)
inside = set(AffectedAccount.objects.filter(event=event).values_list("account_id", flat=True))
rows = list(Account.objects.filter(status="active").values_list("pk", "account_number"))
print(json.dumps({
    "outage": event.number,
    "areas": codes,
    "inside": [n for pk, n in rows if pk in inside],
    "outside": [n for pk, n in rows if pk not in inside],
    "addresses": list(Premise.objects.order_by("pk").values_list("address", flat=True)[:2000]),
    "accounts": Account.objects.count(),
    "transformer_areas": TransformerArea.objects.count(),
}, ensure_ascii=False))
"""


def set_up(args, env: dict[str, str]) -> dict:
    """Fresh database, migrated and seeded, with the outage in progress; the accounts the reports name."""
    t0 = time.monotonic()
    try:
        recreate(args.db)
    except psycopg.OperationalError as e:
        print(f"cannot reach PostgreSQL at {SERVER}: {e}", file=sys.stderr)
        sys.exit(2)
    run_step([str(BIN / "gridcare"), "migrate", "--noinput", "-v", "0"], env)
    t1 = time.monotonic()
    run_step(
        [str(BIN / "gridcare"), "seed", "--customers", str(args.customers), "--seed", str(args.seed)], env
    )
    t2 = time.monotonic()
    out = run_step([sys.executable, "-c", _PREPARE, str(args.outage_areas)], env)
    world = json.loads(out.strip().splitlines()[-1])
    print(
        f"set-up: database {args.db} recreated and migrated in {t1 - t0:.1f} s, `gridcare seed --customers "
        f"{args.customers:,}` in {t2 - t1:.1f} s: {world['accounts']:,} accounts over "
        f"{world['transformer_areas']} transformer areas; fault outage {world['outage']} in progress over areas "
        f"{', '.join(world['areas'])} ({len(world['inside']):,} active accounts inside); "
        f"{time.monotonic() - t0:.1f} s in all",
        flush=True,
    )
    if not world["inside"] or not world["outside"]:
        sys.exit("set-up: the outage covers no account, or every account: change --outage-areas")
    return world


# A Django child on the bench settings that mints phone tokens on request: one JSON list of phones per line in,
# one JSON list of tokens per line out. Minted per phase, so no token is older than a phase.
_MINTER = r"""
import importlib, inspect, json, os, sys
import django
django.setup()
import gridcare
spec = os.environ.get("GRIDCARE_BENCH_MINT", "")
candidates = os.environ["GRIDCARE_BENCH_MINT_CANDIDATES"].split(",")
if spec:
    module_name, _, name = spec.partition(":")
    module = importlib.import_module(module_name)
    names = [name]
else:
    module_name = "gridcare.service.intake"
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        print(json.dumps({"error": f"{module_name} cannot be imported ({e}): is the intake code on PYTHONPATH?"}))
        sys.exit(0)
    names = [n for n in candidates if callable(getattr(module, n, None))]
if not names or not callable(getattr(module, names[0], None)):
    print(json.dumps({"error": f"no token-issuing function in {module_name} (tried {', '.join(candidates)}); "
                               "name it with --mint module:function"}))
    sys.exit(0)
fn = getattr(module, names[0])
params = inspect.signature(fn).parameters
by_keyword = "phone" in params and params["phone"].kind in (params["phone"].KEYWORD_ONLY,
                                                             params["phone"].POSITIONAL_OR_KEYWORD)
def mint(phone):
    token = fn(phone=phone) if by_keyword else fn(phone)
    return token if isinstance(token, str) else getattr(token, "token", None) or str(token)
mint("13800000000")  # fails here, before the bench starts, if the call does not fit
print(json.dumps({"ready": f"{module_name}.{names[0]}", "gridcare": os.path.dirname(gridcare.__file__)}), flush=True)
for line in sys.stdin:
    print(json.dumps([mint(p) for p in json.loads(line)]), flush=True)
"""


class Minter:
    def __init__(self, env: dict[str, str], spec: str) -> None:
        env = {
            **env,
            "GRIDCARE_BENCH_MINT": spec,
            "GRIDCARE_BENCH_MINT_CANDIDATES": ",".join(MINT_CANDIDATES),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _MINTER],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self.proc.stdout.readline() if self.proc.stdout else ""
        try:
            hello = json.loads(first)
        except ValueError:
            self.close()
            sys.exit(2)  # the child's traceback is on stderr already
        if "error" in hello:
            self.close()
            print("phone tokens: " + hello["error"], file=sys.stderr)
            sys.exit(2)
        self.name, self.code = hello["ready"], hello["gridcare"]

    def tokens(self, phones: list[str]) -> list[str]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(phones) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# Run in a child on the bench database, before gunicorn starts: what one answer costs in process (Django's WSGI
# handler as gunicorn calls it, no HTTP, one thread): wall time, CPU time in Django, CPU time in its PostgreSQL
# backend (from /proc) and SQL statements, per fault report and per health check, medians of 10 alternating rounds
# after a warm-up. Figures that a busy machine disturbs far less than the latencies of the open-loop phases.
_IN_PROCESS = r"""
import io, json, os, statistics, sys, time
import django
django.setup()
from django.core.wsgi import get_wsgi_application
from django.db import connection
reports = json.loads(sys.stdin.read())
app = get_wsgi_application()
TICKS = os.sysconf("SC_CLK_TCK")
statuses = []
def start_response(status, headers, exc_info=None):
    statuses.append(status)
def call(method, path, body=b"", ip="127.0.0.1"):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_X_FORWARDED_FOR": ip, "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": sys.stderr}
    if body:
        environ.update(CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(body)))
    out = app(environ, start_response)
    b"".join(out)
    out.close()
plans = {
    "reports": [("POST", "/api/v1/fault-reports", body.encode(), ip) for ip, body in reports],
    "health": [("GET", "/api/v1/health", b"", "127.0.0.1")] * len(reports),
}
warm = 100
for name, calls in plans.items():
    for c in calls[:warm]:
        call(*c)
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
bad = {}
for r in range(rounds):
    for name in ("reports", "health") if r % 2 == 0 else ("health", "reports"):
        part = plans[name][warm:][r::rounds]
        statuses.clear()
        current.clear()
        db0, cpu0, t0 = backend_cpu(), time.process_time(), time.perf_counter()
        with connection.execute_wrapper(counting):
            for c in part:
                current.append(0)
                call(*c)
        wall, cpu, db1 = time.perf_counter() - t0, time.process_time() - cpu0, backend_cpu()
        want = "201 Created" if name == "reports" else "200 OK"
        for st in statuses:
            if st != want:
                bad[st] = bad.get(st, 0) + 1
        counts[name] += current
        per[name]["ms"].append(wall / len(part) * 1000)
        per[name]["cpu_ms"].append(cpu / len(part) * 1000)
        if db0 is not None and db1 is not None:
            per[name]["db_cpu_ms"].append((db1 - db0) / len(part) * 1000)
out = {"bad": bad}
for name, figures in per.items():
    out[name] = {key: statistics.median(v) if v else None for key, v in figures.items()}
    out[name].update(min=min(counts[name]), max=max(counts[name]), mean=sum(counts[name]) / len(counts[name]))
print(json.dumps(out))
"""


def in_process(env: dict[str, str], minter: "Minter", storm: "Storm", n: int) -> dict:
    """Per-answer cost of both endpoints in process (see _IN_PROCESS), on `n` + 100 fresh callers."""
    callers = storm.callers(n + 100)
    tokens = minter.tokens([phone for phone, _ in callers])
    bodies = [body.split(b"\r\n\r\n", 1)[1].decode() for body in storm.reports(callers, tokens)]
    done = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS],
        input=json.dumps([[ip, body] for (_, ip), body in zip(callers, bodies, strict=True)]),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"in-process measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_in_process(figures: dict, n: int) -> None:
    def cost(f: dict) -> str:
        db = f" + {f['db_cpu_ms']:.2f} ms in its PostgreSQL backend" if f["db_cpu_ms"] is not None else ""
        return f"{f['ms']:.2f} ms wall, CPU {f['cpu_ms']:.2f} ms in Django{db}"

    rep, hl = figures["reports"], figures["health"]
    print(
        f"in process (Django's WSGI handler, one thread, {n:,} requests each, medians of 10 rounds): fault report "
        f"{cost(rep)}, {rep['mean']:.2f} SQL statements ({rep['min']}–{rep['max']}); health {cost(hl)}, "
        f"{hl['mean']:.0f} statements"
        + (f"; answers other than 201/200: {figures['bad']}" if figures["bad"] else ""),
        flush=True,
    )
    cpu = rep["cpu_ms"] + (rep["db_cpu_ms"] or 0.0)
    print(
        f"  → one fault report costs {cpu:.2f} ms of CPU before HTTP: 2 cores serve at most "
        f"{2000 / cpu:,.0f} reports/s (the client, HTTP parsing and Redis take their share of the same cores)",
        flush=True,
    )


def start_gunicorn(args, env: dict[str, str], port: int) -> subprocess.Popen:
    cmd = [
        str(BIN / "gunicorn"),
        "gridcare.wsgi",
        "-b",
        f"{HOST}:{port}",
        "-w",
        str(args.workers),
        "-k",
        args.worker_class,
        "--log-level",
        "warning",
        "--keep-alive",
        "75",
        "--backlog",
        "2048",
    ]
    if args.worker_class == "gthread":
        cmd += ["--threads", str(args.threads), "--worker-connections", str(max(1000, args.connections * 2))]
    # The server's own log (a 4xx is a warning line per request) goes to a file, named in the summary.
    log = open(args.server_log, "w")  # noqa: SIM115 - open while gunicorn runs
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as s:
                s.sendall(f"GET {HEALTH} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    stop(proc)
    sys.exit(f"gunicorn did not answer {HEALTH} within 30 s")


# ---------------------------------------------------------------- the requests


class Storm:
    """Fresh callers: a new phone and a new client address for every report of the run. Phones start at a random
    point of the run's own range so that a run soon after another meets no per-phone window of the last."""

    PREFIXES = "133 135 136 137 138 139 150 151 152 157 158 159 177 186".split()

    def __init__(self, world: dict, seed: int) -> None:
        self.rng = random.Random(seed)
        self.inside, self.outside, self.addresses = world["inside"], world["outside"], world["addresses"]
        self.next_phone = random.SystemRandom().randrange(0, 10**8 - 10**7)
        self.prefix = random.SystemRandom().choice(self.PREFIXES)
        self.next_ip = random.SystemRandom().randrange(1, 2**24 - 10**6)
        self.shares = {"inside": 0, "outside": 0, "anonymous": 0}

    def callers(self, n: int) -> list[tuple[str, str]]:
        """`n` (phone, client address) pairs never used before in this run."""
        out = []
        for _ in range(n):
            phone = f"{self.prefix}{self.next_phone:08d}"
            ip = self.next_ip
            self.next_phone += 1
            self.next_ip += 1
            out.append((phone, f"10.{ip >> 16 & 255}.{ip >> 8 & 255}.{ip & 255}"))
        return out

    def reports(self, callers: list[tuple[str, str]], tokens: list[str]) -> list[bytes]:
        rng = self.rng
        out = []
        for (phone, ip), token in zip(callers, tokens, strict=True):
            draw = rng.random()
            body: dict[str, str] = {
                "phone": phone,
                "description": rng.choice(DESCRIPTIONS),
                "phone_token": token,
            }
            if draw < 0.3:
                body["account_number"] = rng.choice(self.inside)
                body["address"] = ""
                self.shares["inside"] += 1
            elif draw < 0.8:
                body["account_number"] = rng.choice(self.outside)
                body["address"] = ""
                self.shares["outside"] += 1
            else:
                body["address"] = rng.choice(self.addresses)
                self.shares["anonymous"] += 1
            data = json.dumps(body, ensure_ascii=False).encode()
            out.append(
                (
                    f"POST {REPORTS} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                    f"X-Forwarded-For: {ip}\r\nContent-Length: {len(data)}\r\n\r\n"
                ).encode()
                + data
            )
        return out


HEALTH_REQUEST = f"GET {HEALTH} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()


# ---------------------------------------------------------------- the open-loop client


class Record:
    """One phase's answers: latency from each request's scheduled send time, statuses (0: connection lost,
    -1: no answer by the end of the phase)."""

    def __init__(self, ok: int, planned: int, limit_s: float) -> None:
        self.ok, self.planned, self.limit = ok, planned, limit_s
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.late = 0
        self.answered = 0
        self.first = self.last = 0.0
        self.done: asyncio.Future | None = None
        self.sent = 0
        self.sending = True
        self.lags: list[float] = []

    def add(self, status: int, t_sched: float, now: float) -> None:
        latency = now - t_sched
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if latency > self.limit:
            self.late += 1
        self.answered += 1
        self.last = now
        if not self.sending and self.answered >= self.sent and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def summary(self, elapsed_offer: float) -> dict:
        lat = sorted(self.latencies)
        good = self.statuses.get(self.ok, 0)
        errors = {s: c for s, c in self.statuses.items() if s != self.ok}
        missing = self.planned - self.answered
        if missing:
            errors[-1] = errors.get(-1, 0) + missing
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else (lat or [0.0]) * 99
        span = max(self.last - self.first, elapsed_offer, 1e-9)
        lags = sorted(self.lags) or [0.0]
        return {
            "planned": self.planned,
            "answered": self.answered,
            "ok": good,
            "errors": dict(sorted(errors.items())),
            "error_count": sum(errors.values()),
            "achieved": good / span,
            "p50": q[49] * 1000,
            "p99": q[98] * 1000 if missing == 0 else float("inf"),
            "max": (lat[-1] * 1000 if lat else 0.0) if missing == 0 else float("inf"),
            "lag_p99": lags[int(0.99 * (len(lags) - 1))] * 1000,
            "lag_max": lags[-1] * 1000,
        }


class Conn(asyncio.Protocol):
    """One keep-alive connection that carries one request at a time; parses just enough of the answer (status,
    Content-Length, Connection: close)."""

    def __init__(self, client: "Client") -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.need = -1
        self.status = 0
        self.closing = False
        self.job: tuple[bytes, float, Record] | None = None
        self.ready: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        if not self.ready.done():
            self.ready.set_result(None)

    def send(self, request: bytes, t_sched: float, record: Record) -> None:
        self.job = (request, t_sched, record)
        self.transport.write(request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.need < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            self.status = int(head[9:12])
            i = head.find(b"\r\ncontent-length:")
            length = 0
            if i >= 0:
                j = head.find(b"\r\n", i + 2)
                length = int(head[i + 17 : j if j >= 0 else len(head)])
            self.closing = b"\r\nconnection: close" in head
            self.need = end + 4 + length
        if len(buf) >= self.need:
            now = time.perf_counter()
            del buf[:]
            self.need = -1
            job, self.job = self.job, None
            if job is not None:
                job[2].add(self.status, job[1], now)
            if self.closing or self.client.per_request:  # sync workers close after every answer
                self.transport.close()  # type: ignore[union-attr]
            else:
                self.client.release(self)

    def connection_lost(self, exc) -> None:
        job, self.job = self.job, None
        if job is not None:
            job[2].add(0, job[1], time.perf_counter())
        self.client.lost(self)


class Client:
    """The connections, the idle ones and the requests waiting (on the clock) for one. With `per_request` (sync
    workers, which close the connection after every answer and block on a connection that sends nothing), each
    request opens its own connection, at most `slots` at a time; the connect time counts in its latency."""

    def __init__(self, port: int, per_request: bool = False, slots: int = 0) -> None:
        self.port = port
        self.per_request, self.free = per_request, slots
        self.conns: list[Conn] = []
        # Idle connections, least recently used first: each request takes the one idle longest, so the load goes
        # round the connections (interleaved by worker at opening) and so round the workers. Taking the most
        # recent one instead kept a light load on a few connections of one worker, one core doing all the work.
        self.idle: deque[Conn] = deque()
        self.backlog: deque[tuple[bytes, float, Record]] = deque()
        self.closing = False
        self.tasks: set[asyncio.Task] = set()  # reconnections under way (the loop keeps only weak references)

    async def connect(self) -> Conn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: Conn(self), HOST, self.port)
        await conn.ready
        return conn

    def add(self, conn: Conn) -> None:
        self.conns.append(conn)
        self.release(conn)

    def release(self, conn: Conn) -> None:
        if self.backlog:
            conn.send(*self.backlog.popleft())
        else:
            self.idle.append(conn)

    def submit(self, request: bytes, t_sched: float, record: Record) -> None:
        if self.per_request:
            if self.free > 0:
                self.free -= 1
                self._spawn(self._send_new((request, t_sched, record)))
            else:
                self.backlog.append((request, t_sched, record))
            return
        if self.idle:
            self.idle.popleft().send(request, t_sched, record)
        else:
            self.backlog.append((request, t_sched, record))

    def lost(self, conn: Conn) -> None:
        if conn in self.conns:
            self.conns.remove(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if self.closing:
            return
        if not self.per_request:
            self._spawn(self._replace())
        elif self.backlog:
            self._spawn(self._send_new(self.backlog.popleft()))
        else:
            self.free += 1

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send_new(self, job: tuple[bytes, float, Record]) -> None:
        try:
            conn = await self.connect()
        except OSError:
            job[2].add(0, job[1], time.perf_counter())
            if not self.closing:
                self.free += 1
            return
        self.conns.append(conn)
        if self.closing:
            conn.transport.close()  # type: ignore[union-attr]
        else:
            conn.send(*job)

    async def _replace(self) -> None:
        try:
            conn = await self.connect()
        except OSError:
            await asyncio.sleep(0.1)
            if not self.closing:
                self._spawn(self._replace())
            return
        if self.closing:
            conn.transport.close()  # type: ignore[union-attr]
        else:
            self.add(conn)

    def close(self) -> None:
        self.closing = True
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.close()
        self.conns.clear()
        self.idle.clear()
        self.backlog.clear()


def _owner(port: int, client_port: int, pids: list[int]) -> int | None:
    """The gunicorn worker holding the server side of a loopback connection (Linux /proc), if it can be told."""
    inode = None
    try:
        with open("/proc/net/tcp") as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                if (
                    int(fields[1].rsplit(":", 1)[1], 16) == port
                    and int(fields[2].rsplit(":", 1)[1], 16) == client_port
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


async def open_pool(client: Client, n: int, pids: list[int]) -> list[int]:
    """`n` keep-alive connections spread evenly over the workers (gunicorn's workers race to accept, and the first
    to wake takes every waiting connection: see bench/lookup.py); the count each worker holds."""
    quota = (
        {pid: n // len(pids) + (1 if i < n % len(pids) else 0) for i, pid in enumerate(pids)} if pids else {}
    )
    held: dict[int | None, list[Conn]] = {pid: [] for pid in pids}
    spare: list[Conn] = []
    record = Record(200, 0, 1.0)
    record.sending = False
    for _ in range(n * 40):
        if sum(len(g) for g in held.values()) >= n:
            break
        conn = await client.connect()
        client.conns.append(conn)
        record.done = asyncio.get_running_loop().create_future()
        record.sent = record.answered + 1
        conn.send(HEALTH_REQUEST, time.perf_counter(), record)
        await asyncio.wait_for(record.done, 10)
        owner = (
            _owner(client.port, conn.transport.get_extra_info("sockname")[1], pids) if len(pids) > 1 else None
        )
        if owner is None:
            held.setdefault(None, []).append(conn)
        elif len(held[owner]) < quota[owner]:
            held[owner].append(conn)
        else:
            spare.append(conn)
    while sum(len(g) for g in held.values()) < n and spare:
        held.setdefault(None, []).append(spare.pop())
    for conn in spare:
        client.conns.remove(conn)
        conn.client = _Discard()  # type: ignore[assignment]
        conn.transport.close()
    groups = [g for g in held.values() if g]
    client.idle = deque(c for row in itertools.zip_longest(*groups) for c in row if c is not None)
    return [len(g) for g in held.values() if g]


class _Discard:
    def lost(self, conn) -> None:
        pass

    def release(self, conn) -> None:
        pass


async def offer(
    client: Client, requests: list[bytes], rate: float, ok: int, early_stop: bool
) -> tuple[Record, float, bool]:
    """Send `requests` at `rate`, each at its own scheduled time whatever the answers; wait for the answers (at
    most DRAIN_SECONDS after the last send). With `early_stop`, stop sending once more than 1 % of the phase is
    known to be late (answered late, or still waiting for a connection past the limit). The record, the offering
    time and whether it stopped early."""
    n = len(requests)
    loop = asyncio.get_running_loop()
    record = Record(ok, n, P99_MAX_MS / 1000)
    record.done = loop.create_future()
    interval = 1.0 / rate
    t0 = time.perf_counter() + 0.01
    record.first = t0
    allowed_late = max(1, int(n * 0.01))
    i = 0
    stopped = False
    check = t0
    while i < n:
        now = time.perf_counter()
        due = min(n, int((now - t0) / interval) + 1)
        if i < due:
            record.lags.append(now - (t0 + i * interval))  # how late the client itself sends
        while i < due:
            client.submit(requests[i], t0 + i * interval, record)
            i += 1
        record.sent = i
        if early_stop and now >= check:
            check = now + 0.05
            waiting_late = 0
            if client.backlog and now - client.backlog[0][1] > record.limit:
                waiting_late = sum(1 for job in client.backlog if now - job[1] > record.limit)
            if record.late + waiting_late > allowed_late:
                stopped = True
                break
        if i < n:
            await asyncio.sleep(max(0.0, t0 + i * interval - time.perf_counter()))
    elapsed = time.perf_counter() - t0
    if stopped:
        record.planned = i - len(client.backlog)
        client.backlog.clear()
    record.sent = record.planned
    record.sending = False
    if record.answered >= record.sent and not record.done.done():
        record.done.set_result(None)
    try:
        await asyncio.wait_for(asyncio.shield(record.done), DRAIN_SECONDS)
    except TimeoutError:
        pass
    return record, elapsed, stopped


# ---------------------------------------------------------------- CPU accounting (Linux /proc)

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_of(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError, ValueError):
            continue
    return out


def _machine_busy() -> tuple[float, float]:
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / TICKS, sum(fields) / TICKS


class CpuMeter:
    """CPU seconds used during a phase by this client, the gunicorn processes, the bench database's PostgreSQL
    backends and the whole machine (other work included)."""

    def __init__(self, master: int, db: str) -> None:
        self.master, self.db = master, db

    def _server_pids(self) -> tuple[list[int], list[int]]:
        gunicorn = [self.master, *worker_pids(self.master)]
        try:
            with psycopg.connect(database_url(self.db), autocommit=True) as conn:
                backends = [
                    r[0]
                    for r in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        [self.db],
                    ).fetchall()
                ]
        except psycopg.Error:
            backends = []
        return gunicorn, backends

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.client0 = time.process_time()
        self.g_pids, self.b_pids = self._server_pids()
        self.g0, self.b0 = _cpu_of(self.g_pids), _cpu_of(self.b_pids)
        self.m0 = _machine_busy()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        client = time.process_time() - self.client0
        _, backends = self._server_pids()  # backends opened during the phase count from zero
        g1, b1 = _cpu_of(self.g_pids), _cpu_of(backends)
        busy1, total1 = _machine_busy()
        gun = sum(g1[p] - self.g0.get(p, g1[p]) for p in g1)
        pg = sum(b1[p] - self.b0.get(p, 0.0) for p in b1)
        machine = (busy1 - self.m0[0]) / max(total1 - self.m0[1], 1e-9) * (os.cpu_count() or 1)
        return {
            "client": client / wall,
            "gunicorn": gun / wall,
            "postgres": pg / wall,
            "machine": machine,
            "wall": wall,
        }


# ---------------------------------------------------------------- phases, search, report


class Bench:
    def __init__(self, args, port: int, master: int, minter: Minter, storm: Storm, pids: list[int]) -> None:
        self.args, self.port, self.minter, self.storm, self.pids = args, port, minter, storm, pids
        self.cpu = CpuMeter(master, args.db)
        self.client: Client | None = None
        self.split: list[int] = []

    async def pool(self) -> Client:
        if self.args.worker_class == "sync":
            if self.client is None:
                self.client = Client(self.port, per_request=True, slots=self.args.connections)
        elif self.client is None or not self.client.conns:
            if self.client is not None:
                self.client.close()
            self.client = Client(self.port)
            self.split = await open_pool(self.client, self.args.connections, self.pids)
        return self.client

    def requests(self, kind: str, n: int) -> list[bytes]:
        if kind == "health":
            return [HEALTH_REQUEST] * n
        callers = self.storm.callers(n)
        tokens = self.minter.tokens([phone for phone, _ in callers])
        return self.storm.reports(callers, tokens)

    async def phase(self, kind: str, rate: float, seconds: float, early_stop: bool = False) -> dict:
        n = max(1, int(rate * seconds))
        requests = self.requests(kind, n)
        client = await self.pool()
        self.cpu.start()
        record, elapsed, stopped = await offer(
            client, requests, rate, 201 if kind == "reports" else 200, early_stop
        )
        cpu = self.cpu.stop()
        figures = record.summary(elapsed)
        if record.answered < record.sent or stopped:
            # Answers still owed (or a stopped overload still being served): start the next phase on new
            # connections once the server is quiet, not on a queue left by this one.
            client.close()
            self.client = None
            await asyncio.sleep(2.0)
        figures.update(offered=rate, seconds=seconds, stopped=stopped, cpu=cpu)
        per = cpu["wall"] / max(record.answered, 1) * 1000  # ms of wall per answer
        figures["per_answer_ms"] = {k: cpu[k] * per for k in ("gunicorn", "postgres")}
        figures["pass"] = (
            not stopped
            and figures["error_count"] == 0
            and figures["p99"] <= P99_MAX_MS
            and figures["achieved"] >= HELD * rate
        )
        return figures

    async def settle(self, limit: float = 0.1, longest: float = 20.0) -> None:
        """Wait (at most `longest` s) until gunicorn and the database's backends, autovacuum included, use under
        `limit` of a core over half a second: a trial starts on a quiet server, not on the last one's tail."""
        deadline = time.monotonic() + longest
        while time.monotonic() < deadline:
            self.cpu.start()
            await asyncio.sleep(0.5)
            used = self.cpu.stop()
            if used["gunicorn"] + used["postgres"] < limit:
                return
        print(f"    (the server was still busy after {longest:g} s: trial started anyway)", flush=True)

    async def search(self, kind: str) -> tuple[float | None, list[dict]]:
        """Highest passing rate: double from --search-start until a trial fails, then bisect to within 10 %."""
        args = self.args
        trials: list[dict] = []
        best, worst = None, None
        rate = float(args.search_start)

        async def trial(r: float) -> bool:
            for attempt in (1, 2):
                await self.settle()
                f = await self.phase(kind, r, args.trial, early_stop=True)
                trials.append(f)
                print("    " + line(f), flush=True)
                await asyncio.sleep(args.pause)
                if f["pass"] or f["lag_max"] <= P99_MAX_MS or attempt == 2:
                    return f["pass"]
                # The client itself was held up longer than the whole p99 budget (another process had the
                # cores): that trial measured the machine, not the server. Once more.
                print("    (the client was held up for over 50 ms: trial repeated)", flush=True)
            return False

        while worst is None and rate <= args.search_max:
            if await trial(rate):
                best, rate = rate, rate * 2
            else:
                worst = rate
        while best is None and worst is not None and worst / 2 >= args.search_min:
            rate = worst / 2
            if await trial(rate):
                best = rate
            else:
                worst = rate
        while best is not None and worst is not None and worst / best > 1.1 and len(trials) < args.max_trials:
            rate = round((best + worst) / 2, -1)
            if await trial(rate):
                best = rate
            else:
                worst = rate
        return best, trials


def line(f: dict) -> str:
    errors = ", ".join(
        f"{'no answer' if s == -1 else 'lost' if s == 0 else s}: {c:,}" for s, c in f["errors"].items()
    )
    cpu = f["cpu"]
    flag = " CLIENT-BOUND" if cpu["client"] > 0.9 else ""
    return (
        f"offered {f['offered']:>6,.0f}/s × {f['seconds']:g} s: achieved {f['achieved']:7,.1f}/s  "
        f"p50 {f['p50']:7.2f} ms  p99 {f['p99']:8.2f} ms  max {f['max']:8.2f} ms  "
        f"{f['ok']:,} right{', errors ' + errors if errors else ''}"
        f"{' (stopped: >1 % late)' if f['stopped'] else ''}  "
        f"client send lag p99 {f['lag_p99']:.2f} ms, max {f['lag_max']:.1f} ms; "
        f"CPU: client {cpu['client']:.0%}{flag}, gunicorn {cpu['gunicorn']:.0%}, PostgreSQL {cpu['postgres']:.0%}, "
        f"machine {cpu['machine']:.0%} of one core (server per answer: {f['per_answer_ms']['gunicorn']:.2f} + "
        f"{f['per_answer_ms']['postgres']:.2f} ms)  {'PASS' if f['pass'] else 'FAIL'}"
    )


def triage_counts(db: str) -> dict[str, int]:
    try:
        with psycopg.connect(database_url(db)) as conn:
            return dict(
                conn.execute("SELECT triage, count(*) FROM service_workorder GROUP BY triage").fetchall()
            )
    except psycopg.Error:
        return {}


def server_setup(args, minter: Minter) -> list[str]:
    import django
    import gunicorn

    loop = "uvloop" if _uvloop() else "asyncio"
    store = f"Redis {REDIS}" if args.cache == "redis" else "local memory (per process)"
    threads = f" --threads {args.threads}" if args.worker_class == "gthread" else ""
    return [
        f"gunicorn {gunicorn.__version__} -k {args.worker_class} -w {args.workers}{threads} --keep-alive 75 "
        f"--backlog 2048; GRIDCARE_DEBUG=0, GRIDCARE_TRUSTED_PROXIES={HOST}",
        f"Python {sys.version.split()[0]}, Django {django.get_version()}; database connections persistent "
        f"(CONN_MAX_AGE {os.environ.get('GRIDCARE_DB_CONN_MAX_AGE', '60')} s)",
        f"code: {minter.code}; phone tokens minted by {minter.name}",
        f"rate-limit store: {store}, limits as configured (not lifted): a new phone and address per report",
        f"client: one {loop} process, {args.connections} keep-alive connections, open loop (latency from the "
        f"scheduled send time)",
        f"machine: {os.cpu_count()} CPUs shared by the client, gunicorn, PostgreSQL and Redis; load average at start "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    ]


def _uvloop():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


async def run(args, port: int, master: int, minter: Minter, storm: Storm) -> dict:
    pids = worker_pids(master) if args.worker_class == "gthread" else []
    bench = Bench(args, port, master, minter, storm, pids)
    out: dict = {}
    # Warm-up: every worker thread opens its database connection, imports lazily and prepares its statements.
    for kind in ("reports", "health"):
        await bench.phase(kind, min(args.rate, 200), 3)
    await asyncio.sleep(args.pause)
    split = f" (connections per worker: {' + '.join(map(str, bench.split))})" if len(bench.split) > 1 else ""
    print(f"\nopen loop at {args.rate:,.0f}/s for {args.duration:g} s each{split}:", flush=True)
    before, shares = triage_counts(args.db), dict(storm.shares)
    for kind, title in (("reports", f"POST {REPORTS}"), ("health", f"GET  {HEALTH}")):
        f = await bench.phase(kind, args.rate, args.duration)
        out[kind] = f
        print(f"  {title:<28} " + line(f), flush=True)
        await asyncio.sleep(args.pause)
        if kind == "reports":
            after = triage_counts(args.db)
            made = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            print(
                "  work orders written: "
                + ", ".join(
                    f"{k or '(none)'} {v:,}" for k, v in sorted(made.items(), key=lambda kv: str(kv[0]))
                )
                + "; reports sent: "
                + ", ".join(
                    f"{storm.shares[k] - shares[k]:,} {what}"
                    for k, what in (
                        ("inside", "inside the outage"),
                        ("outside", "elsewhere"),
                        ("anonymous", "without a 户号"),
                    )
                ),
                flush=True,
            )
    if args.search:
        for kind, title in (("reports", f"POST {REPORTS}"), ("health", f"GET {HEALTH}")):
            print(
                f"\nsearch: highest rate with p99 ≤ {P99_MAX_MS:g} ms, {title}, {args.trial:g} s trials:",
                flush=True,
            )
            best, trials = await bench.search(kind)
            out[f"{kind}_max"] = best
            out[f"{kind}_trials"] = trials
            print(f"  → {title}: {f'{best:,.0f}/s' if best else 'none'}", flush=True)
    if bench.client is not None:
        bench.client.close()
    return out


def judge(args, out: dict) -> list[str]:
    missed = []
    rep, hl = out["reports"], out["health"]
    if rep["achieved"] < HELD * args.rate or rep["p99"] > P99_MAX_MS:
        missed.append(
            f"fault reports at {args.rate:,.0f}/s: achieved {rep['achieved']:,.1f}/s, p99 {rep['p99']:.1f} ms "
            f"(needs ≥ {HELD * args.rate:,.0f}/s and ≤ {P99_MAX_MS:g} ms)"
        )
    if args.rate < TARGET_RATE and not args.quick:
        missed.append(
            f"offered {args.rate:,.0f}/s, below the target's {TARGET_RATE:,}/s (not judged as held)"
        )
    if rep["error_count"]:
        missed.append(f"fault reports answered other than 201: {rep['errors']}")
    if hl["error_count"]:
        missed.append(f"health answered other than 200: {hl['errors']}")
    if args.search:
        r, h = out.get("reports_max"), out.get("health_max")
        if not r or not h:
            missed.append(f"no passing rate found (fault reports {r}, health {h})")
        elif r / h < RATIO_MIN:
            missed.append(f"max-rate ratio {r / h:.2f} < {RATIO_MIN}")
    return missed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--rate", type=float, default=TARGET_RATE, help="offered requests/s of the main phases (1,000)"
    )
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of each main phase (60)")
    ap.add_argument(
        "--search", action=argparse.BooleanOptionalAction, default=True, help="search the max rates"
    )
    ap.add_argument("--trial", type=float, default=12.0, help="seconds per search trial (12)")
    ap.add_argument("--search-start", type=float, default=500.0)
    ap.add_argument("--search-min", type=float, default=50.0)
    ap.add_argument("--search-max", type=float, default=16_000.0)
    ap.add_argument("--max-trials", type=int, default=9, help="search trials per endpoint at most (9)")
    ap.add_argument("--pause", type=float, default=2.0, help="seconds between phases (2)")
    ap.add_argument("--quick", action="store_true", help="200/s for 5 s, no search (a smoke run)")
    ap.add_argument("--connections", type=int, default=128, help="keep-alive connections (128)")
    ap.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="redis", choices=["redis", "locmem"], help="the rate limits' store")
    ap.add_argument("--db", default="gridcare_bench_intake")
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument(
        "--outage-areas", type=int, default=3, help="transformer areas of the outage in progress (3)"
    )
    ap.add_argument("--mint", default="", help="module:function issuing a phone token (found by default)")
    ap.add_argument(
        "--loop", default="asyncio", choices=["asyncio", "uvloop"], help="the client's event loop (asyncio)"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--in-process",
        type=int,
        default=2000,
        help="requests per endpoint of the in-process cost measurement (2,000; 0 skips it)",
    )
    ap.add_argument(
        "--server-log",
        default=str(ROOT / "var" / "bench-intake-server.log"),
        help="gunicorn's output (var/bench-intake-server.log)",
    )
    args = ap.parse_args()
    if args.quick:
        args.rate, args.duration, args.search = min(args.rate, 200.0), min(args.duration, 5.0), False
        args.in_process = min(args.in_process, 200)
    if urlsplit(SERVER).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("loopback servers only")
    if args.cache == "redis" and not redis_up(REDIS):
        print(f"no Redis at {REDIS}: start it, or measure with --cache locmem", file=sys.stderr)
        return 2
    if args.loop == "asyncio":
        globals()["_uvloop"] = lambda: None
    elif args.loop == "uvloop" and not _uvloop():
        sys.exit("uvloop is not installed")

    env = django_env(args.db, args.cache)
    world = set_up(args, env)
    print("PostgreSQL: " + ", ".join(f"{k} {v}" for k, v in pg_settings(args.db).items()))
    minter = Minter(env, args.mint)
    for line_ in server_setup(args, minter):
        print("server: " + line_)
    storm = Storm(world, args.seed)
    if args.in_process:
        print_in_process(in_process(env, minter, storm, args.in_process), args.in_process)
    port = free_port()
    proc = start_gunicorn(args, env, port)
    uv = _uvloop()
    try:
        runner = uv.run if uv else asyncio.run
        out = runner(run(args, port, proc.pid, minter, storm))
    finally:
        stop(proc)
        minter.close()

    rep, hl = out["reports"], out["health"]
    print(
        f"\nsummary ({args.worker_class} -w {args.workers}"
        + (f" --threads {args.threads}" if args.worker_class == "gthread" else "")
        + "):"
    )
    print(
        f"  fault reports at {args.rate:,.0f}/s for {args.duration:g} s: achieved {rep['achieved']:,.1f}/s, "
        f"p50 {rep['p50']:.1f} ms, p99 {rep['p99']:.1f} ms, max {rep['max']:.1f} ms, errors {rep['errors'] or 0}"
    )
    print(
        f"  health        at {args.rate:,.0f}/s for {args.duration:g} s: achieved {hl['achieved']:,.1f}/s, "
        f"p50 {hl['p50']:.1f} ms, p99 {hl['p99']:.1f} ms, max {hl['max']:.1f} ms, errors {hl['errors'] or 0}"
    )
    if args.search:
        r, h = out.get("reports_max"), out.get("health_max")
        ratio = f"{r / h:.2f}" if r and h else "n/a"
        print(
            f"  highest rate with p99 ≤ {P99_MAX_MS:g} ms: fault reports {r or 0:,.0f}/s, health {h or 0:,.0f}/s; ratio {ratio}"
        )
        if any(t["cpu"]["client"] > 0.9 for t in out.get("health_trials", [])):
            print(
                "  note: the client used over 90 % of a core in a health trial: health's max rate is the client's"
            )
    else:
        print("  max-rate ratio: not measured (--no-search / --quick)")
    with open(args.server_log) as f:
        log_lines = f.read().splitlines()
    print(f"  server log: {len(log_lines):,} lines in {args.server_log}" + (":" if log_lines else ""))
    for entry in log_lines[:5]:
        print("    " + entry[:200])
    missed = judge(args, out)
    print(
        f"\ntargets: {TARGET_RATE:,} fault reports/s held with p99 ≤ {P99_MAX_MS:g} ms; max-rate ratio ≥ {RATIO_MIN}; "
        "every answer 201 / 200"
    )
    for m in missed:
        print(f"  MISSED: {m}")
    print("intake benchmark: " + ("OK" if not missed else "MISSED"))
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
