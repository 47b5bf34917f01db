"""Risk measures by grade (issue 17 §4): what the services read.

A customer's measures are those the policy (`CreditPolicy.measures`, grade → list of `Measure` values) gives
its current grade (`CreditStanding.grade`). A customer without a standing (never rated) has none: the services
treat it as standard.

Where GridCare already has a place for a measure, the service there calls this module:
- `dunning_earlier` (C): `gridcare.payments.collections.services._cases` — the disconnection notice comes
  `CreditPolicy.dunning_advance_days` earlier, never before the overdue-notice day (`dunning_advance`,
  `customers_with_qs`);
- `priority_service` (AAA/AA): `gridcare.service.services.work_order_create` — the customer's work orders are
  received at least 紧急 (`priority_service`).
The others have no place yet (业扩 — new connections and capacity increases — and the 电费保证金 ledger are a later
issue); their decisions are here for that issue to call: `deposit_decision` (waived / required / standard),
`capacity_request_check` (a D customer's request is flagged and needs a deposit or prepaid before it proceeds),
`settlement_suggestion` (C: 分次结算 suggested).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from .choices import GRADE_ORDER, Measure
from .models import CreditPolicy, CreditStanding
from .policy import current_policy


def grades_with(measure: str, policy: CreditPolicy | None = None) -> list[str]:
    """The grades the policy gives `measure`, in grade order (no query when `policy` is given)."""
    p = policy or current_policy()
    table = p.measures or {}
    return [g for g in GRADE_ORDER if measure in (table.get(g) or [])]


def _of_grade(grade: str | None, policy: CreditPolicy) -> list[str]:
    if not grade or grade not in GRADE_ORDER:
        return []
    listed = set((policy.measures or {}).get(grade) or [])
    return [m for m in Measure.values if m in listed]  # a stable order (the choices' order)


def customer_measures(customer_id: int, *, policy: CreditPolicy | None = None) -> list[str]:
    """The measures that apply to one customer now (empty without a standing)."""
    grade = CreditStanding.objects.filter(customer_id=customer_id).values_list("grade", flat=True).first()
    return _of_grade(grade, policy or current_policy()) if grade else []


def measures_by_customer(
    customer_ids: Iterable[int], *, policy: CreditPolicy | None = None
) -> dict[int, list[str]]:
    """Set-based `customer_measures`: customer id → its measures, for every id asked (one query for the
    standings, one for the policy unless given). Customers without a standing map to []."""
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    out: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    p = policy or current_policy()
    rows = CreditStanding.objects.filter(customer_id__any=ids).values_list("customer_id", "grade")
    for customer_id, grade in rows:
        out[customer_id] = _of_grade(grade, p)
    return out


def customers_with_qs(measure: str, *, policy: CreditPolicy | None = None) -> QuerySet:
    """A lazy queryset of the ids of every customer `measure` applies to (for `customer_id__in=` in another
    query: no round trip of its own)."""
    grades = grades_with(measure, policy)
    return CreditStanding.objects.filter(grade__in=grades).values("customer_id")


def customers_with(
    measure: str, customer_ids: Iterable[int], *, policy: CreditPolicy | None = None
) -> set[int]:
    """Those of `customer_ids` that `measure` applies to (one query; none when no grade has the measure)."""
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    grades = grades_with(measure, policy)
    if not ids or not grades:
        return set()
    return set(
        CreditStanding.objects.filter(customer_id__any=ids, grade__in=grades).values_list(
            "customer_id", flat=True
        )
    )


# ---------------------------------------------------------------- dunning one step earlier (C)


def dunning_advance(policy: CreditPolicy | None = None) -> int:
    """Days the disconnection notice of a `dunning_earlier` customer comes earlier: the policy's
    `dunning_advance_days`, or 0 when no grade has the measure."""
    p = policy or current_policy()
    return int(p.dunning_advance_days or 0) if grades_with(Measure.DUNNING_EARLIER, p) else 0


def disconnect_notice_days(*, disconnect_after_days: int, overdue_days_after: int, advance: int) -> int:
    """Days past due after which a `dunning_earlier` account's disconnection notice comes: `advance` days before
    the standard `disconnect_after_days`, but never before the overdue-notice day, and never later than the
    standard day."""
    return min(disconnect_after_days, max(disconnect_after_days - advance, overdue_days_after))


# ---------------------------------------------------------------- priority service (AAA/AA)


def priority_service(customer_id: int | None, *, policy: CreditPolicy | None = None) -> bool:
    """Whether the customer's requests get priority service (优先服务)."""
    if customer_id is None:
        return False
    return Measure.PRIORITY_SERVICE in customer_measures(customer_id, policy=policy)


