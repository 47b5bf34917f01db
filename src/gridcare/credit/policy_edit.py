"""Editing the credit policy (issue 17: the configurable numbers), the one audited way to change it.

The policy is one row for the whole company, so only a `credit.admin` holder at the top of the unit tree (the
company) may change it; a bureau's manager sees it read-only. `policy_update` validates every field given
(a `ValidationError` naming each bad field, nothing written), writes the changed ones and one audit row
`credit.policy_update` with {field: [before, after]} of the changed fields only. Nothing changed: nothing
written, no audit row.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied

from .choices import GRADE_ORDER, Measure
from .models import CreditPolicy
from .policy import current_policy

THRESHOLD_FIELDS = ["grade_aaa", "grade_aa", "grade_a", "grade_b", "grade_c"]
THRESHOLD_GRADES = dict(zip(THRESHOLD_FIELDS, ["AAA", "AA", "A", "B", "C"], strict=True))
# Whole-number fields and their allowed ranges.
INT_RANGES: dict[str, tuple[int, int]] = {
    "grace_days": (0, 365),
    "dunning_advance_days": (0, 365),
    "inspect_hv_months": (1, 120),
    "inspect_important_months": (1, 120),
    "inspect_lv_business_months": (1, 120),
    "rectification_days": (1, 365),
    # The issue asks for an on-site assessment at least yearly.
    "assessment_months": (1, 12),
}
LIST_FIELDS = ["lighting_classes", "measures", "wrong_account_codes"]
FIELDS = [*INT_RANGES, *THRESHOLD_FIELDS, *LIST_FIELDS]
BANK_CODE = re.compile(r"^\d{4}$")
MAX_BANK_CODES = 50


def may_edit(user) -> bool:
    """credit.admin at the company (a unit without a parent): the policy applies to every unit."""
    if not has_perm(user, Perm.CREDIT_ADMIN) or not getattr(user, "unit_id", None):
        return False
    from gridcare.org.models import SupplyUnit

    return SupplyUnit.objects.filter(pk=user.unit_id, parent__isnull=True).exists()


def snapshot(p: CreditPolicy) -> dict[str, Any]:
    """The editable fields, JSON-ready (scores as strings like "90.0")."""
    out: dict[str, Any] = {f: getattr(p, f) for f in INT_RANGES}
    for f in THRESHOLD_FIELDS:
        out[f] = f"{Decimal(getattr(p, f)).quantize(Decimal('0.1'))}"
    out["lighting_classes"] = sorted(p.lighting_classes or [])
    table = p.measures or {}
    out["measures"] = {g: [m for m in Measure.values if m in (table.get(g) or [])] for g in GRADE_ORDER}
    out["wrong_account_codes"] = sorted(set(p.wrong_account_codes or []))
    return out


def _int(value: Any, field: str, errors: dict[str, list[str]]) -> int | None:
    lo, hi = INT_RANGES[field]
    if isinstance(value, bool) or value is None:
        errors.setdefault(field, []).append(_("请输入整数"))
        return None
    if isinstance(value, str):
        v = value.strip()
        if not (v.isascii() and v.isdigit()) or len(v) > 6:
            errors.setdefault(field, []).append(_("请输入整数"))
            return None
        value = int(v)
    if not isinstance(value, int):
        errors.setdefault(field, []).append(_("请输入整数"))
        return None
    if not lo <= value <= hi:
        errors.setdefault(field, []).append(_("应在 %(lo)s 至 %(hi)s 之间") % {"lo": lo, "hi": hi})
        return None
    return value


def _score(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        errors.setdefault(field, []).append(_("请输入分数"))
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append(_("请输入分数"))
        return None
    if not d.is_finite():
        errors.setdefault(field, []).append(_("请输入分数"))
        return None
    if d <= 0 or d > 100:
        errors.setdefault(field, []).append(_("分数线应大于 0 且不超过 100"))
        return None
    if d != d.quantize(Decimal("0.1")):
        errors.setdefault(field, []).append(_("分数线最多保留1位小数"))
        return None
    return d.quantize(Decimal("0.1"))


def _classes(value: Any, errors: dict[str, list[str]]) -> list[str] | None:
    from gridcare.customers.choices import CustomerClass

    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors.setdefault("lighting_classes", []).append(_("请选择用电类别"))
        return None
    bad = [v for v in value if v not in CustomerClass.values]
    if bad:
        errors.setdefault("lighting_classes", []).append(
            _("未知的用电类别：%(v)s") % {"v": "、".join(bad[:5])[:100]}
        )
        return None
    return sorted(set(value))


def _measures(value: Any, errors: dict[str, list[str]]) -> dict[str, list[str]] | None:
    if not isinstance(value, dict):
        errors.setdefault("measures", []).append(_("应为 等级 → 措施列表"))
        return None
    ok = True
    for g in value:
        if g not in GRADE_ORDER:
            errors.setdefault("measures", []).append(_("未知的信用等级：%(g)s") % {"g": str(g)[:10]})
            ok = False
    out: dict[str, list[str]] = {}
    for g in GRADE_ORDER:
        items = value.get(g, [])
        if not isinstance(items, list | tuple) or not all(isinstance(m, str) for m in items):
            errors.setdefault(f"measures.{g}", []).append(_("应为措施列表"))
            ok = False
            continue
        bad = [m for m in items if m not in Measure.values]
        if bad:
            errors.setdefault(f"measures.{g}", []).append(
                _("未知的风险措施：%(v)s") % {"v": "、".join(bad[:5])[:100]}
            )
            ok = False
            continue
        out[g] = [m for m in Measure.values if m in items]
    return out if ok else None


def parse_bank_codes(value: Any, errors: dict[str, list[str]]) -> list[str] | None:
    """A list of 4-digit codes, or their comma list ("3001, 3002"; full-width commas and spaces too)."""
    if isinstance(value, str):
        value = [v for v in re.split(r"[,，、\s]+", value) if v]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors.setdefault("wrong_account_codes", []).append(_("应为4位数字的银行返回码列表"))
        return None
    bad = [v for v in value if not BANK_CODE.match(v.strip())]
    if bad:
        errors.setdefault("wrong_account_codes", []).append(
            _("银行返回码应为4位数字：%(v)s") % {"v": "、".join(v[:10] for v in bad[:5])}
        )
        return None
    codes = sorted({v.strip() for v in value})
    if len(codes) > MAX_BANK_CODES:
        errors.setdefault("wrong_account_codes", []).append(
            _("最多 %(n)s 个银行返回码") % {"n": MAX_BANK_CODES}
        )
        return None
    return codes


def clean(data: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The given fields, validated and typed; the grade thresholds are checked together with the current values
    of those not given. Raises ValidationError naming every bad field."""
    errors: dict[str, list[str]] = {}
    unknown = [k for k in data if k not in FIELDS]
    for k in unknown:
        errors.setdefault(str(k)[:40], []).append(_("未知的参数"))
    out: dict[str, Any] = {}
    for f in INT_RANGES:
        if f in data:
            v = _int(data[f], f, errors)
            if v is not None:
                out[f] = v
    for f in THRESHOLD_FIELDS:
        if f in data:
            v = _score(data[f], f, errors)
            if v is not None:
                out[f] = v
    if "lighting_classes" in data:
        v = _classes(data["lighting_classes"], errors)
        if v is not None:
            out["lighting_classes"] = v
    if "measures" in data:
        v = _measures(data["measures"], errors)
        if v is not None:
            out["measures"] = v
    if "wrong_account_codes" in data:
        v = parse_bank_codes(data["wrong_account_codes"], errors)
        if v is not None:
            out["wrong_account_codes"] = v
    if not any(f in errors for f in THRESHOLD_FIELDS):
        values = [out.get(f, Decimal(current[f])) for f in THRESHOLD_FIELDS]
        for i in range(1, len(values)):
            if values[i] >= values[i - 1]:
                f = THRESHOLD_FIELDS[i]
                errors.setdefault(f, []).append(
                    _("%(g)s级最低分须低于%(h)s级最低分（%(v)s）")
                    % {
                        "g": THRESHOLD_GRADES[f],
                        "h": THRESHOLD_GRADES[THRESHOLD_FIELDS[i - 1]],
                        "v": values[i - 1],
                    }
                )
    if errors:
        raise ValidationError(errors)
    return out


def policy_update(*, actor: Actor, data: dict[str, Any], now=None) -> CreditPolicy:
    """Change the policy's fields given in `data` (the others stay). Audited `credit.policy_update` with the
    changed fields; PermissionDenied unless `may_edit`."""
    user = getattr(actor, "user", None)
    if user is not None and not may_edit(user):
        raise PermissionDenied
    if not isinstance(data, dict):
        raise ValidationError({"__all__": [_("参数格式错误")]})
    current_policy()  # made with its defaults when first read
    with transaction.atomic():
        p = CreditPolicy.objects.select_for_update().get(pk=1)
        before = snapshot(p)
        values = clean(data, before)
        for f, v in values.items():
            setattr(p, f, v)
        after = snapshot(p)
        changed = {f: [before[f], after[f]] for f in FIELDS if before[f] != after[f]}
        if not changed:
            return p
        p.updated_at = now or timezone.now()
        p.save()
        audit_record(
            actor=actor,
            action="credit.policy_update",
            obj=p,
            changes=changed,
        )
    return p
