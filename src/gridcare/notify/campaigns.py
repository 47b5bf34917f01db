"""Campaigns (节日问候): a notice to a segment of customers of a unit at once, created then launched."""

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied, require_unit
from gridcare.customers.models import Customer

from .choices import (
    CampaignStatus,
    Kind,
)
from .models import Campaign
from .outbox import CHUNK, notifications_enqueue_bulk

log = logging.getLogger("gridcare.notify")


# ---------------------------------------------------------------- campaigns


def campaign_customers(campaign: Campaign):
    """The customers a campaign goes to: its unit's subtree, filtered by segment and class when set."""
    from gridcare.org.models import SupplyUnit

    path = SupplyUnit.objects.filter(pk=campaign.unit_id).values_list("path", flat=True).first() or "\x00"
    qs = Customer.objects.filter(unit__path__startswith=path)
    if campaign.segment:
        qs = qs.filter(segment=campaign.segment)
    if campaign.customer_class:
        qs = qs.filter(customer_class=campaign.customer_class)
    return qs


def campaign_create(
    *,
    actor: Actor,
    name: str,
    unit_id: int,
    text: str,
    scheduled_at: datetime | None = None,
    segment: str = "",
    customer_class: str = "",
    now: datetime | None = None,
) -> Campaign:
    """A draft greeting campaign for a segment of the customers of `unit_id`'s subtree (notify.campaign)."""
    from gridcare.customers.choices import CustomerClass, Segment
    from gridcare.org.models import SupplyUnit

    now = now or timezone.now()
    if not SupplyUnit.objects.filter(pk=unit_id).exists():
        raise ValidationError({"unit_id": [_("供电单位不存在")]})
    require_unit(actor, unit_id, Perm.NOTIFY_CAMPAIGN)
    errs: dict[str, list[str]] = {}
    name, text = (name or "").strip(), (text or "").strip()
    if not name or len(name) > 100:
        errs["name"] = [_("活动名称不能为空且不超过 100 个字符")]
    if not text or len(text) > 300:
        errs["text"] = [_("问候内容不能为空且不超过 300 个字符")]
    if "\x00" in name + text:
        errs["text"] = [_("包含非法字符")]
    if segment and segment not in Segment.values:
        errs["segment"] = [_("未知的客户分群：%(v)s") % {"v": segment}]
    if customer_class and customer_class not in CustomerClass.values:
        errs["customer_class"] = [_("未知的用电类别：%(v)s") % {"v": customer_class}]
    if scheduled_at is not None and timezone.is_naive(scheduled_at):
        errs["scheduled_at"] = [_("计划发送时间须带时区")]
    if errs:
        raise ValidationError(errs)
    user = actor.user if actor.user is not None and actor.user.is_authenticated else None
    with transaction.atomic():
        c = Campaign.objects.create(
            name=name,
            kind=Kind.GREETING,
            unit_id=unit_id,
            segment=segment or "",
            customer_class=customer_class or "",
            text=text,
            scheduled_at=scheduled_at or now,
            created_by=user,
            created_at=now,
        )
        audit_record(
            actor=actor,
            action="notify.campaign_create",
            obj=c,
            unit_id=unit_id,
            changes={
                "name": name,
                "segment": segment,
                "customer_class": customer_class,
                "scheduled_at": c.scheduled_at.isoformat(),
            },
        )
    return c


def campaign_launch(*, actor: Actor, campaign_id: int, now: datetime | None = None) -> Campaign:
    """Enqueue the campaign's greeting to every customer of its segment, once: a second launch changes nothing."""
    now = now or timezone.now()
    c = Campaign.objects.filter(pk=campaign_id).first()
    if c is None:
        raise PermissionDenied
    require_unit(actor, c.unit_id, Perm.NOTIFY_CAMPAIGN)
    with transaction.atomic():
        c = Campaign.objects.select_for_update().get(pk=campaign_id)
        if c.status == CampaignStatus.LAUNCHED:
            return c
        ids = campaign_customers(c).order_by("id").values_list("id", flat=True)
        send_at = max(c.scheduled_at, now)
        counted = [0]  # the recipients, counted while they are walked (no second scan of the subtree)

        def items():
            for cid in ids.iterator(chunk_size=CHUNK):
                counted[0] += 1
                yield {
                    "kind": c.kind,
                    "customer_id": cid,
                    "context": {"text": c.text},
                    "dedupe_key": f"campaign:{c.pk}:{cid}",
                    "campaign_id": c.pk,
                    "not_before": send_at,
                }

        notifications_enqueue_bulk(items(), now=now)
        c.recipients = counted[0]
        c.status, c.launched_at = CampaignStatus.LAUNCHED, now
        c.save(update_fields=["recipients", "status", "launched_at"])
        audit_record(
            actor=actor,
            action="notify.campaign_launch",
            obj=c,
            unit_id=c.unit_id,
            changes={"recipients": c.recipients},
        )
    return c
