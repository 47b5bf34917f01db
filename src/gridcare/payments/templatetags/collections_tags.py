"""`{% collections_account_state account %}`: 保护用户 and the open disconnection case of an account, for the
customer page (one query per account; a customer has few accounts)."""

from django import template

from gridcare.payments.collections_selectors import account_states

register = template.Library()


@register.inclusion_tag("payments/collections_account_state.html")
def collections_account_state(account):
    return {"a": account, "case": account_states([account.pk]).get(account.pk)}
