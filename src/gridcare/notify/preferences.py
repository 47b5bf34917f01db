"""A customer's notice preferences: quiet hours (免打扰, default 22:00–08:00 Asia/Shanghai) and who may change
them (`preference_update`: staff of the customer's unit, or the bound portal customer)."""

import logging
from datetime import datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.masking import mask_hidden
from gridcare.core.permissions import Perm, Role
from gridcare.core.scoping import PermissionDenied, require_unit
from gridcare.customers.models import Customer

from .models import NotifyPreference

log = logging.getLogger("gridcare.notify")

DEFAULT_QUIET = (time(22, 0), time(8, 0))


# ---------------------------------------------------------------- quiet hours


def quiet_release(at: datetime, start: time, end: time) -> datetime | None:
    """When `at` falls inside the quiet period [start, end) local time, the end of that period; else None.

    22:00–08:00 wraps midnight: 22:00 and 07:59 are quiet, 08:00 and 21:59 are not."""
    if start == end:
        return None
    local = timezone.localtime(at)
    t = local.time()
    tz = local.tzinfo
    if start > end:  # wraps midnight
        if t >= start:
            day = local.date() + timedelta(days=1)
        elif t < end:
            day = local.date()
        else:
            return None
    elif start <= t < end:
        day = local.date()
    else:
        return None
    return datetime.combine(day, end, tzinfo=tz)


# ---------------------------------------------------------------- preferences


def _parse_time(value: Any, field: str, errs: dict) -> time | None:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        errs[field] = [_("时间格式应为 HH:MM")]
        return None


def _check_customer_actor(actor: Actor, customer: Customer) -> None:
    """Staff with customer.edit in the customer's unit, or the portal customer bound to one of its accounts."""
    user = actor.user
    if user is not None and getattr(user, "role", None) == Role.CUSTOMER:
        if not user.is_active or not customer.accounts.filter(bindings__user=user).exists():
            raise PermissionDenied
        return
    require_unit(actor, customer.unit_id, Perm.CUSTOMER_EDIT)


def preference_update(
    *,
    actor: Actor,
    customer_id: int,
    notify_sms: bool,
    notify_wechat: bool,
    notify_email: bool,
    quiet_start: Any,
    quiet_end: Any,
    wechat_openid: str = "",
    greetings_opt_out: bool = False,
    now: datetime | None = None,
) -> NotifyPreference:
    """Set a customer's channels, quiet hours, WeChat openid and greeting opt-out (audited)."""
    now = now or timezone.now()
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise PermissionDenied
    _check_customer_actor(actor, customer)
    errs: dict[str, list[str]] = {}
    qs, qe = _parse_time(quiet_start, "quiet_start", errs), _parse_time(quiet_end, "quiet_end", errs)
    openid = (wechat_openid or "").strip()
    if len(openid) > 64 or any(not (ch.isalnum() or ch in "-_") for ch in openid):
        errs["wechat_openid"] = [_("微信用户标识格式不正确")]
    if notify_wechat and not openid:
        errs["wechat_openid"] = [_("开通微信通知需要填写微信用户标识")]
    if notify_email and not customer.email:
        errs["notify_email"] = [_("客户没有登记电子邮箱，不能开通邮件通知")]
    if errs or qs is None or qe is None:  # a time that does not parse: its error is in errs
        raise ValidationError(errs)
    opt_out = bool(greetings_opt_out)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        pref, _created = NotifyPreference.objects.select_for_update().get_or_create(
            customer=customer, defaults={"updated_at": now}
        )
        before = {
            "notify_sms": customer.notify_sms,
            "notify_wechat": customer.notify_wechat,
            "notify_email": customer.notify_email,
            "quiet_start": pref.quiet_start.isoformat("minutes"),
            "quiet_end": pref.quiet_end.isoformat("minutes"),
            "wechat_openid": pref.wechat_openid,
            "greetings_opt_out": pref.greetings_opt_out,
        }
        after = {
            "notify_sms": bool(notify_sms),
            "notify_wechat": bool(notify_wechat),
            "notify_email": bool(notify_email),
            "quiet_start": qs.isoformat("minutes"),
            "quiet_end": qe.isoformat("minutes"),
            "wechat_openid": openid,
            "greetings_opt_out": opt_out,
        }
        Customer.objects.filter(pk=customer.pk).update(
            notify_sms=after["notify_sms"],
            notify_wechat=after["notify_wechat"],
            notify_email=after["notify_email"],
            updated_at=now,
        )
        pref.quiet_start, pref.quiet_end, pref.wechat_openid = qs, qe, openid
        pref.greetings_opt_out, pref.updated_at = opt_out, now
        pref.save()
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if "wechat_openid" in changes:
            changes["wechat_openid"] = [mask_hidden(before["wechat_openid"]), mask_hidden(openid)]
        audit_record(
            actor=actor,
            action="notify.preference_update",
            obj=pref,
            customer_id=customer.pk,
            unit_id=customer.unit_id,
            changes=changes,
        )
    return pref
