"""`{% collections_account_state a %}` inside the customer page's account loop: 保护用户 and the open
disconnection case of the account. The cases of every account on the page (`accounts` in the context) are
read once, in one query, on the first call; later calls reuse them."""

from django import template

from gridcare.payments.collections.selectors import account_states

register = template.Library()


@register.inclusion_tag("payments/collections_account_state.html", takes_context=True)
def collections_account_state(context, account):
    cache = context.render_context.get("collections_account_states")
    if cache is None or account.pk not in cache["ids"]:
        ids = {a.pk for a in context.get("accounts") or []} | {account.pk}
        cache = {"ids": ids, "cases": account_states(list(ids))}
        context.render_context["collections_account_states"] = cache
    return {"a": account, "case": cache["cases"].get(account.pk)}
