"""Job pages and API: a user sees their own jobs, staff with a kind's permission that kind's jobs of their unit
subtree, administrators all, everyone else 404; the page shows progress live (htmx partial) and retries a
failed job on the same row (its creator or an administrator), audited; a broker that is down answers 503 in
the API and a message on the page, never a 500."""

import pytest

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Perm, Role
from gridcare.jobs import registry, services
from gridcare.jobs.choices import JobState
from gridcare.jobs.models import Job
from tests.factories import UserFactory

API = "/api/v1"
FIELDS = {
    "id",
    "kind",
    "state",
    "done",
    "total",
    "result",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
}
FLAKY = {"fail": True}


@registry.job_kind("test.scoped", label="scoped", perm=Perm.COLLECTIONS_MANAGE)
def _scoped(ctx):
    ctx.set_total(4)
    ctx.set_done(4)
    if FLAKY["fail"]:
        raise RuntimeError("gateway timeout")
    return {"sent": 4}


@pytest.fixture
def people(world):
    world.a_billing = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    world.a_billing2 = UserFactory(username="a_billing2", role=Role.BILLING_CLERK, unit=world.station_a)
    world.top_billing = UserFactory(username="top_billing", role=Role.BILLING_CLERK, unit=world.company)
    world.b_billing = UserFactory(username="b_billing", role=Role.BILLING_CLERK, unit=world.bureau_b)
    return world


@pytest.fixture
def failed_job(people):
    FLAKY["fail"] = True
    job = services.start("test.scoped", actor=Actor(user=people.a_billing))
    assert job.state == JobState.FAILED
    return job


def test_api_answers_exactly_the_documented_fields(people, failed_job, login):
    body = login(people.a_billing).get(f"{API}/jobs/{failed_job.pk}").json()
    assert set(body) == FIELDS
    assert body["id"] == failed_job.pk and body["kind"] == "test.scoped"
    assert (body["state"], body["done"], body["total"]) == ("failed", 4, 4)
    assert body["error"] == "RuntimeError: gateway timeout"
    assert body["result"] is None and body["finished_at"] is not None


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("a_billing", 200),  # the creator
        ("top_billing", 200),  # the kind's permission, the job's unit in their subtree
        ("admin", 200),
        ("a_billing2", 404),  # the permission, but the job's unit (bureau A) is above their station
        ("b_billing", 404),  # another bureau
        ("a_clerk", 404),  # same bureau, without the kind's permission
        ("portal_user", 404),  # a customer
    ],
)
def test_api_scoping(people, failed_job, login, who, status):
    assert login(getattr(people, who)).get(f"{API}/jobs/{failed_job.pk}").status_code == status


def test_api_anonymous_is_401_and_missing_is_404(people, failed_job, login):
    assert login().get(f"{API}/jobs/{failed_job.pk}").status_code == 401
    assert login(people.admin).get(f"{API}/jobs/{failed_job.pk + 999}").status_code == 404


