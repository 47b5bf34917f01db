"""Imports and large exports run as jobs.

Given an upload, when it is unusable as a whole, then the form says why at once and nothing is queued; when it
is usable, then a job imports it (progress rows done/total, per-row errors on the job row), the uploaded file
is deleted once the job succeeds, a retry after the write never writes twice, and a broker that is down leaves
a clear message and nothing written. A search export above GRIDCARE["EXPORT_JOB_ROWS"] rows is a job whose
file only its creator downloads (audited) until it expires."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from gridcare.core import jobfiles
from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.customers.models import Account
from gridcare.jobs import services as job_services
from gridcare.jobs.choices import JobState
from gridcare.jobs.models import Job
from tests.brokers import broker_at

from .test_import import counts, good_row, upload, write_csv


@pytest.fixture
def broker_down(settings):
    """Jobs are handed to a broker on a closed port (the engine's own test does the same)."""
    from gridcare.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    with broker_at("redis://127.0.0.1:1/0"):  # a closed port; the pools rebuilt either way
        yield app


def uploads(settings) -> list[str]:
    folder = settings.VAR_DIR / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# --------------------------------------------------------------------------------------------------- import


def test_page_import_is_a_job_with_progress_and_result(world, tmp_path, client, settings):
    w = world
    client.force_login(w.admin)
    path = write_csv(tmp_path, [good_row(w, 1), good_row(w, 2), good_row(w, 3)])

    resp = client.post(reverse("console:import"), {"file": path.open("rb")})

    job = Job.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"{reverse('console:import')}?job={job.pk}"
    assert (job.kind, job.state, job.created_by_id) == ("customers.import", JobState.SUCCEEDED, w.admin.pk)
    assert (job.done, job.total) == (3, 3)
    assert job.result["written"] is True and job.result["accounts_created"] == 3
    assert job.result["errors"] == [] and job.result["errors_total"] == 0
    assert job.params["file_name"] == "customers.csv" and job.params["rows"] == 3
    assert uploads(settings) == []  # the upload is deleted once the job succeeded
    page = client.get(resp["Location"]).content.decode()
    assert 'data-testid="import-summary"' in page and "新建户号 3 个" in page


def test_row_errors_are_stored_on_the_job_with_row_and_column(world, tmp_path, client):
    w = world
    client.force_login(w.admin)
    path = write_csv(tmp_path, [good_row(w, 1), good_row(w, 2, phone="110")])
    before = counts()

    upload(client, path, dry_run=False)

    job = Job.objects.get()
    assert job.state == JobState.SUCCEEDED and job.result["written"] is False
    assert job.result["errors_total"] == 1
    (e,) = job.result["errors"]
    assert (e["row"], e["column"]) == (3, "phone") and "电话号码无效" in e["message"]
    assert counts() == before


def test_whole_file_problems_answer_at_once_and_queue_nothing(world, tmp_path, client, settings):
    w = world
    client.force_login(w.admin)
    no_phone = tmp_path / "no-phone.csv"
    no_phone.write_text("account_number,customer_name\r\n3300000001,王1\r\n", encoding="utf-8")

    resp = upload(client, no_phone, dry_run=True)

    page = resp.content.decode()
    assert resp.status_code == 400 and 'data-testid="file-errors"' in page
    assert "表头有误" in page and "第 1 行，列 phone：缺少必填列" in page
    assert Job.objects.count() == 0 and uploads(settings) == []


def test_result_page_is_its_creators_only(world, tmp_path, client, login):
    w = world
    client.force_login(w.admin)
    path = write_csv(tmp_path, [good_row(w, 1)])
    location = client.post(reverse("console:import"), {"file": path.open("rb"), "dry_run": "on"})["Location"]
    other = login(w.admin.__class__.objects.create_user(username="admin2", role=w.admin.role, unit=w.company))

    assert client.get(location).status_code == 200
    assert other.get(location).status_code == 404
    assert client.get(reverse("console:import") + "?job=abc").status_code == 404


def test_broker_down_is_a_form_error_and_nothing_is_written(world, tmp_path, client, settings, broker_down):
    w = world
    client.force_login(w.admin)
    path = write_csv(tmp_path, [good_row(w, 1)])
    before = counts()

    resp = upload(client, path, dry_run=False)

    assert resp.status_code == 400 and "后台任务服务暂时不可用，未开始导入" in resp.content.decode()
    job = Job.objects.get()
    assert (job.state, job.error, job.done) == (JobState.FAILED, "broker unavailable", 0)
    assert counts() == before and uploads(settings) == []


def test_retry_after_the_write_committed_writes_nothing_twice(world, tmp_path):
    w = world
    name = jobfiles.save(
        jobfiles.IMPORTS, write_csv(tmp_path, [good_row(w, 1), good_row(w, 2)]).read_bytes(), "csv"
    )
    job = job_services.start("customers.import", {"file": name, "file_name": "x.csv"}, actor=Actor())
    assert job.result["accounts_created"] == 2
    before = counts()
    # The worker died after the commit and before finishing: the row is still running when the task comes back.
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, finished_at=None)

    again = job_services.run(job.pk, task_id=job.task_id)  # the same message, redelivered

    assert again.state == JobState.SUCCEEDED and again.attempts == 2
    assert again.result["accounts_created"] == 2 and again.result["written"] is True
    assert counts() == before


