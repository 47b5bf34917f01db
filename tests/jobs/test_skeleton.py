"""The job engine's core: a kind runs in-process in tests, bad parameters are refused before anything is
queued, failures stay on the row, and a broker that cannot be reached fails the row with a clear message."""

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.jobs import registry, services
from gridcare.jobs.choices import JobState
from gridcare.jobs.models import Job


def _validate(params, actor):
    n = params.get("n")
    if not isinstance(n, int) or n < 1:
        raise ValidationError({"n": "n 必须是正整数"})
    return {"n": n}


@registry.job_kind("test.count", label="count", validate=_validate)
def _count(ctx):
    ctx.set_total(ctx.params["n"])
    for _i in range(ctx.params["n"]):
        ctx.advance()
    return {"counted": ctx.params["n"]}


@registry.job_kind("test.boom", label="boom")
def _boom(ctx):
    raise RuntimeError("disk on fire")


@pytest.mark.django_db
def test_job_runs_and_records_progress_and_result():
    job = services.start("test.count", {"n": 3}, actor=Actor())
    assert job.state == JobState.SUCCEEDED
    assert (job.done, job.total) == (3, 3)
    assert job.result == {"counted": 3}
    assert job.started_at and job.finished_at and job.heartbeat_at
    assert job.attempts == 1


@pytest.mark.django_db
def test_invalid_parameters_are_refused_before_anything_is_written():
    with pytest.raises(ValidationError) as exc:
        services.start("test.count", {"n": 0}, actor=Actor())
    assert "n 必须是正整数" in str(exc.value)
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_failure_stays_on_the_row():
    job = services.start("test.boom", actor=Actor())
    assert job.state == JobState.FAILED
    assert "disk on fire" in job.error
    assert job.finished_at is not None


@pytest.mark.django_db
def test_finished_job_is_not_run_again():
    job = services.start("test.count", {"n": 2}, actor=Actor())
    assert services.run(job.pk) is None
    job.refresh_from_db()
    assert (job.done, job.attempts) == (2, 1)


@pytest.mark.django_db
def test_broker_down_fails_the_row_quickly(broker_down):
    import time

    t0 = time.monotonic()
    with pytest.raises(services.BrokerUnavailable):
        services.start("test.count", {"n": 1}, actor=Actor())
    assert time.monotonic() - t0 < 2.0  # one connection attempt, no retry loop
    job = Job.objects.get()
    assert job.state == JobState.FAILED
    assert job.error == "broker unavailable"
    assert job.done == 0


def test_progress_bar_redraws_in_place_through_a_commands_output_wrapper():
    """Django's OutputWrapper ends every write with a newline unless told not to: the bar turns that off,
    so on a terminal the redraws share one line and only the close ends it."""
    import io

    from django.core.management.base import OutputWrapper

    from gridcare.jobs.cli import ProgressBar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    raw = Tty()
    bar = ProgressBar(OutputWrapper(raw), "billing.run #7")
    bar.update(1, 4, "运行中")
    bar.update(2, 4, "运行中")
    bar.close(4, 4, "已完成")
    text = raw.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.count("\r") == 3
    assert "4/4 100% 已完成" in text