def test_page_shows_progress_and_error_and_polls_while_active(people, failed_job, login):
    c = login(people.a_billing)
    page = c.get(f"/jobs/{failed_job.pk}/").content.decode()
    assert 'data-testid="job-state">失败<' in page
    assert "4/4" in page and 'value="100"' in page
    assert "RuntimeError: gateway timeout" in page
    assert 'data-testid="job-retry"' in page
    assert "hx-trigger" not in page  # finished: no more polling
    queued = Job.objects.create(
        kind="test.scoped", created_by=people.a_billing, unit=people.bureau_a, total=10, done=3
    )
    partial = c.get(f"/jobs/{queued.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('<div id="job-progress"') and 'hx-trigger="every 1s"' in partial
    assert "3/10" in partial and 'value="30"' in partial
    assert "<html" not in partial


def test_retry_button_only_for_creator_or_admin(people, failed_job, login):
    assert (
        'data-testid="job-retry"'
        not in login(people.top_billing).get(f"/jobs/{failed_job.pk}/").content.decode()
    )
    assert 'data-testid="job-retry"' in login(people.admin).get(f"/jobs/{failed_job.pk}/").content.decode()


def test_retry_requeues_the_same_row_audited(people, failed_job, login):
    FLAKY["fail"] = False
    resp = login(people.a_billing).post(f"/jobs/{failed_job.pk}/retry/")
    assert resp.status_code == 302 and resp["Location"] == f"/jobs/{failed_job.pk}/"
    job = Job.objects.get()  # the same row, no second one
    assert (job.state, job.attempts, job.result, job.error) == (JobState.SUCCEEDED, 2, {"sent": 4}, "")
    ev = AuditEvent.objects.get(action="job.retry")
    assert ev.actor == people.a_billing and ev.object_id == str(job.pk)
    assert ev.changes["error"] == "RuntimeError: gateway timeout"


def test_retry_refused_for_someone_else_writes_nothing(people, failed_job, login):
    FLAKY["fail"] = False
    assert login(people.top_billing).post(f"/jobs/{failed_job.pk}/retry/").status_code == 404
    assert login(people.top_billing).post(f"{API}/jobs/{failed_job.pk}/retry").status_code == 404
    job = Job.objects.get()
    assert (job.state, job.attempts) == (JobState.FAILED, 1)
    assert not AuditEvent.objects.filter(action="job.retry").exists()


def test_api_retry_202_and_409_when_not_failed(people, failed_job, login):
    FLAKY["fail"] = False
    c = login(people.admin)
    resp = c.post(f"{API}/jobs/{failed_job.pk}/retry")
    assert resp.status_code == 202 and resp.json()["state"] == "succeeded"
    again = c.post(f"{API}/jobs/{failed_job.pk}/retry")
    assert again.status_code == 409 and again.json()["detail"] == "只有失败的任务可以重试"


def test_broker_down_api_503_and_page_message(people, failed_job, login, broker_down):
    FLAKY["fail"] = False
    resp = login(people.a_billing).post(f"{API}/jobs/{failed_job.pk}/retry")
    assert resp.status_code == 503
    assert "broker" in resp.json()["detail"] and "不可用" in resp.json()["detail"]
    job = Job.objects.get()
    assert (job.state, job.error, job.attempts) == (JobState.FAILED, "broker unavailable", 1)
    page = login(people.a_billing).post(f"/jobs/{failed_job.pk}/retry/", follow=True).content.decode()
    assert "后台任务引擎的消息代理（broker）不可用" in page
    assert Job.objects.get().error == "broker unavailable"
    assert not AuditEvent.objects.filter(action="job.retry").exists()  # nothing else written


def test_list_shows_own_and_scoped_jobs(people, failed_job, login):
    other = Job.objects.create(kind="test.scoped", created_by=people.b_billing, unit=people.bureau_b)
    scheduled = Job.objects.create(kind="test.scoped", schedule="test.scoped")
    page = login(people.a_billing).get("/jobs/").content.decode()
    assert f'href="/jobs/{failed_job.pk}/"' in page and f'href="/jobs/{other.pk}/"' not in page
    admin = login(people.admin)
    assert f'href="/jobs/{other.pk}/"' in admin.get("/jobs/").content.decode()
    assert f'href="/jobs/{scheduled.pk}/"' not in admin.get("/jobs/").content.decode()
    assert f'href="/jobs/{scheduled.pk}/"' in admin.get("/jobs/?source=scheduled").content.decode()


def test_nav_entry_for_roles_that_start_jobs(people, login):
    assert 'data-testid="nav-jobs"' in login(people.a_billing).get("/jobs/").content.decode()
    assert 'data-testid="nav-jobs"' not in login(people.a_agent).get("/jobs/").content.decode()
    assert login().get("/jobs/").status_code == 302  # anonymous → login
    assert login(people.portal_user).get("/jobs/").status_code == 404


def test_page_shows_parameters_as_json(people, login):
    job = Job.objects.create(
        kind="test.scoped",
        created_by=people.a_billing,
        unit=people.bureau_a,
        params={"period": "2026-10", "note": "月初", "dry_run": False, "unit": None},
    )
    page = login(people.a_billing).get(f"/jobs/{job.pk}/").content.decode()
    # JSON, keys sorted, Chinese unescaped (HTML-escaped quotes), not Python's repr (False/None/single quotes)
    assert (
        "<code>{&quot;dry_run&quot;: false, &quot;note&quot;: &quot;月初&quot;, "
        "&quot;period&quot;: &quot;2026-10&quot;, &quot;unit&quot;: null}</code>"
    ) in page
