"""Forms of the hall's queue pages (greeter, counter console, kiosk, portal remote ticket) and set-up page."""

from __future__ import annotations

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from gridcare.core.validators import MOBILE_RE

from .choices import DeviceKind, PriorityReason
from .models import HallProfile

GREETER_FLAGS = [
    ("", _("普通")),
    (PriorityReason.ELDERLY, _("老年人")),
    (PriorityReason.DISABLED, _("残障人士")),
    (PriorityReason.VIP, _("VIP客户")),
]


def _choices(form: forms.Form, name: str, choices: list) -> None:
    cast(forms.ChoiceField, form.fields[name]).choices = choices


def _clean_phone(value: str) -> str:
    value = (value or "").strip()
    if value and not MOBILE_RE.match(value):
        raise forms.ValidationError(_("手机号格式不正确"))
    return value


class GreeterForm(forms.Form):
    category = forms.ChoiceField(label=_("业务类别"), widget=forms.RadioSelect)
    phone = forms.CharField(label=_("手机号（选填，临近叫号短信提醒）"), max_length=20, required=False)
    priority_reason = forms.ChoiceField(
        label=_("优先"), choices=GREETER_FLAGS, required=False, widget=forms.RadioSelect
    )
    id_number = forms.CharField(
        label=_("身份证号（选填，按出生日期认定老年人）"), max_length=18, required=False
    )
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "category", [(c.code, f"{c.letter} {c.name}") for c in categories])

    def clean_phone(self):
        return _clean_phone(self.cleaned_data.get("phone", ""))


class CheckInForm(forms.Form):
    number = forms.CharField(label=_("排队号码"), max_length=8, required=False)
    phone = forms.CharField(label=_("手机号"), max_length=20, required=False)

    def __init__(self, *args, need_both: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.need_both = need_both
        if need_both:
            self.fields["number"].required = True
            self.fields["phone"].required = True

    def clean_phone(self):
        return _clean_phone(self.cleaned_data.get("phone", ""))

    def clean(self):
        data = super().clean() or {}
        if not self.need_both and not data.get("number") and not data.get("phone"):
            raise forms.ValidationError(_("请输入排队号码或手机号"))
        return data


class KioskTicketForm(forms.Form):
    category = forms.ChoiceField(label=_("业务类别"), widget=forms.RadioSelect)
    phone = forms.CharField(label=_("手机号（选填）"), max_length=20, required=False)

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "category", [(c.code, f"{c.letter} {c.name}") for c in categories])

    def clean_phone(self):
        return _clean_phone(self.cleaned_data.get("phone", ""))


class PortalTicketForm(forms.Form):
    hall = forms.ChoiceField(label=_("营业厅"))
    category = forms.ChoiceField(label=_("业务类别"))
    phone = forms.CharField(label=_("手机号（到号前短信提醒）"), max_length=20)

    def __init__(self, *args, halls=(), categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "hall", [(h.code, h.name) for h in halls])
        _choices(self, "category", [(c.code, f"{c.letter} {c.name}") for c in categories])

    def clean_phone(self):
        value = _clean_phone(self.cleaned_data.get("phone", ""))
        if not value:
            raise forms.ValidationError(_("请填写手机号"))
        return value


class TransferForm(forms.Form):
    to_category = forms.CharField(required=False, max_length=24)
    to_counter_id = forms.IntegerField(required=False, min_value=1)


WEEKDAY_CHOICES = [
    ("1", _("周一")),
    ("2", _("周二")),
    ("3", _("周三")),
    ("4", _("周四")),
    ("5", _("周五")),
    ("6", _("周六")),
    ("7", _("周日")),
]


class ProfileForm(forms.ModelForm):
    open_weekdays = forms.MultipleChoiceField(
        label=_("营业日"), choices=WEEKDAY_CHOICES, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = HallProfile
        fields = [
            "opens_at",
            "closes_at",
            "open_weekdays",
            "accepting",
            "elderly_age",
            "starvation_guard_minutes",
            "max_recalls",
            "call_ahead_places",
            "remote_checkin_minutes",
            "appointment_grace_minutes",
            "slot_capacity",
            "wait_target_minutes",
            "min_ratings_to_rank",
        ]
        widgets = {
            "opens_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "closes_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and not self.is_bound:
            self.initial["open_weekdays"] = list(self.instance.open_weekdays)

    def clean_open_weekdays(self):
        return "".join(sorted(self.cleaned_data["open_weekdays"]))


class ClosureForm(forms.Form):
    day = forms.DateField(label=_("闭厅日期"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("原因"), max_length=100, required=False)


class DeviceForm(forms.Form):
    kind = forms.ChoiceField(label=_("设备类型"), choices=DeviceKind.choices)
    counter = forms.ChoiceField(label=_("绑定窗口（评价器必填）"), required=False)
    name = forms.CharField(label=_("名称"), max_length=50, required=False)

    def __init__(self, *args, counters=(), **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "counter", [("", "—")] + [(str(c.pk), c.name or str(c.number)) for c in counters])
