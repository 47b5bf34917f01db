"""Staff pages of the credit-event register (issue 17 §1), under /credit/:

- `events` (credit.view): the register of the user's units with filters; the "待审批" tab (`?tab=queue`, for
  credit.approve) lists pending recorded events, withholding candidates and open contests.
- `event_new` (credit.record, `?customer=<id>` of the user's units): the record form with evidence upload; the
  event and its files are written together or not at all.
- `event` (credit.view): an event with its evidence (links served only to users who may see the event), its
  contest history and the buttons the user's permissions allow (approve/reject, confirm/dismiss, evidence,
  contest, decide).
- `contests` (credit.view): contests with their status.
Anything outside the user's units answers 404; a refused write re-renders the page with the message (400) and
writes nothing; a good one redirects (post/redirect/get)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.masking import mask_customer_name
from gridcare.core.permissions import ROLE_PERMISSIONS, Perm, has_perm
from gridcare.core.scoping import PermissionDenied, visible_unit_ids
from gridcare.core.validators import positive_id
from gridcare.core.views import error_messages, staff_required

from . import selectors, services
from .choices import RECORDABLE_CODES, ContestStatus, EventCode, EventSource, EventStatus
from .models import CreditEvidence

PER_PAGE = 50


def _label_customers(events) -> None:
    """Staff pages show the customer's name masked (the customer page shows it whole, audited)."""
    for e in events:
        e.customer_label = mask_customer_name(e.customer.name, e.customer.kind)


