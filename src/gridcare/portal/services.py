"""Writes of the customer portal: registration, binding and unbinding 户号. Each one leaves its audit row."""

import secrets
import time

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core import ratelimit
from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Role
from gridcare.core.validators import ACCOUNT_NUMBER_RE, MOBILE_RE, validate_phone
from gridcare.customers.choices import AccountStatus
from gridcare.customers.models import Account, PortalBinding
from gridcare.org.models import User

BIND_WINDOW_SECONDS = 3600


class BindRefused(Exception):
    """The proof did not match. One message for every cause, so it cannot be used to learn which 户号 exist."""

    def __init__(self) -> None:
        super().__init__(_("户号、户名或手机号后四位不匹配，请核对后重试"))


class BindRateLimited(Exception):
    """Too many failed bind attempts by this user in the current hour."""

    def __init__(self) -> None:
        super().__init__(_("绑定失败次数过多，请一小时后再试"))


class BindingNotFound(Exception):
    """The user has no binding to that 户号 (answered as 404)."""


def _require_customer(user: User) -> None:
    if user is None or not user.is_authenticated or not user.is_active or user.role != Role.CUSTOMER:
        raise PermissionError("portal writes are for active customer users only")


@transaction.atomic
def portal_user_register(*, actor: Actor, phone: str, password: str) -> User:
    """Create a portal user whose username is a mainland mobile number; raises ValidationError({field: [msg]})."""
    errors: dict[str, list[str]] = {}
    try:
        phone = validate_phone(phone)
    except ValidationError as e:
        errors["phone"] = e.messages
    else:
        if not MOBILE_RE.fullmatch(phone):
            errors["phone"] = [_("请输入11位手机号码")]
        elif User.objects.filter(username=phone).exists():
            errors["phone"] = [_("该手机号已注册，请直接登录")]
    user = User(username=phone, phone=phone, role=Role.CUSTOMER, unit=None)
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as e:
        errors["password"] = e.messages
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    try:
        with transaction.atomic():  # a concurrent registration of the same phone loses here, not with a 500
            user.save()
    except IntegrityError:
        raise ValidationError({"phone": [_("该手机号已注册，请直接登录")]}) from None
    audit_record(
        actor=actor,
        action="portal_user.register",
        obj=user,
        changes={"after": {"username": user.username, "role": user.role}},
    )
    return user


def _bind_blocked_key(user_id: int, now: float) -> str:
    return f"portal:bind-blocked:{user_id}:{int(now // BIND_WINDOW_SECONDS)}"


def bind_is_blocked(*, user: User, now: float | None = None) -> bool:
    """True when the user used up the failed attempts of the current hour."""
    now = time.time() if now is None else now
    return cache.get(_bind_blocked_key(user.pk, now)) is not None


def _bind_failure(*, actor: Actor, user: User, account_number: str, now: float) -> None:
    """Count a failed attempt (bucket "bind"); after BIND_MAX_FAILURES of them the user is blocked for the hour."""
    limit = settings.GRIDCARE["BIND_MAX_FAILURES"]
    # `hit` answers "count <= limit"; asking with limit - 1 tells us when this failure is the limit-th one.
    within = ratelimit.hit("bind", str(user.pk), max(limit - 1, 0), BIND_WINDOW_SECONDS, now=now)
    if not within or limit <= 1:
        left = BIND_WINDOW_SECONDS - int(now % BIND_WINDOW_SECONDS) + 1
        cache.set(_bind_blocked_key(user.pk, now), 1, timeout=left)
    # Failed proofs of knowledge about someone's account are security events, like failed logins.
    audit_record(
        actor=actor,
        action="portal.bind_failed",
        obj=user,
        changes={"account_number": account_number[:32]},
    )


def _same(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


def portal_bind_account(
    *, actor: Actor, user: User, account_number: str, name: str, phone_last4: str, now: float | None = None
) -> PortalBinding:
    """Bind an account to a portal user who proves 户号 + 户名 + last 4 digits of the registered phone.

    Unknown, malformed or closed 户号, wrong name and wrong digits all raise the same `BindRefused`.
    Binding an already-bound account returns the existing binding and writes nothing.
    """
    _require_customer(user)
    now = time.time() if now is None else now
    if bind_is_blocked(user=user, now=now):
        raise BindRateLimited
    account_number = (account_number or "").strip()
    name = (name or "").strip()
    phone_last4 = (phone_last4 or "").strip()
    account = None
    if ACCOUNT_NUMBER_RE.fullmatch(account_number):
        account = (
            Account.objects.filter(account_number=account_number, status=AccountStatus.ACTIVE)
            .select_related("customer")
            .first()
        )
    registered = account.customer if account is not None else None
    name_ok = registered is not None and _same(name, registered.name)
    phone_ok = (
        registered is not None
        and len(phone_last4) == 4
        and phone_last4.isdigit()
        and len(registered.phone) >= 4
        and _same(phone_last4, registered.phone[-4:])
    )
    if not (name_ok and phone_ok):
        with transaction.atomic():
            _bind_failure(actor=actor, user=user, account_number=account_number, now=now)
        raise BindRefused
    with transaction.atomic():
        binding, created = PortalBinding.objects.get_or_create(
            user=user, account=account, defaults={"created_at": timezone.now()}
        )
        if created:
            audit_record(
                actor=actor,
                action="portal.bind",
                obj=binding,
                customer_id=account.customer_id,
                unit_id=account.unit_id,
                changes={"user": user.pk, "account_number": account.account_number},
            )
    return binding


@transaction.atomic
def portal_unbind_account(*, actor: Actor, user: User, account_number: str) -> None:
    """Remove the user's binding to `account_number`; raises BindingNotFound when there is none."""
    _require_customer(user)
    binding = (
        PortalBinding.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(user=user, account__account_number=(account_number or "").strip())
        .first()
    )
    if binding is None:
        raise BindingNotFound
    account = binding.account
    binding_id = binding.pk
    binding.delete()
    audit_record(
        actor=actor,
        action="portal.unbind",
        object_type="customers.portalbinding",
        object_id=binding_id,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={"user": user.pk, "account_number": account.account_number},
    )
