"""Benchmark: signed Alipay notifications against the server on PostgreSQL, 10 % of them duplicates.

    .venv/bin/python bench/payments.py [--payments 5000] [--concurrency 8] [--db gridcare_bench]

Needs the bench database (bench/seed.py, and bench/billing.py for bills). Before the clock: picks N
accounts that have an October 2026 bill, issues those bills (their receivables open, so each payment is
allocated to a real debt), creates one Alipay order per account for its bill amount, generates an RSA-2048
key pair for "Alipay" and signs N notifications exactly as Alipay does (RSA2 over the sorted parameters).
Then gunicorn (gthread 2×2) is started with the public key in GRIDCARE_ALIPAY_PUBLIC_KEY, and the
notifications plus 10 % duplicates (the same signed bodies again, shuffled in) are POSTed to
/api/v1/pay/alipay/notify from concurrent keep-alive clients. Prints payments/s and latency, and checks
that every answer was `success`, that exactly N payments exist, and that the ledger's payment entries sum
to minus the sum of the unique payments, to the fen.
"""

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from lookup import HOST, Result, database_url, free_port, stop  # noqa: E402

from gridcare.payments.signatures import alipay_sign  # noqa: E402

BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin"
ROOT = Path(__file__).resolve().parent.parent
APP_ID = "2026000000000001"
PREFIX = "BENCHPAY"


