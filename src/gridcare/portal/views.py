"""Customer portal pages (mobile first). Thin: forms parse, services write, selectors read.

Who may open what:
- public: home, login, register, the 户号 query and paying by 户号 (payments.channels.public_pay);
- logged-in customers: the home page with each bound account's money and state, account list and detail
  (bills with their payment status), payment history, usage analysis, bind, unbind.
  Anonymous visitors are sent to the portal login; logged-in staff get 404, the same answer the console
  gives customers, so neither side learns about the other's pages (staff use the console).
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.billing.usage import monthly_usage
from gridcare.core import ratelimit
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.clientip import client_ip
from gridcare.core.masking import mask_phone
from gridcare.core.views import customer_required
from gridcare.org.views import login_view
from gridcare.payments.channels import public_pay
from gridcare.payments.channels.views import online as online_views
from gridcare.payments.counter import receipts

from . import selectors, services
from .forms import (
    BindForm,
    PhoneChangeForm,
    PublicPayForm,
    PublicQueryForm,
    ReauthForm,
    RegisterForm,
    add_service_errors,
)


def _actor(request) -> Actor:
    return Actor.from_request(request, Channel.PORTAL)


def home(request):
    is_customer = selectors.is_portal_user(request.user)
    cards = selectors.portal_account_cards(user=request.user) if is_customer else []
    return render(request, "portal/home.html", {"is_customer": is_customer, "cards": cards})


@require_http_methods(["GET", "POST"])
def login(request):
    if request.method == "GET" and selectors.is_portal_user(request.user):
        return HttpResponseRedirect(reverse("portal:accounts"))
    return login_view(request, portal=True)


def _code_sent_message(phone_masked: str) -> str:
    minutes = max(int(settings.GRIDCARE["SMS_CODE_TTL_SECONDS"]) // 60, 1)
    return _("验证码已发送至 %(p)s，%(m)s分钟内有效") % {"p": phone_masked, "m": minutes}


@require_http_methods(["GET", "POST"])
def register(request):
    """Phone → "获取验证码" (an SMS code to it) → the code and a password → the account."""
    if selectors.is_portal_user(request.user):
        return HttpResponseRedirect(reverse("portal:accounts"))
    info = error = None
    status = 200
    if request.method == "POST" and "send_code" in request.POST:
        form = RegisterForm(initial={"phone": request.POST.get("phone", "")})
        try:
            phone = services.register_code_send(
                actor=_actor(request),
                phone=request.POST.get("phone", ""),
                client_key=ratelimit.client_key(request),
            )
        except ValidationError as e:
            form = RegisterForm({"phone": request.POST.get("phone", "")})
            form.is_valid()
            form.errors.clear()
            add_service_errors(form, e)
            status = 400
        except services.CodeRateLimited as e:
            error, status = str(e), 429
        else:
            form = RegisterForm(initial={"phone": phone})
            info = _code_sent_message(mask_phone(phone))
        return render(
            request, "portal/register.html", {"form": form, "info": info, "error": error}, status=status
        )
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.portal_user_register(
                actor=_actor(request),
                phone=form.cleaned_data["phone"],
                password=form.cleaned_data["password"],
                code=form.cleaned_data["code"],
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("注册成功，请登录"))
            return HttpResponseRedirect(reverse("portal:login"))
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "portal/register.html", {"form": form}, status=status)


@customer_required
def accounts(request):
    cards = selectors.portal_account_cards(user=request.user)
    return render(request, "portal/accounts.html", {"cards": cards})


@customer_required
def account_detail(request, account_number: str):
    account = selectors.portal_account_get(user=request.user, account_number=account_number)
    as_of = selectors.today()
    return render(
        request,
        "portal/account_detail.html",
        {
            "card": selectors.portal_account_card(account),
            "bills": selectors.portal_recent_bills(account, as_of=as_of),
        },
    )


@customer_required
def payments(request, account_number: str):
    """缴费记录: the account's payments, newest first, with the bills each one paid."""
    account = selectors.portal_account_get(user=request.user, account_number=account_number)
    page = selectors.portal_payments(account, page=request.GET.get("page") or 1)
    return render(
        request,
        "portal/payments.html",
        {"card": selectors.portal_account_card(account), "page": page},
    )


@customer_required
def payment_receipt(request, account_number: str, payment_id: int):
    """缴费凭证 of any payment of a bound account (counter, bank, terminal, agents, online alike)."""
    payment = selectors.portal_payment_get(
        user=request.user, account_number=account_number, payment_id=payment_id
    )
    return render(request, "portal/payment_receipt.html", {"r": receipts.receipt_of(payment)})


