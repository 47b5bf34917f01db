"""Staff pages of the 95598 work orders (issue 15 §1, §2, §5, §6), under /service/: the order list, the new-order
form, an order's page with the actions its type and step allow, the attachment download, the 95598 agent console,
the dispatcher board (htmx polling) and the crew's phone page.

Views parse input and call one service (`services.py`, `attachments.attachment_add`) or selector (`selectors.py`,
`console.py`); a refused action re-renders the page with the message (400) and writes nothing. Personal data is
masked unless the role has customer.view_pii, and every unmasked view leaves one customer.view_pii audit row."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor, pii_view_record
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required

from . import console, lifecycle, selectors, services
from .attachments import MAX_BYTES, attachment_add, check_upload
from .choices import OrderType, Satisfaction, Step, Triage
from .forms import SUB_TYPES_BY_TYPE, TYPE_OPTIONS, ActionForm, FilterForm, OrderCreateForm
from .models import WorkOrder

# A service's error keys → the create form's fields.
CREATE_FIELDS = {"type": "order_type", "account": "account_number", "file": "files"}
ACTIONS = frozenset(lifecycle.ACTION_TO_STEP) | frozenset(lifecycle.SIDE_ACTIONS) | {"substantiate", "attach"}
BACK = ("detail", "board", "crew")


def _actor(request) -> Actor:
    return Actor.console(request)


def _reveal(user) -> bool:
    return has_perm(user, Perm.CUSTOMER_VIEW_PII)


def _record_pii(request, orders, source: str, accounts=()) -> None:
    """One customer.view_pii row for the orders (and accounts) a customer.view_pii role saw unmasked."""
    if not _reveal(request.user):
        return
    shown = [o for o in orders if console.shows_pii(o)]
    pii_view_record(
        actor=_actor(request),
        source=source,
        object_type="service.workorder",
        object_ids=[o.number for o in shown] + [a.account_number for a in accounts],
        customer_ids=[o.account.customer_id for o in shown if o.account_id]
        + [a.customer_id for a in accounts],
    )


def _messages_of(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "message_dict") else {"__all__": list(exc.messages)}


def _read_uploads(files) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(name, bytes) of each uploaded file and the error of each refused one (type by content, size). At most
    MAX_BYTES + 1 bytes of a file are read: a larger one is refused for its size without loading it."""
    out, errors = [], []
    for f in files:
        name = (f.name or "file")[:100]
        data = f.read(MAX_BYTES + 1)
        try:
            check_upload(name, data)
        except ValidationError as exc:
            errors.extend(m for msgs in _messages_of(exc).values() for m in msgs)
            continue
        out.append((name, data))
    return out, errors


# ---------------------------------------------------------------- list


@staff_required(Perm.WORKORDER_VIEW)
def order_list(request):
    form = FilterForm(request.GET or None)
    errors: list[str] = []
    filters = console.OrderFilters()
    if form.is_bound:
        if form.is_valid():
            cd = form.cleaned_data
            try:
                q = console.clean_query(cd["q"])
            except ValidationError as exc:
                errors += [m for msgs in _messages_of(exc).values() for m in msgs]
                q = ""
            filters = console.OrderFilters(
                order_type=cd["order_type"],
                status=cd["status"],
                channel=cd["channel"],
                overdue=cd["overdue"],
                q=q,
            )
        else:
            errors += [m for msgs in form.errors.values() for m in msgs]
    now = timezone.now()
    reveal = _reveal(request.user)
    page = Paginator(console.order_list(request.user, filters, now=now), console.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    orders = console.attach_contacts(console.mark_clocks(page.object_list, now), reveal)
    _record_pii(request, orders, "console.service_orders")
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "service/orders_list.html",
        {
            "form": form,
            "page": page,
            "orders": orders,
            "errors": errors,
            "query": query.urlencode(),
            "may_create": has_perm(request.user, Perm.WORKORDER_HANDLE),
        },
        status=400 if errors else 200,
    )


# ---------------------------------------------------------------- new order


