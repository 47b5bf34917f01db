"""Yearly reliability targets per unit, area group and basis (SPEC C5; issue 14 §3 "yearly targets per unit,
editable"). Writes need outage.approve on the unit (else PermissionDenied, answered 404), are audited
(`reliability.target`) and all-or-nothing. Figures are Decimal:
- `saidi_hours_max`: 0 < x ≤ 8784 (the hours of a leap year), 3 decimals;
- `rs1_percent_min`: 0 ≤ x ≤ 100, 4 decimals;
- `saifi_max`: 0 ≤ x ≤ 1000, 3 decimals;
at least one of the three. `default_targets(unit, year)` writes the SPEC C5 defaults (seed 000: city centre SAIDI
< 1 h/yr, all customers < 15.6 h/yr, urban RS-1 ≥ 99.9 %, rural ≥ 99.8 %, low-voltage basis) where none is
stored, and leaves stored ones alone."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm
from gridcare.core.scoping import require_unit

from .choices import AreaGroup, Basis
from .indices import SPEC_TARGETS
from .models import ReliabilityTarget

LIMITS = {
    "saidi_hours_max": (Decimal("0"), Decimal("8784"), 3, True),
    "rs1_percent_min": (Decimal("0"), Decimal("100"), 4, False),
    "saifi_max": (Decimal("0"), Decimal("1000"), 3, False),
}


def _decimal(raw, name: str, errs: dict) -> Decimal | None:
    if raw is None or raw == "":
        return None
    low, high, places, strict = LIMITS[name]
    try:
        if isinstance(raw, bool) or isinstance(raw, float):
            raise InvalidOperation  # floats carry binary noise; send a string or an integer
        value = Decimal(str(raw).strip())
        if not value.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errs[name] = [_('应为数值（字符串或整数，如 "15.6"）')]
        return None
    if (value <= low if strict else value < low) or value > high:
        bound = _("大于") if strict else _("不小于")
        errs[name] = [_("应%(b)s %(low)s 且不大于 %(high)s") % {"b": bound, "low": low, "high": high}]
        return None
    if -value.as_tuple().exponent > places:
        errs[name] = [_("最多 %(n)s 位小数") % {"n": places}]
        return None
    return value


def reliability_target_set(
    *,
    actor: Actor,
    unit,
    year: int,
    area_group: str,
    basis: str,
    saidi_hours_max=None,
    rs1_percent_min=None,
    saifi_max=None,
) -> ReliabilityTarget:
    """Create or replace the target of (unit, year, area group, basis)."""
    require_unit(actor, unit.pk, Perm.OUTAGE_APPROVE)
    errs: dict[str, list[str]] = {}
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        errs["year"] = [_("年份应为 2000–2100 的整数")]
    if area_group not in AreaGroup.values:
        errs["area_group"] = [_("应为 %(v)s") % {"v": " / ".join(AreaGroup.values)}]
    if basis not in Basis.values:
        errs["basis"] = [_("应为 %(v)s") % {"v": " / ".join(Basis.values)}]
    values = {
        "saidi_hours_max": _decimal(saidi_hours_max, "saidi_hours_max", errs),
        "rs1_percent_min": _decimal(rs1_percent_min, "rs1_percent_min", errs),
        "saifi_max": _decimal(saifi_max, "saifi_max", errs),
    }
    if not errs and all(v is None for v in values.values()):
        errs["saidi_hours_max"] = [_("至少填写一项目标（SAIDI、RS-1 或 SAIFI）")]
    if errs:
        raise ValidationError(errs)
    with transaction.atomic():
        row = (
            ReliabilityTarget.objects.select_for_update()
            .filter(unit=unit, year=year, area_group=area_group, basis=basis)
            .first()
        )
        before = (
            {k: (str(getattr(row, k)) if getattr(row, k) is not None else None) for k in values}
            if row
            else None
        )
        if row is None:
            row = ReliabilityTarget(unit=unit, year=year, area_group=area_group, basis=basis)
        for k, v in values.items():
            setattr(row, k, v)
        row.save()
        audit_record(
            actor=actor,
            action="reliability.target",
            obj=row,
            unit_id=unit.pk,
            changes={
                "year": year,
                "area_group": area_group,
                "basis": basis,
                "before": before,
                "after": {k: (str(v) if v is not None else None) for k, v in values.items()},
            },
        )
    return row


def default_targets(unit, year: int, *, actor: Actor | None = None) -> list[ReliabilityTarget]:
    """Write the SPEC C5 defaults (low-voltage basis) for every area group that has no target yet; returns the
    rows written (none when all exist)."""
    actor = actor or Actor()
    written = []
    with transaction.atomic():
        have = set(
            ReliabilityTarget.objects.filter(unit=unit, year=year, basis=Basis.LV).values_list(
                "area_group", flat=True
            )
        )
        for group, figures in SPEC_TARGETS.items():
            if group in have:
                continue
            row = ReliabilityTarget.objects.create(
                unit=unit,
                year=year,
                area_group=group,
                basis=Basis.LV,
                **{k: Decimal(v) for k, v in figures.items()},
            )
            audit_record(
                actor=actor,
                action="reliability.target",
                obj=row,
                unit_id=unit.pk,
                changes={"year": year, "area_group": group, "basis": Basis.LV, "default": figures},
            )
            written.append(row)
    return written