def prepare(db: str, n: int, period: str, seed: int) -> list[tuple[str, str, Decimal]]:
    """(order_no, 户号, amount) for n accounts with a bill of the period; bills issued, orders created."""
    env = {**os.environ, "DATABASE_URL": database_url(db), "GRIDCARE_DEBUG": "1"}
    subprocess.run([str(BIN / "gridcare"), "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    with psycopg.connect(database_url(db)) as conn:
        conn.execute(
            "DELETE FROM payments_allocation WHERE payment_id IN "
            "(SELECT id FROM payments_payment WHERE channel_txn_id LIKE %s)",
            [f"{PREFIX}%"],
        )
        conn.execute(
            "DELETE FROM payments_ledgerentry WHERE payment_id IN "
            "(SELECT id FROM payments_payment WHERE channel_txn_id LIKE %s)",
            [f"{PREFIX}%"],
        )
        conn.execute(
            "UPDATE payments_paymentorder SET payment_id = NULL WHERE order_no LIKE %s", [f"{PREFIX}%"]
        )
        conn.execute("DELETE FROM payments_payment WHERE channel_txn_id LIKE %s", [f"{PREFIX}%"])
        conn.execute("DELETE FROM payments_paymentorder WHERE order_no LIKE %s", [f"{PREFIX}%"])
        conn.execute(
            "DELETE FROM core_auditevent WHERE action LIKE 'payment%%' AND changes::text LIKE %s",
            [f"%{PREFIX}%"],
        )
        conn.execute("SELECT setseed(%s)", [(seed % 1000) / 1000.0])
        rows = conn.execute(
            "SELECT b.id, a.account_number, b.amount FROM billing_bill b JOIN customers_account a ON a.id = b.account_id "
            "WHERE b.period_start = %s AND b.status <> 'cancelled' AND b.amount > 0 ORDER BY random() LIMIT %s",
            [f"{period}-01", n],
        ).fetchall()
        if len(rows) < n:
            sys.exit(f"only {len(rows)} bills of {period}: run bench/billing.py first")
        conn.execute(
            "UPDATE billing_bill SET status = 'issued', issued_at = now(), due_date = current_date + 15 "
            "WHERE id = ANY(%s) AND status = 'draft'",
            [[r[0] for r in rows]],
        )
        conn.commit()
    ids = ",".join(str(r[0]) for r in rows)
    subprocess.run(
        [
            str(BIN / "gridcare"),
            "shell",
            "-c",
            f"from gridcare.payments import services; services.receivables_open([{ids}])",
        ],
        env=env,
        cwd=ROOT,
        check=True,
    )
    orders = [(f"{PREFIX}{k:08d}", number, amount) for k, (_b, number, amount) in enumerate(rows)]
    with psycopg.connect(database_url(db)) as conn, conn.cursor() as cur:
        accounts = dict(
            conn.execute(
                "SELECT account_number, id FROM customers_account WHERE account_number = ANY(%s)",
                [[o[1] for o in orders]],
            ).fetchall()
        )
        with cur.copy(
            "COPY payments_paymentorder (order_no, account_id, channel, amount, status, created_at, wallet) "
            "FROM STDIN"
        ) as copy:
            for order_no, number, amount in orders:
                copy.write_row((order_no, accounts[number], "alipay", amount, "created", "now", ""))
    # Before the clock: vacuum what the billing bench and earlier runs left dead (a million bill rows), so
    # autovacuum does not start on it during the measurement — it ate a core in some runs (82 vs 135/s).
    with psycopg.connect(database_url(db), autocommit=True) as conn:
        for table in VACUUMED:
            conn.execute(f"VACUUM (ANALYZE) {table}")  # noqa: S608 — fixed table names
    return orders


VACUUMED = (
    "billing_bill",
    "billing_billline",
    "payments_payment",
    "payments_paymentorder",
    "payments_receivable",
    "payments_allocation",
    "payments_ledgerentry",
    "core_auditevent",
    "notify_notification",
)


def signed_bodies(orders, private_pem: bytes) -> list[bytes]:
    bodies = []
    for k, (order_no, _number, amount) in enumerate(orders):
        params = {
            "app_id": APP_ID,
            "out_trade_no": order_no,
            "trade_no": f"{PREFIX}T{k:010d}",
            "total_amount": str(amount),
            "trade_status": "TRADE_SUCCESS",
            "gmt_payment": "2026-11-24 10:00:00",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "notify_id": f"n{k}",
            "notify_type": "trade_status_sync",
        }
        params["sign"] = alipay_sign(params, private_pem)
        bodies.append(urlencode(params).encode())
    return bodies


async def _client(port, bodies, next_index, result: Result, answers: dict) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while (i := next_index()) is not None:
            body = bodies[i]
            head = (
                f"POST /api/v1/pay/alipay/notify HTTP/1.1\r\nHost: {HOST}\r\n"
                f"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            t0 = time.perf_counter()
            writer.write(head + body)
            resp = await reader.readuntil(b"\r\n\r\n")
            length = int(
                next(
                    v
                    for k, _, v in (ln.partition(b":") for ln in resp.split(b"\r\n")[1:])
                    if k.strip().lower() == b"content-length"
                )
            )
            text = (await reader.readexactly(length)).decode()
            result.latencies.append(time.perf_counter() - t0)
            status = int(resp[9:12])
            result.statuses[status] = result.statuses.get(status, 0) + 1
            answers[text] = answers.get(text, 0) + 1
    finally:
        writer.close()


async def _run(port, bodies, concurrency) -> tuple[Result, dict]:
    result, answers = Result(), {}
    counter = iter(range(len(bodies)))
    t0 = time.perf_counter()
    await asyncio.gather(
        *(_client(port, bodies, lambda: next(counter, None), result, answers) for _ in range(concurrency))
    )
    result.elapsed = time.perf_counter() - t0
    return result, answers


def start_server(db: str, port: int, public_pem: bytes) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(db),
        "GRIDCARE_DEBUG": "0",
        "GRIDCARE_SECRET_KEY": "bench",
        "GRIDCARE_ALLOWED_HOSTS": HOST,
        "GRIDCARE_SSL_REDIRECT": "0",
        "GRIDCARE_LOG_LEVEL": "WARNING",
        "GRIDCARE_ALIPAY_APP_ID": APP_ID,
        "GRIDCARE_ALIPAY_PUBLIC_KEY": public_pem.decode(),
    }
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "gridcare.wsgi",
            "-b",
            f"{HOST}:{port}",
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "2",
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
        ],
        env=env,
        cwd=ROOT,
    )
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as s:
                s.sendall(
                    f"GET /api/v1/health HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
                )
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    sys.exit("gunicorn did not start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--payments", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--db", default="gridcare_bench")
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    print(f"preparing {args.payments:,} orders and signed notifications…", flush=True)
    orders = prepare(args.db, args.payments, args.period, args.seed)
    bodies = signed_bodies(orders, private_pem)
    rng = random.Random(args.seed)
    sent = bodies + rng.sample(bodies, len(bodies) // 10)  # 10 % duplicates
    rng.shuffle(sent)
    port = free_port()
    proc = start_server(args.db, port, public_pem)
    try:
        result, answers = asyncio.run(_run(port, sent, args.concurrency))
    finally:
        stop(proc)
    s = result.summary()
    expected = sum((o[2] for o in orders), Decimal(0))
    with psycopg.connect(database_url(args.db)) as conn:
        n, total = conn.execute(
            "SELECT count(*), coalesce(sum(amount), 0) FROM payments_payment WHERE channel_txn_id LIKE %s",
            [f"{PREFIX}%"],
        ).fetchone()
        ledger = conn.execute(
            "SELECT coalesce(sum(e.amount), 0) FROM payments_ledgerentry e JOIN payments_payment p "
            "ON p.id = e.payment_id WHERE p.channel_txn_id LIKE %s AND e.kind = 'payment'",
            [f"{PREFIX}%"],
        ).fetchone()[0]
    ok = answers == {"success": len(sent)} and n == len(orders) and total == expected and ledger == -expected
    print(
        f"notifications sent:    {len(sent):,} ({len(orders):,} unique + {len(sent) - len(orders):,} duplicates), "
        f"{args.concurrency} concurrent clients"
    )
    print(
        f"throughput:            {s['rps']:,.0f} notifications/s ({len(orders) / result.elapsed:,.0f} payments/s)"
    )
    print(f"latency:               p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms, max {s['max']:.1f} ms")
    print(f"answers:               {answers}; HTTP {result.statuses}")
    print(
        f"payments recorded:     {n:,} (expected {len(orders):,}); sum {total} (expected {expected}); "
        f"ledger {ledger}"
    )
    print("exactly once and to the fen:", "OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
