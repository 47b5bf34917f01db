"""Forms of the 95598 staff pages: they parse input; `services.py` checks the rules and writes."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .attachments import MAX_PER_ORDER
from .choices import (
    AreaKind,
    ComplaintSubType,
    OrderChannel,
    OrderType,
    Priority,
    ServiceRequestSubType,
    Step,
)

LOCAL_INPUT = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
BLANK = [("", "—")]
# Keyboard shortcuts of the order types on the console's quick form (accesskey and the digit keys).
TYPE_KEYS = {
    OrderType.FAULT: "1",
    OrderType.COMPLAINT: "2",
    OrderType.REPORT: "3",
    OrderType.OPINION: "4",
    OrderType.CONSULTATION: "5",
    OrderType.PRAISE: "6",
    OrderType.SERVICE_REQUEST: "7",
}
TYPE_OPTIONS = [(t.value, t.label, TYPE_KEYS[t]) for t in OrderType]
# Only the types that have sub-types, each with its own (the page offers the group of the chosen type).
SUB_TYPES_BY_TYPE = [
    (OrderType.SERVICE_REQUEST.value, OrderType.SERVICE_REQUEST.label, ServiceRequestSubType.choices),
    (OrderType.COMPLAINT.value, OrderType.COMPLAINT.label, ComplaintSubType.choices),
]
SUB_TYPE_GROUPS = [(label, choices) for _value, label, choices in SUB_TYPES_BY_TYPE]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input; each is checked by `attachments.check_upload` in the view."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > MAX_PER_ORDER:
            raise forms.ValidationError(_("每张工单最多 %(n)d 个附件") % {"n": MAX_PER_ORDER})
        return list(files)


class OrderCreateForm(forms.Form):
    order_type = forms.ChoiceField(label=_("工单类型"), choices=OrderType.choices)
    sub_type = forms.ChoiceField(label=_("子类"), choices=BLANK + SUB_TYPE_GROUPS, required=False)
    channel = forms.ChoiceField(label=_("受理渠道"), choices=OrderChannel.choices, initial=OrderChannel.PHONE)
    account_number = forms.CharField(label=_("户号"), max_length=10, required=False)
    caller_name = forms.CharField(label=_("联系人"), max_length=50, required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    area = forms.ChoiceField(
        label=_("区域（故障报修未提供户号时必填）"), choices=BLANK + AreaKind.choices, required=False
    )
    description = forms.CharField(
        label=_("诉求内容"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    priority = forms.TypedChoiceField(
        label=_("优先级"), choices=Priority.choices, coerce=int, initial=Priority.NORMAL
    )
    received_at = forms.DateTimeField(
        label=_("补录受理时间（信函、现场等早先受理的，留空为现在）"),
        required=False,
        input_formats=LOCAL_INPUT,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    files = MultipleFileField(label=_("附件（图片或 PDF，每个不超过 5 MB）"))

    def clean_account_number(self):
        return self.cleaned_data["account_number"].strip()


class FilterForm(forms.Form):
    order_type = forms.ChoiceField(
        label=_("工单类型"), choices=[("", _("全部"))] + OrderType.choices, required=False
    )
    status = forms.ChoiceField(label=_("状态"), choices=[("", _("全部"))] + Step.choices, required=False)
    channel = forms.ChoiceField(
        label=_("受理渠道"), choices=[("", _("全部"))] + OrderChannel.choices, required=False
    )
    overdue = forms.BooleanField(label=_("只看超时"), required=False)
    q = forms.CharField(label=_("工单编号/电话/户号"), max_length=40, required=False)


class ActionForm(forms.Form):
    """Every field an action may take; the view passes on those the action uses."""

    note = forms.CharField(max_length=1000, required=False)
    assignee = forms.CharField(max_length=12, required=False)
    unit = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    into = forms.CharField(max_length=24, required=False)
    fault_cause = forms.CharField(max_length=200, required=False)
    resolution = forms.CharField(max_length=2000, required=False)
    satisfaction = forms.CharField(max_length=12, required=False)
    substantiated = forms.ChoiceField(choices=[("", ""), ("yes", "yes"), ("no", "no")], required=False)
    files = MultipleFileField()
