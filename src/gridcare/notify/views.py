"""Console pages of the outbox: a customer's notice preferences, greeting campaigns (create, preview, launch)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied, visible_unit_ids
from gridcare.core.views import customer_required, form_errors_from, staff_required
from gridcare.customers import selectors as customer_selectors
from gridcare.jobs import services as job_services
from gridcare.org.models import SupplyUnit
from gridcare.portal.selectors import portal_account_get

from . import campaigns as campaign_service  # the views `campaigns`/`campaign_launch` own the plain names
from . import selectors, templates_render
from .forms import CampaignForm, PreferenceForm
from .models import NotifyPreference
from .preferences import preference_update


def _initial(customer) -> dict:
    pref = NotifyPreference.objects.filter(customer=customer).first() or NotifyPreference()
    return {
        "notify_sms": customer.notify_sms,
        "notify_wechat": customer.notify_wechat,
        "notify_email": customer.notify_email,
        "quiet_start": pref.quiet_start,
        "quiet_end": pref.quiet_end,
        "wechat_openid": pref.wechat_openid,
        "greetings_opt_out": pref.greetings_opt_out,
    }


def _preference_flow(request, customer, *, channel, template, done, extra):
    form = PreferenceForm(request.POST or None, initial=_initial(customer))
    if request.method == "POST" and form.is_valid():
        try:
            preference_update(
                actor=Actor.from_request(request, channel), customer_id=customer.pk, **form.cleaned_data
            )
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            return redirect(done)
    return render(
        request, template, {"form": form, "customer": customer, **extra}, status=400 if form.errors else 200
    )


@staff_required(Perm.CUSTOMER_EDIT)
@require_http_methods(["GET", "POST"])
def preferences(request, pk: int):
    customer = customer_selectors.customer_get(user=request.user, pk=pk)
    return _preference_flow(
        request,
        customer,
        channel=Channel.CONSOLE,
        template="notify/preferences.html",
        done=request.path,
        extra={},
    )


@customer_required
@require_http_methods(["GET", "POST"])
def portal_preferences(request, account_number: str):
    account = portal_account_get(user=request.user, account_number=account_number)
    return _preference_flow(
        request,
        account.customer,
        channel=Channel.PORTAL,
        template="notify/portal_preferences.html",
        done=request.path,
        extra={"account": account},
    )


def _units(user):
    return list(SupplyUnit.objects.filter(pk__in=visible_unit_ids(user)).order_by("path"))


@staff_required(Perm.NOTIFY_CAMPAIGN)
@require_http_methods(["GET", "POST"])
def campaigns(request):
    units = _units(request.user)
    form = CampaignForm(request.POST or None, units=units, initial={"unit": request.user.unit_id})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        at = d["scheduled_at"]  # aware: USE_TZ forms answer aware datetimes
        try:
            c = campaign_service.campaign_create(
                actor=Actor.from_request(request, Channel.CONSOLE),
                name=d["name"],
                unit_id=d["unit"],
                segment=d["segment"],
                customer_class=d["customer_class"],
                text=d["text"],
                scheduled_at=at,
            )
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            return redirect("notify:campaign", c.pk)
    rows = list(selectors.campaigns_visible(user=request.user)[:100])
    return render(
        request,
        "notify/campaigns.html",
        {"form": form, "campaigns": rows},
        status=400 if form.errors else 200,
    )


@staff_required(Perm.NOTIFY_CAMPAIGN)
def campaign(request, pk: int):
    c = selectors.campaign_get(user=request.user, pk=pk)
    preview = None
    if c.status == "draft":
        preview = templates_render.notice_render(
            kind=c.kind, channel="sms", context={"customer_name": "张*", "text": c.text}
        )
    return render(
        request,
        "notify/campaign.html",
        {
            "c": c,
            "recipients": campaign_service.campaign_customers(c).count()
            if c.status == "draft"
            else c.recipients,
            "preview": preview,
        },
    )


@staff_required(Perm.NOTIFY_CAMPAIGN)
@require_POST
def campaign_launch(request, pk: int):
    """Start the launch job (notify.campaign_launch) and go to its page; the campaign page shows the counts."""
    try:  # the job finds the campaign in the actor's units: missing and forbidden are both 404
        job = job_services.start("notify.campaign_launch", {"campaign_id": pk}, actor=Actor.console(request))
    except (PermissionDenied, ValidationError):
        raise Http404 from None
    except job_services.BrokerUnavailable:
        messages.error(request, _("后台任务服务暂时不可用，活动未发送，请稍后再试。"))
        return redirect("notify:campaign", pk)
    try:
        return redirect(reverse("jobs:detail", args=[job.pk]))
    except NoReverseMatch:  # the job page lands with the job engine
        return redirect(f"/jobs/{job.pk}/")
