"""Rows for the report and measure tests, written directly (the runs are another part's work): monthly runs,
scores and standings."""

from datetime import date
from decimal import Decimal

from gridcare.credit.models import CreditRun, CreditScore, CreditStanding

from .conftest import NOW

D = Decimal


def make_run(period: str, as_of: date, *, kind: str = "monthly", status: str = "done") -> CreditRun:
    return CreditRun.objects.create(kind=kind, period=period, as_of=as_of, status=status, created_at=NOW)


def make_score(
    run: CreditRun,
    customer,
    grade: str,
    *,
    total: str = "75.0",
    rated_class: str | None = None,
    unit_id: int | None = None,
    reasons=None,
    reasons_from: CreditScore | None = None,
    payment: str = "30.0",
    legal: str = "30.0",
) -> CreditScore:
    klass = rated_class or ("lighting" if customer.customer_class == "residential" else "power")
    return CreditScore.objects.create(
        run=run,
        customer=customer,
        unit_id_at=unit_id or customer.unit_id,
        as_of=run.as_of,
        rated_class=klass,
        payment=D(payment),
        legal=D(legal),
        total=D(total),
        grade=grade,
        digest="x",
        reasons=reasons,
        reasons_from=reasons_from,
    )


def make_standing(customer, grade: str, *, score: CreditScore | None = None, as_of: date = date(2026, 12, 1)):
    if score is None:
        run = CreditRun.objects.filter(kind="single", customer=customer).first() or make_run(
            as_of.strftime("%Y-%m"), as_of, kind="single"
        )
        score = make_score(run, customer, grade)
    return CreditStanding.objects.update_or_create(
        customer=customer,
        defaults={
            "score": score,
            "unit_id_at": customer.unit_id,
            "grade": grade,
            "total": score.total,
            "as_of": as_of,
        },
    )[0]
