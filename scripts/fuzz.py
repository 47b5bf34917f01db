#!/usr/bin/env python3
"""Fuzz the JSON API with schemathesis, once per role, against a throwaway PostgreSQL database.

    scripts/fuzz.py                      # the CI run: fixed seed, few examples per operation
    scripts/fuzz.py --max-examples 200   # a longer sweep
    scripts/fuzz.py --roles admin,anonymous --keep   # some roles; keep the database afterwards

Steps: create a fresh database (test_fuzz_<pid>), then in one Django process migrate, seed a small demo
(fixed seed and day) and create one API token per staff role (its demo login), one for the portal demo
customer, and an Ed25519 key pair for a terminal and a collection agent; start gunicorn on a free port with
the write probe on (GRIDCARE_FUZZ_WRITE_PROBE=1, see gridcare.core.fuzzprobe); run `schemathesis run` on
/api/v1/openapi.json as each role, as anonymous, and as the terminal and the agent (their own routes, every
request signed; scripts/fuzz_hooks.py); stop the server; drop the database. The coverage phase (boundary
and negative values of every field) runs for --coverage-roles, examples and fuzzing for every role.

Exit status is non-zero when any role's run fails: a 5xx, a status code, content type, header or body
that the OpenAPI document does not describe, or an error answer that committed a write. Logs and JUnit
reports: var/fuzz/ (--report-dir); `schemathesis` prints a curl line to replay each failure.
"""

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("GRIDCARE_FUZZ_BIN", ROOT / ".venv" / "bin"))
PY = str(BIN / "python")
PG_URL = os.environ.get("GRIDCARE_FUZZ_PG_URL", "postgres://postgres@127.0.0.1:5432")
# A fixed day for the demo data, so every run sees the same database.
TODAY = "2026-06-15"
# The checks every response must pass (schemathesis' names) plus ours from fuzz_hooks.py. Left out on
# purpose: positive_data_acceptance (valid input may well name a customer that does not exist: 404),
# negative_data_rejection, ignored_auth, missing_required_header, unsupported_method (not part of this
# gate yet: they judge how input is refused, not whether the answer is documented; try them with
# `--checks all`), use_after_free and ensure_resource_availability (stateful links this API does not
# declare).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "no_write_on_error",
]
ANONYMOUS = "anonymous"
CUSTOMER = "customer"
# Signed machine callers fuzz only their own routes (by OpenAPI tag).
TERMINAL = "terminal"
AGENT = "collection_agent"
SIGNED = "signed:"
SIGNED_TAGS = {TERMINAL: "terminal", AGENT: "agent"}


