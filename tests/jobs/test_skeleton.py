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
def test_broker_down_fails_the_row(settings):
    from gridcare.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # a closed port
    try:
        with pytest.raises(services.BrokerUnavailable):
            services.start("test.count", {"n": 1}, actor=Actor())
    finally:
        app.conf.broker_url = old
    job = Job.objects.get()
    assert job.state == JobState.FAILED
    assert job.error == "broker unavailable"
    assert job.done == 0
