"""Supply units, service halls, counters, staff and API tokens."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridcare.core.permissions import Role

from .choices import UnitLevel


class SupplyUnit(models.Model):
    """A node of the supply organisation tree: company → bureau → station (供电所)."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    level = models.CharField(max_length=16, choices=UnitLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # Materialised path ("01.03.07.") so a subtree is one indexed prefix query.
    path = models.CharField(max_length=255, unique=True, editable=False)

    class Meta:
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name


class ServiceHall(models.Model):
    """A service hall (营业厅) run by a supply unit."""

    unit = models.ForeignKey(SupplyUnit, on_delete=models.PROTECT, related_name="halls")
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=200, blank=True)
    opening_hours = models.CharField(max_length=100, blank=True, default="08:30-17:30")

    def __str__(self) -> str:
        return self.name


class Counter(models.Model):
    """A counter (窗口) inside a service hall."""

    hall = models.ForeignKey(ServiceHall, on_delete=models.CASCADE, related_name="counters")
    number = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=50, blank=True)

    class Meta:
        unique_together = [("hall", "number")]
        ordering = ["hall", "number"]

    def __str__(self) -> str:
        return f"{self.hall.name} {self.number}号窗口"


class User(AbstractUser):
    """A staff user (with a role and a home unit) or a customer of the portal (role = customer)."""

    role = models.CharField(max_length=32, choices=Role.choices, default=Role.CUSTOMER, db_index=True)
    unit = models.ForeignKey(
        SupplyUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    failed_logins = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    @property
    def is_staff_user(self) -> bool:
        return self.role != Role.CUSTOMER and self.unit_id is not None

    # Django's model permissions are read by the admin only (GridCare's own rules: core.permissions). The
    # administrator role holds them all; the admin refuses every other role anyway (core.admin_site).
    def has_perm(self, perm, obj=None) -> bool:
        return (self.is_active and self.role == Role.ADMIN) or super().has_perm(perm, obj)

    def has_module_perms(self, app_label) -> bool:
        return (self.is_active and self.role == Role.ADMIN) or super().has_module_perms(app_label)


class ApiToken(models.Model):
    """A bearer token for an integration; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def new_key() -> str:
        return "gc_" + secrets.token_urlsafe(32)
