"""Attachments of work orders (issue 15 §1): images (JPEG, PNG, GIF, WebP) or PDF, checked by their first bytes
(the declared type and name are not trusted), at most `MAX_BYTES`, at most `MAX_PER_ORDER` per order."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record

from .models import WorkOrder, WorkOrderAttachment

MAX_BYTES = 5 * 1024 * 1024
MAX_PER_ORDER = 10
SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
    (b"%PDF-", "application/pdf", ".pdf"),
]


def sniff(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) of an allowed file by its first bytes, or None."""
    for magic, ctype, ext in SIGNATURES:
        if head.startswith(magic):
            return ctype, ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def check_upload(name: str, data: bytes) -> tuple[str, str]:
    """Refuse a file too large, empty or of a type not allowed; returns (content type, extension)."""
    if not data:
        raise ValidationError({"file": [_("文件“%(n)s”是空的") % {"n": name}]})
    if len(data) > MAX_BYTES:
        raise ValidationError(
            {"file": [_("文件“%(n)s”超过 %(mb)d MB") % {"n": name, "mb": MAX_BYTES // (1024 * 1024)}]}
        )
    kind = sniff(data[:16])
    if kind is None:
        raise ValidationError(
            {"file": [_("文件“%(n)s”不是图片（JPEG、PNG、GIF、WebP）或 PDF") % {"n": name}]}
        )
    return kind


def attachment_add(*, actor: Actor, order: WorkOrder, name: str, data: bytes) -> WorkOrderAttachment:
    """Attach a checked file to an order (the caller checked the actor may act on the order)."""
    ctype, ext = check_upload(name, data)
    safe = (name or "file").replace("/", "_").replace("\\", "_")[:100]
    with transaction.atomic():
        order = WorkOrder.objects.select_for_update().get(pk=order.pk)
        if order.attachments.count() >= MAX_PER_ORDER:
            raise ValidationError({"file": [_("每张工单最多 %(n)d 个附件") % {"n": MAX_PER_ORDER}]})
        digest = hashlib.sha256(data).hexdigest()
        att = WorkOrderAttachment(
            order=order,
            name=safe,
            content_type=ctype,
            size=len(data),
            sha256=digest,
            uploaded_by=actor.user if actor.user is not None and actor.user.is_authenticated else None,
        )
        att.file.save(f"{order.number}-{digest[:12]}{ext}", ContentFile(data), save=False)
        att.save()
        audit_record(
            actor=actor,
            action="workorder.attach",
            obj=order,
            unit_id=order.unit_id,
            changes={"file": safe, "size": len(data), "type": ctype},
        )
    return att
