"""What the customer portal stores itself: one-time SMS codes (hashed) and the per-户号 bind lock."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import CodePurpose


class SmsCode(models.Model):
    """A 6-digit code sent by SMS for one purpose to one phone; only its hash is stored.

    `target` ties the code to what it proves (the 户号 of a bind, the user of a re-authentication or a
    phone change), so a code sent for one thing cannot be spent on another. A code is spent when it is
    verified, dead after `attempts` reaches the limit, and worthless after `expires_at`."""

    purpose = models.CharField(max_length=16, choices=CodePurpose.choices)
    phone = models.CharField(max_length=20)
    target = models.CharField(max_length=64, blank=True)
    code_hash = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone", "purpose", "-created_at"], name="portal_smscode_lookup")]

    def __str__(self) -> str:
        return f"{self.purpose} → {self.phone[-4:]}"


class BindLock(models.Model):
    """Failed bind proofs of one 户号, counted across all portal users, and the lock they lead to."""

    account = models.OneToOneField("customers.Account", on_delete=models.CASCADE, related_name="bind_lock")
    failures = models.PositiveIntegerField(_("绑定失败次数"), default=0)
    locked_until = models.DateTimeField(_("绑定锁定至"), null=True, blank=True)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"bind lock {self.account_id}"