class EventFilterForm(forms.Form):
    customer = forms.IntegerField(label=gettext_lazy("客户 id"), required=False, min_value=1, max_value=2**62)
    status = forms.ChoiceField(
        label=gettext_lazy("状态"), required=False, choices=[("", gettext_lazy("全部"))] + EventStatus.choices
    )
    code = forms.ChoiceField(
        label=gettext_lazy("事件"), required=False, choices=[("", gettext_lazy("全部"))] + EventCode.choices
    )
    source = forms.ChoiceField(
        label=gettext_lazy("来源"), required=False, choices=[("", gettext_lazy("全部"))] + EventSource.choices
    )
    date_from = forms.DateField(
        label=gettext_lazy("日期起"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("日期止"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        a, b = data.get("date_from"), data.get("date_to")
        for name in ("date_from", "date_to"):
            d = data.get(name)
            if d is not None and not (2000 <= d.year <= 2100):
                self.add_error(name, _("日期须在 2000 至 2100 年之间"))
        if a and b and a > b:
            self.add_error("date_to", _("结束日期不能早于开始日期"))
        return data


@staff_required(Perm.CREDIT_VIEW)
def events(request):
    tab = (
        "queue"
        if request.GET.get("tab") == "queue" and has_perm(request.user, Perm.CREDIT_APPROVE)
        else "all"
    )
    form = EventFilterForm(request.GET or None)
    status = 200
    page = None
    queue = None
    if tab == "queue":
        queue = selectors.approval_queue(request.user)
        _label_customers(queue["pending"] + queue["candidates"] + [c.event for c in queue["contests"]])
    else:
        qs = selectors.events_visible(request.user)
        if form.is_bound and not form.is_valid():
            status = 400
            qs = qs.none()
        elif form.is_bound:
            d = form.cleaned_data
            qs = selectors.events_filtered(
                qs,
                customer_id=d.get("customer"),
                status=d.get("status") or "",
                code=d.get("code") or "",
                source=d.get("source") or "",
                date_from=d.get("date_from"),
                date_to=d.get("date_to"),
            )
        else:
            qs = qs.order_by("-date", "-id")
        page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
        _label_customers(page.object_list)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "credit/event_list.html",
        {
            "tab": tab,
            "form": form,
            "page": page,
            "queue": queue,
            "query": params.urlencode(),
            "may_approve": has_perm(request.user, Perm.CREDIT_APPROVE),
            "may_record": has_perm(request.user, Perm.CREDIT_RECORD),
        },
        status=status,
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > services.EVIDENCE_MAX_PER_EVENT:
            raise forms.ValidationError(
                _("每个事件最多 %(n)d 个证据文件") % {"n": services.EVIDENCE_MAX_PER_EVENT}
            )
        for f in files:
            if f.size is not None and f.size > services.EVIDENCE_MAX_BYTES:
                raise forms.ValidationError(_("文件“%(n)s”超过 10 MB") % {"n": f.name})
        return list(files)


class RecordForm(forms.Form):
    code = forms.ChoiceField(label=gettext_lazy("事件"))
    date = forms.DateField(label=gettext_lazy("发生日期"), widget=forms.DateInput(attrs={"type": "date"}))
    count = forms.IntegerField(
        label=gettext_lazy("人次（仅进网作业电工资格不符）"), required=False, min_value=1, max_value=1000
    )
    inspector = forms.TypedChoiceField(
        label=gettext_lazy("检查人"), required=False, coerce=int, empty_value=None
    )
    description = forms.CharField(
        label=gettext_lazy("情况说明"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    files = MultipleFileField(label=gettext_lazy("证据文件（PDF、JPG、PNG，每个不超过 10 MB）"))

    def __init__(self, *args, inspectors=(), **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(EventCode.choices)
        self.fields["code"].choices = [(c.value, labels[c.value]) for c in RECORDABLE_CODES]
        self.fields["inspector"].choices = [("", _("（不指定）"))] + [
            (u.pk, u.display_name or u.get_username()) for u in inspectors
        ]

    def clean_date(self):
        d = self.cleaned_data["date"]
        if not (2000 <= d.year <= 2100):
            raise forms.ValidationError(_("日期须在 2000 至 2100 年之间"))
        return d


def _inspectors_for(customer):
    """Staff who may view credit at the customer's unit: the customer's unit and the units above it."""
    from gridcare.org.models import SupplyUnit, User

    unit = SupplyUnit.objects.only("path").get(pk=customer.unit_id)
    parts = [p for p in unit.path.split(".") if p]
    prefixes = [".".join(parts[: i + 1]) + "." for i in range(len(parts))]
    ancestors = list(SupplyUnit.objects.filter(path__in=prefixes).values_list("pk", flat=True))
    roles = [r for r, perms in ROLE_PERMISSIONS.items() if Perm.CREDIT_VIEW in perms]
    return list(
        User.objects.filter(is_active=True, unit_id__in=ancestors, role__in=roles).order_by(
            "role", "username"
        )[:200]
    )


def _customer_for_record(request):
    from gridcare.customers.models import Customer

    pk = positive_id(request.GET.get("customer"))
    customer = Customer.objects.filter(pk=pk).first() if pk else None
    if customer is None or customer.unit_id not in visible_unit_ids(request.user):
        raise Http404
    return customer


@staff_required(Perm.CREDIT_RECORD)
@require_http_methods(["GET", "POST"])
def event_new(request):
    customer = _customer_for_record(request)
    inspectors = _inspectors_for(customer)
    today = timezone.localdate()
    if request.method == "GET":
        code = request.GET.get("code", "")
        initial = {"date": today, **({"code": code} if code in RECORDABLE_CODES else {})}
        form = RecordForm(initial=initial, inspectors=inspectors)
        return render(
            request,
            "credit/event_new.html",
            {
                "form": form,
                "customer": customer,
                "customer_label": mask_customer_name(customer.name, customer.kind),
            },
        )
    form = RecordForm(request.POST, request.FILES, inspectors=inspectors)
    if form.is_valid():
        d = form.cleaned_data
        actor = Actor.console(request)
        try:
            with transaction.atomic():
                event = services.event_record(
                    actor=actor,
                    customer_id=customer.pk,
                    code=d["code"],
                    day=d["date"],
                    count=d.get("count"),
                    description=d.get("description") or "",
                    inspector_id=d.get("inspector"),
                    today=today,
                )
                for f in d["files"]:
                    services.evidence_add(actor=actor, event=event, name=f.name, data=b"".join(f.chunks()))
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as exc:
            detail = getattr(exc, "message_dict", None) or {"__all__": exc.messages}
            for field, msgs in detail.items():
                target = {"day": "date", "inspector_id": "inspector", "file": "files"}.get(field, field)
                for m in msgs:
                    form.add_error(target if target in form.fields else None, m)
        else:
            return redirect("credit:event", pk=event.pk)
    return render(
        request,
        "credit/event_new.html",
        {
            "form": form,
            "customer": customer,
            "customer_label": mask_customer_name(customer.name, customer.kind),
        },
        status=400,
    )


def _detail(request, event, *, errors=(), status=200):
    user = request.user
    contests = selectors.contests_of(event)
    open_contest = next((c for c in contests if c.status == ContestStatus.OPEN), None)
    may_approve = has_perm(user, Perm.CREDIT_APPROVE)
    _label_customers([event])
    return render(
        request,
        "credit/event_detail.html",
        {
            "e": event,
            "evidence": list(event.evidence.order_by("id")),
            "contests": contests,
            "open_contest": open_contest,
            "errors": errors,
            "may_approve": may_approve
            and event.status == EventStatus.PENDING
            and event.recorded_by_id != user.pk,
            "self_recorded": may_approve
            and event.status == EventStatus.PENDING
            and event.recorded_by_id == user.pk,
            "may_confirm": may_approve and event.status == EventStatus.CANDIDATE,
            "may_decide": may_approve and open_contest is not None and open_contest.raised_by_id != user.pk,
            "may_evidence": has_perm(user, Perm.CREDIT_RECORD)
            and event.status not in (EventStatus.VOID, EventStatus.REJECTED, EventStatus.DISMISSED),
            "may_contest": event.status in (EventStatus.ACTIVE, EventStatus.PENDING)
            and services.contest_channel_for(user, event) is not None,
        },
        status=status,
    )


@staff_required(Perm.CREDIT_VIEW)
def event(request, pk: int):
    return _detail(request, selectors.event_for(request.user, pk))


ACTIONS = {
    "approve": (services.event_approve, "note"),
    "reject": (services.event_reject, "reason"),
    "confirm": (services.candidate_confirm, "note"),
    "dismiss": (services.candidate_dismiss, "note"),
}


def _run(request, event, fn) -> object:
    try:
        fn()
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        event.refresh_from_db()
        return _detail(request, event, errors=error_messages(exc), status=400)
    return redirect("credit:event", pk=event.pk)


@staff_required(Perm.CREDIT_APPROVE)
@require_POST
def event_action(request, pk: int, action: str):
    if action not in ACTIONS:
        raise Http404
    event = selectors.event_for(request.user, pk)
    fn, field = ACTIONS[action]
    text = (request.POST.get(field) or request.POST.get("note") or "")[:5000]
    return _run(request, event, lambda: fn(actor=Actor.console(request), event=event, **{field: text}))


@staff_required(Perm.CREDIT_RECORD)
@require_POST
def event_evidence(request, pk: int):
    event = selectors.event_for(request.user, pk)
    files = request.FILES.getlist("files")
    if not files:
        return _detail(request, event, errors=[_("请选择要上传的文件")], status=400)

    def add():
        with transaction.atomic():
            for f in files[: services.EVIDENCE_MAX_PER_EVENT + 1]:
                if f.size is not None and f.size > services.EVIDENCE_MAX_BYTES:
                    raise ValidationError({"file": [_("文件“%(n)s”超过 10 MB") % {"n": f.name}]})
                services.evidence_add(
                    actor=Actor.console(request), event=event, name=f.name, data=b"".join(f.chunks())
                )

    return _run(request, event, add)


@require_POST
def event_contest(request, pk: int):
    if not request.user.is_authenticated or not getattr(request.user, "is_staff_user", False):
        raise Http404
    event = selectors.event_for_contest(request.user, pk)
    reason = (request.POST.get("reason") or "")[:5000]
    return _run(
        request,
        event,
        lambda: services.contest_raise(actor=Actor.console(request), event=event, reason=reason),
    )


@staff_required(Perm.CREDIT_APPROVE)
@require_POST
def contest_decide(request, pk: int):
    contest = selectors.contest_for(request.user, pk)
    decision = request.POST.get("decision")
    event = selectors.event_for(request.user, contest.event_id)
    if decision not in ("upheld", "annulled"):
        return _detail(request, event, errors=[_("请选择处理结果")], status=400)
    note = (request.POST.get("note") or "")[:5000]
    return _run(
        request,
        event,
        lambda: services.contest_decide(
            actor=Actor.console(request), contest=contest, upheld=decision == "upheld", note=note
        ),
    )


@staff_required(Perm.CREDIT_VIEW)
def contests(request):
    status = request.GET.get("status") or ""
    qs = selectors.contests_visible(request.user).order_by("-raised_at", "-id")
    if status in ContestStatus.values:
        qs = qs.filter(status=status)
    else:
        status = ""
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    _label_customers([c.event for c in page.object_list])
    return render(
        request,
        "credit/contest_list.html",
        {
            "page": page,
            "status": status,
            "statuses": [("", _("全部"))] + ContestStatus.choices,
            "query": urlencode({"status": status}) if status else "",
        },
    )


@staff_required(Perm.CREDIT_VIEW)
def evidence(request, pk: int):
    """An evidence file, for users who may see its event."""
    ev = CreditEvidence.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
    if ev is None:
        raise Http404
    selectors.event_for(request.user, ev.event_id)
    try:
        handle = ev.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    ctype = services.evidence_content_type(ev)
    return FileResponse(
        handle, content_type=ctype, as_attachment=ctype == "application/pdf", filename=ev.name
    )


def new_url(customer_id: int) -> str:
    return f"{reverse('credit:event_new')}?customer={customer_id}"