@customer_required
def usage(request, account_number: str):
    """用电分析: monthly kWh of the last two years with the TOU split and the change on the year before."""
    account = selectors.portal_account_get(user=request.user, account_number=account_number)
    return render(
        request,
        "portal/usage.html",
        {"account_number": account.account_number, "usage": monthly_usage(account)},
    )


@customer_required
@require_http_methods(["GET", "POST"])
def bind(request):
    """户号 + 户名 + last 4 digits → "获取验证码" (to the 户号's registered phone) → the code → bound."""
    form = BindForm(request.POST or None)
    error = info = None
    status = 200
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        code = data.pop("code")
        sending = "send_code" in request.POST
        try:
            if sending:
                masked = services.bind_code_send(
                    actor=_actor(request), user=request.user, client_key=ratelimit.client_key(request), **data
                )
            elif not code:
                form.add_error("code", _("请输入短信验证码"))
                status = 400
            else:
                binding = services.portal_bind_account(
                    actor=_actor(request),
                    user=request.user,
                    code=code,
                    client_key=ratelimit.client_key(request),
                    **data,
                )
        except (services.BindRateLimited, services.CodeRateLimited) as e:
            error, status = str(e), 429
        except (services.BindRefused, services.BindLocked, services.BindNoMobile) as e:
            error, status = str(e), 400
        except ValidationError as e:
            add_service_errors(form, e)
            status = 400
        else:
            if sending:
                info = _code_sent_message(masked)
                form = BindForm(initial=data)
            elif status == 200:
                messages.success(request, _("已绑定户号 %(n)s") % {"n": binding.account.account_number})
                return HttpResponseRedirect(reverse("portal:accounts"))
        if error:
            form = BindForm()  # echo nothing back: every refusal renders the very same page
    elif form.is_bound:
        status = 400
    return render(request, "portal/bind.html", {"form": form, "error": error, "info": info}, status=status)


