"""Reading a customer's credit (selectors of the runs' part): the current standing with its dimensions, reasons
(followed through `reasons_from`), the measures of its grade and the history of its scores; the runs a user may
see. Three queries for a customer, whatever its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Q, QuerySet

from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import restrict, visible_unit_ids
from gridcare.customers.models import Customer

from . import policy as credit_policy
from .choices import Dimension, EventCode, Measure, RatedClass, RunKind
from .models import DIMENSION_FIELDS, CreditRun, CreditScore, CreditStanding
from .rules import LIGHTING_DIMENSIONS, LIGHTING_MAX, MAXIMA

BONUS_LABELS = {"clean_year": "连续12个月无欠费", "clean_three_years": "连续三年无安全事故"}


def reason_label(code: str) -> str:
    from django.utils.translation import gettext as _

    if code in BONUS_LABELS:
        return _(BONUS_LABELS[code])
    try:
        return str(EventCode(code).label)
    except ValueError:
        return code


@dataclass
class DimensionView:
    name: str
    label: str
    score: Decimal
    max: Decimal
    reasons: list[dict] = field(default_factory=list)


@dataclass
class CreditView:
    customer_id: int
    standing: CreditStanding | None
    score: CreditScore | None
    dimensions: list[DimensionView]
    measures: list[tuple[str, str]]
    history: list[dict]


def customer_for(user, customer_id: int, perm: str = Perm.CREDIT_VIEW) -> Customer | None:
    """The customer when `user` holds `perm` on its unit; None for missing and forbidden alike."""
    if not isinstance(customer_id, int) or not 0 < customer_id < 2**63:
        return None
    return restrict(Customer.objects.all(), user, perm).filter(pk=customer_id).first()


def credit_view(customer_id: int, *, history: int = 24) -> CreditView:
    standing = (
        CreditStanding.objects.select_related("score").filter(customer_id=customer_id).first()
    )  # one query
    score = standing.score if standing is not None else None
    dims: list[DimensionView] = []
    if score is not None:
        reasons = score.reasons
        if reasons is None and score.reasons_from_id:
            reasons = (
                CreditScore.objects.filter(pk=score.reasons_from_id).values_list("reasons", flat=True).first()
            )
        by_dim: dict[str, list[dict]] = {}
        for r in reasons or []:
            by_dim.setdefault(r.get("dimension"), []).append({**r, "label": reason_label(r.get("code", ""))})
        lighting = score.rated_class == RatedClass.LIGHTING
        for name in DIMENSION_FIELDS:
            value = getattr(score, name)
            if value is None:
                continue
            top = LIGHTING_MAX if lighting and name in LIGHTING_DIMENSIONS else MAXIMA[name]
            dims.append(DimensionView(name, str(Dimension(name).label), value, top, by_dim.get(name, [])))
    measures = (
        [
            (m, str(Measure(m).label))
            for m in credit_policy.measures_for(standing.grade)
            if m in Measure.values
        ]
        if standing is not None
        else []
    )
    # No standing, no score ever (a run writes both): the history query is spared.
    rows = (
        list(
            CreditScore.objects.filter(customer_id=customer_id)
            .order_by("-as_of", "-id")
            .values("as_of", "total", "grade", "run_id")[:history]
        )
        if standing is not None
        else []
    )
    return CreditView(customer_id, standing, score, dims, measures, rows)


def runs_for(user) -> QuerySet[CreditRun]:
    """Monthly runs for every credit.view holder; a single-customer run when its customer is in the user's units."""
    if not has_perm(user, Perm.CREDIT_VIEW):
        return CreditRun.objects.none()
    return CreditRun.objects.filter(
        Q(kind=RunKind.MONTHLY) | Q(kind=RunKind.SINGLE, customer__unit_id__in=visible_unit_ids(user))
    )


def run_for(user, run_id: int) -> CreditRun | None:
    if not isinstance(run_id, int) or not 0 < run_id < 2**63:
        return None
    return runs_for(user).filter(pk=run_id).first()


def grade_rows(run: CreditRun) -> list[tuple[str, int, float]]:
    """(grade, count, percent) of a run, in grade order."""
    counts = run.grade_counts or {}
    total = sum(int(v) for v in counts.values()) or 0
    return [
        (g, int(counts.get(g, 0)), round(100 * int(counts.get(g, 0)) / total, 1) if total else 0.0)
        for g in ("AAA", "AA", "A", "B", "C", "D")
    ]


def as_of_default(today: date) -> date:
    from .runs import monthly_as_of

    return monthly_as_of(today)
