"""The public fault-report form (故障报修, /service/public/fault/): no login, one page in three steps.

1. the phone → "获取验证码" (an SMS code, `intake.fault_code_send`: the portal's sending limits);
2. the code → the phone token (`intake.fault_code_verify`), carried on in a hidden field: it is the proof, signed
   and good for 2 hours, so nothing is kept in a session;
3. the report (户号 optional, address, description) → `intake.anonymous_fault_report` (token, rate limits per
   phone and per client address, triage) → a redirect to the result page, which shows the order number and
   the triage message from a signed value in its link (nothing is read back from the database).

CSRF as every public form (Django's middleware); the forms parse, `intake.py` decides."""

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_phone
from gridcare.core.ratelimit import client_key
from gridcare.portal.codes import CodeRateLimited
from gridcare.portal.forms import add_service_errors

from . import intake

RESULT_SALT = "gridcare.service.public_views.result"
RESULT_MAX_AGE = 2 * 3600


def _attrs(**extra: str) -> dict[str, str]:
    return {"autocapitalize": "off", "spellcheck": "false", **extra}


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=gettext_lazy("手机号"),
        max_length=20,
        widget=forms.TextInput(
            attrs=_attrs(autocomplete="tel", inputmode="tel", placeholder=gettext_lazy("11位手机号"))
        ),
    )


class CodeForm(forms.Form):
    phone = forms.CharField(max_length=20, widget=forms.HiddenInput)
    code = forms.CharField(
        label=gettext_lazy("短信验证码"),
        max_length=6,
        widget=forms.TextInput(
            attrs=_attrs(
                inputmode="numeric", autocomplete="one-time-code", maxlength="6", placeholder="000000"
            )
        ),
    )


class ReportForm(forms.Form):
    phone = forms.CharField(max_length=20, widget=forms.HiddenInput)
    phone_token = forms.CharField(max_length=200, widget=forms.HiddenInput)
    account_number = forms.CharField(
        label=gettext_lazy("户号（选填）"),
        max_length=20,
        required=False,
        widget=forms.TextInput(
            attrs=_attrs(inputmode="numeric", placeholder=gettext_lazy("10位户号，可不填"))
        ),
    )
    address = forms.CharField(
        label=gettext_lazy("故障地址"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("不填户号时必填：请写到门牌号"),
    )
    description = forms.CharField(
        label=gettext_lazy("故障情况"),
        max_length=500,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": gettext_lazy("如：家中突然停电，邻居家也没电")}
        ),
    )


def _page(request, step: str, form, *, info: str = "", error: str = "", status: int = 200):
    phone = form["phone"].value() if "phone" in form.fields else ""
    return render(
        request,
        "service/public_fault.html",
        {"step": step, "form": form, "info": info, "error": error, "phone_masked": mask_phone(phone or "")},
        status=status,
    )


def _actor(request) -> Actor:
    return Actor.from_request(request, Channel.PORTAL)


@require_http_methods(["GET", "POST"])
def fault(request):
    """The three steps; the step is told by the button pressed (`action`)."""
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "verify":
        return _verify(request)
    if action == "report":
        return _report(request)
    if action == "send_code":
        return _send_code(request)
    return _page(request, "phone", PhoneForm())


def _send_code(request):
    form = PhoneForm(request.POST)
    if not form.is_valid():
        return _page(request, "phone", form, status=400)
    try:
        phone = intake.fault_code_send(
            actor=_actor(request), phone=form.cleaned_data["phone"], client_key=client_key(request)
        )
    except ValidationError as e:
        add_service_errors(form, e)
        return _page(request, "phone", form, status=400)
    except CodeRateLimited as e:
        return _page(request, "phone", form, error=str(e), status=429)
    info = _("验证码已发送至 %(p)s，请在5分钟内输入") % {"p": mask_phone(phone)}
    return _page(request, "code", CodeForm(initial={"phone": phone}), info=info)


def _verify(request):
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _page(request, "code", form, status=400)
    try:
        proof = intake.fault_code_verify(
            actor=_actor(request), phone=form.cleaned_data["phone"], code=form.cleaned_data["code"]
        )
    except ValidationError as e:
        add_service_errors(form, e)
        return _page(request, "code", form, status=400)
    phone = form.cleaned_data["phone"].strip()
    return _page(
        request,
        "report",
        ReportForm(initial={"phone": phone, "phone_token": proof.token}),
        info=_("手机号 %(p)s 已验证，请填写报修信息") % {"p": mask_phone(phone)},
    )


def _report(request):
    form = ReportForm(request.POST)
    if not form.is_valid():
        return _page(request, "report", form, status=400)
    data = form.cleaned_data
    try:
        made = intake.anonymous_fault_report(
            actor=_actor(request),
            client_key=client_key(request),
            phone_token=data["phone_token"],
            phone=data["phone"],
            description=data["description"],
            address=data["address"],
            account_number=data["account_number"] or None,
        )
    except intake.PhoneTokenRefused as e:
        return _page(request, "phone", PhoneForm(initial={"phone": data["phone"]}), error=str(e), status=401)
    except intake.ReportRateLimited as e:
        return _page(request, "report", form, error=str(e), status=429)
    except ValidationError as e:
        add_service_errors(form, e)
        return _page(request, "report", form, status=400)
    signed = signing.dumps({"n": made.number, "t": made.triage, "m": made.message}, salt=RESULT_SALT)
    return HttpResponseRedirect(f"{reverse('service_public:fault_done')}?{urlencode({'r': signed})}")


@require_GET
def fault_done(request):
    """The result of a report: its number and what the caller is told (from the signed link)."""
    try:
        result = signing.loads(request.GET.get("r", ""), salt=RESULT_SALT, max_age=RESULT_MAX_AGE)
    except signing.BadSignature:
        return HttpResponseRedirect(reverse("service_public:fault"))
    return render(request, "service/public_fault_done.html", {"result": result})
