"""Delivering the queued notifications: one POST per attempt, retried on the channel's own schedule.

Alipay stops at an answer of exactly ``success``; WeChat at any 2xx. Otherwise the next attempt waits the
channel's next interval (Alipay 4m, 10m, 10m, 1h, 2h, 6h, 15h; WeChat 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m,
30m, 1h, 3h, 3h, 3h, 6h, 6h) times ``retry_scale``; after the last the notification is ``failed``. Each attempt
is recorded (status, the answer's first bytes, or the connection error).

An attempt is claimed by moving its ``next_at`` forward in one ``UPDATE … WHERE next_at = ?``, so the
background thread and a test calling :meth:`Deliverer.deliver_pending` never send the same attempt twice.
Every attempt is signed afresh by the channel (``prepare``): receivers check the timestamp.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import ChannelSimulator

log = logging.getLogger(__name__)

SCHEDULES = {
    "alipay": (240, 600, 600, 3600, 7200, 21600, 54000),
    "wechat": (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600),
}
LEASE = 60.0  # an attempt in flight is not due again for this long
TIMEOUT = 5.0
ANSWER_PREFIX = 200


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, bytes, str]:
    """(status, answer body, error); status None when no HTTP answer came at all."""
    if not url.startswith(("http://", "https://")):
        return None, b"", f"not an http(s) URL: {url[:100]}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            return answer.status, answer.read(64 * 1024), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(64 * 1024), ""
    except (OSError, ValueError) as exc:
        return None, b"", f"{type(exc).__name__}: {exc}"[:500]


class Deliverer:
    """Sends due notifications; ``start()`` runs it in a daemon thread until ``stop()``."""

    def __init__(self, sim: ChannelSimulator) -> None:
        self.sim = sim
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def deliver_pending(self, now: float | None = None) -> int:
        """Make every due attempt now; the number made."""
        now = self.sim.clock() if now is None else now
        with self.sim.store.read() as db:
            due = db.execute(
                "SELECT id, next_at FROM notifications WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id",
                (now,),
            ).fetchall()
        made = 0
        for row in due:
            if self._attempt(row["id"], row["next_at"], now):
                made += 1
        return made

    def _attempt(self, notification_id: int, expected_next_at: float, now: float) -> bool:
        with self.sim.store.write() as db:
            claimed = db.execute(
                "UPDATE notifications SET next_at = ? WHERE id = ? AND state = 'pending' AND next_at = ?",
                (now + LEASE, notification_id, expected_next_at),
            ).rowcount
            row = db.execute("SELECT * FROM notifications WHERE id = ?", (notification_id,)).fetchone()
        if not claimed:
            return False
        channel = self.sim.channel(row["channel"])
        body, headers = channel.prepare(json.loads(row["payload"]), now)
        status, answer, error = post(row["url"], body, headers)
        done = channel.delivered(status, answer)
        attempts = row["attempts"] + 1
        schedule = SCHEDULES[row["channel"]]
        if done:
            state, next_at = "done", now
        elif attempts <= len(schedule):
            state, next_at = "pending", now + schedule[attempts - 1] * self.sim.retry_scale
        else:
            state, next_at = "failed", now
        with self.sim.store.write() as db:
            db.execute(
                "INSERT INTO attempts (notification_id, at, status, answer, error) VALUES (?, ?, ?, ?, ?)",
                (notification_id, now, status, answer[:ANSWER_PREFIX].decode("utf-8", "replace"), error),
            )
            db.execute(
                "UPDATE notifications SET state = ?, attempts = ?, next_at = ? WHERE id = ?",
                (state, attempts, next_at, notification_id),
            )
        log.info("notification %s to %s: %s %s", notification_id, row["url"], status or error, state)
        return True

    def next_due(self) -> float | None:
        with self.sim.store.read() as db:
            return db.execute("SELECT MIN(next_at) FROM notifications WHERE state = 'pending'").fetchone()[0]

    # --- the thread ----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="channelsim-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.sim.wechat.settle_due()
                self.deliver_pending()
                upcoming = [t for t in (self.next_due(), self.sim.wechat.next_settlement()) if t is not None]
            except Exception:  # keep delivering whatever one bad row does
                log.exception("notification delivery failed")
                upcoming = []
            wait = 1.0
            if upcoming:
                wait = min(max(min(upcoming) - self.sim.clock(), 0.002), 1.0)
            self._wake.wait(wait)
