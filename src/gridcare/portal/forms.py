"""Forms of the customer portal. They parse input; the rules live in services and public.py."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gridcare.core.validators import validate_phone


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError({field: [msg]}) onto the form, unknown fields as form errors."""
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for field, messages in detail.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


def _attrs(**extra: str) -> dict[str, str]:
    return {"autocapitalize": "off", "spellcheck": "false", **extra}


class RegisterForm(forms.Form):
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=forms.TextInput(
            attrs=_attrs(autocomplete="tel", inputmode="tel", placeholder=_("11位手机号"))
        ),
    )
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("至少8位，不能全为数字，不能过于常见"),
    )
    password_confirm = forms.CharField(
        label=_("确认密码"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    # Checked by the service with the phone and password, so one answer names every wrong field.
    code = forms.CharField(
        label=_("短信验证码"),
        max_length=6,
        required=False,
        widget=forms.TextInput(
            attrs=_attrs(
                inputmode="numeric", autocomplete="one-time-code", maxlength="6", placeholder="000000"
            )
        ),
    )

    def clean_phone(self) -> str:
        return validate_phone(self.cleaned_data["phone"])

    def clean(self):
        data = super().clean()
        if (
            data.get("password")
            and data.get("password_confirm")
            and data["password"] != data["password_confirm"]
        ):
            self.add_error("password_confirm", _("两次输入的密码不一致"))
        return data


class BindForm(forms.Form):
    # No format or length checks: a malformed 户号 (or name, or digits) must get the same answer as an
    # unknown one, so every value goes to the service, which answers all mismatches alike.
    account_number = forms.CharField(
        label=_("户号"),
        widget=forms.TextInput(
            attrs=_attrs(inputmode="numeric", autocomplete="off", maxlength="10", placeholder=_("10位户号"))
        ),
    )
    name = forms.CharField(
        label=_("户名"),
        widget=forms.TextInput(
            attrs=_attrs(autocomplete="off", maxlength="100", placeholder=_("与电费账单上的户名一致"))
        ),
    )
    phone_last4 = forms.CharField(
        label=_("预留手机号后四位"),
        widget=forms.TextInput(
            attrs=_attrs(inputmode="numeric", autocomplete="off", maxlength="4", placeholder="0000")
        ),
    )
    # Empty when asking for the code (the "获取验证码" button); the bind itself needs it.
    code = forms.CharField(
        label=_("短信验证码"),
        required=False,
        widget=forms.TextInput(
            attrs=_attrs(
                inputmode="numeric", autocomplete="one-time-code", maxlength="6", placeholder="000000"
            )
        ),
    )


class PublicQueryForm(forms.Form):
    account_number = forms.CharField(
        label=_("户号"),
        max_length=64,
        widget=forms.TextInput(
            attrs=_attrs(inputmode="numeric", autocomplete="off", placeholder=_("10位户号"))
        ),
    )
    name = forms.CharField(
        label=_("户名（选填）"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs=_attrs(autocomplete="off")),
    )


class PublicPayForm(forms.Form):
    """Pay by 户号 without logging in (the query page). It only renders and carries the input: every rule
    (the 户号, the amount's limits, the wallet) is checked by payments.channels.public_pay, after its rate limit."""

    account_number = forms.CharField(required=False, widget=forms.HiddenInput)
    amount = forms.CharField(
        label=_("缴费金额(元)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    channel = forms.CharField(
        label=_("支付方式"),
        required=False,
        widget=forms.RadioSelect(choices=[("alipay", _("支付宝")), ("wechat", _("微信支付"))]),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "pay_%s")  # shown under the query form: ids must not collide with it
        super().__init__(*args, **kwargs)


class ReauthForm(forms.Form):
    """Re-authentication: the current password, or the code sent to the login phone."""

    password = forms.CharField(
        label=_("登录密码"),
        strip=False,
        required=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=_("或短信验证码"),
        required=False,
        max_length=6,
        widget=forms.TextInput(
            attrs=_attrs(
                inputmode="numeric", autocomplete="one-time-code", maxlength="6", placeholder="000000"
            )
        ),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class PhoneChangeForm(forms.Form):
    new_phone = forms.CharField(
        label=_("新手机号"),
        max_length=20,
        widget=forms.TextInput(
            attrs=_attrs(autocomplete="tel", inputmode="tel", placeholder=_("11位手机号"))
        ),
    )
    code = forms.CharField(
        label=_("新手机号收到的验证码"),
        required=False,
        max_length=6,
        widget=forms.TextInput(
            attrs=_attrs(
                inputmode="numeric", autocomplete="one-time-code", maxlength="6", placeholder="000000"
            )
        ),
    )


class BindUnlockForm(forms.Form):
    """A clerk lifts a 户号's bind lock after checking the customer's ID document at the counter."""

    id_checked = forms.BooleanField(label=_("已当面核验客户有效身份证件原件"), required=False)
    id_last4 = forms.CharField(
        label=_("证件号码后四位（按证件原件输入）"),
        max_length=4,
        required=False,
        widget=forms.TextInput(attrs=_attrs(autocomplete="off", maxlength="4")),
    )
