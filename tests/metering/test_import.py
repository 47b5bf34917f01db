"""`gridcare import readings FILE.csv`: dry run lists every bad row, a real run writes all or nothing."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from gridcare.core.models import AuditEvent
from gridcare.metering.choices import ReadStatus
from gridcare.metering.models import MeterRead

from .conftest import at, record

HEADER = "account_number,meter_asset_number,read_at,total,sharp,peak,flat,valley,source\n"


def write(tmp_path, text: str, encoding="utf-8", name="reads.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return str(p)


GOOD = HEADER + (
    "3100000001,,2025-01-01 08:00,100,,,,,\n"
    ",M3100000001,2025-02-01T08:00:00+08:00,200,,,,,ami\n"
    "3200000001,,2025-01-01 08:00,50,,,,,\n"
    "3200000001,,2025-02-01 08:00,40,,,,,\n"  # negative → flagged, not an error
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_real_run_writes_everything_and_flags(w, tmp_path, capsys, encoding):
    text = GOOD.replace("account_number", "户号") if encoding == "gbk" else GOOD
    call_command("import", "readings", write(tmp_path, text, encoding))
    assert MeterRead.objects.count() == 4
    r = MeterRead.objects.get(meter__asset_number="M3100000001", read_at=at(2025, 2, 1, 8))
    assert r.consumption == Decimal("100.00") and r.status == ReadStatus.VALID
    assert MeterRead.objects.get(meter=w.meter_b, read_at=at(2025, 2, 1, 8)).status == ReadStatus.FLAGGED
    assert AuditEvent.objects.filter(action="import.readings").count() == 1
    assert "1" in capsys.readouterr().out


def test_dry_run_writes_nothing(w, tmp_path, capsys):
    call_command("import", "readings", write(tmp_path, GOOD), "--dry-run")
    assert MeterRead.objects.count() == 0 and "4 rows OK" in capsys.readouterr().out


def test_bad_rows_listed_and_nothing_written(w, tmp_path):
    record(w.meter_a, at(2025, 3, 1), "500")
    text = HEADER + (
        "3100000001,,2025-04-01 08:00,600,,,,,\n"  # fine on its own
        "3999999999,,2025-04-01 08:00,1,,,,,\n"  # 3: unknown account
        ",MNOPE,2025-04-01 08:00,1,,,,,\n"  # 4: unknown meter
        "3200000001,,2025-04-01 08:00,abc,,,,,\n"  # 5: non-numeric
        "3100000001,,2025-02-01 08:00,400,,,,,\n"  # 6: older than the last read in DB
        "3100000001,,2025-04-01 08:00,600,,,,,\n"  # 7: duplicate in file
        "3100000001,,2025-03-01 09:00,500,,,,,\n"  # 8: duplicate of the DB read
    )
    for dry in ([], ["--dry-run"]):
        with pytest.raises(CommandError) as e:
            call_command("import", "readings", write(tmp_path, text), *dry)
        msg = str(e.value)
        for row in ("第 3 行", "第 4 行", "第 5 行", "第 6 行", "第 7 行", "第 8 行"):
            assert row in msg
        assert "\n第 2 行" not in msg
    assert MeterRead.objects.count() == 1


@override_settings(GRIDCARE={"IMPORT_MAX_BYTES": 50, "VEE": {}})
def test_oversized_file_refused(w, tmp_path):
    with pytest.raises(CommandError, match="文件过大"):
        call_command("import", "readings", write(tmp_path, GOOD))
    assert MeterRead.objects.count() == 0


def test_user_without_permission_refused(w, tmp_path):
    with pytest.raises(CommandError):
        call_command("import", "readings", write(tmp_path, GOOD), "--user", "a_agent")
    with pytest.raises(CommandError, match="管辖"):
        call_command(
            "import", "readings", write(tmp_path, GOOD), "--user", "a_reader"
        )  # B meter out of scope
    assert MeterRead.objects.count() == 0


def test_bulk_query_count(w, tmp_path, django_assert_max_num_queries):
    from gridcare.core.audit import Actor
    from gridcare.metering.importer import import_readings

    rows = "".join(f"3100000001,,2024-{m:02d}-01 08:00,{m * 100},,,,,\n" for m in range(1, 13))
    with django_assert_max_num_queries(12):
        result = import_readings(data=(HEADER + rows).encode(), actor=Actor())
    assert result.written and MeterRead.objects.count() == 12


def test_import_is_a_job_with_progress_result_and_no_upload_left(w, tmp_path, settings):
    from gridcare.jobs.choices import JobState
    from gridcare.jobs.models import Job

    call_command("import", "readings", write(tmp_path, GOOD), "--inline")

    job = Job.objects.get()
    assert (job.kind, job.state, job.done, job.total) == (
        "metering.import_readings",
        JobState.SUCCEEDED,
        4,
        4,
    )
    assert job.result == {
        "rows": 4,
        "flagged": 1,
        "dry_run": False,
        "written": True,
        "errors": [],
        "errors_total": 0,
    }
    assert not any((settings.VAR_DIR / "imports").iterdir())


def test_retried_import_job_never_writes_twice(w, tmp_path):
    from gridcare.core import jobfiles
    from gridcare.core.audit import Actor
    from gridcare.jobs import services as job_services
    from gridcare.jobs.choices import JobState
    from gridcare.jobs.models import Job

    name = jobfiles.save(jobfiles.IMPORTS, GOOD.encode(), "csv")
    job = job_services.start("metering.import_readings", {"file": name}, actor=Actor())
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)  # as if its worker died after the commit

    again = job_services.run(job.pk)

    assert again.state == JobState.SUCCEEDED and again.result["written"] is True
    assert MeterRead.objects.count() == 4 and AuditEvent.objects.filter(action="import.readings").count() == 1


def test_bad_header_is_refused_before_a_job_is_queued(w, tmp_path):
    from gridcare.jobs.models import Job

    with pytest.raises(CommandError) as exc:
        call_command("import", "readings", write(tmp_path, "account_number,total\n3100000001,1\n"))
    assert "表头有误" in str(exc.value) and "read_at" in str(exc.value)
    assert Job.objects.count() == 0
