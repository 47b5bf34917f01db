"""Staff pages of 用电检查 (issue 17 §2), under /credit/ (namespace "credit"):

- `inspections` /credit/inspections/: the list (credit.view), filters, scheduled ones past due highlighted; a
  special inspection made from it (credit.record);
- `inspections_mine` /credit/inspections/mine/: the inspector's phone page (credit.record): today's and overdue
  inspections of their units, large touch targets, fits 375 px;
- `inspection` /credit/inspections/<id>/: detail, the checklist form (radio buttons per item), refusal, the notice;
- `notice` /credit/notices/<id>/: the printable 限期整改通知书, and marking it done.

Scoped by the unit subtree (anything else: 404). A refused write re-renders with the error (400) and writes nothing;
a good one redirects (post/redirect/get)."""

import re
from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, may_act_on_unit
from gridcare.core.validators import clean_date
from gridcare.core.views import error_messages, staff_required

from . import checklist
from . import inspections as svc
from .choices import InspectionClass, InspectionKind, InspectionStatus, ItemResult, NoticeStatus


def _int(raw, field: str) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", text) or int(text) < 1:
        raise ValidationError({field: [_("请输入正整数")]})
    return int(text)


def _date(raw, field: str) -> date | None:
    text = str(raw or "").strip()
    return clean_date(text, field) if text else None


def _register_record_url(customer_id: int) -> str:
    """The register's record form for this customer, theft preselected (a theft finding is recorded there)."""
    return f"{reverse('credit:event_new')}?customer={customer_id}&code=theft"


# ---------------------------------------------------------------- list


@staff_required(Perm.CREDIT_VIEW)
def inspections(request):
    today = timezone.localdate()
    errors: list[str] = []
    g = request.GET
    filters = {
        "status": (g.get("status") or "").strip(),
        "due_before": (g.get("due_before") or "").strip()[:10],
        "due_after": (g.get("due_after") or "").strip()[:10],
        "mine": g.get("mine") == "1",
        "customer_id": (g.get("customer_id") or "").strip()[:20],
    }
    parsed: dict = {"status": None, "due_before": None, "due_after": None, "customer_id": None}
    try:
        if filters["status"]:
            if filters["status"] not in InspectionStatus.values:
                raise ValidationError({"status": [_("状态无效")]})
            parsed["status"] = filters["status"]
        parsed["due_before"] = _date(filters["due_before"], "due_before")
        parsed["due_after"] = _date(filters["due_after"], "due_after")
        parsed["customer_id"] = _int(filters["customer_id"], "customer_id")
    except ValidationError as exc:
        errors = error_messages(exc)
        parsed = {"status": None, "due_before": None, "due_after": None, "customer_id": None}
    qs = svc.inspections_filter(
        svc.inspections_for(request.user), user=request.user, mine=filters["mine"], **parsed
    ).order_by("due_on", "id")
    page = Paginator(qs, 50).get_page(g.get("page"))
    return render(
        request,
        "credit/inspection_list.html",
        {
            "page": page,
            "today": today,
            "filters": filters,
            "errors": errors,
            "statuses": InspectionStatus.choices,
            "may_record": has_perm(request.user, Perm.CREDIT_RECORD),
            "new": {"customer_id": "", "due_on": today.isoformat(), "note": ""},
            "new_errors": [],
            "query": _query_without_page(g),
        },
        status=400 if errors else 200,
    )


def _query_without_page(g) -> str:
    q = g.copy()
    q.pop("page", None)
    return q.urlencode()


@require_POST
@staff_required(Perm.CREDIT_RECORD)
def inspection_new(request):
    p = request.POST
    new = {
        "customer_id": (p.get("customer_id") or "").strip()[:20],
        "due_on": (p.get("due_on") or "").strip()[:10],
        "note": (p.get("note") or "")[:600],
    }
    try:
        customer_id = _int(new["customer_id"], "customer_id")
        if customer_id is None:
            raise ValidationError({"customer_id": [_("请填写客户编号")]})
        due_on = _date(new["due_on"], "due_on")
        if due_on is None:
            raise ValidationError({"due_on": [_("请填写应检日期")]})
        i = svc.inspection_create(
            actor=Actor.console(request), customer_id=customer_id, due_on=due_on, note=new["note"]
        )
    except (ValidationError, PermissionDenied) as exc:
        msgs = error_messages(exc) if isinstance(exc, ValidationError) else [_("客户不存在或无权访问")]
        today = timezone.localdate()
        page = Paginator(svc.inspections_for(request.user).order_by("due_on", "id"), 50).get_page(1)
        return render(
            request,
            "credit/inspection_list.html",
            {
                "page": page,
                "today": today,
                "filters": {
                    "status": "",
                    "due_before": "",
                    "due_after": "",
                    "mine": False,
                    "customer_id": "",
                },
                "errors": [],
                "statuses": InspectionStatus.choices,
                "may_record": True,
                "new": new,
                "new_errors": msgs,
                "query": "",
            },
            status=400,
        )
    messages.success(request, _("已新建专项检查"))
    return redirect("credit:inspection", inspection_id=i.pk)


