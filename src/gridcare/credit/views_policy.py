"""The credit policy page `/credit/policy/` (credit.admin): grace days, grade thresholds, the 用电类别 rated as
照明户, the measures of each grade (grade × measure checkboxes), the "wrong account" bank codes (a comma list),
dunning advance days, inspection intervals, rectification days and the assessment interval.

Everyone with credit.admin sees it; only a company-level one may save (`policy_edit.may_edit`; a bureau's manager
sees it read-only, and a POST answers 403). A refused change re-renders the form with each field's message
(400) and writes nothing; a saved one is audited `credit.policy_update` by `policy_edit.policy_update`."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required
from gridcare.customers.choices import CustomerClass

from . import policy_edit
from .choices import GRADE_ORDER, Measure
from .models import CreditPolicy
from .policy import current_policy

NUMBER_FIELDS = [
    ("grace_days", gettext_lazy("欠费宽限天数"), "0–365"),
    ("dunning_advance_days", gettext_lazy("C级提前催费天数"), "0–365"),
    ("inspect_hv_months", gettext_lazy("高压客户检查周期(月)"), "1–120"),
    ("inspect_important_months", gettext_lazy("重要客户检查周期(月)"), "1–120"),
    ("inspect_lv_business_months", gettext_lazy("低压非居民检查周期(月)"), "1–120"),
    ("rectification_days", gettext_lazy("默认整改期限(天)"), "1–365"),
    ("assessment_months", gettext_lazy("现场评估周期(月)"), "1–12"),
]


def _posted(request) -> dict:
    post = request.POST
    data: dict = {f: post.get(f, "") for f, *_rest in NUMBER_FIELDS}
    for f in policy_edit.THRESHOLD_FIELDS:
        data[f] = post.get(f, "")
    data["lighting_classes"] = post.getlist("lighting_classes")
    data["measures"] = {g: post.getlist(f"measures_{g}") for g in GRADE_ORDER}
    data["wrong_account_codes"] = post.get("wrong_account_codes", "")
    return data


def _context(request, values: dict, errors: dict[str, list[str]]) -> dict:
    p = current_policy()
    label = {
        f.name: str(f.verbose_name) for f in CreditPolicy._meta.get_fields() if hasattr(f, "verbose_name")
    }
    codes = values["wrong_account_codes"]
    return {
        "may_edit": policy_edit.may_edit(request.user),
        "updated_at": p.updated_at,
        "numbers": [
            {"name": f, "label": lab, "range": rng, "value": values[f], "errors": errors.get(f, [])}
            for f, lab, rng in NUMBER_FIELDS
        ],
        "thresholds": [
            {
                "name": f,
                "label": label.get(f, f),
                "grade": policy_edit.THRESHOLD_GRADES[f],
                "value": values[f],
                "errors": errors.get(f, []),
            }
            for f in policy_edit.THRESHOLD_FIELDS
        ],
        "classes": [(v, str(lab), v in values["lighting_classes"]) for v, lab in CustomerClass.choices],
        "class_errors": errors.get("lighting_classes", []),
        "measure_choices": Measure.choices,
        "measure_rows": [
            {
                "grade": g,
                "cells": [(m, m in (values["measures"].get(g) or [])) for m in Measure.values],
                "errors": errors.get(f"measures.{g}", []),
            }
            for g in GRADE_ORDER
        ],
        "measure_errors": errors.get("measures", []),
        "codes": codes if isinstance(codes, str) else ", ".join(codes),
        "code_errors": errors.get("wrong_account_codes", []),
        "other_errors": [
            m
            for k, ms in errors.items()
            if k not in policy_edit.FIELDS and not k.startswith("measures.")
            for m in ms
        ],
    }


@staff_required(Perm.CREDIT_ADMIN)
@require_http_methods(["GET", "POST"])
def policy_page(request):
    if request.method == "GET":
        return render(
            request, "credit/policy.html", _context(request, policy_edit.snapshot(current_policy()), {})
        )
    if not policy_edit.may_edit(request.user):
        raise DjangoPermissionDenied
    data = _posted(request)
    try:
        policy_edit.policy_update(actor=Actor.console(request), data=data)
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    except ValidationError as exc:
        values = {**policy_edit.snapshot(current_policy()), **data}
        return render(request, "credit/policy.html", _context(request, values, exc.message_dict), status=400)
    messages.success(request, _("信用评价参数已保存"))
    return redirect("credit:policy")
