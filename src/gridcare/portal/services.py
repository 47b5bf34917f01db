"""Writes of the customer portal: registration, binding and unbinding 户号, re-authentication and changing the
login phone, and the per-户号 bind lock. Each one leaves its audit row.

Registration and binding need a 6-digit SMS code (`codes.py`). Failed bind proofs count per user per hour
(GRIDCARE["BIND_MAX_FAILURES"]), per client address per hour (BIND_PER_IP) and per 户号 across users
(`BindLock`: after BIND_ACCOUNT_MAX_FAILURES the 户号 is locked for binding for BIND_ACCOUNT_LOCK_HOURS, until a
counter clerk lifts it after checking the customer's ID, `bind_lock_lift`).
"""

import secrets
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core import ratelimit
from gridcare.core.audit import Actor, audit_record
from gridcare.core.masking import mask_phone
from gridcare.core.permissions import Perm, Role, has_perm
from gridcare.core.validators import ACCOUNT_NUMBER_RE, MOBILE_RE, validate_phone
from gridcare.customers.choices import AccountStatus
from gridcare.customers.models import Account, PortalBinding
from gridcare.org.models import User

from . import codes
from .choices import CodePurpose
from .codes import CodeRateLimited  # noqa: F401 — views catch it from here
from .models import BindLock

BIND_WINDOW_SECONDS = 3600
REAUTH_SESSION_KEY = "portal_reauth_at"


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


class BindLocked(Exception):
    """The 户号 had too many failed bind proofs (by anyone): binding it waits for the lock to end or a clerk."""

    def __init__(self) -> None:
        super().__init__(
            _("该户号因多次绑定失败已暂停网上绑定，请24小时后再试，或携带有效身份证件到营业厅办理")
        )


class BindNoMobile(Exception):
    """The proof matched but the 户号's registered phone cannot receive the code."""

    def __init__(self) -> None:
        super().__init__(_("该户号预留的手机号无法接收短信验证码，请携带有效身份证件到营业厅办理"))


def _at(now: float) -> datetime:
    return datetime.fromtimestamp(now, tz=UTC)


def _require_customer(user: User) -> None:
    if user is None or not user.is_authenticated or not user.is_active or user.role != Role.CUSTOMER:
        raise PermissionError("portal writes are for active customer users only")


def _register_phone_errors(phone: str) -> tuple[str, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    try:
        phone = validate_phone(phone)
    except ValidationError as e:
        errors["phone"] = e.messages
    else:
        if not MOBILE_RE.fullmatch(phone):
            errors["phone"] = [_("请输入11位手机号码")]
    return phone, errors


def register_code_send(*, actor: Actor, phone: str, client_key: str, now: float | None = None) -> str:
    """Send a registration code to `phone`; returns the normalised phone.

    A phone that is already registered gets its code too, under the same limits, and the same answer: whether a
    number has an account is told only to whoever holds the phone (portal_user_register, after the code).
    Raises ValidationError({"phone"}) for a malformed number, or CodeRateLimited."""
    phone, errors = _register_phone_errors(phone)
    if errors:
        raise ValidationError(errors)
    codes.code_send(actor=actor, purpose=CodePurpose.REGISTER, phone=phone, client_key=client_key, now=now)
    return phone


def portal_user_register(
    *, actor: Actor, phone: str, password: str, code: str, now: float | None = None
) -> User:
    """Create a portal user whose username is a mainland mobile number, proved by the SMS code sent to it.

    Raises ValidationError({field: [msg]}): the phone and password are checked first, so a typo there does
    not spend a try of the code."""
    phone, errors = _register_phone_errors(phone)
    user = User(username=phone, phone=phone, role=Role.CUSTOMER, unit=None)
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as e:
        errors["password"] = e.messages
    if not (code or "").strip():
        errors["code"] = [_("请输入短信验证码")]
    if errors:
        raise ValidationError(errors)
    codes.code_verify(actor=actor, purpose=CodePurpose.REGISTER, phone=phone, code=code, now=now)
    if User.objects.filter(username=phone).exists():  # told only now, to the holder of the phone
        raise ValidationError({"phone": [_("该手机号已注册，请直接登录")]})
    user.set_password(password)
    with transaction.atomic():
        try:
            with (
                transaction.atomic()
            ):  # a concurrent registration of the same phone loses here, not with a 500
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


def _failure_key(bucket: str, key: str, window: int, now: float) -> str:
    return f"portal:fail:{bucket}:{key}:{int(now // window)}"


def _failures_reached(bucket: str, key: str, limit: int, window: int, now: float) -> bool:
    """True when `limit` failures of `key` were counted in the current window (successes are not counted)."""
    return (cache.get(_failure_key(bucket, key, window, now)) or 0) >= limit


def _failure_add(bucket: str, key: str, window: int, now: float) -> None:
    cache_key = _failure_key(bucket, key, window, now)
    if not cache.add(cache_key, 1, timeout=window + 1):
        try:
            cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=window + 1)


