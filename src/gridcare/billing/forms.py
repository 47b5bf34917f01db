"""Forms of the quote and tariff pages: they parse input; the service and engine check the rules."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _kwh(label):
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


class QuoteForm(forms.Form):
    tariff_code = forms.ChoiceField(label=_("电价"))
    period_start = forms.DateField(label=_("起始日期"), widget=DATE)
    period_end = forms.DateField(label=_("截止日期"), widget=DATE)
    total = _kwh(_("总电量（kWh，单一电价）"))
    sharp = _kwh(_("尖峰电量（kWh）"))
    peak = _kwh(_("高峰电量（kWh）"))
    flat = _kwh(_("平段电量（kWh）"))
    valley = _kwh(_("低谷电量（kWh）"))
    ytd_kwh_before = _kwh(_("本年此前累计电量（kWh，阶梯电价）"))
    capacity_kva = _kwh(_("受电容量（kVA，两部制）"))
    max_demand_kw = _kwh(_("最大需量（kW，两部制按需量）"))
    power_factor = forms.DecimalField(
        label=_("功率因数（两部制力调）"),
        required=False,
        max_digits=5,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )

    def __init__(self, *args, tariffs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tariff_code"].choices = [(t.code, f"{t.code} {t.name}") for t in tariffs]

    def quote_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "tariff_code": d["tariff_code"],
            "period_start": d["period_start"],
            "period_end": d["period_end"],
            "kwh": {k: d.get(k) for k in ("total", "sharp", "peak", "flat", "valley")},
            "ytd_kwh_before": d.get("ytd_kwh_before"),
            "capacity_kva": d.get("capacity_kva"),
            "max_demand_kw": d.get("max_demand_kw"),
            "power_factor": d.get("power_factor"),
        }


# Quote errors name API fields ("kwh.total"); the form's fields are flat.
FIELD_OF_ERROR = {
    "kwh.total": "total",
    "kwh.sharp": "sharp",
    "kwh.peak": "peak",
    "kwh.flat": "flat",
    "kwh.valley": "valley",
    "kwh": "total",
}


class TariffVersionForm(forms.Form):
    valid_from = forms.DateField(label=_("生效日期"), widget=DATE)
    valid_to = forms.DateField(label=_("失效日期（含，可空）"), widget=DATE, required=False)
    parameters = forms.CharField(label=_("电价参数（JSON）"), widget=forms.Textarea(attrs={"rows": 10}))

    def clean_parameters(self):
        try:
            value = json.loads(self.cleaned_data["parameters"])
        except ValueError as exc:
            raise forms.ValidationError(_("不是有效的 JSON：%(e)s") % {"e": exc}) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_("电价参数必须是 JSON 对象"))
        return value
