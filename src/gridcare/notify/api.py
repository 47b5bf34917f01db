"""Notification outbox API.

- `GET /notify/notifications?customer_id=…[&reveal=true]`: a customer's last 20 notices (staff who may view the
  customer); recipients always masked unless `reveal=true`, which needs customer.view_pii (else 403) and is
  audited (customer.view_pii), as `GET /customers/{id}?reveal=true`. Unknown or not visible customer → 404.
- `GET /notify/campaigns`, `POST /notify/campaigns`, `GET /notify/campaigns/{id}`,
  `POST /notify/campaigns/{id}/launch` (notify.campaign, scoped to the user's unit subtree): 202 with the
  campaign and the id of the job that writes its notifications (notify.campaign_launch); launching twice
  changes nothing; 503 when the job engine's broker is down.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from gridcare.core.api import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, ErrorOut, Text, api_actor, require_perm
from gridcare.core.permissions import Perm, has_perm
from gridcare.customers import selectors as customer_selectors
from gridcare.customers import services as customer_services
from gridcare.jobs import services as job_services

from . import campaigns, selectors

router = Router(tags=["notify"])


class NotificationOut(Schema):
    id: int
    kind: str
    channel: str
    recipient: str
    status: str
    suppressed_reason: str
    attempts: int
    created_at: datetime
    not_before: datetime
    sent_at: datetime | None
    last_error: str


@router.get("/notify/notifications", response={200: list[NotificationOut], **READ_ERRORS, 403: ErrorOut})
def notifications_list(request, customer_id: int, reveal: bool = False):
    """The customer's last 20 notices, newest first; recipients masked unless `reveal=true` (audited)."""
    customer = customer_selectors.customer_get(user=request.user, pk=customer_id)
    if reveal:
        if not has_perm(request.user, Perm.CUSTOMER_VIEW_PII):
            raise HttpError(403, _("当前角色无权查看未脱敏的个人信息"))
        customer_services.pii_reveal(actor=api_actor(request), customer=customer)
    rows = selectors.notifications_for_customer(user=request.user, customer_id=customer.pk, reveal=reveal)
    return [
        {
            "id": n.pk,
            "kind": n.kind,
            "channel": n.channel,
            "recipient": n.shown_recipient,
            "status": n.status,
            "suppressed_reason": n.suppressed_reason,
            "attempts": n.attempts,
            "created_at": n.created_at,
            "not_before": n.not_before,
            "sent_at": n.sent_at,
            "last_error": n.last_error,
        }
        for n in rows
    ]


class CampaignIn(Schema):
    name: Text = Field(..., max_length=100, examples=["2027年春节问候"])
    unit_id: int
    segment: Text = Field("", max_length=16)
    customer_class: Text = Field("", max_length=16)
    text: Text = Field(..., max_length=300, examples=["新春快乐，阖家安康！国网供电服务热线95598。"])
    scheduled_at: datetime | None = None


class CampaignOut(Schema):
    id: int
    name: str
    unit_id: int
    segment: str
    customer_class: str
    text: str
    scheduled_at: datetime
    status: str
    recipients: int
    sent: int
    pending: int
    dead: int
    suppressed: int


def _out(c) -> dict:
    return {
        "id": c.pk,
        "name": c.name,
        "unit_id": c.unit_id,
        "segment": c.segment,
        "customer_class": c.customer_class,
        "text": c.text,
        "scheduled_at": c.scheduled_at,
        "status": c.status,
        "recipients": c.recipients,
        "sent": c.n_sent,
        "pending": c.n_pending,
        "dead": c.n_dead,
        "suppressed": c.n_suppressed,
    }


@router.get("/notify/campaigns", response={200: list[CampaignOut], **LIST_ERRORS})
def campaigns_list(request):
    """Greeting campaigns of the user's unit subtree with delivery counts (latest 100)."""
    require_perm(request, Perm.NOTIFY_CAMPAIGN)
    return [_out(c) for c in selectors.campaigns_visible(user=request.user)[:100]]


@router.post("/notify/campaigns", response={201: CampaignOut, **WRITE_ERRORS})
def campaign_create(request, payload: CampaignIn):
    """Create a draft greeting campaign for a segment of a unit subtree."""
    require_perm(request, Perm.NOTIFY_CAMPAIGN)
    if payload.scheduled_at is not None and payload.scheduled_at.tzinfo is None:
        raise ValidationError({"scheduled_at": [_("计划发送时间须带时区")]})
    c = campaigns.campaign_create(
        actor=api_actor(request),
        name=payload.name,
        unit_id=payload.unit_id,
        segment=payload.segment,
        customer_class=payload.customer_class,
        text=payload.text,
        scheduled_at=payload.scheduled_at,
    )
    return Status(201, _out(selectors.campaign_get(user=request.user, pk=c.pk)))


@router.get("/notify/campaigns/{campaign_id}", response={200: CampaignOut, **READ_ERRORS})
def campaign_detail(request, campaign_id: int):
    return _out(selectors.campaign_get(user=request.user, pk=campaign_id))


class CampaignLaunchOut(CampaignOut):
    job_id: int
    job_state: str


@router.post(
    "/notify/campaigns/{campaign_id}/launch",
    response={202: CampaignLaunchOut, **WRITE_ERRORS, 503: ErrorOut},
)
def campaign_launch(request, campaign_id: int):
    """Start the job sending the greeting to the campaign's customers (once; a repeat changes nothing).

    Answers 202 with the campaign and its job (`GET /api/v1/jobs/{job_id}` follows it); 503 when the job engine's
    broker cannot be reached (nothing started)."""
    try:
        job = job_services.start(
            "notify.campaign_launch", {"campaign_id": campaign_id}, actor=api_actor(request)
        )
    except job_services.BrokerUnavailable:
        raise HttpError(503, _("后台任务服务暂时不可用，活动未发送，请稍后再试。")) from None
    out = _out(selectors.campaign_get(user=request.user, pk=campaign_id))
    return Status(202, {**out, "job_id": job.pk, "job_state": job.state})
