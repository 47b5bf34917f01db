"""Writes for the organisation: units, halls, counters, staff, API tokens, login checks and unlocks."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, DateTimeField, F, PositiveSmallIntegerField, Q, Value, When
from django.utils import timezone

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


def login_failed_message() -> str:
    """The one answer to every refused login: wrong password, unknown name, wrong door, locked account."""
    from django.utils.translation import gettext as _

    return _("用户名或密码错误，或账号已暂时锁定，请稍后再试")


def login_attempt(*, username: str, password: str, ip: str | None, channel: str, portal: bool) -> User | None:
    """Check a password under the lockout every door shares (console, portal, Django admin: see
    `gridcare.org.backends.LockoutBackend`); the user, or None for every refusal whatever its reason.

    The check is reserved before the password is hashed, by one conditional UPDATE that only an open, active
    account of the door's kind passes (staff at the console and the admin, customers at the portal). The
    reservation counts the attempt as a failure up front; the one that takes the last of LOGIN_MAX_FAILURES
    slots also starts the lock. So N attempts sent at once hash at most LOGIN_MAX_FAILURES real passwords.
    An unknown name, an account of the other kind, an inactive one and a locked one reserve nothing and take the
    same path: a hash of the same cost on a throw-away user, then None - the caller shows one message for all.
    A success clears the counter and the lock; a failure keeps its reserved count and is audited
    (`user.login_failed`, or `user.locked` for the attempt that locked the account).
    """
    conf = settings.GRIDCARE
    limit = max(1, conf["LOGIN_MAX_FAILURES"])
    now = timezone.now()
    lock_end = now + timedelta(minutes=conf["LOGIN_LOCK_MINUTES"])
    kind = Q(role=Role.CUSTOMER) if portal else ~Q(role=Role.CUSTOMER)
    is_open = Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    # After an expired lock the count starts again at 1 (SET expressions read the row as it was).
    count = Case(
        When(locked_until__isnull=True, then=F("failed_logins") + 1),
        default=Value(1),
        output_field=PositiveSmallIntegerField(),
    )
    takes_last = (
        Q(pk__isnull=False) if limit == 1 else Q(locked_until__isnull=True, failed_logins__gte=limit - 1)
    )
    candidate = User.objects.filter(kind, is_open, username=username, is_active=True)
    if "\x00" in username:  # PostgreSQL text cannot hold NUL: such a name matches nobody, ask no database
        candidate = User.objects.none()
    user = None
    with transaction.atomic():
        reserved = candidate.update(
            failed_logins=count,
            locked_until=Case(
                When(takes_last, then=Value(lock_end)), default=Value(None), output_field=DateTimeField()
            ),
        )
        if reserved:
            # The UPDATE holds the row until commit: this read sees our own slot, not a later one.
            user = User.objects.get(username=username)
    if user is None:
        User().set_password(password)  # the same hashing work as a real check: timing tells nothing
        return None
    if user.check_password(password):
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        user.failed_logins, user.locked_until = 0, None
        return user
    actor = Actor(user=None, channel=channel, ip=ip)
    locked = user.locked_until is not None and user.failed_logins >= limit
    audit_record(
        actor=actor,
        action="user.locked" if locked else "user.login_failed",
        obj=user,
        unit_id=user.unit_id,
        changes={"locked_until": user.locked_until.isoformat()} if locked else None,
    )
    return None


@transaction.atomic
def user_unlock(*, actor: Actor, user: User) -> bool:
    """Lift a login lock (账号解锁) and clear the failure count; audited when a lock was lifted.

    False (and nothing written) when the account is not locked any more: two admins clicking at once, or the
    lock ran out meanwhile."""
    now = timezone.now()
    until = (
        User.objects.select_for_update()
        .filter(pk=user.pk, locked_until__gt=now)
        .values_list("locked_until", flat=True)
        .first()
    )
    if until is None:
        return False
    User.objects.filter(pk=user.pk).update(locked_until=None, failed_logins=0)
    audit_record(
        actor=actor,
        action="user.unlock",
        obj=user,
        unit_id=user.unit_id,
        changes={"locked_until": [until.isoformat(), None]},
    )
    return True


@transaction.atomic
def api_token_revoke(*, actor: Actor, token: ApiToken) -> bool:
    """Revoke a token (its owner's act); False, writing nothing, when it was revoked already."""
    revoked = ApiToken.objects.filter(pk=token.pk, revoked=False).update(revoked=True)
    if revoked:
        audit_record(
            actor=actor,
            action="api_token.revoke",
            obj=token,
            unit_id=token.user.unit_id,
            changes={"name": token.name, "prefix": token.prefix},
        )
    return bool(revoked)
