"""Console forms: they parse input; the services validate the rules and write."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import CustomerClass, CustomerKind, Segment, VoltageLevel
from .selectors import search_query_clean

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class SearchForm(forms.Form):
    q = forms.CharField(label=_("户号/姓名/电话/地址/证件号"), required=False)
    customer_class = forms.ChoiceField(
        label=_("用电类别"), required=False, choices=[("", _("全部"))] + CustomerClass.choices
    )
    segment = forms.ChoiceField(
        label=_("客户分群"), required=False, choices=[("", _("全部"))] + Segment.choices
    )

    def clean_q(self):
        try:
            return search_query_clean(self.cleaned_data.get("q"))
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["q"]) from None


class CustomerForm(forms.Form):
    kind = forms.ChoiceField(label=_("客户类型"), choices=CustomerKind.choices)
    name = forms.CharField(label=_("客户名称"), max_length=100)
    customer_class = forms.ChoiceField(label=_("用电类别"), choices=CustomerClass.choices)
    segment = forms.ChoiceField(label=_("客户分群"), choices=Segment.choices)
    id_number = forms.CharField(label=_("证件号码（身份证或统一社会信用代码）"), max_length=18)
    phone = forms.CharField(label=_("联系电话"), max_length=20)
    phone2 = forms.CharField(label=_("备用电话"), max_length=20, required=False)
    email = forms.CharField(label=_("电子邮箱"), max_length=254, required=False)
    unit_id = forms.TypedChoiceField(label=_("供电单位"), coerce=int)
    customer_manager_id = forms.TypedChoiceField(
        label=_("客户经理（大客户、重要客户）"), coerce=int, required=False, empty_value=None
    )
    notify_sms = forms.BooleanField(label=_("短信通知"), required=False, initial=True)
    notify_wechat = forms.BooleanField(label=_("微信通知"), required=False)
    notify_email = forms.BooleanField(label=_("邮件通知"), required=False)

    def __init__(self, *args, units=(), managers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit_id"].choices = [(u.pk, u.name) for u in units]
        self.fields["customer_manager_id"].choices = [("", "—")] + [
            (m.pk, f"{m.display_name or m.username}（{m.unit.name}）") for m in managers
        ]


class AccountOpenForm(forms.Form):
    account_number = forms.CharField(label=_("户号"), max_length=20)
    address = forms.CharField(label=_("用电地址"), max_length=200)
    transformer_area_id = forms.TypedChoiceField(label=_("台区"), coerce=int)
    opened_on = forms.DateField(widget=DATE, label=_("立户日期"), initial=lambda: timezone.localdate())
    voltage_level = forms.ChoiceField(label=_("电压等级"), choices=VoltageLevel.choices)
    contract_capacity_kva = forms.DecimalField(
        label=_("合同容量(kVA)"), max_digits=10, decimal_places=1, initial=8
    )
    tariff_code = forms.CharField(label=_("电价代码"), max_length=32, required=False)

    def __init__(self, *args, areas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["transformer_area_id"].choices = [
            (a.pk, f"{a.name}（{a.get_area_type_display()}）") for a in areas
        ]


class AccountCloseForm(forms.Form):
    closed_on = forms.DateField(widget=DATE, label=_("销户日期"), initial=lambda: timezone.localdate())


class AccountTransferForm(forms.Form):
    new_customer_id = forms.IntegerField(label=_("新户主客户编号"))
    effective_on = forms.DateField(widget=DATE, label=_("过户生效日期"), initial=lambda: timezone.localdate())


class MeterInstallForm(forms.Form):
    asset_number = forms.CharField(label=_("资产编号"), max_length=24)
    digits = forms.IntegerField(label=_("表位数"), initial=6)
    multiplier = forms.IntegerField(label=_("倍率"), initial=1)
    has_tou = forms.BooleanField(label=_("分时计量(尖峰平谷)"), required=False)
    installed_on = forms.DateField(widget=DATE, label=_("装表日期"), initial=lambda: timezone.localdate())


class MeterEditForm(forms.Form):
    digits = forms.IntegerField(label=_("表位数"))
    multiplier = forms.IntegerField(label=_("倍率"))
    has_tou = forms.BooleanField(label=_("分时计量(尖峰平谷)"), required=False)