# ---------------------------------------------------------------- for 业扩 and the deposit ledger (later issue)


class DepositDecision:
    WAIVED = "waived"  # AAA/AA: 免收电费保证金
    REQUIRED = "required"  # D: before new capacity, a deposit (or prepaid)
    STANDARD = "standard"  # the utility's usual rule


def deposit_decision(customer_id: int, *, policy: CreditPolicy | None = None) -> str:
    """What the customer's grade says about a 电费保证金 (for the deposit rule of a later issue): waived,
    required or the standard rule. `deposit_or_prepaid` wins over `deposit_waived` if a policy lists both."""
    ms = customer_measures(customer_id, policy=policy)
    if Measure.DEPOSIT_OR_PREPAID in ms:
        return DepositDecision.REQUIRED
    if Measure.DEPOSIT_WAIVED in ms:
        return DepositDecision.WAIVED
    return DepositDecision.STANDARD


@dataclass(frozen=True)
class CapacityCheck:
    """The credit side of a new-connection / capacity-increase (业扩) application."""

    flagged: bool  # `connection_flag`: the application is marked as a credit risk
    requires_deposit_or_prepaid: bool  # `deposit_or_prepaid`: it may not proceed without one
    prepaid_in_place: bool  # an account of the customer is enrolled in prepaid (智能交费)
    measures: list[str] = field(default_factory=list)

    @property
    def may_proceed(self) -> bool:
        """False while a required deposit or prepaid is missing (a deposit ledger comes with 业扩: until then only
        prepaid satisfies it; the caller passes `deposit_paid=True` to `capacity_request_check` when it knows)."""
        return not self.requires_deposit_or_prepaid or self.prepaid_in_place


def capacity_request_check(
    customer_id: int, *, deposit_paid: bool = False, policy: CreditPolicy | None = None
) -> CapacityCheck:
    """What a new-connection or capacity-increase application of the customer must respect (issue 17 §4, D):
    flagged when its grade has `connection_flag`; held until a deposit is paid (`deposit_paid`, known to the
    caller) or one of its accounts is enrolled in prepaid, when its grade has `deposit_or_prepaid`."""
    ms = customer_measures(customer_id, policy=policy)
    needs = Measure.DEPOSIT_OR_PREPAID in ms
    prepaid = False
    if needs and not deposit_paid:
        from gridcare.payments.prepaid.models import PrepaidAccount

        prepaid = PrepaidAccount.objects.filter(
            account__customer_id=customer_id, unenrolled_on__isnull=True
        ).exists()
    return CapacityCheck(
        flagged=Measure.CONNECTION_FLAG in ms,
        requires_deposit_or_prepaid=needs,
        prepaid_in_place=prepaid or (needs and deposit_paid),
        measures=ms,
    )


def settlement_suggestion(customer_id: int, *, policy: CreditPolicy | None = None) -> bool:
    """C: 分次结算 (settling a month's charge in several instalments) is suggested to the customer. GridCare bills
    monthly and has no instalment settlement yet; the customer page and the D/C lists show the suggestion."""
    return Measure.SPLIT_SETTLEMENT in customer_measures(customer_id, policy=policy)
