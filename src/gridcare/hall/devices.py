"""Hall devices (the TV display, kiosks, evaluation devices) open their pages with a secret key in the URL
(`/hall/d/<key>/…`); only its SHA-256 is stored. Staff with hall.manage create a device and see its key once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm
from gridcare.core.scoping import require_unit

from .choices import DeviceKind
from .models import HallDevice

LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def device_create(*, hall, kind: str, counter=None, name: str = "", actor: Actor) -> tuple[HallDevice, str]:
    """A new device and its key (shown once). An evaluation device is bound to a counter of the hall."""
    require_unit(actor, hall.unit_id, Perm.HALL_MANAGE)
    if kind not in DeviceKind.values:
        raise ValidationError({"kind": [_("未知的设备类型：%(k)s") % {"k": kind}]})
    if kind == DeviceKind.EVALUATOR and counter is None:
        raise ValidationError({"counter": [_("评价器须绑定一个窗口")]})
    if counter is not None and counter.hall_id != hall.pk:
        raise ValidationError({"counter": [_("只能绑定本营业厅的窗口")]})
    key = "hd_" + secrets.token_urlsafe(24)
    with transaction.atomic():
        device = HallDevice.objects.create(
            hall=hall,
            kind=kind,
            counter=counter if kind == DeviceKind.EVALUATOR else None,
            name=name[:50],
            key_hash=hash_key(key),
            created_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="hall.device_create",
            obj=device,
            unit_id=hall.unit_id,
            changes={"kind": kind, "hall": hall.code, "counter": getattr(counter, "number", None)},
        )
    return device, key


def device_disable(*, device: HallDevice, actor: Actor) -> HallDevice:
    require_unit(actor, device.hall.unit_id, Perm.HALL_MANAGE)
    with transaction.atomic():
        device.enabled = False
        device.save(update_fields=["enabled"])
        audit_record(actor=actor, action="hall.device_disable", obj=device, unit_id=device.hall.unit_id)
    return device


def device_for_key(key: str, kind: str, *, now: datetime | None = None) -> HallDevice | None:
    """The enabled device of `kind` holding `key`, or None (the page answers 404 whatever the reason)."""
    if not key or len(key) > 100:
        return None
    device = (
        HallDevice.objects.select_related("hall", "counter")
        .filter(key_hash=hash_key(key), kind=kind, enabled=True)
        .first()
    )
    if device is None:
        return None
    now = now or timezone.now()
    if device.last_seen_at is None or now - device.last_seen_at >= LAST_SEEN_RESOLUTION:
        HallDevice.objects.filter(pk=device.pk).update(last_seen_at=now)
    return device
