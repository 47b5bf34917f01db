"""The customer's work orders in the portal (issue 15 §8), under /portal/service/ (logged-in customers only:
anonymous → the portal login, staff → 404, as every portal page).

- `orders`: my orders (submitted by me, or on an account bound to me: `selectors.orders_of_customer`) with their
  step and the next deadline still running;
- `new`: submit any type — a bound account or a phone and an address, a sub-type for service requests and
  complaints, attachments (images or PDF, checked before anything is written: all or nothing). A fault goes
  through the fault intake (`intake.fault_report_create`: triage and its answer);
- `detail`: the progress as a timeline in the customer's words, the deadlines, 催办 while open
  (`services.work_order_customer_chase`, once an hour per order), and once closed the rating (满意 / 基本满意 /
  不满意 with a comment, once: `services.work_order_rate`); attachments are served only to the order's owner.
Another customer's order, or a missing one, answers 404."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Min, Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gridcare.core import ratelimit
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_address, mask_phone
from gridcare.core.views import customer_required
from gridcare.portal import selectors as portal_selectors
from gridcare.portal.forms import add_service_errors

from . import attachments, intake, lifecycle, selectors, services
from .choices import (
    ComplaintSubType,
    DeadlineName,
    OrderChannel,
    OrderType,
    Satisfaction,
    ServiceRequestSubType,
    Step,
)
from .models import WorkOrderAttachment

PAGE_SIZE = 20
ORDERS_PER_HOUR = 20  # a customer's submissions, against a script filling the queue
CHASE_WINDOW_SECONDS = 3600

# What each event means to the customer (internal steps — a return, a substantiation — are not shown).
EVENT_LABELS = {
    "create": gettext_lazy("已受理"),
    "accept": gettext_lazy("已接单"),
    "dispatch": gettext_lazy("已派发抢修人员"),
    "depart": gettext_lazy("抢修人员已出发"),
    "arrive": gettext_lazy("抢修人员已到达现场"),
    "restore": gettext_lazy("已恢复送电"),
    "assign": gettext_lazy("已交办处理"),
    "contact": gettext_lazy("已与您联系"),
    "reply": gettext_lazy("已答复"),
    "complete": gettext_lazy("已办结"),
    "answer": gettext_lazy("已解答"),
    "callback": gettext_lazy("已回访"),
    "close": gettext_lazy("已归档"),
    "escalate": gettext_lazy("已加急处理"),
    "transfer": gettext_lazy("已转交其他单位处理"),
    "merge": gettext_lazy("已与相同诉求的工单合并处理"),
    "chase": gettext_lazy("您催办了此工单"),
    "rate": gettext_lazy("您评价了此工单"),
}
# Events whose note is written to the customer (an answer), or by them.
NOTE_SHOWN = frozenset({"reply", "answer", "complete", "restore", "chase", "rate"})


def _actor(request) -> Actor:
    return Actor.from_request(request, Channel.PORTAL)


# ---------------------------------------------------------------- list


@customer_required
@require_GET
def orders(request):
    qs = (
        selectors.orders_of_customer(request.user)
        .annotate(next_due=Min("deadlines__due_at", filter=Q(deadlines__met_at__isnull=True)))
        .order_by("-received_at", "-id")
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page") or 1)
    return render(request, "service/portal_orders.html", {"page": page, "terminal": lifecycle.TERMINAL})


# ---------------------------------------------------------------- submit


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; each is checked by `attachments.check_upload` in the view."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,application/pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)] if data else []


def _sub_type_choices():
    return [
        ("", _("（无）")),
        (str(OrderType.SERVICE_REQUEST.label), list(ServiceRequestSubType.choices)),
        (str(OrderType.COMPLAINT.label), list(ComplaintSubType.choices)),
    ]


class OrderForm(forms.Form):
    order_type = forms.ChoiceField(label=gettext_lazy("诉求类型"), choices=OrderType.choices)
    sub_type = forms.ChoiceField(
        label=gettext_lazy("子类"),
        required=False,
        help_text=gettext_lazy("服务申请须选择子类；投诉可选择分类"),
    )
    account = forms.ChoiceField(label=gettext_lazy("户号"), required=False)
    phone = forms.CharField(label=gettext_lazy("联系电话"), max_length=20, required=False)
    address = forms.CharField(
        label=gettext_lazy("地址"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("不选择户号时必填"),
    )
    description = forms.CharField(
        label=gettext_lazy("诉求内容"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5, "class": "w-full"}),
    )
    attachments = MultipleFileField(
        label=gettext_lazy("附件"),
        required=False,
        help_text=gettext_lazy("图片（JPEG、PNG、GIF、WebP）或 PDF，每个不超过 5 MB，最多 10 个"),
    )

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sub_type"].choices = _sub_type_choices()
        self.fields["account"].choices = [("", _("不选择户号（填写电话和地址）"))] + [
            (a.account_number, f"{a.account_number} {mask_address(a.premise.address)}") for a in accounts
        ]


def _checked_files(form: OrderForm) -> list[tuple[str, bytes]] | None:
    """The uploads read and checked (type by content, size, count) before anything is written; None after
    putting the errors on the form."""
    files = form.cleaned_data.get("attachments") or []
    if len(files) > attachments.MAX_PER_ORDER:
        form.add_error("attachments", _("最多上传 %(n)d 个附件") % {"n": attachments.MAX_PER_ORDER})
        return None
    out = []
    for f in files:
        if f.size > attachments.MAX_BYTES:
            form.add_error(
                "attachments",
                _("文件“%(n)s”超过 %(mb)d MB") % {"n": f.name, "mb": attachments.MAX_BYTES // (1024 * 1024)},
            )
            continue
        data = f.read()
        try:
            attachments.check_upload(f.name, data)
        except ValidationError as e:
            for message in e.messages:
                form.add_error("attachments", message)
            continue
        out.append((f.name, data))
    return None if form.errors else out


@customer_required
@require_http_methods(["GET", "POST"])
def new(request):
    accounts = list(portal_selectors.portal_accounts(user=request.user))
    form = OrderForm(
        request.POST or None,
        request.FILES or None,
        accounts=accounts,
        initial={"phone": request.user.phone, "order_type": request.GET.get("type") or OrderType.FAULT},
    )
    status = 200
    if request.method == "POST":
        status = 400
        files = _checked_files(form) if form.is_valid() else None
        if files is not None:
            if not ratelimit.hit("portal_orders", str(request.user.pk), ORDERS_PER_HOUR, 3600):
                form.add_error(None, _("提交过于频繁，请稍后再试；紧急情况请拨打 95598"))
                status = 429
            else:
                try:
                    number, message = _submit(request, form.cleaned_data, files)
                except ValidationError as e:
                    add_service_errors(form, e)
                else:
                    messages.success(request, message)
                    return HttpResponseRedirect(reverse("portal_service:detail", args=[number]))
    return render(
        request, "service/portal_new.html", {"form": form, "has_accounts": bool(accounts)}, status=status
    )


def _submit(request, data: dict, files: list[tuple[str, bytes]]) -> tuple[str, str]:
    """Create the order and its attachments in one transaction; returns (number, what to tell the customer)."""
    actor, user = _actor(request), request.user
    kind = data["order_type"]
    with transaction.atomic():
        if kind == OrderType.FAULT:
            if data["sub_type"]:
                raise ValidationError({"sub_type": [_("该类型工单没有子类")]})
            made = intake.fault_report_create(
                actor=actor,
                channel=OrderChannel.PORTAL,
                phone=data["phone"] or user.phone,
                description=data["description"],
                address=data["address"],
                account_number=data["account"] or None,
                customer_user=user,
            )
            order = selectors.order_get_for_customer(user, made.number)
            message = _("报修已受理（工单编号 %(n)s）：%(m)s") % {"n": made.number, "m": made.message}
        else:
            order = services.work_order_create(
                actor=actor,
                order_type=kind,
                channel=OrderChannel.PORTAL,
                sub_type=data["sub_type"] or None,
                account_number=data["account"] or None,
                phone=data["phone"] or user.phone,
                address=data["address"],
                description=data["description"],
                customer_user=user,
            ).order
            message = _("已受理（工单编号 %(n)s），我们将按承诺时限处理，您可在此查看进度") % {
                "n": order.number
            }
        for name, content in files:
            attachments.attachment_add(actor=actor, order=order, name=name, data=content)
    return order.number, message


# ---------------------------------------------------------------- one order


class RateForm(forms.Form):
    rating = forms.ChoiceField(
        label=gettext_lazy("您对本次服务的评价"), choices=Satisfaction.choices, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=gettext_lazy("意见或建议（选填）"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "w-full"}),
    )


def _timeline(order) -> list[dict]:
    rows = []
    for e in order.events.all():
        label = EVENT_LABELS.get(e.action)
        if label is None:
            continue
        rows.append(
            {"at": e.at, "label": label, "note": e.note if e.action in NOTE_SHOWN else "", "action": e.action}
        )
    return rows


def _deadlines(order, now) -> list[dict]:
    return [
        {
            "name": DeadlineName(d.name).label,
            "due_at": d.due_at,
            "met_at": d.met_at,
            "provisional": d.provisional,
            "overdue": d.met_at is None and d.due_at < now,
        }
        for d in selectors.order_deadlines(order)
    ]


def _detail(request, order, *, rate_form=None, error="", status=200):
    from django.utils import timezone

    return render(
        request,
        "service/portal_detail.html",
        {
            "order": order,
            "phone": mask_phone(order.phone),
            "timeline": _timeline(order),
            "deadlines": _deadlines(order, timezone.now()),
            "files": list(order.attachments.order_by("id")),
            "open": order.status not in lifecycle.TERMINAL,
            "can_rate": order.status == Step.CLOSED and not order.customer_rating,
            "rate_form": rate_form or RateForm(),
            "error": error,
        },
        status=status,
    )


@customer_required
@require_GET
def detail(request, number: str):
    return _detail(request, selectors.order_get_for_customer(request.user, number))


@customer_required
@require_POST
def chase(request, number: str):
    order = selectors.order_get_for_customer(request.user, number)
    note = (request.POST.get("note") or "").strip()[:200]
    if not ratelimit.hit("portal_chase", f"{request.user.pk}:{order.pk}", 1, CHASE_WINDOW_SECONDS):
        messages.error(request, _("您已催办过，请耐心等待，一小时后可再次催办"))
    else:
        try:
            services.work_order_customer_chase(actor=_actor(request), order=order, note=note)
        except ValidationError as e:
            messages.error(request, "；".join(e.messages))
        else:
            messages.success(request, _("已催办，我们会尽快处理"))
    return HttpResponseRedirect(reverse("portal_service:detail", args=[order.number]))


@customer_required
@require_POST
def rate(request, number: str):
    order = selectors.order_get_for_customer(request.user, number)
    form = RateForm(request.POST)
    if form.is_valid():
        try:
            services.work_order_rate(
                actor=_actor(request),
                order=order,
                rating=form.cleaned_data["rating"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("感谢您的评价"))
            return HttpResponseRedirect(reverse("portal_service:detail", args=[order.number]))
    order.refresh_from_db()
    error = "；".join(str(m) for messages_ in form.errors.values() for m in messages_)
    return _detail(request, order, rate_form=form, error=error, status=400)


@customer_required
@require_GET
def attachment(request, number: str, pk: int):
    order = selectors.order_get_for_customer(request.user, number)
    att = WorkOrderAttachment.objects.filter(order=order, pk=pk).first()
    if att is None:
        raise Http404
    response = FileResponse(att.file.open("rb"), content_type=att.content_type)
    disposition = (
        "inline" if att.content_type.startswith("image/") else "attachment"
    )  # a PDF never renders here
    response["Content-Disposition"] = f'{disposition}; filename="{att.file.name.rsplit("/", 1)[-1]}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
