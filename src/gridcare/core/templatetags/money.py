"""Money in templates: `{{ amount|yuan }}` → "12,345.60" (thousands separators, two decimals, half-up).

Registered as a template builtin (settings.TEMPLATES), so no `{% load %}` is needed."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

from gridcare.core.money import CENT

register = template.Library()


@register.filter
def yuan(value) -> str:
    """A money amount with thousands separators and two decimals; blank for None or non-numbers."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f}"