# ---------------------------------------------------------------- the inspector's phone page


@staff_required(Perm.CREDIT_RECORD)
def inspections_mine(request):
    today = timezone.localdate()
    rows = list(svc.inspections_mine(request.user, today=today)[:200])
    return render(
        request,
        "credit/inspection_mine.html",
        {
            "today": today,
            "overdue": [i for i in rows if i.due_on < today],
            "due_today": [i for i in rows if i.due_on == today],
        },
    )


# ---------------------------------------------------------------- detail and its writes


def _inspection_or_404(request, inspection_id: int):
    i = svc.inspection_for(request.user, inspection_id)
    if i is None:
        raise Http404
    return i


def _detail(request, i, *, status: int = 200, errors=None, posted=None, form: str = ""):
    today = timezone.localdate()
    may_record = may_act_on_unit(request.user, i.unit_id, Perm.CREDIT_RECORD)
    stored = svc.item_rows(i)
    defect = any(r["result"] == ItemResult.DEFECT for r in stored)
    theft = any(r["code"] == checklist.ANTI_THEFT and r["result"] == ItemResult.DEFECT for r in stored)
    posted = posted or {}
    rows = stored
    if posted.get("items"):  # a refused form shows back what was entered
        rows = [
            {
                **r,
                "result": posted["items"].get(r["code"], ("", ""))[0],
                "finding": posted["items"].get(r["code"], ("", ""))[1],
            }
            for r in stored
        ]
    notice = svc.notices_for(request.user).filter(inspection=i).first()
    return render(
        request,
        "credit/inspection_detail.html",
        {
            "i": i,
            "today": today,
            "overdue": i.status == InspectionStatus.SCHEDULED and i.due_on < today,
            "rows": rows,
            "results": ItemResult.choices,
            "may_record": may_record,
            "can_perform": may_record and i.status == InspectionStatus.SCHEDULED,
            "can_notice": may_record and i.status == InspectionStatus.DONE and defect and notice is None,
            "notice": notice,
            "events": list(i.events.order_by("id")),
            "theft_url": _register_record_url(i.customer_id) if theft else None,
            "errors": list(errors or ()),
            "form": form,
            "posted": posted,
            "perform_day": posted.get("performed_on") or today.isoformat(),
            "refused_day": posted.get("refused_on") or today.isoformat(),
            "default_deadline": svc.default_deadline(i) if i.performed_on else None,
            "default_requirements": svc.default_requirements(i) if defect else "",
            "class_label": dict(InspectionClass.choices).get(i.inspection_class, ""),
            "kind_label": dict(InspectionKind.choices).get(i.kind, ""),
        },
        status=status,
    )


@staff_required(Perm.CREDIT_VIEW)
def inspection(request, inspection_id: int):
    return _detail(request, _inspection_or_404(request, inspection_id))


def _write(request, inspection_id: int, form: str, action, posted: dict):
    i = _inspection_or_404(request, inspection_id)
    if not may_act_on_unit(request.user, i.unit_id, Perm.CREDIT_RECORD):
        raise Http404
    try:
        action(i)
    except ValidationError as exc:
        i = _inspection_or_404(request, inspection_id)
        return _detail(request, i, status=400, errors=error_messages(exc), posted=posted, form=form)
    except PermissionDenied:
        raise Http404 from None
    return None


