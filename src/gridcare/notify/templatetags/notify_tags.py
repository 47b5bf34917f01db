"""`{% customer_notifications customer %}`: the customer's last 20 notices on the console customer page.

Recipients are masked unless the page's context says `reveal` (set by the customer page only after the
audited 查看完整信息)."""

from django import template

from ..selectors import notifications_for_customer

register = template.Library()


@register.inclusion_tag("notify/_customer_notifications.html", takes_context=True)
def customer_notifications(context, customer):
    request = context.get("request")
    user = getattr(request, "user", None)
    from gridcare.core.permissions import Perm, has_perm

    return {
        "customer": customer,
        "notices": notifications_for_customer(
            user=user, customer_id=customer.pk, reveal=context.get("reveal") is True
        ),
        "can_edit": has_perm(user, Perm.CUSTOMER_EDIT),
    }
