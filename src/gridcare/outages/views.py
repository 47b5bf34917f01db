"""Console pages of outages (停电管理): the list, the form a dispatcher drafts or enters an outage with, and the
event page where it is submitted, approved (budget and 一停多用 panels), published, started, restored (whole,
per area or per account), cancelled and where important customers' confirmations are recorded. Every action is a
POST to the same services the API calls; a refused or bad action re-renders the page with the message (400)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required
from gridcare.notify.models import Notification
from gridcare.org.models import SupplyUnit

from . import selectors, services
from .choices import PREARRANGED, CauseCategory, ContactMethod, OutageKind, OutageStatus

CN = ZoneInfo("Asia/Shanghai")
LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


FORM_FIELDS = {"__all__", "kind", "cause_category", "title", "scope", "planned_start", "planned_end"}


def _actor(request) -> Actor:
    return Actor.from_request(request, Channel.CONSOLE)


def parse_local(value: str, field: str) -> datetime:
    """A datetime typed in the console (China time, `datetime-local` input) → aware; ValidationError naming the field."""
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: [_("请填写时间")]})
    for fmt in LOCAL_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=CN)
        except ValueError:
            continue
    raise ValidationError({field: [_("时间格式应为 YYYY-MM-DD HH:MM")]})


def split_codes(value: str) -> list[str]:
    """Codes typed with spaces, commas, semicolons or 、 between them."""
    for sep in ",;，；、\n\t":
        value = value.replace(sep, " ")
    return [c for c in value.split(" ") if c]


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


@staff_required(Perm.RELIABILITY_VIEW)
def outage_list(request):
    g = request.GET
    errors: list[str] = []
    start = end = None
    try:
        start = date.fromisoformat(g["start"]) if g.get("start") else None
        end = date.fromisoformat(g["end"]) if g.get("end") else None
    except ValueError:
        errors.append(_("日期格式应为 YYYY-MM-DD"))
    kind = g.get("kind") if g.get("kind") in OutageKind.values else None
    status = g.get("status") if g.get("status") in OutageStatus.values else None
    qs = selectors.outage_list(request.user, kind=kind, status=status, start=start, end=end)
    page = Paginator(qs.select_related("unit"), 50).get_page(g.get("page"))
    return render(
        request,
        "outages/list.html",
        {
            "page": page,
            "filters": {k: g.get(k, "") for k in ("kind", "status", "start", "end")},
            "kinds": OutageKind.choices,
            "statuses": OutageStatus.choices,
            "errors": errors,
            "may_draft": has_perm(request.user, Perm.OUTAGE_DRAFT),
            "query": g.urlencode(),
        },
        status=400 if errors else 200,
    )


@staff_required(Perm.OUTAGE_DRAFT)
@require_http_methods(["GET", "POST"])
def outage_new(request):
    form = {
        "kind": OutageKind.PLANNED,
        "cause_category": CauseCategory.MAINTENANCE,
        "title": "",
        "feeders": "",
        "areas": "",
        "planned_start": "",
        "planned_end": "",
        "work_content": "",
    }
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form.update({k: request.POST.get(k, "").strip() for k in form})
        try:
            scope = [("feeder", c) for c in split_codes(form["feeders"])] + [
                ("area", c) for c in split_codes(form["areas"])
            ]
            if not scope:
                raise ValidationError({"scope": [_("请至少填写一条线路或一个台区编号")]})
            times = {}
            bad: dict[str, list[str]] = {}
            for f in ("planned_start", "planned_end"):
                try:
                    times[f] = parse_local(form[f], f)
                except ValidationError as exc:
                    bad.update(exc.message_dict)
            if bad:
                raise ValidationError(bad)
            event = services.outage_create(
                actor=_actor(request),
                kind=form["kind"],
                cause_category=form["cause_category"] or CauseCategory.OTHER,
                title=form["title"],
                scope=scope,
                planned_start=times["planned_start"],
                planned_end=times["planned_end"],
                work_content=form["work_content"],
            )
            return redirect("outages:detail", event.number)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "message_dict") else {"__all__": exc.messages}
        except PermissionDenied:
            errors = {"scope": [_("您无权在该供电单位录入停电")]}
    return render(
        request,
        "outages/new.html",
        {
            "form": form,
            "errors": errors,
            "general_errors": errors.get("__all__", []),
            "other_errors": [m for f, msgs in errors.items() if f not in FORM_FIELDS for m in msgs],
            "kinds": OutageKind.choices,
            "causes": CauseCategory.choices,
        },
        status=400 if errors else 200,
    )


def _detail_context(request, event) -> dict:
    user = request.user
    areas = list(event.areas.order_by("area_name"))
    contacts = list(event.contacts.select_related("account").order_by("account__account_number"))
    year = event.planned_start.astimezone(CN).year
    budgets = selectors.budgets_applying(unit=event.unit, year=year) if event.kind in PREARRANGED else []
    names = dict(SupplyUnit.objects.filter(pk__in=[b["unit_id"] for b in budgets]).values_list("pk", "name"))
    for b in budgets:
        b["unit_name"] = names.get(b["unit_id"], "")
    merges = selectors.merge_candidates(event) if event.kind in PREARRANGED else []
    notices = dict(
        Notification.objects.filter(dedupe_key__startswith=f"outage:{event.pk}:")
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    open_groups = event.interruptions.filter(end__isnull=True).exists()
    may_draft = has_perm(user, Perm.OUTAGE_DRAFT)
    may_approve = has_perm(user, Perm.OUTAGE_APPROVE)
    s = event.status
    return {
        "event": event,
        "areas": areas,
        "contacts": contacts,
        "unconfirmed": sum(1 for c in contacts if not c.contacted_at),
        "budgets": budgets,
        "prearranged": event.kind in PREARRANGED,
        "merges": merges,
        "notices": notices,
        "notice_total": sum(notices.values()),
        "methods": ContactMethod.choices,
        "can": {
            "submit": may_draft and s in (OutageStatus.DRAFT, OutageStatus.REJECTED),
            "approve": may_approve and s == OutageStatus.SUBMITTED,
            "publish": may_approve and s == OutageStatus.APPROVED,
            "start": may_draft and s == OutageStatus.PUBLISHED,
            "restore": may_draft and s == OutageStatus.IN_PROGRESS and open_groups,
            "cancel": (may_approve and s in (OutageStatus.APPROVED, OutageStatus.PUBLISHED))
            or (may_draft and s in (OutageStatus.DRAFT, OutageStatus.SUBMITTED, OutageStatus.REJECTED)),
            "contact": may_draft and bool(contacts),
        },
        "now_local": timezone.now().astimezone(CN).strftime("%Y-%m-%dT%H:%M"),
    }


@staff_required(Perm.RELIABILITY_VIEW)
def outage_detail(request, number: str):
    event = selectors.outage_get(request.user, number)
    return render(request, "outages/detail.html", _detail_context(request, event))


ACTIONS = ("submit", "approve", "reject", "publish", "start", "restore", "cancel", "contact")


@staff_required(Perm.OUTAGE_DRAFT, Perm.OUTAGE_APPROVE)
@require_POST
def outage_action(request, number: str, action: str):
    if action not in ACTIONS:
        raise Http404
    event = selectors.outage_get(request.user, number)
    p = request.POST
    actor = _actor(request)
    try:
        if action == "submit":
            services.outage_submit(actor=actor, event=event)
        elif action == "approve":
            services.outage_approve(
                actor=actor,
                event=event,
                budget_override_reason=p.get("budget_override_reason", "").strip(),
                merge_note=p.get("merge_note", "").strip(),
            )
        elif action == "reject":
            services.outage_reject(actor=actor, event=event, reason=p.get("reason", "").strip())
        elif action == "publish":
            services.outage_publish(actor=actor, event=event)
        elif action == "start":
            at = parse_local(p.get("at", ""), "at") if p.get("at") else timezone.now()
            services.outage_start(actor=actor, event=event, at=at)
        elif action == "restore":
            services.outage_restore(
                actor=actor,
                event=event,
                at=parse_local(p.get("at", ""), "at"),
                area_codes=split_codes(p.get("areas", "")) or None,
                account_numbers=split_codes(p.get("accounts", "")) or None,
            )
        elif action == "cancel":
            services.outage_cancel(actor=actor, event=event, reason=p.get("reason", "").strip())
        elif action == "contact":
            services.outage_contact_record(
                actor=actor,
                event=event,
                account_number=p.get("account_number", "").strip(),
                method=p.get("method", ""),
                confirmed_by_name=p.get("confirmed_by_name", "").strip(),
                note=p.get("note", "").strip(),
            )
    except ValidationError as exc:
        event.refresh_from_db()
        ctx = _detail_context(request, event)
        ctx["errors"] = _messages(exc)
        ctx["failed_action"] = action
        return render(request, "outages/detail.html", ctx, status=400)
    except PermissionDenied:
        raise Http404 from None
    return redirect("outages:detail", event.number)
