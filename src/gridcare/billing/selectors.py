"""Reads of the tariff catalogue. The catalogue is public price information: no unit scoping."""

from datetime import date

from django.db.models import Prefetch, QuerySet

from .models import Tariff, TariffVersion
from .rating import VersionSpan, parse_params


def tariffs_with_versions() -> QuerySet[Tariff]:
    """Every tariff with its versions (oldest first) in two queries."""
    return Tariff.objects.order_by("code").prefetch_related(
        Prefetch("versions", queryset=TariffVersion.objects.order_by("valid_from"))
    )


def tariff_by_code(code: str) -> Tariff | None:
    return Tariff.objects.filter(code=(code or "").strip()).first()


def current_version(tariff: Tariff, on: date) -> TariffVersion | None:
    """The version valid on `on`, from the prefetched versions when present."""
    for v in tariff.versions.all():
        if v.valid_from <= on and (v.valid_to is None or v.valid_to >= on):
            return v
    return None


def version_spans(tariff: Tariff, start: date, end: date) -> list[VersionSpan]:
    """The tariff's versions overlapping [start, end], parsed for the rating engine."""
    rows = (
        TariffVersion.objects.filter(tariff=tariff, valid_from__lte=end)
        .exclude(valid_to__lt=start)
        .order_by("valid_from")
    )
    return [
        VersionSpan(
            valid_from=v.valid_from,
            valid_to=v.valid_to,
            params=parse_params(v.parameters),
            label=f"{tariff.code}@{v.valid_from.isoformat()}",
        )
        for v in rows
    ]
