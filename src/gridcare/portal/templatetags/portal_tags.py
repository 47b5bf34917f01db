"""Console tags of the portal app: a 户号's bind lock on the customer page."""

from django import template
from django.utils import timezone

from gridcare.portal.models import BindLock

register = template.Library()


@register.inclusion_tag("portal/console/_bind_lock.html")
def bind_lock_state(account, can_edit: bool):
    """Shows "网上绑定已锁定至 …" and, for staff who may edit customers, the link to lift it.

    Select `bind_lock` with the accounts (`select_related`) or this costs a query per account."""
    try:
        lock = account.bind_lock  # selected with the account by the customer page: no query
    except BindLock.DoesNotExist:
        lock = None
    until = lock.locked_until if lock is not None else None
    if until is not None and until <= timezone.now():
        until = None
    return {"account": account, "until": until, "can_edit": can_edit}
