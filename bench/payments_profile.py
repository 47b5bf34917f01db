"""CPU per Alipay notification, in process: the application's and its PostgreSQL backend's, new and duplicate.

    python bench/payments_profile.py [--payments 400] [--profile] [--db gridcare_bench_payments]

Uses `bench/payments.py`'s database and set-up (undoes the previous run, issues bills, creates orders, signs
the notifications), then, in a child process configured like the bench's gunicorn (DEBUG off), POSTs each
notification through Django's test client — the whole middleware stack and the view — and reads:

- the process's CPU (`time.process_time`) per notification, new payments then duplicates;
- the CPU of the PostgreSQL backend serving that connection (its /proc/<pid>/stat), per notification;
- with --profile, a cProfile of the new payments (top functions by cumulative and by own time).

Wall-clock figures on a shared machine are noisy; CPU per notification is what to compare before/after.
The first 20 notifications warm up (imports, prepared statements) and are not counted.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from payments import BIN, ROOT, bench_alipay_env, prepare, server_env, signed_bodies  # noqa: E402

WARMUP = 20


def _proc_cpu(pid: int) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def child(bodies_file: str, profile: bool) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    bodies = [b.encode() for b in json.loads(Path(bodies_file).read_text())]
    client = Client()
    url = "/api/v1/pay/alipay/notify"
    ctype = "application/x-www-form-urlencoded"

    def post(body: bytes) -> None:
        answer = client.post(url, body, content_type=ctype)
        assert answer.content == b"success", answer.content

    for body in bodies[:WARMUP]:
        post(body)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    out = {}
    measured = bodies[WARMUP:]
    prof = None
    for kind in ("new", "duplicate"):
        if profile and kind == "new":
            import cProfile

            prof = cProfile.Profile(time.process_time)  # CPU, not time waiting for PostgreSQL
            prof.enable()
        db0, app0, wall0 = _proc_cpu(backend), time.process_time(), time.perf_counter()
        for body in measured:
            post(body)
        app, wall, db = (
            time.process_time() - app0,
            time.perf_counter() - wall0,
            _proc_cpu(backend) - db0,
        )
        if prof is not None and kind == "new":
            prof.disable()
        n = len(measured)
        out[kind] = {"n": n, "app_ms": app * 1000 / n, "db_ms": db * 1000 / n, "wall_ms": wall * 1000 / n}
    if prof is not None:
        import io
        import pstats

        for order in ("cumulative", "tottime"):
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats(order).print_stats(45)
            sys.stderr.write(s.getvalue())
    print(json.dumps(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--payments", type=int, default=400)
    ap.add_argument("--db", default="gridcare_bench_payments")
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.profile)
        return 0
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    orders = prepare(args.db, args.payments + WARMUP, args.period, args.seed)
    bodies = signed_bodies(orders, private_pem)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([b.decode() for b in bodies], f)
    try:
        done = subprocess.run(
            [str(BIN / "python"), __file__, "--child", f.name, *(["--profile"] if args.profile else [])],
            env=server_env(args.db, bench_alipay_env(public_pem), "testserver"),
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
    finally:
        os.unlink(f.name)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for kind, r in out.items():
        print(
            f"{kind:>9}: {r['n']} notifications, CPU per notification {r['app_ms']:.2f} ms app + "
            f"{r['db_ms']:.2f} ms PostgreSQL backend (wall {r['wall_ms']:.2f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
