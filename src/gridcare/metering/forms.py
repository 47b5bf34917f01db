"""Forms of the metering pages: register entry on the route walk and corrections in the exceptions queue."""

from django import forms
from django.utils.translation import gettext_lazy as _

_NUM = {"inputmode": "decimal", "autocomplete": "off"}


class RegistersForm(forms.Form):
    """Register values as typed; services.clean_registers() checks them against the meter."""

    total = forms.CharField(
        label=_("总示数"), max_length=20, widget=forms.TextInput(attrs={**_NUM, "autofocus": True})
    )
    sharp = forms.CharField(label=_("尖"), max_length=20, required=False, widget=forms.TextInput(attrs=_NUM))
    peak = forms.CharField(label=_("峰"), max_length=20, required=False, widget=forms.TextInput(attrs=_NUM))
    flat = forms.CharField(label=_("平"), max_length=20, required=False, widget=forms.TextInput(attrs=_NUM))
    valley = forms.CharField(label=_("谷"), max_length=20, required=False, widget=forms.TextInput(attrs=_NUM))

    def __init__(self, *args, tou: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not tou:
            for name in ("sharp", "peak", "flat", "valley"):
                del self.fields[name]
