"""The engine with a real `celery worker` (and `celery beat`) subprocess, on Redis, RabbitMQ and the embedded
filesystem transport, sharing the test's PostgreSQL database (committed: `transactional_db`).

(a) A job whose worker is killed with -9 mid-way is run again and finishes, every chunk recorded once: Redis
    and RabbitMQ redeliver the unacknowledged message (acks_late); the filesystem transport lost it when the
    worker fetched it, and the stale-job cleanup re-queues the row.
(b) A schedule fires: beat (its catch-up at start, then the interval) → a Job row per run, succeeded.
Without a reachable broker these tests skip with the reason; GRIDCARE_REQUIRE_BROKER=1 (CI) makes them fail.
They need PostgreSQL: a worker process cannot see the test's in-memory SQLite database.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from gridcare.core.audit import Actor
from gridcare.jobs import schedules, services
from gridcare.jobs.choices import JobState
from gridcare.jobs.cli import workers_available
from gridcare.jobs.models import Job
from tests.brokers import broker_at

from . import worker_kinds

ROOT = Path(__file__).resolve().parents[2]
REDIS = ("redis://127.0.0.1:6379/13", ("127.0.0.1", 6379))
AMQP = ("amqp://guest:guest@127.0.0.1:5672//", ("127.0.0.1", 5672))

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres:", "postgresql:")),
    reason="real-worker tests need PostgreSQL (DATABASE_URL=postgres://…): a worker process cannot see the "
    "test's in-memory SQLite database",
)


def _reachable(addr) -> bool:
    try:
        with socket.create_connection(addr, timeout=1):
            return True
    except OSError:
        return False


def _need(name: str, addr) -> None:
    if addr is None or _reachable(addr):
        return
    reason = f"{name} broker not reachable at {addr[0]}:{addr[1]}"
    if os.environ.get("GRIDCARE_REQUIRE_BROKER") == "1":
        pytest.fail(f"{reason} (GRIDCARE_REQUIRE_BROKER=1)")
    pytest.skip(reason)


class Engine:
    """A broker, a private queue on it, and the worker/beat subprocesses started against the test database."""

    def __init__(self, name: str, url: str, tmp: Path):
        self.name, self.url, self.tmp = name, url, tmp
        self.queue = f"gc-test-{uuid.uuid4().hex[:10]}"
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        db = connection.settings_dict
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_BROKER_URL": url,
            "GRIDCARE_CELERY_QUEUE": self.queue,
            "GRIDCARE_VAR": str(tmp),
            "GRIDCARE_CELERY_VISIBILITY_TIMEOUT": "3",  # Redis: an unacked message comes back after 3 s
            "GRIDCARE_CELERY_RESTORE_INTERVAL": "1",
            "GRIDCARE_CELERY_RESTORE_THROTTLE": "1",
            "GRIDCARE_JOBS_HEARTBEAT_SECONDS": "1",
            "GRIDCARE_DB_CONN_MAX_AGE": "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        }

    def transport_options(self) -> dict:
        if self.url.startswith("filesystem"):
            q, c = self.tmp / "celery" / "queue", self.tmp / "celery" / "control"
            q.mkdir(parents=True, exist_ok=True)
            c.mkdir(parents=True, exist_ok=True)
            return {"data_folder_in": str(q), "data_folder_out": str(q), "control_folder": str(c)}
        if self.url.startswith("redis"):
            return {"visibility_timeout": 3}
        return {}

    def _spawn(self, *args: str) -> subprocess.Popen:
        log = self.tmp / f"{args[0]}-{len(self.procs)}.log"
        self.logs.append(log)
        p = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "celery", "-A", "gridcare", *args],
            env=self.env,
            cwd=self.tmp,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes the pool children too
        )
        self.procs.append(p)
        return p

    def worker(self) -> subprocess.Popen:
        return self._spawn(
            "worker",
            "-l",
            "info",
            "-Q",
            self.queue,
            "-n",
            f"{self.queue}-{len(self.procs)}@%h",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "-I",
            "tests.jobs.worker_kinds",
        )

    def beat(self) -> subprocess.Popen:
        return self._spawn("beat", "-l", "info", "--max-interval", "1")

    @staticmethod
    def kill9(p: subprocess.Popen) -> None:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                self.kill9(p)

    def log_tail(self) -> str:
        return "\n".join(f"--- {log.name}\n" + log.read_text()[-3000:] for log in self.logs if log.exists())


def wait_for(predicate, timeout: float, engine: Engine, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{engine.name}: timed out waiting for {what}\n{engine.log_tail()}")


BROKERS = [
    pytest.param(("redis", *REDIS), id="redis"),
    pytest.param(("rabbitmq", *AMQP), id="rabbitmq"),
    pytest.param(("filesystem", "filesystem://", None), id="filesystem"),
]


@pytest.fixture
def engine(request, transactional_db, settings, tmp_path):
    name, url, addr = request.param
    _need(name, addr)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    eng = Engine(name, url, tmp_path)
    from gridcare.celery import app

    old_queue = app.conf.task_default_queue
    app.conf.task_default_queue = eng.queue
    try:
        with broker_at(url, eng.transport_options()):
            yield eng
    finally:
        eng.stop()
        app.conf.task_default_queue = old_queue


@pytest.mark.parametrize("engine", BROKERS, indirect=True)
def test_worker_killed_mid_way_job_is_retried_without_duplicates(engine):
    w1 = engine.worker()
    wait_for(lambda: workers_available(timeout=1.0), 60, engine, "the worker to answer a ping")
    job = services.start("test.chunks", {"n": 10, "delay": 0.3}, actor=Actor())
    wait_for(lambda: Job.objects.get(pk=job.pk).done >= 3, 60, engine, "3 chunks done")
    engine.kill9(w1)
    killed_at = Job.objects.get(pk=job.pk)
    assert killed_at.state == JobState.RUNNING and 3 <= killed_at.done < 10

    engine.worker()
    if engine.name == "filesystem":
        # The message went with the killed worker: only the row knows. The cleanup re-queues it.
        time.sleep(2)
        assert Job.objects.get(pk=job.pk).state == JobState.RUNNING
        requeued = services.cleanup_stale(stale_minutes=0)
        assert requeued.requeued == [job.pk]
    finished = wait_for(
        lambda: Job.objects.filter(pk=job.pk, state__in=[JobState.SUCCEEDED, JobState.FAILED]).first(),
        90,
        engine,
        "the retried job to finish",
    )
    assert finished.state == JobState.SUCCEEDED, finished.error
    assert (finished.done, finished.total, finished.result) == (10, 10, {"chunks": 10})
    assert finished.attempts == 2
    chunks = worker_kinds.chunk_ids(job.pk)
    assert sorted(chunks, key=int) == [str(i) for i in range(10)]  # every chunk once: none lost, none twice


@pytest.mark.parametrize("engine", BROKERS, indirect=True)
def test_schedule_fires_on_beat(engine):
    schedules.ensure_schedules()
    PeriodicTask.objects.update(enabled=False)  # the defaults stay quiet; this test's schedule only
    every_2s, _created = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="test.tick",
        task="gridcare.jobs.scheduled",
        kwargs='{"kind": "test.tick", "schedule": "test.tick"}',
        interval=every_2s,
    )
    engine.worker()
    engine.beat()
    runs = wait_for(
        lambda: (
            list(Job.objects.filter(schedule="test.tick", state=JobState.SUCCEEDED))
            if Job.objects.filter(schedule="test.tick", state=JobState.SUCCEEDED).count() >= 2
            else None
        ),
        90,
        engine,
        "two runs of the schedule",
    )
    for run in runs:
        assert run.created_by is None and run.kind == "test.tick" and run.result == {"tick": True}
    assert schedules.schedule_rows()[-1].last.state == JobState.SUCCEEDED