def _triage_message(created: services.Created) -> str:
    order, t = created.order, created.triage
    if t is not None and t.outcome == Triage.OUTAGE:
        when = timezone.localtime(t.est_restoration).strftime("%Y-%m-%d %H:%M") if t.est_restoration else "—"
        return _(
            "工单 %(n)s 已受理：报修地址位于停电事件 %(o)s 范围内，预计 %(t)s 恢复送电，请告知客户，不另派抢修。"
        ) % {"n": order.number, "o": t.outage_number, "t": when}
    if t is not None and t.outcome == Triage.ARREARS:
        return _(
            "工单 %(n)s 已受理：预付费账户余额不足（%(b)s 元），按欠费停电答复客户，请引导客户交费。"
        ) % {
            "n": order.number,
            "b": t.balance,
        }
    if t is not None:
        return _("工单 %(n)s 已受理：研判需派发抢修，已进入抢修指挥看板。") % {"n": order.number}
    return _("工单 %(n)s 已受理登记。") % {"n": order.number}


def _new_context(form, file_errors=()) -> dict:
    return {
        "form": form,
        "file_errors": list(file_errors),
        "sub_type_groups": SUB_TYPES_BY_TYPE,
        "type_options": TYPE_OPTIONS,
    }


@staff_required(Perm.WORKORDER_HANDLE)
@require_http_methods(["GET", "POST"])
def order_new(request):
    if request.method != "POST":
        initial = {"channel": "phone"}
        for key in ("account_number", "order_type", "phone"):
            if request.GET.get(key):
                initial[key] = request.GET[key][:20]
        return render(request, "service/orders_new.html", _new_context(OrderCreateForm(initial=initial)))
    form = OrderCreateForm(request.POST, request.FILES)
    file_errors: list[str] = []
    if form.is_valid():
        cd = form.cleaned_data
        uploads, file_errors = _read_uploads(cd["files"])
        if not file_errors:
            actor = _actor(request)
            try:
                with transaction.atomic():
                    created = services.work_order_create(
                        actor=actor,
                        order_type=cd["order_type"],
                        channel=cd["channel"],
                        sub_type=cd["sub_type"] or None,
                        account_number=cd["account_number"] or None,
                        caller_name=cd["caller_name"].strip(),
                        phone=cd["phone"].strip(),
                        address=cd["address"].strip(),
                        area=cd["area"] or None,
                        description=cd["description"].strip(),
                        priority=cd["priority"],
                        received_at=cd["received_at"],
                    )
                    for name, data in uploads:
                        attachment_add(actor=actor, order=created.order, name=name, data=data)
            except ValidationError as exc:
                for key, msgs in _messages_of(exc).items():
                    target = CREATE_FIELDS.get(key, key)
                    for m in msgs:
                        if target == "files":
                            file_errors.append(m)
                        else:
                            form.add_error(target if target in form.fields else None, m)
            except PermissionDenied:
                form.add_error(None, _("您无权在该供电单位受理工单"))
            else:
                messages.success(request, _triage_message(created))
                return redirect("service:order_detail", created.order.number)
    return render(request, "service/orders_new.html", _new_context(form, file_errors), status=400)


# ---------------------------------------------------------------- one order


def _detail_context(request, order, *, errors=None, failed="", posted=None) -> dict:
    user = request.user
    now = timezone.now()
    actions = console.actions_for(user, order)
    crew = []
    if "dispatch" in actions or "assign" in actions:
        perm = Perm.WORKORDER_DISPATCH if "dispatch" in actions else Perm.WORKORDER_HANDLE
        crew = console.candidates_for(order, console.assignee_candidates(user, perm))
    reveal = _reveal(user)
    _record_pii(request, [order], "console.service_order")
    forward = [a for a in actions if a in lifecycle.ACTION_TO_STEP]
    return {
        "order": order,
        "shown": console.contact_shown(order, reveal),
        "deadlines": console.deadline_rows(order, now),
        "events": console.order_events(order),
        "attachments": console.order_attachments(order),
        "forward": [(a, console.action_label(a)) for a in forward],
        "side": [(a, console.action_label(a)) for a in actions if a not in forward],
        "actions": actions,
        "crew": crew,
        "units": console.transfer_units() if "transfer" in actions else [],
        "satisfactions": Satisfaction.choices,
        "may_attach": console.may_attach(user, order),
        "outage_estimate": console.outage_estimate(order),
        "errors": errors or {},
        "failed": failed,
        "posted": posted or {},
        "is_fault": order.order_type == OrderType.FAULT,
        "steps": [(s, Step(s).label) for s in lifecycle.STEPS[order.order_type]],
    }


