"""Audit trail shared by every domain app."""

from django.conf import settings
from django.db import models

from .choices import Channel


class AuditEvent(models.Model):
    """One write (or one unmasked view of personal data): who, when, through which channel, what changed."""

    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    unit = models.ForeignKey("org.SupplyUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}#{self.object_id}"
