"""`{{ code|channel_label }}` (alipay → 支付宝) and `{{ entry.note|entry_note }}` (a payment entry's note
"alipay:T123" → 支付宝：T123): payment channels are shown by their Chinese names, never as codes."""

from django import template

from gridcare.payments.choices import PaymentChannel

register = template.Library()


@register.filter
def channel_label(code) -> str:
    labels = dict(PaymentChannel.choices)
    return str(labels.get(code, code or ""))


@register.filter
def entry_note(note) -> str:
    """Ledger notes of payments are written "<channel>:<transaction id>"; other notes are shown as they are."""
    channel, sep, rest = str(note or "").partition(":")
    labels = dict(PaymentChannel.choices)
    if sep and channel in labels:
        return f"{labels[channel]}：{rest}"
    return str(note or "")