@staff_required(Perm.WORKORDER_VIEW)
def order_detail(request, number: str):
    order = selectors.order_get(request.user, number)
    return render(request, "service/orders_detail.html", _detail_context(request, order))


@staff_required(Perm.WORKORDER_VIEW)
def attachment(request, pk: int):
    att = console.attachment_get(request.user, pk)
    try:
        fh = att.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    image = att.content_type.startswith("image/")
    resp = FileResponse(fh, content_type=att.content_type, as_attachment=not image, filename=att.name)
    resp["X-Content-Type-Options"] = "nosniff"
    return resp


def _act(request, order, action: str, cd: dict, uploads) -> WorkOrder:
    """The one service call of an action (plus the files), in one transaction: a refusal writes nothing."""
    user, actor = request.user, _actor(request)
    with transaction.atomic():
        if action == "substantiate":
            choice = cd.get("substantiated")
            if choice not in ("yes", "no"):
                raise ValidationError({"substantiated": [_("请选择属实或不属实")]})
            order = services.work_order_substantiate(
                actor=actor, order=order, substantiated=choice == "yes", note=cd["note"].strip()
            )
        elif action == "attach":
            if not console.may_attach(user, order):
                raise PermissionDenied
            if not uploads:
                raise ValidationError({"files": [_("请选择要上传的文件")]})
        else:
            assignee = into = None
            if action in ("dispatch", "assign"):
                assignee = console.assignee_get(user, order, console.perm_of(action), cd["assignee"])
            if action == "merge":
                into = console.merge_target(user, order, cd["into"])
            order = services.work_order_act(
                actor=actor,
                order=order,
                action=action,
                note=cd["note"].strip(),
                assignee=assignee,
                unit_id=cd["unit"],
                into=into,
                fault_cause=cd["fault_cause"].strip(),
                resolution=cd["resolution"].strip(),
                satisfaction=cd["satisfaction"],
            )
        for name, data in uploads:
            attachment_add(actor=actor, order=order, name=name, data=data)
    return order


def _done_message(order, action: str) -> str:
    if action == "callback" and order.callback_result == Satisfaction.UNSATISFIED:
        return _("工单 %(n)s 回访不满意，已退回重新处理（%(s)s）") % {
            "n": order.number,
            "s": order.get_status_display(),
        }
    if action == "attach":
        return _("工单 %(n)s 已上传附件") % {"n": order.number}
    return _("工单 %(n)s 已办理“%(a)s”，当前状态：%(s)s") % {
        "n": order.number,
        "a": console.action_label(action),
        "s": order.get_status_display(),
    }


@staff_required(Perm.WORKORDER_HANDLE, Perm.WORKORDER_DISPATCH)
@require_POST
def order_act(request, number: str, action: str):
    if action not in ACTIONS:
        raise Http404
    order = selectors.order_get(request.user, number)
    back = request.POST.get("back") if request.POST.get("back") in BACK else "detail"
    form = ActionForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise ValidationError({k: list(v) for k, v in form.errors.items()})
        uploads, file_errors = _read_uploads(form.cleaned_data["files"])
        if file_errors:
            raise ValidationError({"files": file_errors})
        order = _act(request, order, action, form.cleaned_data, uploads)
    except ValidationError as exc:
        errors = _messages_of(exc)
        posted = {k: request.POST.get(k, "") for k in ActionForm.base_fields if k != "files"}
        if back == "board":
            return _board_response(request, errors=errors, failed=(number, action), status=400)
        if back == "crew":
            return _crew_response(request, errors=errors, failed=(number, action), posted=posted, status=400)
        order.refresh_from_db()
        ctx = _detail_context(request, order, errors=errors, failed=action, posted=posted)
        return render(request, "service/orders_detail.html", ctx, status=400)
    except PermissionDenied:
        raise Http404 from None
    messages.success(request, _done_message(order, action))
    if back == "board":
        return redirect("service:board")
    if back == "crew":
        return redirect("service:crew")
    return redirect("service:order_detail", order.number)