@require_POST
@staff_required(Perm.CREDIT_RECORD)
def inspection_perform(request, inspection_id: int):
    p = request.POST
    items = {
        item.code: ((p.get(f"result_{item.code}") or "")[:10], (p.get(f"finding_{item.code}") or "")[:2100])
        for item in checklist.DEFAULT_CHECKLIST
    }
    posted = {
        "items": items,
        "summary": (p.get("summary") or "")[:2100],
        "performed_on": (p.get("performed_on") or "").strip()[:10],
        "unqualified_electricians": (p.get("unqualified_electricians") or "").strip()[:6],
    }

    def action(i):
        missing = [str(checklist.BY_CODE[c].label) for c, (result, _f) in items.items() if not result]
        if missing:
            raise ValidationError({"items": [_("以下检查项未填写结果：%(l)s") % {"l": "、".join(missing)}]})
        performed_on = _date(posted["performed_on"], "performed_on")
        if performed_on is None:
            raise ValidationError({"performed_on": [_("请填写检查日期")]})
        count = _int(posted["unqualified_electricians"], "unqualified_electricians")
        if items[checklist.ELECTRICIAN][0] != ItemResult.DEFECT:
            count = None  # the field stays on the phone form; it counts only with the defect
        svc.inspection_perform(
            actor=Actor.console(request),
            inspection=i,
            items=[svc.ItemAnswer(code, r, f) for code, (r, f) in items.items()],
            summary=posted["summary"],
            performed_on=performed_on,
            unqualified_electricians=count,
        )

    response = _write(request, inspection_id, "perform", action, posted)
    if response is not None:
        return response
    messages.success(request, _("检查结果已登记"))
    return redirect("credit:inspection", inspection_id=inspection_id)


@require_POST
@staff_required(Perm.CREDIT_RECORD)
def inspection_refused(request, inspection_id: int):
    p = request.POST
    posted = {"refused_on": (p.get("performed_on") or "").strip()[:10], "note": (p.get("note") or "")[:2100]}

    def action(i):
        day = _date(posted["refused_on"], "performed_on")
        if day is None:
            raise ValidationError({"performed_on": [_("请填写到场日期")]})
        svc.inspection_refuse(
            actor=Actor.console(request), inspection=i, performed_on=day, note=posted["note"]
        )

    response = _write(request, inspection_id, "refused", action, posted)
    if response is not None:
        return response
    messages.success(request, _("已登记客户拒绝检查，待审批后计入信用"))
    return redirect("credit:inspection", inspection_id=inspection_id)


@require_POST
@staff_required(Perm.CREDIT_RECORD)
def inspection_notice(request, inspection_id: int):
    p = request.POST
    posted = {
        "requirements": (p.get("requirements") or "")[:2100],
        "deadline": (p.get("deadline") or "").strip()[:10],
    }

    def action(i):
        svc.notice_issue(
            actor=Actor.console(request),
            inspection=i,
            requirements=posted["requirements"],
            deadline=_date(posted["deadline"], "deadline"),
        )

    response = _write(request, inspection_id, "notice", action, posted)
    if response is not None:
        return response
    n = svc.notices_for(request.user).get(inspection_id=inspection_id)
    messages.success(request, _("已下达限期整改通知书 %(n)s") % {"n": n.number})
    return redirect("credit:notice", notice_id=n.pk)


# ---------------------------------------------------------------- the printable notice


def _notice_or_404(request, notice_id: int):
    n = svc.notice_for(request.user, notice_id)
    if n is None:
        raise Http404
    return n


def _notice_page(request, n, *, status: int = 200, errors=(), done_on: str = ""):
    today = timezone.localdate()
    return render(
        request,
        "credit/inspection_notice.html",
        {
            "n": n,
            "i": n.inspection,
            "defects": n.inspection.items.filter(result=ItemResult.DEFECT).order_by("position", "id"),
            "today": today,
            "may_record": may_act_on_unit(request.user, n.unit_id, Perm.CREDIT_RECORD)
            and n.status != NoticeStatus.DONE,
            "errors": list(errors),
            "done_on": done_on or today.isoformat(),
        },
        status=status,
    )


@staff_required(Perm.CREDIT_VIEW)
def notice(request, notice_id: int):
    return _notice_page(request, _notice_or_404(request, notice_id))


@require_POST
@staff_required(Perm.CREDIT_RECORD)
def notice_done(request, notice_id: int):
    n = _notice_or_404(request, notice_id)
    if not may_act_on_unit(request.user, n.unit_id, Perm.CREDIT_RECORD):
        raise Http404
    raw = (request.POST.get("done_on") or "").strip()[:10]
    try:
        day = _date(raw, "done_on")
        if day is None:
            raise ValidationError({"done_on": [_("请填写整改完成日期")]})
        svc.notice_done(actor=Actor.console(request), notice=n, done_on=day)
    except ValidationError as exc:
        return _notice_page(
            request, _notice_or_404(request, notice_id), status=400, errors=error_messages(exc), done_on=raw
        )
    except PermissionDenied:
        raise Http404 from None
    messages.success(request, _("已确认整改完成"))
    return redirect("credit:notice", notice_id=notice_id)
