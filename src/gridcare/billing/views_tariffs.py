"""Tariff catalogue pages: the catalogue (each version's components as tables), the tariff editor (a form per
component, a preview through the rating engine, save as a new effective-dated version) and the raw JSON form
kept for administrators. Editing needs `tariff.edit` (administrators); others get the same 404 as a missing
tariff."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm
from gridcare.core.views import staff_required

from . import selectors, services
from .forms import TariffVersionForm
from .tariff_editor import (
    FORMSETS,
    TariffEditor,
    add_row,
    components,
    default_valid_from,
    params_to_data,
    preview_period,
    remove_row,
)


@staff_required(Perm.CUSTOMER_VIEW)
def tariffs(request):
    today = timezone.localdate()
    rows = [
        {
            "tariff": t,
            "current": selectors.current_version(t, today),
            "versions": [{"v": v, "c": components(v.parameters)} for v in t.versions.all()],
        }
        for t in selectors.tariffs_with_versions()
    ]
    return render(
        request, "billing/tariffs.html", {"rows": rows, "can_edit": services.can_edit_tariffs(request.user)}
    )


def _editable_tariff(request, code: str):
    if not services.can_edit_tariffs(request.user):
        raise Http404
    tariff = selectors.tariff_by_code(code)
    if tariff is None:
        raise Http404
    return tariff


def _row_action(action: str) -> tuple[str, str, int | None] | None:
    """ "add-tiers" → ("add", "tiers", None); "del-windows-2" → ("del", "windows", 2); anything else → None."""
    verb, _sep, rest = action.partition("-")
    prefix, _sep, index = rest.partition("-")
    if verb not in ("add", "del") or prefix not in FORMSETS:
        return None
    if verb == "add":
        return (verb, prefix, None) if not index else None
    return (verb, prefix, int(index)) if index.isdigit() else None


@staff_required(Perm.CUSTOMER_VIEW)
@require_http_methods(["GET", "POST"])
def version_editor(request, code: str):
    """电价编辑: GET starts from the version in force today (or the latest); POST adds or removes a row, previews
    the quote of a sample consumption, or saves a new version. Nothing is written but by 保存."""
    tariff = _editable_tariff(request, code)
    today = timezone.localdate()
    preview = None
    status = 200
    if request.method == "GET":
        base = selectors.current_version(tariff, today) or tariff.versions.order_by("valid_from").last()
        # the effective date starts filled (first of next month), so 预览电费 works on the unchanged form
        data = params_to_data(base.parameters if base else None, valid_from=default_valid_from(today))
        editor = TariffEditor(data, show_errors=False)
    else:
        action = request.POST.get("action", "")
        row = _row_action(action)
        if row is not None:
            verb, prefix, index = row
            data = add_row(request.POST, prefix) if verb == "add" else remove_row(request.POST, prefix, index)
            editor = TariffEditor(data, show_errors=False)
        else:
            editor = TariffEditor(request.POST)
            if editor.is_valid():
                v = editor.version.cleaned_data
                if action == "save":
                    try:
                        version = services.tariff_version_create(
                            actor=Actor.from_request(request, Channel.CONSOLE),
                            tariff=tariff,
                            valid_from=v["valid_from"],
                            valid_to=v["valid_to"],
                            params=editor.params,
                            close_open_version=v["close_current"],
                        )
                    except ValidationError as exc:
                        for field, msgs in exc.message_dict.items():
                            for m in msgs:
                                if field in ("valid_from", "valid_to"):
                                    editor.version.add_error(field, m)
                                else:
                                    editor.block.other.append(m if field == "__all__" else f"{field}：{m}")
                    else:
                        messages.success(
                            request,
                            _("已新增电价版本：%(c)s 自 %(d)s 起执行")
                            % {"c": tariff.code, "d": version.valid_from.isoformat()},
                        )
                        return redirect("billing:tariffs")
                else:
                    preview = _preview(editor)
            if editor.has_errors() or editor.sample.errors:
                status = 400
    return render(
        request,
        "billing/tariff_editor.html",
        {"tariff": tariff, "editor": editor, "preview": preview},
        status=status,
    )


def _preview(editor: TariffEditor):
    kwargs = editor.sample_kwargs()
    if kwargs is None:
        return None
    v = editor.version.cleaned_data
    start, end = preview_period(v["valid_from"], v["valid_to"])
    try:
        result = services.tariff_version_preview(
            valid_from=v["valid_from"],
            valid_to=v["valid_to"],
            params=editor.params,
            period_start=start,
            period_end=end,
            **kwargs,
        )
    except ValidationError as exc:
        editor.sample_errors_from(exc.message_dict)
        return None
    return {"start": start, "end": end, "result": result}


@staff_required(Perm.CUSTOMER_VIEW)
@require_http_methods(["GET", "POST"])
def version_json(request, code: str):
    """The raw JSON form (administrators): the parameters as `parse_params` documents them."""
    tariff = _editable_tariff(request, code)
    form = TariffVersionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.tariff_version_create(
                actor=Actor.from_request(request, Channel.CONSOLE),
                tariff=tariff,
                valid_from=form.cleaned_data["valid_from"],
                valid_to=form.cleaned_data["valid_to"],
                params=form.cleaned_data["parameters"],
            )
        except ValidationError as exc:
            for field, msgs in exc.message_dict.items():
                for m in msgs:
                    form.add_error(
                        field if field in form.fields else None,
                        m if field in form.fields or field == "__all__" else f"{field}: {m}",
                    )
        else:
            messages.success(request, _("已新增电价版本"))
            return redirect("billing:tariffs")
    return render(request, "billing/version_form.html", {"form": form, "tariff": tariff})