# ---------------------------------------------------------------- agent console


@staff_required(Perm.WORKORDER_HANDLE)
def console_page(request):
    q = request.GET.get("q", "")
    caller, errors = None, []
    reveal = _reveal(request.user)
    if q.strip():
        try:
            caller = console.caller_lookup(request.user, q, reveal=reveal)
        except ValidationError as exc:
            errors = [m for msgs in _messages_of(exc).values() for m in msgs]
    if caller is not None:
        seen = {o.pk: o for o in [*caller.open_orders, *caller.recent_orders]}
        _record_pii(request, seen.values(), "console.service_console", accounts=caller.accounts)
    initial = {"order_type": "fault", "channel": "phone"}
    if caller is not None and caller.accounts:
        initial["account_number"] = caller.accounts[0].account_number
    elif caller is not None and caller.by == "phone":
        initial["phone"] = caller.query
    rows = caller.accounts if caller is not None else []
    outage_rows = [{"account": a, "outages": caller.outages.get(a.pk, [])} for a in rows]
    return render(
        request,
        "service/console.html",
        {
            "q": q[:40],
            "caller": caller,
            "money_rows": [{"account": a, "money": caller.money.get(a.pk)} for a in rows],
            "outage_rows": outage_rows,
            "has_outages": any(r["outages"] for r in outage_rows),
            "errors": errors,
            "form": OrderCreateForm(initial=initial),
            "type_options": TYPE_OPTIONS,
            "sub_type_groups": SUB_TYPES_BY_TYPE,
        },
        status=400 if errors else 200,
    )


# ---------------------------------------------------------------- dispatcher board


def _board_context(request, *, errors=None, failed=None) -> dict:
    reveal = _reveal(request.user)
    b = console.board(request.user, now=timezone.now())
    orders = [o for g in b.groups for o in g.orders]
    console.attach_contacts(orders, reveal)
    _record_pii(request, orders, "console.service_board")
    return {
        "board": b,
        "may_dispatch": has_perm(request.user, Perm.WORKORDER_DISPATCH),
        "may_handle": has_perm(request.user, Perm.WORKORDER_HANDLE),
        "errors": errors or {},
        "failed": failed,
        "refreshed_at": timezone.localtime(),
    }


def _board_response(request, *, errors=None, failed=None, status=200):
    template = "service/board_partial.html" if getattr(request, "htmx", False) else "service/board.html"
    return render(request, template, _board_context(request, errors=errors, failed=failed), status=status)


@staff_required(Perm.WORKORDER_VIEW)
def board_page(request):
    return _board_response(request)


# ---------------------------------------------------------------- crew page


def _crew_response(request, *, errors=None, failed=None, posted=None, status=200):
    now = timezone.now()
    reveal = _reveal(request.user)
    mine = console.attach_contacts(console.crew_orders(request.user, now=now), reveal)
    unassigned = console.attach_contacts(console.crew_open(request.user, now=now), reveal)
    _record_pii(request, [*mine, *unassigned], "console.service_crew")
    return render(
        request,
        "service/crew.html",
        {
            "mine": mine,
            "unassigned": unassigned,
            "errors": errors or {},
            "failed": failed,
            "posted": posted or {},
        },
        status=status,
    )


@staff_required(Perm.WORKORDER_DISPATCH)
def crew_page(request):
    return _crew_response(request)
