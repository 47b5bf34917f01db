"""The simulator's state in one SQLite file (stdlib ``sqlite3``, WAL), so restarts keep trades.

One connection per thread. Writes that check and then change (pay, refund, claim a notification) run in
``BEGIN IMMEDIATE`` transactions, so the WSGI threads and the delivery thread never both refund the same
remaining amount or send the same attempt twice.

Tables: ``trades`` (both channels, keyed by channel and out_trade_no; amounts in fen; times epoch seconds),
``refunds``, ``notifications`` (queued deliveries and their schedule), ``attempts`` (every delivery attempt),
``oauth_codes`` (WeChat snsapi_base codes) and ``bills`` (statement snapshots behind download tokens).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS trades (
    channel TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    trade_no TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    total INTEGER NOT NULL,
    refunded INTEGER NOT NULL DEFAULT 0,
    subject TEXT NOT NULL DEFAULT '',
    notify_url TEXT NOT NULL DEFAULT '',
    return_url TEXT NOT NULL DEFAULT '',
    payer TEXT NOT NULL DEFAULT '',
    request TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    paid_at REAL,
    closed_at REAL,
    PRIMARY KEY (channel, out_trade_no)
);
CREATE INDEX IF NOT EXISTS trades_paid ON trades (channel, paid_at);
CREATE INDEX IF NOT EXISTS trades_created ON trades (created_at);
CREATE TABLE IF NOT EXISTS refunds (
    channel TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    out_refund_no TEXT NOT NULL,
    refund_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    status TEXT NOT NULL,
    notify_url TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    request TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    settle_at REAL,
    success_at REAL,
    PRIMARY KEY (channel, out_trade_no, out_refund_no)
);
CREATE INDEX IF NOT EXISTS refunds_no ON refunds (channel, out_refund_no);
CREATE INDEX IF NOT EXISTS refunds_success ON refunds (channel, success_at);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    event TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (state, next_at);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    at REAL NOT NULL,
    status INTEGER,
    answer TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS oauth_codes (
    code TEXT PRIMARY KEY,
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    created_at REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bills (
    token TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    bill_date TEXT NOT NULL,
    content BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""


class Store:
    """A SQLite file; ``read()`` and ``write()`` hand out this thread's connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self.read() as db:
            db.executescript(SCHEMA)  # its own transaction: executescript commits first

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        yield self._connection()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any exception."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


# --- rows ----------------------------------------------------------------------------------------------------


def row_dict(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    value = dict(row)
    if "extra" in value:
        value["extra"] = json.loads(value["extra"] or "{}")
    return value


def get_trade(db: sqlite3.Connection, channel: str, out_trade_no: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT * FROM trades WHERE channel = ? AND out_trade_no = ?", (channel, out_trade_no)
    ).fetchone()
    return row_dict(row)


def trade_by(
    db: sqlite3.Connection, column: str, value: str, channel: str | None = None
) -> dict[str, Any] | None:
    assert column in ("token", "trade_no")
    sql = f"SELECT * FROM trades WHERE {column} = ?"  # noqa: S608 - the column is one of two literals
    params: tuple = (value,)
    if channel:
        sql += " AND channel = ?"
        params = (value, channel)
    return row_dict(db.execute(sql, params).fetchone())


def insert_trade(db: sqlite3.Connection, **fields: Any) -> dict[str, Any]:
    fields = dict(fields)
    fields["extra"] = json.dumps(fields.get("extra") or {}, ensure_ascii=False)
    names = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    db.execute(f"INSERT INTO trades ({names}) VALUES ({marks})", tuple(fields.values()))  # noqa: S608
    trade = get_trade(db, fields["channel"], fields["out_trade_no"])
    assert trade is not None
    return trade


def update_trade(db: sqlite3.Connection, channel: str, out_trade_no: str, **fields: Any) -> dict[str, Any]:
    if "extra" in fields:
        fields["extra"] = json.dumps(fields["extra"], ensure_ascii=False)
    assignments = ", ".join(f"{name} = ?" for name in fields)
    db.execute(
        f"UPDATE trades SET {assignments} WHERE channel = ? AND out_trade_no = ?",  # noqa: S608 - our names
        (*fields.values(), channel, out_trade_no),
    )
    trade = get_trade(db, channel, out_trade_no)
    assert trade is not None
    return trade


def get_refund(
    db: sqlite3.Connection, channel: str, out_trade_no: str | None, out_refund_no: str
) -> dict | None:
    if out_trade_no is None:
        row = db.execute(
            "SELECT * FROM refunds WHERE channel = ? AND out_refund_no = ? ORDER BY created_at LIMIT 1",
            (channel, out_refund_no),
        ).fetchone()
    else:
        row = db.execute(
            "SELECT * FROM refunds WHERE channel = ? AND out_trade_no = ? AND out_refund_no = ?",
            (channel, out_trade_no, out_refund_no),
        ).fetchone()
    return row_dict(row)


def insert_refund(db: sqlite3.Connection, **fields: Any) -> dict[str, Any]:
    names = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    db.execute(f"INSERT INTO refunds ({names}) VALUES ({marks})", tuple(fields.values()))  # noqa: S608
    refund = get_refund(db, fields["channel"], fields["out_trade_no"], fields["out_refund_no"])
    assert refund is not None
    return refund


def enqueue(
    db: sqlite3.Connection,
    *,
    channel: str,
    event: str,
    out_trade_no: str,
    url: str,
    payload: dict,
    now: float,
) -> int:
    cursor = db.execute(
        "INSERT INTO notifications (channel, event, out_trade_no, url, payload, next_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (channel, event, out_trade_no, url, json.dumps(payload, ensure_ascii=False), now, now),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid
