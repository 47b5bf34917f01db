"""One-time SMS codes (短信验证码) of the portal: registration, binding a 户号, re-authentication, phone change.

A code is 6 random digits sent through the notify outbox as a transactional SMS (kind `sms_code`: never
delayed by quiet hours nor opted out; in development the file backend writes it to var/notify/outbox.jsonl).
Only an HMAC of it (keyed with SECRET_KEY and bound to purpose, phone and target) is stored. It expires after
GRIDCARE["SMS_CODE_TTL_SECONDS"] (300) and allows GRIDCARE["SMS_CODE_MAX_TRIES"] (5) tries; sending a new
code for the same purpose, phone and target retires the previous one, and a verified code is spent.

Sending is rate-limited per phone, per client IP (`core.ratelimit.client_key`, which honours
GRIDCARE_TRUSTED_PROXIES) and, for a bind, per 户号. A wrong code is audited (`portal.sms_code_failed`).
"""

import secrets
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from gridcare.core import ratelimit
from gridcare.core.audit import Actor, audit_record
from gridcare.notify.choices import Kind
from gridcare.notify.outbox import transactional_sms_enqueue

from .choices import CodePurpose
from .models import SmsCode

SEND_WINDOW_SECONDS = 3600


class CodeRateLimited(Exception):
    """Too many codes asked for this phone, from this address or for this 户号 in the current hour."""

    def __init__(self) -> None:
        super().__init__(_("验证码发送过于频繁，请稍后再试"))


def _conf(key: str) -> int:
    return int(settings.GRIDCARE[key])


def _digest(*, purpose: str, phone: str, target: str, code: str) -> str:
    return salted_hmac(
        "gridcare.portal.sms_code", f"{purpose}:{phone}:{target}:{code}", algorithm="sha256"
    ).hexdigest()


def code_send(
    *,
    actor: Actor,
    purpose: str,
    phone: str,
    client_key: str,
    target: str = "",
    account_number: str = "",
    now: float | None = None,
) -> SmsCode:
    """Make a new code for (purpose, phone, target), retire the older ones and enqueue its SMS.

    Raises CodeRateLimited when the phone, the client address or the 户号 (`account_number`, binds) has had
    its codes for the hour; nothing is written then."""
    now = time.time() if now is None else now
    buckets = [
        ("sms_phone", phone, _conf("SMS_CODE_PER_PHONE")),
        ("sms_ip", client_key, _conf("SMS_CODE_PER_IP")),
    ]
    if account_number:
        buckets.append(("sms_account", account_number, _conf("SMS_CODE_PER_ACCOUNT")))
    # Every bucket is counted (no short-circuit), so a refused request still uses up the client's quota.
    allowed = [ratelimit.hit(b, k, limit, SEND_WINDOW_SECONDS, now=now) for b, k, limit in buckets]
    if not all(allowed):
        raise CodeRateLimited
    at = datetime.fromtimestamp(now, tz=UTC)
    code = f"{secrets.randbelow(1_000_000):06d}"
    ttl = _conf("SMS_CODE_TTL_SECONDS")
    with transaction.atomic():
        SmsCode.objects.filter(purpose=purpose, phone=phone, target=target, used_at__isnull=True).update(
            used_at=at
        )
        row = SmsCode.objects.create(
            purpose=purpose,
            phone=phone,
            target=target,
            code_hash=_digest(purpose=purpose, phone=phone, target=target, code=code),
            created_at=at,
            expires_at=at + timedelta(seconds=ttl),
        )
        transactional_sms_enqueue(
            kind=Kind.SMS_CODE,
            phone=phone,
            context={"code": code, "purpose": str(CodePurpose(purpose).label), "minutes": max(ttl // 60, 1)},
            dedupe_key=f"sms_code:{row.pk}",
            now=at,
        )
    return row


def code_verify(
    *, actor: Actor, purpose: str, phone: str, code: str, target: str = "", now: float | None = None
) -> None:
    """Spend the current code of (purpose, phone, target) if `code` is it; else raise ValidationError({"code"}).

    Each try is counted with a conditional UPDATE before the comparison, so concurrent tries cannot exceed the
    limit; the count and the audit row of a wrong code are committed even though the caller is refused."""
    now = time.time() if now is None else now
    at = datetime.fromtimestamp(now, tz=UTC)
    code = (code or "").strip()
    max_tries = _conf("SMS_CODE_MAX_TRIES")
    with transaction.atomic():
        row = (
            SmsCode.objects.filter(
                purpose=purpose, phone=phone, target=target, used_at__isnull=True, expires_at__gt=at
            )
            .order_by("-created_at", "-id")
            .first()
        )
        counted = (
            row is not None
            and SmsCode.objects.filter(pk=row.pk, attempts__lt=max_tries, used_at__isnull=True).update(
                attempts=F("attempts") + 1
            )
            == 1
        )
        ok = (
            counted
            and len(code) == 6
            and code.isdigit()
            and secrets.compare_digest(
                row.code_hash, _digest(purpose=purpose, phone=phone, target=target, code=code)
            )
        )
        if ok and SmsCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=at) == 1:
            return
        audit_record(
            actor=actor,
            action="portal.sms_code_failed",
            object_type="portal.smscode",
            object_id=row.pk if row is not None else "",
            changes={
                "purpose": purpose,
                "phone_last4": phone[-4:],
                "attempt": row.attempts + 1 if row else 0,
            },
        )
    if row is None or not counted:
        raise ValidationError({"code": [_("验证码已失效，请重新获取")]})
    raise ValidationError({"code": [_("验证码不正确")]})