def _same(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


def bind_lock_active(account: Account, at: datetime) -> bool:
    return BindLock.objects.filter(account=account, locked_until__gt=at).exists()


def _bind_account_failure(*, actor: Actor, account: Account, at: datetime) -> None:
    """Count a failed proof against the 户号 (atomic UPDATE); the failure that reaches the limit locks it."""
    limit = _conf_int("BIND_ACCOUNT_MAX_FAILURES")
    BindLock.objects.get_or_create(account=account, defaults={"updated_at": at})
    BindLock.objects.filter(account=account).update(failures=F("failures") + 1, updated_at=at)
    until = at + timedelta(hours=_conf_int("BIND_ACCOUNT_LOCK_HOURS"))
    # Exactly one of concurrent failures wins this conditional UPDATE, so the lock is audited once; it takes
    # off `limit` (not all) so that a failure counted by another request in between is not lost.
    if BindLock.objects.filter(account=account, failures__gte=limit).update(
        failures=F("failures") - limit, locked_until=until
    ):
        audit_record(
            actor=actor,
            action="portal.bind_lock",
            object_type="customers.account",
            object_id=account.pk,
            customer_id=account.customer_id,
            unit_id=account.unit_id,
            changes={"account_number": account.account_number, "locked_until": until.isoformat()},
        )


def _conf_int(key: str) -> int:
    return int(settings.GRIDCARE[key])


def _bind_proof(
    *, actor: Actor, user: User, account_number: str, name: str, phone_last4: str, client_key: str, now: float
) -> Account:
    """The active account the proof names, or BindRateLimited / BindLocked / BindRefused (each failure counted)."""
    _require_customer(user)
    if bind_is_blocked(user=user, now=now):
        raise BindRateLimited
    if _failures_reached("bind-ip", client_key, _conf_int("BIND_PER_IP"), BIND_WINDOW_SECONDS, now):
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
    at = _at(now)
    if account is not None and bind_lock_active(account, at):
        raise BindLocked
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
        _failure_add("bind-ip", client_key, BIND_WINDOW_SECONDS, now)
        with transaction.atomic():
            _bind_failure(actor=actor, user=user, account_number=account_number, now=now)
            if account is not None:
                _bind_account_failure(actor=actor, account=account, at=at)
        raise BindRefused
    return account


def bind_code_send(
    *,
    actor: Actor,
    user: User,
    account_number: str,
    name: str,
    phone_last4: str,
    client_key: str,
    now: float | None = None,
) -> str:
    """Check the proof (户号 + 户名 + last 4 digits) and send a bind code to the 户号's registered phone.

    Returns the masked phone the code went to. Raises BindRateLimited, BindLocked, BindRefused (counted),
    BindNoMobile, CodeRateLimited."""
    now = time.time() if now is None else now
    account = _bind_proof(
        actor=actor,
        user=user,
        account_number=account_number,
        name=name,
        phone_last4=phone_last4,
        client_key=client_key,
        now=now,
    )
    phone = account.customer.phone.strip()
    if not MOBILE_RE.fullmatch(phone):
        raise BindNoMobile
    codes.code_send(
        actor=actor,
        purpose=CodePurpose.BIND,
        phone=phone,
        client_key=client_key,
        target=account.account_number,
        account_number=account.account_number,
        now=now,
    )
    return mask_phone(phone)


def portal_bind_account(
    *,
    actor: Actor,
    user: User,
    account_number: str,
    name: str,
    phone_last4: str,
    code: str,
    client_key: str = "unknown",
    now: float | None = None,
) -> PortalBinding:
    """Bind an account to a portal user who proves 户号 + 户名 + last 4 digits of the registered phone and
    types the SMS code `bind_code_send` sent to that phone.

    Unknown, malformed or closed 户号, wrong name and wrong digits all raise the same `BindRefused`; a wrong
    code raises ValidationError({"code"}). Binding an already-bound account returns the existing binding and
    writes nothing. A successful bind clears the 户号's failure count."""
    now = time.time() if now is None else now
    account = _bind_proof(
        actor=actor,
        user=user,
        account_number=account_number,
        name=name,
        phone_last4=phone_last4,
        client_key=client_key,
        now=now,
    )
    codes.code_verify(
        actor=actor,
        purpose=CodePurpose.BIND,
        phone=account.customer.phone.strip(),
        target=account.account_number,
        code=code,
        now=now,
    )
    with transaction.atomic():
        BindLock.objects.filter(account=account, failures__gt=0).update(failures=0, updated_at=_at(now))
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


# The ID check a clerk confirms before lifting a bind lock: the last 4 characters of the registered 证件号码
# (an X check digit in either case), typed from the document the customer shows, plus a ticked box.
ID_TAIL = 4


@transaction.atomic
def bind_lock_lift(
    *, actor: Actor, account: Account, id_checked: bool, id_last4: str, now: datetime | None = None
) -> BindLock:
    """Lift the bind lock of `account` (staff with customer.edit, the caller scopes the account).

    The clerk confirms the customer's ID document was checked: the box ticked and the last 4 characters of
    the ID number typed from it, compared with the registered 证件号码. Raises ValidationError by field."""
    user = actor.user
    if user is None or not has_perm(user, Perm.CUSTOMER_EDIT):
        raise PermissionError("lifting a bind lock needs customer.edit")
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if not id_checked:
        errors["id_checked"] = [_("请确认已核验客户的有效身份证件原件")]
    typed = (id_last4 or "").strip().upper()
    registered = (account.customer.id_number or "").strip().upper()
    if len(typed) != ID_TAIL or len(registered) < ID_TAIL or not _same(typed, registered[-ID_TAIL:]):
        errors["id_last4"] = [_("证件号码后四位与登记的证件号码不一致")]
    lock = BindLock.objects.select_for_update().filter(account=account).first()
    if lock is None or lock.locked_until is None or lock.locked_until <= now:
        errors.setdefault("__all__", []).append(_("该户号当前没有绑定锁定"))
    if errors:
        raise ValidationError(errors)
    before = lock.locked_until.isoformat()
    lock.locked_until, lock.failures, lock.updated_at = None, 0, now
    lock.save(update_fields=["locked_until", "failures", "updated_at"])
    audit_record(
        actor=actor,
        action="portal.bind_unlock",
        object_type="customers.account",
        object_id=account.pk,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={
            "account_number": account.account_number,
            "locked_until": [before, None],
            "id_checked": True,
        },
    )
    return lock


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


# ---------------------------------------------------------------- re-authentication and phone change


def reauth_fresh(session, *, now: float | None = None) -> bool:
    """True when the session re-authenticated within GRIDCARE["REAUTH_MINUTES"]."""
    now = time.time() if now is None else now
    try:
        at = float(session.get(REAUTH_SESSION_KEY) or 0)
    except (TypeError, ValueError):
        return False
    return 0 <= now - at <= _conf_int("REAUTH_MINUTES") * 60


def reauth_needed_to_pay(session, amount: Decimal, *, now: float | None = None) -> bool:
    """Paying more than GRIDCARE["REAUTH_PAY_THRESHOLD"] in the portal needs a recent re-authentication."""
    return amount > Decimal(str(settings.GRIDCARE["REAUTH_PAY_THRESHOLD"])) and not reauth_fresh(
        session, now=now
    )


def reauth_code_send(*, actor: Actor, user: User, client_key: str, now: float | None = None) -> str:
    """Send a re-authentication code to the user's login phone; returns it masked."""
    _require_customer(user)
    codes.code_send(
        actor=actor,
        purpose=CodePurpose.REAUTH,
        phone=user.phone or user.username,
        client_key=client_key,
        target=str(user.pk),
        now=now,
    )
    return mask_phone(user.phone or user.username)


def portal_reauth(
    *, actor: Actor, user: User, session, password: str = "", code: str = "", now: float | None = None
) -> None:
    """Re-authenticate with the current password or the code sent to the login phone; marks the session.

    Raises ValidationError({"password"} / {"code"}); failures are audited. Wrong passwords count toward the
    login lockout, so a locked account re-authenticates with a code."""
    _require_customer(user)
    now = time.time() if now is None else now
    if code:
        codes.code_verify(
            actor=actor,
            purpose=CodePurpose.REAUTH,
            phone=user.phone or user.username,
            target=str(user.pk),
            code=code,
            now=now,
        )
    else:
        if not password:
            raise ValidationError({"password": [_("请输入登录密码或短信验证码")]})
        # The password is checked through the login lockout every door shares (org.services.login_attempt):
        # wrong passwords here count toward the same LOGIN_MAX_FAILURES as the portal's login page.
        from gridcare.core.choices import Channel
        from gridcare.org.services import login_attempt

        if (
            login_attempt(
                username=user.username, password=password, ip=actor.ip, channel=Channel.PORTAL, portal=True
            )
            is None
        ):
            audit_record(actor=actor, action="portal.reauth_failed", obj=user, changes={"method": "password"})
            raise ValidationError({"password": [_("密码不正确，或账号已暂时锁定，可改用短信验证码")]})
    session[REAUTH_SESSION_KEY] = now
    audit_record(
        actor=actor, action="portal.reauth", obj=user, changes={"method": "code" if code else "password"}
    )


def _new_phone(user: User, phone: str) -> str:
    try:
        phone = validate_phone(phone)
    except ValidationError as e:
        raise ValidationError({"new_phone": e.messages}) from None
    if not MOBILE_RE.fullmatch(phone):
        raise ValidationError({"new_phone": [_("请输入11位手机号码")]})
    if phone == user.username:
        raise ValidationError({"new_phone": [_("新手机号与当前手机号相同")]})
    if User.objects.filter(username=phone).exists():
        raise ValidationError({"new_phone": [_("该手机号已注册")]})
    return phone


def phone_change_code_send(
    *, actor: Actor, user: User, session, new_phone: str, client_key: str, now: float | None = None
) -> str:
    """Send a code to the new phone of a freshly re-authenticated user; returns the normalised new phone."""
    _require_customer(user)
    if not reauth_fresh(session, now=now):
        raise PermissionError("re-authenticate first")
    phone = _new_phone(user, new_phone)
    codes.code_send(
        actor=actor,
        purpose=CodePurpose.PHONE_CHANGE,
        phone=phone,
        client_key=client_key,
        target=str(user.pk),
        now=now,
    )
    return phone


def portal_phone_change(
    *, actor: Actor, user: User, session, new_phone: str, code: str, now: float | None = None
) -> User:
    """Change the login phone (username and phone) to `new_phone`, proved by the code sent to it.

    Needs a re-authentication within REAUTH_MINUTES (PermissionError otherwise)."""
    _require_customer(user)
    if not reauth_fresh(session, now=now):
        raise PermissionError("re-authenticate first")
    phone = _new_phone(user, new_phone)
    codes.code_verify(
        actor=actor, purpose=CodePurpose.PHONE_CHANGE, phone=phone, target=str(user.pk), code=code, now=now
    )
    before = user.username
    with transaction.atomic():
        try:
            with transaction.atomic():
                User.objects.filter(pk=user.pk).update(username=phone, phone=phone)
        except IntegrityError:
            raise ValidationError({"new_phone": [_("该手机号已注册")]}) from None
        audit_record(
            actor=actor,
            action="portal_user.phone_change",
            obj=user,
            changes={"phone": [before, phone]},
        )
    user.username = user.phone = phone
    return user
