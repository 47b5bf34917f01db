"""`GET /api/v1/jobs/{id}`: a job's state and progress (scoped like the pages: missing and forbidden → 404).
A job that cannot be started because the broker is down answers 503 (`broker_unavailable_handler`)."""

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from gridcare.core.api import ErrorOut
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel

from . import selectors, services
from .choices import JobState

router = Router(tags=["jobs"])


class JobOut(Schema):
    id: int
    kind: str
    state: JobState
    done: int
    total: int | None
    result: Any = None
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None


@router.get("/jobs/{int:job_id}", response={200: JobOut, 404: ErrorOut}, summary="后台任务的状态与进度")
def job_detail(request, job_id: int):
    return selectors.job_get(user=request.user, pk=job_id)


@router.post(
    "/jobs/{int:job_id}/retry",
    response={202: JobOut, 404: ErrorOut, 409: ErrorOut, 503: ErrorOut},
    summary="重试失败的后台任务",
)
def job_retry(request, job_id: int):
    """Re-queue a failed job on the same row (its creator or an administrator; anyone else: 404), audited.
    409 when the job has not failed; 503 when the engine's broker is down (the row is failed again)."""
    job = selectors.job_get(user=request.user, pk=job_id)
    try:
        job = services.job_retry(actor=Actor.from_request(request, Channel.API), job=job)
    except services.NotRetryable:
        return Status(409, {"detail": _("只有失败的任务可以重试")})
    return Status(202, job)


def broker_unavailable_message() -> str:
    return _("后台任务引擎的消息代理（broker）不可用，任务未能启动，请稍后再试或联系系统管理员")


def install_broker_handler(api) -> None:
    """BrokerUnavailable → 503 with a JSON detail (never a 500)."""

    def broker_down(request, exc):
        return api.create_response(request, {"detail": broker_unavailable_message()}, status=503)

    api.add_exception_handler(services.BrokerUnavailable, broker_down)
