"""Stale jobs and the CLI helper.

Stale-job cleanup: a running row whose heartbeat stopped (its worker killed; on the filesystem transport its
message is gone with it) is re-queued with a new message and runs again, continuing, until it has run the
maximum number of times; then it fails with the reason. The CLI helper runs a job in-process when no worker
answers, drawing the same progress bar, and turns bad parameters and failures into command errors."""

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.jobs import cli, registry, services
from gridcare.jobs.choices import JobState
from gridcare.jobs.models import Job
from tests.brokers import broker_at

DONE_CHUNKS: list[int] = []


@registry.job_kind("test.resumable", label="resumable")
def _resumable(ctx):
    ctx.set_total(5)
    for i in range(ctx.job.done, 5):  # continues from the chunks already done
        DONE_CHUNKS.append(i)
        ctx.set_done(i + 1)
    return {"chunks": 5}


def _stale_running(done=2, attempts=1, minutes=10):
    old = timezone.now() - timedelta(minutes=minutes)
    return Job.objects.create(
        kind="test.resumable",
        state=JobState.RUNNING,
        done=done,
        total=5,
        attempts=attempts,
        started_at=old,
        heartbeat_at=old,
        task_id="lost-message",
    )


@pytest.mark.django_db
def test_stale_running_job_is_requeued_and_continues():
    DONE_CHUNKS.clear()
    job = _stale_running(done=2)
    fresh = Job.objects.create(kind="test.resumable", state=JobState.RUNNING, heartbeat_at=timezone.now())
    r = services.cleanup_stale(stale_minutes=5, max_attempts=3)
    assert r.requeued == [job.pk] and r.failed == []
    job.refresh_from_db()
    assert (job.state, job.attempts, job.done, job.result) == (JobState.SUCCEEDED, 2, 5, {"chunks": 5})
    assert DONE_CHUNKS == [2, 3, 4]  # chunks 0 and 1 were done before the worker died: not again
    assert job.task_id != "lost-message"
    fresh.refresh_from_db()
    assert fresh.state == JobState.RUNNING  # its heartbeat is recent: left alone


@pytest.mark.django_db
def test_stale_job_at_max_attempts_fails_with_the_reason():
    job = _stale_running(attempts=3)
    r = services.cleanup_stale(stale_minutes=5, max_attempts=3)
    assert r.failed == [job.pk] and r.requeued == []
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error == "worker lost: no heartbeat for more than 5 min, given up after 3 attempts (max 3)"


@pytest.mark.django_db
def test_a_lost_message_redelivered_late_does_not_run_the_requeued_job_twice():
    job = _stale_running(done=2)
    services.cleanup_stale(stale_minutes=5)
    job.refresh_from_db()
    assert services.run(job.pk, task_id="lost-message") is None  # the old message: ignored
    job.refresh_from_db()
    assert job.attempts == 2


@pytest.mark.django_db
def test_redelivery_of_the_claiming_message_takes_the_running_row_over():
    job = Job.objects.create(kind="test.resumable", task_id="m1")
    claimed = services.claim(job.pk, task_id="m1")
    assert claimed.state == JobState.RUNNING and claimed.attempts == 1
    assert services.claim(job.pk, task_id="m2") is None  # not its message
    assert services.claim(job.pk) is None  # the inline path never takes a running row
    assert services.claim(job.pk, task_id="m1").attempts == 2  # redelivered after its worker died


@pytest.mark.django_db
def test_filesystem_transport_requeue_publishes_a_new_message(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    """The embedded broker: cleanup writes the re-queued job's message into the queue folder (when the
    transaction commits: a worker must see the queued row)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    queue, control = tmp_path / "queue", tmp_path / "control"
    queue.mkdir()
    control.mkdir()
    opts = {"data_folder_in": str(queue), "data_folder_out": str(queue), "control_folder": str(control)}
    job = _stale_running(done=2)
    with broker_at("filesystem://", opts):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            r = services.cleanup_stale(stale_minutes=5)
        assert list(queue.iterdir()) == [] and len(callbacks) == 1  # sent when the transaction commits
        callbacks[0]()
    assert r.requeued == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.attempts == 1
    messages = [json.loads(Path(p).read_text()) for p in queue.iterdir()]
    assert len(messages) == 1
    headers = messages[0]["headers"]
    assert headers["task"] == "gridcare.jobs.run" and headers["id"] == job.task_id
    assert headers["argsrepr"] == f"[{job.pk}]"


# ---------------------------------------------------------------- the CLI helper


@pytest.mark.django_db
def test_run_and_wait_inline_draws_the_bar():
    DONE_CHUNKS.clear()
    out = io.StringIO()
    job = cli.run_and_wait("test.resumable", {}, Actor(), out, inline=True)
    assert job.state == JobState.SUCCEEDED and job.done == 5
    lines = out.getvalue().splitlines()
    assert lines[-1] == f"test.resumable #{job.pk} [{'#' * 30}] 5/5 100% 已完成"
    assert f"test.resumable #{job.pk} [{'#' * 12}{'-' * 18}] 2/5  40% 运行中" in lines


@pytest.mark.django_db
def test_command_runs_in_process_when_no_worker_answers(settings):
    """The broker cannot be reached (closed port): the command does the work itself and says so."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    out = io.StringIO()
    with broker_at("redis://127.0.0.1:1/0"):
        call_command("notify_dispatch", "--limit", "10", stdout=out)
    text = out.getvalue()
    job = Job.objects.get()
    assert f"notify.dispatch #{job.pk}: no worker answered, running in this process" in text
    assert text.rstrip().endswith("claimed=0 sent=0 retrying=0 dead=0")
    assert job.state == JobState.SUCCEEDED and job.params == {"limit": 10}


@pytest.mark.django_db
def test_command_bad_parameters_refused_before_anything_is_written():
    with pytest.raises(CommandError, match="limit: 每次发送条数应为 1 到 1000000 之间的整数"):
        call_command("notify_dispatch", "--limit", "0", "--inline", stdout=io.StringIO())
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_command_failure_is_a_command_error_and_stays_on_the_row(monkeypatch):
    def broken(*, today, actor=None):
        raise RuntimeError("estimate table locked")

    monkeypatch.setattr("gridcare.payments.prepaid.services.prepaid_estimate_run", broken)
    with pytest.raises(CommandError, match="RuntimeError: estimate table locked"):
        call_command("prepaid_estimate", "--date", "2026-01-05", "--inline", stdout=io.StringIO())
    job = Job.objects.get()
    assert (job.state, job.params) == (JobState.FAILED, {"date": "2026-01-05"})