def run(cmd, env, **kw):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, env=env, check=True, cwd=ROOT, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str) -> None:
    """One statement on the server's `postgres` database (psycopg: no psql client needed)."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


# The demo the fuzzer works on: small, and the same on every run (fixed seed and day).
SETUP_COMMANDS = [
    ["migrate", "--noinput", "-v", "0"],
    ["seed", "--customers", "40", "--seed", "42", "--if-empty"],
    ["seed_readings", "--months", "3", "--seed", "42", "--today", TODAY],
    ["demo_billing", "--months", "3", "--today", TODAY],
    ["demo_payments", "--recent", "2", "--seed", "42", "--today", TODAY],
    ["demo_collections", "--seed", "42", "--today", TODAY],
    ["demo_channels", "--seed", "42", "--today", TODAY],
]


def make_tokens(out: Path) -> None:
    """Inside Django: migrate and seed the demo, then one token per staff role (the demo login of that
    role), the portal customer, and a key pair for a terminal and a collection agent."""
    import django
    from django.core.management import call_command

    django.setup()
    for command in SETUP_COMMANDS:
        print("+ gridcare", " ".join(command), flush=True)
        call_command(*command)
    from gridcare.core.audit import Actor
    from gridcare.core.permissions import STAFF_ROLES, Role
    from gridcare.customers import demo
    from gridcare.org.models import User
    from gridcare.org.services import api_token_create

    lines = []
    by_role = {role: name for name, role, *_ in demo.DEMO_STAFF}
    for role in STAFF_ROLES:
        user = User.objects.get(username=by_role[role])
        _, key = api_token_create(actor=Actor(), user=user, name=f"fuzz {role}")
        lines.append(f"{role} {key}")
    # Signed machine callers: a terminal and a collection agent at the company, keys next to the tokens.
    from gridcare.org.models import SupplyUnit
    from gridcare.payments.channels import agents, signatures, terminals
    from gridcare.payments.choices import AGENT_CHANNELS

    company = SupplyUnit.objects.filter(parent=None).order_by("path").first()
    for role, header, code, add in (
        (
            TERMINAL,
            "X-Terminal-Id",
            "FZT1",
            lambda pem: terminals.terminal_add(
                actor=Actor(), code="FZT1", unit=company, public_key=pem, name="fuzz"
            ),
        ),
        (
            AGENT,
            "X-Agent-Id",
            "FZA1",
            lambda pem: agents.agent_add(
                actor=Actor(),
                code="FZA1",
                name="fuzz",
                kind=list(AGENT_CHANNELS)[0],
                unit=company,
                public_key=pem,
            ),
        ),
    ):
        private, pem = signatures.ed25519_key_pair()
        add(pem)
        key_file = out.parent / f"{role}.pem"
        key_file.write_text(private)
        lines.append(f"{role} {SIGNED}{header}:{code}:{key_file}")
    customer = User.objects.get(username=demo.PORTAL_DEMO_PHONE, role=Role.CUSTOMER)
    _, key = api_token_create(actor=Actor(), user=customer, name="fuzz customer")
    lines.append(f"{CUSTOMER} {key}")
    out.write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-examples", type=int, default=int(os.environ.get("GRIDCARE_FUZZ_EXAMPLES", "5")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("GRIDCARE_FUZZ_SEED", "20261206")))
    ap.add_argument("--roles", default="", help="comma-separated roles (default: every role and anonymous)")
    ap.add_argument(
        "--coverage-roles",
        default="admin,anonymous",
        help="roles that also run the coverage phase (boundary and negative values of every field, a few "
        "thousand cases each); the others run examples and fuzzing only. 'all' for every role",
    )
    ap.add_argument("--workers", default="2")
    ap.add_argument("--keep", action="store_true", help="keep the database and print its URL")
    ap.add_argument("--report-dir", default=str(ROOT / "var" / "fuzz"))
    ap.add_argument("--make-tokens", help=argparse.SUPPRESS)
    args, extra = ap.parse_known_args()

    if args.make_tokens:
        make_tokens(Path(args.make_tokens))
        return 0

    db = f"test_fuzz_{os.getpid()}"
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT / "src"),
        DJANGO_SETTINGS_MODULE="gridcare.settings",
        DATABASE_URL=f"{PG_URL}/{db}",
        GRIDCARE_DEBUG="0",
        GRIDCARE_API_DOCS_ENABLED="1",  # production settings, with the OpenAPI document the fuzzer reads
        GRIDCARE_SECRET_KEY="fuzz-" + "x" * 50,
        GRIDCARE_SSL_REDIRECT="0",
        GRIDCARE_FUZZ_WRITE_PROBE="1",
        GRIDCARE_PUBLIC_QUERY_RATE="1000000",
        GRIDCARE_VAR=str(Path(args.report_dir) / "var"),
        SCHEMATHESIS_HOOKS="fuzz_hooks",
    )
    env["PYTHONPATH"] += os.pathsep + str(ROOT / "scripts")
    report_dir = Path(args.report_dir)
    shutil.rmtree(report_dir, ignore_errors=True)
    (report_dir / "var").mkdir(parents=True)
    manage = [PY, "-m", "gridcare.manage"]
    server = None
    started = time.monotonic()
    failed: list[str] = []
    psql(f'CREATE DATABASE "{db}"')
    try:
        if not (ROOT / "src/gridcare/locale/en/LC_MESSAGES/django.mo").exists():
            run([*manage, "compilemessages", "-v", "0"], env)
        tokens_file = report_dir / "tokens.txt"
        # One process for the whole setup: Django starts once.
        run([PY, __file__, "--make-tokens", str(tokens_file)], env)
        tokens = dict(line.split(" ", 1) for line in tokens_file.read_text().splitlines())
        roles = [ANONYMOUS, *tokens] if not args.roles else args.roles.split(",")
        setup_s = time.monotonic() - started

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_log = open(report_dir / "server.log", "w")  # noqa: SIM115
        server = subprocess.Popen(
            [
                PY,
                "-m",
                "gunicorn",
                "gridcare.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "3",
                "--timeout",
                "60",
                "--limit-request-line",
                "0",
            ],
            env=env,
            cwd=ROOT,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/api/v1/health", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start, see " + str(report_dir / "server.log"))

        timings = []
        for role in roles:
            t0 = time.monotonic()
            cmd = [
                PY,
                "-m",
                "schemathesis.cli",
                "run",
                f"{base}/api/v1/openapi.json",
                "--checks",
                ",".join(CHECKS),
                "--max-examples",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--phases",
                "examples,coverage,fuzzing"
                if args.coverage_roles == "all" or role in args.coverage_roles.split(",")
                else "examples,fuzzing",
                "--workers",
                args.workers,
                "--suppress-health-check",
                "all",
                "--no-color",
                "--report",
                "junit",
                "--report-dir",
                str(report_dir / role),
                *extra,
            ]
            role_env = dict(env)
            if role in SIGNED_TAGS:
                role_env["GRIDCARE_FUZZ_SIGN"] = tokens[role].removeprefix(SIGNED)
                cmd += ["--include-tag", SIGNED_TAGS[role]]
            elif role != ANONYMOUS:
                cmd += ["-H", f"Authorization: Bearer {tokens[role]}"]
            print(f"== schemathesis as {role}", flush=True)
            log = report_dir / f"{role}.log"
            with open(log, "w") as fh:
                proc = subprocess.run(cmd, env=role_env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
            text = log.read_text()
            for attempt in (1, 2):
                if proc.returncode == 0 or "Runtime Error" not in text or "= FAILURES =" in text:
                    break
                # The tool itself tripped (seen: Hypothesis "Inconsistent results" from a CPython 3.11 AST
                # SystemError while drawing a body), with no failure of ours found: run the role again (at most
                # twice) and keep the earlier logs beside. A failure of GridCare is never retried.
                print(
                    "   schemathesis runtime error without any failure found: running the role again",
                    flush=True,
                )
                log.rename(log.with_suffix(f".runtime-error-{attempt}.log"))
                with open(log, "w") as fh:
                    proc = subprocess.run(cmd, env=role_env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
                text = log.read_text()
            lines = text.splitlines()
            cases = next(
                (lines[i + 1].strip() for i, ln in enumerate(lines) if ln.startswith("Test cases")), "?"
            )
            print(f"   {cases}; {lines[-1].strip('= ') if lines else ''}", flush=True)
            timings.append((role, time.monotonic() - t0, proc.returncode, cases))
            if proc.returncode != 0:
                failed.append(role)
                print(text[-6000:], flush=True)
        print(f"== setup {setup_s:.0f}s")
        for role, secs, rc, cases in timings:
            print(f"== {role:<17} {secs:6.0f}s  {'FAILED' if rc else 'ok    '}  {cases}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if args.keep:
            print(f"database kept: {PG_URL}/{db}")
        else:
            psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"== fuzz {'FAILED: ' + ', '.join(failed) if failed else 'OK'} in {time.monotonic() - started:.0f}s "
        f"(CPU of setup, server and schemathesis: {usage.ru_utime + usage.ru_stime:.0f}s)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
