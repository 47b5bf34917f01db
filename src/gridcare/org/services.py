"""Writes for the organisation: units, halls, counters, staff, API tokens."""

from django.db import transaction

from gridcare.core.audit import Actor, audit_record, snapshot
from gridcare.core.permissions import Role

from .models import ApiToken, Counter, ServiceHall, SupplyUnit, User


@transaction.atomic
def unit_create(
    *, actor: Actor, code: str, name: str, level: str, parent: SupplyUnit | None = None
) -> SupplyUnit:
    unit = SupplyUnit(code=code, name=name, level=level, parent=parent)
    unit.path = f"{parent.path if parent else ''}{code}."
    unit.save()
    audit_record(
        actor=actor, action="unit.create", obj=unit, unit_id=unit.pk, changes={"after": snapshot(unit)}
    )
    return unit


@transaction.atomic
def hall_create(
    *, actor: Actor, unit: SupplyUnit, code: str, name: str, address: str = "", counters: int = 0
) -> ServiceHall:
    hall = ServiceHall.objects.create(unit=unit, code=code, name=name, address=address)
    Counter.objects.bulk_create(
        Counter(hall=hall, number=n, name=f"{n}号窗口") for n in range(1, counters + 1)
    )
    audit_record(
        actor=actor,
        action="hall.create",
        obj=hall,
        unit_id=unit.pk,
        changes={"after": snapshot(hall), "counters": counters},
    )
    return hall


@transaction.atomic
def staff_create(
    *,
    actor: Actor,
    username: str,
    password: str,
    role: str,
    unit: SupplyUnit,
    display_name: str = "",
    phone: str = "",
) -> User:
    if role == Role.CUSTOMER:
        raise ValueError("staff_create is for staff roles")
    user = User(
        username=username,
        role=role,
        unit=unit,
        display_name=display_name,
        phone=phone,
        is_staff=role == Role.ADMIN,
    )
    user.set_password(password)
    user.save()
    audit_record(
        actor=actor,
        action="staff.create",
        obj=user,
        unit_id=unit.pk,
        changes={"after": {"username": username, "role": role, "unit": unit.pk}},
    )
    return user


@transaction.atomic
def api_token_create(*, actor: Actor, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; the clear key is returned once and never stored."""
    key = ApiToken.new_key()
    token = ApiToken.objects.create(user=user, name=name, prefix=key[3:11], key_hash=ApiToken.hash_key(key))
    audit_record(
        actor=actor,
        action="api_token.create",
        obj=token,
        unit_id=user.unit_id,
        changes={"name": name, "user": user.pk},
    )
    return token, key


class LoginLocked(Exception):
    """Too many failed logins; the account is locked for a while."""


def login_attempt(*, username: str, password: str, ip: str | None, channel: str, staff: bool) -> User | None:
    """Check a password with lockout after repeated failures; failures and lockouts are audited."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import F
    from django.utils import timezone
    from django.utils.translation import gettext as _

    conf = settings.GRIDCARE
    user = User.objects.filter(username=username).first()
    now = timezone.now()
    if user is None:
        User().set_password(password)  # same work as a real check, so timing does not reveal unknown names
        return None
    if user.locked_until and user.locked_until > now:
        raise LoginLocked(
            _("登录失败次数过多，账号已锁定，请于 %(t)s 后再试")
            % {"t": timezone.localtime(user.locked_until).strftime("%H:%M")}
        )
    wrong_kind = (staff and user.is_customer) or (not staff and not user.is_customer)
    if not user.is_active or wrong_kind or not user.check_password(password):
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
            user.refresh_from_db(fields=["failed_logins"])
            actor = Actor(user=None, channel=channel, ip=ip)
            if user.failed_logins >= conf["LOGIN_MAX_FAILURES"]:
                user.locked_until = now + timedelta(minutes=conf["LOGIN_LOCK_MINUTES"])
                user.failed_logins = 0
                user.save(update_fields=["locked_until", "failed_logins"])
                audit_record(actor=actor, action="user.locked", obj=user, unit_id=user.unit_id)
            else:
                audit_record(actor=actor, action="user.login_failed", obj=user, unit_id=user.unit_id)
        return None
    if user.failed_logins or user.locked_until:
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    return user
