"""Forms of the cashier's counter page."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import PaymentChannel


class LookupForm(forms.Form):
    account_number = forms.CharField(label=_("户号"), max_length=10)


class CounterPaymentForm(forms.Form):
    # Its own id: the lookup box above already is id_account_number.
    account_number = forms.CharField(
        widget=forms.HiddenInput(attrs={"id": "id_pay_account_number"}), max_length=10
    )
    amount = forms.CharField(label=_("实收金额(元)"), max_length=20)
    channel = forms.ChoiceField(
        label=_("收费方式"),
        choices=[
            (PaymentChannel.COUNTER_CASH, PaymentChannel.COUNTER_CASH.label),
            (PaymentChannel.COUNTER_CARD, PaymentChannel.COUNTER_CARD.label),
        ],
    )
    receipt_no = forms.CharField(widget=forms.HiddenInput, max_length=64)