def test_a_job_failing_midway_keeps_its_error_and_its_file_for_a_retry(
    world, tmp_path, monkeypatch, settings
):
    from gridcare.customers import importer

    w = world
    name = jobfiles.save(jobfiles.IMPORTS, write_csv(tmp_path, [good_row(w, 1)]).read_bytes(), "csv")
    real_audit = importer.audit_record

    def break_at_the_last_statement(**kwargs):  # inside the write's transaction, after every bulk insert
        raise OSError("disk full")

    monkeypatch.setattr(importer, "audit_record", break_at_the_last_statement)
    before = counts()

    job = job_services.start("customers.import", {"file": name, "file_name": "x.csv"}, actor=Actor())

    assert job.state == JobState.FAILED and "disk full" in job.error
    assert counts() == before and job.result is None  # rolled back with the write
    assert uploads(settings) == [name]
    monkeypatch.setattr(importer, "audit_record", real_audit)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)  # the engine's retry re-queues it
    job = job_services.run(job.pk, task_id=job.task_id)  # the same message, redelivered
    assert (
        job.state == JobState.SUCCEEDED and Account.objects.filter(account_number="3300000001").count() == 1
    )


def test_foreign_file_names_are_refused_before_queueing(world):
    from django.core.exceptions import ValidationError

    for bad in ("../../etc/passwd", "x.csv", "0" * 32 + ".exe", None):
        with pytest.raises(ValidationError) as exc:
            job_services.start("customers.import", {"file": bad}, actor=Actor())
        assert "上传的文件无效" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        job_services.start("customers.import", {"file": "a" * 32 + ".csv"}, actor=Actor())
    assert "已不存在" in str(exc.value)
    assert Job.objects.count() == 0


def test_cli_runs_the_job_inline_and_keeps_the_dry_run(world, tmp_path, settings):
    w = world
    path = write_csv(tmp_path, [good_row(w, 1), good_row(w, 2)])
    out, err = io.StringIO(), io.StringIO()

    call_command("import", "customers", str(path), "--dry-run", "--inline", stdout=out, stderr=err)

    job = Job.objects.get()
    assert job.params["dry_run"] is True and job.result["written"] is False and job.created_by is None
    assert "2 rows OK" in out.getvalue() and "2/2 100% 已完成" in err.getvalue()
    assert Account.objects.filter(account_number__startswith="33").count() == 0
    assert uploads(settings) == []


def test_cli_whole_file_error_queues_nothing(world, tmp_path, settings):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match="文件为空"):
        call_command("import", "customers", str(empty))
    assert Job.objects.count() == 0 and uploads(settings) == []


