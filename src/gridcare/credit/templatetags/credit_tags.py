"""Template filters of the credit pages."""

from django import template

from gridcare.core.masking import mask_customer_name

register = template.Library()


@register.filter
def customer_display(customer) -> str:
    """A customer's name as lists show it: a person's masked (张*), an organisation's in full."""
    if customer is None:
        return ""
    return mask_customer_name(customer.name, customer.kind)
