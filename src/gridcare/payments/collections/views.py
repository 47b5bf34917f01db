"""Collections pages (催费): the task list with approve / reject / done actions, an account's dunning timeline,
and the protected-account switch. Thin: forms parse, `collections_selectors` read, `collections` writes."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required
from gridcare.customers.selectors import account_get
from gridcare.payments.choices import TaskKind, TaskStatus

from . import selectors as cs
from . import services as collections

PAGE_SIZE = 50


class TaskFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("任务类型"),
        required=False,
        choices=[("", gettext_lazy("全部")), *TaskKind.choices],
    )
    status = forms.ChoiceField(
        label=gettext_lazy("状态"), required=False, choices=[("", gettext_lazy("全部")), *TaskStatus.choices]
    )
    overdue = forms.BooleanField(label=gettext_lazy("仅看超时"), required=False)


class RejectForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("驳回原因"), max_length=500)


class DoneForm(forms.Form):
    done_at = forms.DateTimeField(
        label=gettext_lazy("执行时间"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    note = forms.CharField(label=gettext_lazy("备注"), max_length=200, required=False)


class ProtectionForm(forms.Form):
    protected = forms.BooleanField(label=gettext_lazy("保护用户"), required=False)
    reason = forms.CharField(label=gettext_lazy("保护原因"), max_length=200, required=False)


@staff_required(Perm.COLLECTIONS_MANAGE, Perm.DISCONNECT_APPROVE)
def task_list(request):
    """Disconnection and reconnection tasks of the user's units (filters: kind, status, overdue)."""
    form = TaskFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = cs.task_list(
        user=request.user,
        kind=data.get("kind", ""),
        status=data.get("status", ""),
        overdue=bool(data.get("overdue")),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [{"t": t, "overdue": cs.is_overdue(t, now)} for t in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "payments/collections_tasks.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "querystring": query.urlencode(),
            "counts": cs.task_counts(user=request.user),
            "now_local": timezone.localtime(now),
            "can_approve": has_perm(request.user, Perm.DISCONNECT_APPROVE),
            "can_manage": has_perm(request.user, Perm.COLLECTIONS_MANAGE),
        },
    )


def _back(request, default: str) -> str:
    nxt = request.POST.get("next", "")
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return nxt
    return default


@require_POST
@staff_required(Perm.COLLECTIONS_MANAGE, Perm.DISCONNECT_APPROVE)
def task_action(request, pk: int, action: str):
    """approve / reject (reason) / done (time, note) — each one service call; errors come back as messages."""
    task = cs.task_get(user=request.user, pk=pk)
    back = _back(request, reverse("payments:collections_tasks"))
    try:
        if action == "approve":
            collections.collection_task_approve(actor=Actor.console(request), task=task)
            messages.success(request, _("已批准停电任务 #%(id)s") % {"id": task.pk})
        elif action == "reject":
            form = RejectForm(request.POST)
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            collections.collection_task_reject(actor=Actor.console(request), task=task, reason=reason)
            messages.success(request, _("已驳回停电任务 #%(id)s") % {"id": task.pk})
        elif action == "done":
            form = DoneForm(request.POST)
            if not form.is_valid():
                raise ValidationError({k: v for k, v in form.errors.items()})
            collections.collection_task_done(
                actor=Actor.console(request),
                task=task,
                done_at=form.cleaned_data.get("done_at"),
                note=form.cleaned_data.get("note", ""),
            )
            messages.success(request, _("任务 #%(id)s 已登记完成") % {"id": task.pk})
        else:
            raise Http404
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        detail = getattr(exc, "message_dict", None) or {"__all__": exc.messages}
        for msgs in detail.values():
            for m in msgs:
                messages.error(request, _("任务 #%(id)s：%(m)s") % {"id": task.pk, "m": m})
        return redirect(back)
    return redirect(back)


@staff_required(Perm.CUSTOMER_VIEW)
def account_timeline(request, account_number: str):
    """An account's dunning timeline: notices, tasks, arrears today, and the protected flag."""
    tl = cs.account_timeline(user=request.user, account_number=account_number)
    # The reason is medical information (家中有呼吸机…): only for those who may see personal data, audited.
    can_pii = has_perm(request.user, Perm.CUSTOMER_VIEW_PII)
    reason = collections.protected_reason_shown(actor=Actor.console(request), account=tl.account)
    return render(
        request,
        "payments/collections_account.html",
        {
            "tl": tl,
            "account": tl.account,
            "now": timezone.now(),
            "protection_form": ProtectionForm(
                initial={
                    "protected": tl.account.protected,
                    "reason": reason,
                }
            ),
            "can_pii": can_pii,
            "can_edit": has_perm(request.user, Perm.CUSTOMER_EDIT),
            "can_approve": has_perm(request.user, Perm.DISCONNECT_APPROVE),
            "can_manage": has_perm(request.user, Perm.COLLECTIONS_MANAGE),
        },
    )


@require_POST
@staff_required(Perm.CUSTOMER_VIEW)
def account_protect(request, account_number: str):
    """Set or clear 保护用户 (CUSTOMER_EDIT); back to where the form was."""
    account = account_get(user=request.user, account_number=account_number)
    form = ProtectionForm(request.POST)
    back = _back(request, reverse("payments:collections_account", args=[account.account_number]))
    if not form.is_valid():
        messages.error(request, _("保护原因最多200字"))
        return redirect(back)
    try:
        collections.account_protection_set(
            actor=Actor.console(request),
            account=account,
            protected=form.cleaned_data["protected"],
            reason=form.cleaned_data["reason"],
        )
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        for msgs in exc.message_dict.values():
            for m in msgs:
                messages.error(request, m)
        return redirect(back)
    messages.success(request, _("户号 %(n)s 的保护用户设置已保存") % {"n": account.account_number})
    return redirect(back)
