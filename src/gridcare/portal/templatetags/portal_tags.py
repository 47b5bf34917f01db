"""Console tags of the portal app: a 户号's bind lock on the customer page."""

from django import template
from django.utils import timezone

from gridcare.portal.models import BindLock

register = template.Library()


@register.inclusion_tag("portal/console/_bind_lock.html")
def bind_lock_state(account, can_edit: bool):
    """Shows "网上绑定已锁定至 …" and, for staff who may edit customers, the link to lift it."""
    until = (
        BindLock.objects.filter(account=account, locked_until__gt=timezone.now())
        .values_list("locked_until", flat=True)
        .first()
    )
    return {"account": account, "until": until, "can_edit": can_edit}
