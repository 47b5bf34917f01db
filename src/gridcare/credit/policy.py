"""The credit policy row (pk 1, made with its defaults when first read) and what follows from it: the grade
thresholds, which 用电类别 are 照明户, the measures of a grade."""

from django.db import IntegrityError, transaction

from .choices import GRADE_ORDER, RatedClass
from .models import CreditPolicy
from .rules import Thresholds


def current_policy() -> CreditPolicy:
    row = CreditPolicy.objects.filter(pk=1).first()
    if row is None:
        try:
            with transaction.atomic():
                row = CreditPolicy.objects.create(pk=1)
        except IntegrityError:  # made by a concurrent reader
            row = CreditPolicy.objects.get(pk=1)
    return row


def thresholds(policy: CreditPolicy | None = None) -> Thresholds:
    p = policy or current_policy()
    return Thresholds(aaa=p.grade_aaa, aa=p.grade_aa, a=p.grade_a, b=p.grade_b, c=p.grade_c)


def rated_class_for(customer_class: str, policy: CreditPolicy | None = None) -> str:
    """照明户 for the 用电类别 the policy lists (default: residential), 动力户 for every other."""
    p = policy or current_policy()
    return RatedClass.LIGHTING if customer_class in (p.lighting_classes or []) else RatedClass.POWER


def measures_for(grade: str, policy: CreditPolicy | None = None) -> list[str]:
    """The Measure values configured for `grade` (empty for an unknown grade)."""
    p = policy or current_policy()
    return list((p.measures or {}).get(grade, [])) if grade in GRADE_ORDER else []


def grade_steps(before: str, after: str) -> int:
    """How many grades `after` lies below `before` (negative when it rose)."""
    return GRADE_ORDER.index(after) - GRADE_ORDER.index(before)