def test_purge_deletes_only_expired_files(settings):
    old = jobfiles.save(jobfiles.IMPORTS, b"a", "csv")
    fresh = jobfiles.save(jobfiles.EXPORTS, b"b", "xlsx")
    now = timezone.now()
    import os

    t = (now - timedelta(days=8)).timestamp()
    os.utime(jobfiles.path(jobfiles.IMPORTS, old), (t, t))

    assert jobfiles.purge(now=now) == {"imports": 1, "exports": 0}
    assert (
        not jobfiles.path(jobfiles.IMPORTS, old).exists() and jobfiles.path(jobfiles.EXPORTS, fresh).exists()
    )
    assert jobfiles.purge(now=now + timedelta(hours=49)) == {"imports": 0, "exports": 1}
    with pytest.raises(jobfiles.BadFileName):
        jobfiles.path(jobfiles.EXPORTS, "../gridcare.sqlite3")


# --------------------------------------------------------------------------------------------------- export


def test_small_export_stays_immediate(world, client):
    client.force_login(world.a_manager)
    resp = client.get(reverse("console:export"), {"q": "张三", "format": "csv"})
    assert resp.status_code == 200 and resp.streaming
    assert Job.objects.count() == 0


def test_large_export_is_a_job_downloaded_by_its_creator_masked_and_audited(world, client, login, settings):
    settings.GRIDCARE = {**settings.GRIDCARE, "EXPORT_JOB_ROWS": 0}
    client.force_login(world.a_manager)

    resp = client.get(reverse("console:export"), {"q": "张三", "format": "csv"})

    job = Job.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/jobs/{job.pk}/"
    assert (job.kind, job.state, job.done, job.total) == ("customers.export", JobState.SUCCEEDED, 1, 1)
    assert job.result["rows"] == 1 and job.result["download_url"].endswith(f"/export/{job.pk}/download/")
    assert AuditEvent.objects.filter(action="customer.export").count() == 1
    assert other_gets_404(login, world, job)

    got = client.get(job.result["download_url"])

    assert got.status_code == 200 and "attachment" in got["Content-Disposition"]
    text = b"".join(got.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert text.startswith("\ufeff") and len(rows) == 2
    assert rows[1][1] == "张*" and rows[1][6] == "138****5678" and rows[1][8] == "3100000001"  # masked
    download = AuditEvent.objects.get(action="customer.export_download")
    assert (download.actor_id, download.changes) == (world.a_manager.pk, {"job": job.pk, "rows": 1})

    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(hours=49))
    assert client.get(job.result["download_url"]).status_code == 410


def other_gets_404(login, world, job) -> bool:
    return login(world.admin).get(reverse("console:export_download", args=[job.pk])).status_code == 404


def test_large_export_xlsx_with_broker_down_answers_503_and_writes_no_file(
    world, client, settings, broker_down
):
    settings.GRIDCARE = {**settings.GRIDCARE, "EXPORT_JOB_ROWS": 0}
    client.force_login(world.a_manager)

    resp = client.get(reverse("console:export"), {"q": "张三", "format": "xlsx"})

    assert resp.status_code == 503 and "后台任务服务暂时不可用" in resp.content.decode()
    job = Job.objects.get()
    assert (job.state, job.error) == (JobState.FAILED, "broker unavailable")
    assert not (settings.VAR_DIR / "exports").exists() or not any((settings.VAR_DIR / "exports").iterdir())
    assert not AuditEvent.objects.filter(action="customer.export").exists()


def test_page_follows_a_running_job_and_shows_a_failed_one(world, client):
    client.force_login(world.admin)
    job = Job.objects.create(
        kind="customers.import", created_by=world.admin, state=JobState.RUNNING, done=500, total=1200
    )
    url = f"{reverse('console:import')}?job={job.pk}"

    page = client.get(url).content.decode()

    assert 'data-testid="import-running"' in page and "已处理 500 / 1200 行" in page
    assert '<meta http-equiv="refresh" content="2">' in page
    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED, error="ImportFileError: 写入时发现户号已被占用"
    )
    page = client.get(url).content.decode()
    assert 'data-testid="import-failed"' in page and "写入时发现户号已被占用" in page
    assert "http-equiv" not in page


def test_import_page_job_parameter_of_other_digits_is_a_404(world, login):
    """'²' passes str.isdigit() but is no integer: a 404 like any other foreign job id, never a 500."""
    c = login(world.admin)
    for raw in ("²", "٣", "１", "9" * 40):
        assert c.get("/import/", {"job": raw}).status_code == 404
