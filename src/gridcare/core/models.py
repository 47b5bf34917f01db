"""Audit trail shared by every domain app."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from .choices import Channel


class AuditEvent(models.Model):
    """One write (or one unmasked view of personal data): who, when, through which channel, what changed."""

    created_at = models.DateTimeField(db_index=True)
    # Null for channels, jobs and the public (every payment notification): indexed in Meta where set.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    action = models.CharField(max_length=64)  # indexed in Meta: a plain btree, without the LIKE twin
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    unit = models.ForeignKey(
        "org.SupplyUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            # Filtered by equality only; `db_index=True` would add a second, varchar_pattern_ops index on
            # PostgreSQL that no query uses, paid on every audited write (two per payment notification).
            models.Index(fields=["action"], name="core_audit_action_idx"),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="core_audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}#{self.object_id}"


class IdempotencyRecord(models.Model):
    """The first answer to an API write sent with an `Idempotency-Key` header, replayed for repeats."""

    key = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    route = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="core_idempotency_user_key_uniq")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} → {self.status_code}"


class CalendarYear(models.Model):
    """A year of the working-day calendar; `loaded` once its holidays and 调休 days are entered (or seeded)."""

    year = models.PositiveSmallIntegerField(unique=True)
    loaded = models.BooleanField(default=False)
    source = models.CharField(max_length=16, default="manual")  # package / manual / import
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)


class CalendarDay(models.Model):
    """One entered day of a year: a holiday (off) or an adjusted working day (调休上班). Unentered days of a
    loaded year follow Monday–Friday."""

    year = models.ForeignKey(CalendarYear, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(unique=True)
    is_working = models.BooleanField()
    name = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'班' if self.is_working else '休'} {self.name}"
