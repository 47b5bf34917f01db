"""Metering pages: route list, the reader's route walk (mobile-first) and the exceptions queue."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm
from gridcare.core.views import form_errors_from, staff_required

from . import selectors, services
from .forms import RegistersForm


@staff_required(Perm.METER_EDIT)
def route_list(request):
    routes = selectors.routes_visible(user=request.user).annotate(n=Count("memberships"))
    return render(request, "metering/routes.html", {"routes": routes})


@staff_required(Perm.METER_EDIT)
@require_http_methods(["GET", "POST"])
def route_walk(request, pk: int):
    route = selectors.route_get(user=request.user, pk=pk)
    try:
        position = max(0, int(request.GET.get("pos", 0)))
    except ValueError:
        position = 0
    stop = selectors.route_stop(route=route, position=position)
    if stop is None:
        return render(request, "metering/walk_done.html", {"route": route})
    meter = stop["meter"]
    form = RegistersForm(request.POST or None, tou=bool(meter and meter.has_tou))
    if request.method == "POST" and meter is not None and form.is_valid():
        try:
            read = services.read_record(
                actor=Actor.console(request), meter=meter, read_at=timezone.now(), registers=form.cleaned_data
            )
        except ValidationError as e:
            form_errors_from(form, e)
        else:
            if read.flags:
                messages.warning(
                    request,
                    _("户号 %(n)s 的示数已保存，但触发校验规则：%(f)s")
                    % {"n": stop["account"].account_number, "f": "；".join(f["message"] for f in read.flags)},
                )
            else:
                messages.success(
                    request, _("户号 %(n)s 的示数已保存") % {"n": stop["account"].account_number}
                )
            return redirect(f"{reverse('metering:route_walk', args=[route.pk])}?pos={stop['next_position']}")
    return render(request, "metering/walk.html", {"route": route, "stop": stop, "form": form})


@staff_required(Perm.METER_EDIT)
def exceptions(request):
    reads = list(selectors.exceptions_visible(user=request.user).select_related("account__premise")[:200])
    return render(request, "metering/exceptions.html", {"reads": reads, "form": RegistersForm()})


@staff_required(Perm.METER_EDIT)
@require_POST
def exception_action(request, pk: int, action: str):
    if action not in ("accept", "estimate", "correct"):
        raise Http404
    read = selectors.read_get(user=request.user, pk=pk)
    actor = Actor.console(request)
    try:
        if action == "accept":
            services.read_accept(actor=actor, read=read)
        elif action == "estimate":
            services.read_estimate(actor=actor, read=read)
        elif action == "correct":
            form = RegistersForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors)
            services.read_correct(actor=actor, read=read, registers=form.cleaned_data)
    except ValidationError as e:
        messages.error(request, "；".join(str(m) for m in e.messages))
    else:
        messages.success(request, _("示数 %(id)s 已处理") % {"id": read.pk})
    return redirect("metering:exceptions")
