"""Writes to the tariff catalogue, and the quote (which writes nothing but shares the bill's path).

Editing prices is for the company admin only (`can_edit_tariffs`): `gridcare.core.permissions` has no
tariff permission yet, so the check is on the role here until a `tariff.edit` permission is added there.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from gridcare.core import ratelimit
from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm, has_perm

from . import selectors
from .models import Tariff, TariffVersion
from .rating import RatingError, RatingResult, Usage, parse_params, rate


def can_edit_tariffs(user) -> bool:
    """Tariffs are reference data: only roles with `tariff.edit` (administrators) change them."""
    return has_perm(user, Perm.TARIFF_EDIT)


def _normalised(params: dict[str, Any]) -> dict[str, Any]:
    """Numbers stored as decimal strings, so JSON never holds a float price."""
    if isinstance(params, dict):
        return {k: _normalised(v) for k, v in params.items()}
    if isinstance(params, list):
        return [_normalised(v) for v in params]
    if isinstance(params, int | float | Decimal) and not isinstance(params, bool):
        return str(params)
    return params


def tariff_version_create(
    *, actor: Actor, tariff: Tariff, valid_from: date, valid_to: date | None, params: dict[str, Any]
) -> TariffVersion:
    """Add a version; refuses bad prices and any overlap with the tariff's other versions."""
    if actor.user is not None and not can_edit_tariffs(actor.user):
        raise ValidationError({"__all__": [_("只有系统管理员可以维护电价")]})
    errors: dict[str, list[str]] = {}
    params = _normalised(params)
    try:
        parse_params(params)
    except RatingError as exc:
        errors.update({k: [v] for k, v in exc.errors.items()})
    if valid_to is not None and valid_to < valid_from:
        errors["valid_to"] = [_("失效日期不能早于生效日期")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Tariff.objects.select_for_update().get(pk=tariff.pk)  # one version writer per tariff at a time
        overlapping = TariffVersion.objects.filter(tariff=tariff)
        if valid_to is not None:
            overlapping = overlapping.filter(valid_from__lte=valid_to)
        other = overlapping.exclude(valid_to__lt=valid_from).order_by("valid_from").first()
        if other is not None:
            raise ValidationError(
                {
                    "valid_from": [
                        _("与已有版本 %(from)s 至 %(to)s 的有效期重叠")
                        % {
                            "from": other.valid_from.isoformat(),
                            "to": other.valid_to.isoformat() if other.valid_to else _("长期"),
                        }
                    ]
                }
            )
        version = TariffVersion.objects.create(
            tariff=tariff, valid_from=valid_from, valid_to=valid_to, parameters=params
        )
        audit_record(
            actor=actor,
            action="tariff_version.create",
            obj=version,
            changes={
                "tariff": tariff.code,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat() if valid_to else None,
                "parameters": params,
            },
        )
    return version


@dataclass(frozen=True)
class Quote:
    tariff: Tariff
    result: RatingResult


def bill_quote(
    *,
    tariff_code: str,
    period_start: date,
    period_end: date,
    kwh: dict[str, Decimal | None],
    ytd_kwh_before: Decimal | None = None,
    capacity_kva: Decimal | None = None,
    max_demand_kw: Decimal | None = None,
    power_factor: Decimal | None = None,
) -> Quote:
    """What a bill would be, through the same engine as a billing run. Writes nothing.

    Bad input → ValidationError({field: [message]}) with the API's field names (kwh.total, …).
    """
    tariff = selectors.tariff_by_code(tariff_code)
    if tariff is None:
        raise ValidationError({"tariff_code": [_("未知的电价代码：%(c)s") % {"c": tariff_code}]})
    try:
        usage = Usage.of(**kwh)
        if period_end < period_start:
            raise RatingError({"period_end": [_("结束日期不能早于开始日期")][0]})
        result = rate(
            versions=selectors.version_spans(tariff, period_start, period_end),
            period_start=period_start,
            period_end=period_end,
            usage=usage,
            ytd_kwh_before=ytd_kwh_before or Decimal(0),
            capacity_kva=capacity_kva,
            max_demand_kw=max_demand_kw,
            power_factor=power_factor,
        )
    except RatingError as exc:
        raise ValidationError({k: [v] for k, v in exc.errors.items()}) from exc
    return Quote(tariff=tariff, result=result)


def quote_allowed(client_key: str) -> bool:
    """The public quote's rate limit (bucket "quote"), shared by the API and the portal page."""
    conf = settings.GRIDCARE
    return ratelimit.hit("quote", client_key, conf["PUBLIC_QUERY_RATE"], conf["PUBLIC_QUERY_WINDOW_SECONDS"])
