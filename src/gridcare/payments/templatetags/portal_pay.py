"""`{% portal_can_pay account_number as can_pay %}`: whether the logged-in customer may pay that 户号 online
(it is bound to them), for pages outside the payments app such as the public 户号 query."""

from django import template

from gridcare.portal.selectors import portal_accounts

register = template.Library()


@register.simple_tag(takes_context=True)
def portal_can_pay(context, account_number) -> bool:
    user = context.get("user")
    if not account_number or user is None:
        return False
    return portal_accounts(user=user).filter(account_number=str(account_number)).exists()
