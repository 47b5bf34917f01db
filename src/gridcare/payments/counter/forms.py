"""Forms of the cashier's counter page."""

from django import forms
from django.utils.translation import gettext_lazy as _

from gridcare.payments.choices import PaymentChannel


class LookupForm(forms.Form):
    account_number = forms.CharField(label=_("户号"), max_length=10)


class CounterPaymentForm(forms.Form):
    # Its own id: the lookup box above already is id_account_number.
    account_number = forms.CharField(
        widget=forms.HiddenInput(attrs={"id": "id_pay_account_number"}), max_length=10
    )
    amount = forms.CharField(label=_("缴费金额(元)"), max_length=20)
    channel = forms.ChoiceField(
        label=_("收费方式"),
        choices=[
            (PaymentChannel.COUNTER_CASH, PaymentChannel.COUNTER_CASH.label),
            (PaymentChannel.COUNTER_CARD, PaymentChannel.COUNTER_CARD.label),
        ],
    )
    tendered = forms.CharField(
        label=_("实收金额(元)"),
        max_length=20,
        required=False,
        help_text=_("现金：顾客交来的现金，找零 = 实收 − 缴费金额；留空即等于缴费金额。刷卡请留空。"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    # One per rendering of the form (in the page's address too, so that Back shows the same one): a second
    # submit of it shows the first payment's receipt instead of recording another.
    form_token = forms.CharField(
        widget=forms.HiddenInput,
        max_length=64,
        error_messages={"required": _("收费表单已失效，请重新查询户号后再收费")},
    )
