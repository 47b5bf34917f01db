"""Forms of the preference and campaign pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from gridcare.customers.choices import CustomerClass, Segment


class PreferenceForm(forms.Form):
    notify_sms = forms.BooleanField(label=_("短信通知"), required=False)
    notify_wechat = forms.BooleanField(label=_("微信通知"), required=False)
    notify_email = forms.BooleanField(label=_("邮件通知"), required=False)
    quiet_start = forms.TimeField(
        label=_("免打扰开始"), widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"})
    )
    quiet_end = forms.TimeField(
        label=_("免打扰结束"), widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"})
    )
    wechat_openid = forms.CharField(
        label=_("微信用户标识"),
        max_length=64,
        required=False,
        help_text=_("关注供电公司公众号后获得的用户标识，用于发送微信通知"),
    )
    greetings_opt_out = forms.BooleanField(label=_("不接收节日问候等营销信息"), required=False)


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("活动名称"), max_length=100)
    unit = forms.TypedChoiceField(label=_("供电单位（含下级）"), coerce=int)
    segment = forms.ChoiceField(
        label=_("客户分群"), required=False, choices=[("", _("全部")), *Segment.choices]
    )
    customer_class = forms.ChoiceField(
        label=_("用电类别"), required=False, choices=[("", _("全部")), *CustomerClass.choices]
    )
    text = forms.CharField(label=_("问候内容"), max_length=300, widget=forms.Textarea(attrs={"rows": 3}))
    scheduled_at = forms.DateTimeField(
        label=_("计划发送时间"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        unit = self.fields["unit"]
        if not isinstance(unit, forms.ChoiceField):
            raise TypeError("CampaignForm.unit must be a choice field")
        unit.choices = [(u.pk, u.name) for u in units]
