"""`{% prepaid_portal_block account %}`: the prepaid estimate block (预计可用 N 天) on the portal's account
page. The caller passes an account already proven bound to the customer (portal_account_get); nothing is
shown for an account not enrolled in prepaid."""

from django import template
from django.utils import timezone

from gridcare.payments.prepaid import services as prepaid

register = template.Library()


@register.inclusion_tag("payments/prepaid_portal_block.html")
def prepaid_portal_block(account) -> dict:
    p = prepaid.prepaid_of(account) if account is not None else None
    if p is None or not p.enrolled:
        return {"p": None}
    today = timezone.localdate()
    return {"p": p, "estimate": prepaid.prepaid_estimate_live(account, today=today), "today": today}