def _safe_next(request, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return reverse("portal:accounts")


@customer_required
@require_http_methods(["GET", "POST"])
def reauth(request):
    """身份确认: the current password, or a code sent to the login phone, before a sensitive step."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next") or "")
    form = ReauthForm(request.POST or None, initial={"next": next_url})
    info = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            if "send_code" in request.POST:
                info = _code_sent_message(
                    services.reauth_code_send(
                        actor=_actor(request), user=request.user, client_key=ratelimit.client_key(request)
                    )
                )
                form = ReauthForm(initial={"next": next_url})
            else:
                services.portal_reauth(
                    actor=_actor(request),
                    user=request.user,
                    session=request.session,
                    password=form.cleaned_data["password"],
                    code=form.cleaned_data["code"].strip(),
                )
                return HttpResponseRedirect(next_url)
        except services.CodeRateLimited as e:
            form.add_error(None, str(e))
            status = 429
        except ValidationError as e:
            add_service_errors(form, e)
            status = 400
    elif form.is_bound:
        status = 400
    return render(
        request,
        "portal/reauth.html",
        {"form": form, "info": info, "phone": mask_phone(request.user.phone or request.user.username)},
        status=status,
    )


def reauth_redirect(request, next_url: str) -> HttpResponseRedirect:
    """Send the customer to 身份确认, then back to `next_url`."""
    return HttpResponseRedirect(f"{reverse('portal:reauth')}?{urlencode({'next': next_url})}")


@customer_required
@require_http_methods(["GET", "POST"])
def phone_change(request):
    """更换手机号: re-authenticate (password or a code to the old phone), then a code to the new phone."""
    if not services.reauth_fresh(request.session):
        return reauth_redirect(request, reverse("portal:phone_change"))
    form = PhoneChangeForm(request.POST or None)
    info = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            if "send_code" in request.POST:
                phone = services.phone_change_code_send(
                    actor=_actor(request),
                    user=request.user,
                    session=request.session,
                    new_phone=form.cleaned_data["new_phone"],
                    client_key=ratelimit.client_key(request),
                )
                info = _code_sent_message(mask_phone(phone))
                form = PhoneChangeForm(initial={"new_phone": phone})
            elif not form.cleaned_data["code"].strip():
                form.add_error("code", _("请输入短信验证码"))
                status = 400
            else:
                services.portal_phone_change(
                    actor=_actor(request),
                    user=request.user,
                    session=request.session,
                    new_phone=form.cleaned_data["new_phone"],
                    code=form.cleaned_data["code"],
                )
                messages.success(request, _("手机号已更换，请使用新手机号登录"))
                return HttpResponseRedirect(reverse("portal:accounts"))
        except services.CodeRateLimited as e:
            form.add_error(None, str(e))
            status = 429
        except ValidationError as e:
            add_service_errors(form, e)
            status = 400
        except PermissionError:
            return reauth_redirect(request, reverse("portal:phone_change"))
    elif form.is_bound:
        status = 400
    return render(
        request,
        "portal/phone_change.html",
        {"form": form, "info": info, "phone": mask_phone(request.user.phone or request.user.username)},
        status=status,
    )


@customer_required
@require_POST
def unbind(request, account_number: str):
    try:
        services.portal_unbind_account(
            actor=_actor(request), user=request.user, account_number=account_number
        )
    except services.BindingNotFound:
        raise Http404 from None
    messages.success(request, _("已解除绑定户号 %(n)s") % {"n": account_number})
    return HttpResponseRedirect(reverse("portal:accounts"))


def _query_page(request, *, form, found=None, pay_form=None, status=200, error=None):
    return render(
        request,
        "portal/query.html",
        {
            "form": form,
            "result": found.payload if found else None,
            "dues": found.dues if found else None,
            "pay_form": pay_form,
            "pay_error": error,
            "pay_open": public_pay.online_pay_open(),
        },
        status=status,
    )


def _pay_form_for(found) -> PublicPayForm:
    due = found.dues.amount_due
    return PublicPayForm(
        initial={
            "account_number": found.payload["account_number"],
            "amount": f"{due:.2f}" if due > 0 else "",
            "channel": "alipay",
        }
    )


@require_http_methods(["GET", "POST"])
def query(request):
    """Public 95598-style query: masked name, address and supply unit of an active 户号, what it owes now
    (principal, late fee, unpaid months, a prepaid account's estimated balance) and a form to pay it."""
    form = PublicQueryForm(request.POST or None)
    found = None
    status = 200
    if request.method == "POST" and form.is_valid():
        found = public_pay.public_account_query(
            client_key=ratelimit.client_key(request),
            account_number=form.cleaned_data["account_number"],
            name=form.cleaned_data["name"] or None,
        )
        status = found.status
        form = PublicQueryForm()  # the answer must not depend on what was typed, beyond the result itself
    elif form.is_bound:
        status = 400
    pay_form = _pay_form_for(found) if found and found.dues else None
    return _query_page(request, form=form, found=found, pay_form=pay_form, status=status)


@require_POST
def query_pay(request):
    """Pay the queried 户号 without logging in: an order, then the payment gateway (public_pay).

    Every submission goes to the service, which counts it against the client's rate limit before anything
    else, so the amounts shown again after a refusal cost a counted request like a query does."""
    data = {k: request.POST.get(k, "") for k in ("account_number", "amount", "channel")}
    receipt = request.build_absolute_uri(reverse("payments_portal:public_receipt", args=["TOKEN"]))
    # The public page shows a QR code (Alipay 当面付, WeChat Native) on a computer, and inside WeChat (no login,
    # so no openid for JSAPI); a phone's browser goes to the wallet's cashier (wap, H5).
    scene = (
        online_views.scene_for(data["channel"], request) if online_views.device(request) == "mobile" else "qr"
    )
    try:
        created = public_pay.public_order_create(
            actor=_actor(request),
            client_key=ratelimit.client_key(request),
            scene=scene,
            origin=online_views.origin(request),
            return_url=receipt.replace("/TOKEN/", "/{token}/"),
            client_ip=client_ip(request) or "",
            **data,
        )
    except public_pay.RateLimited as e:
        return _query_page(request, form=PublicQueryForm(), status=429, error=str(e))
    except ValidationError as e:
        found = (
            None
            if "account_number" in e.message_dict
            else public_pay.public_account_view(data["account_number"])
        )
        if found is None:  # a 户号 the query would not find: nothing to show but the one message
            return _query_page(
                request, form=PublicQueryForm(), status=400, error=public_pay.unknown_account_message()
            )
        pay_form = PublicPayForm(data)
        pay_form.is_valid()
        add_service_errors(pay_form, e)
        return _query_page(request, form=PublicQueryForm(), found=found, pay_form=pay_form, status=400)
    if created.placed is not None:  # a real channel: its cashier, or the QR code to scan
        token = created.token
        answer = online_views.respond(
            request,
            created.placed,
            status_url=reverse("payments_portal:public_status", args=[token]),
            done_url=reverse("payments_portal:public_receipt", args=[token]),
        )
        if answer is None:
            return _query_page(request, form=PublicQueryForm(), status=503, error=created.placed.error)
        answer["Cache-Control"] = "no-store"
        answer["Referrer-Policy"] = "same-origin"
        return answer
    return HttpResponseRedirect(reverse("payments:public_sandbox", args=[created.token]))
