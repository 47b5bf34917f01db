"""The credit rating rule of seed 003 §1, exactly as issue 17 states it: one pure function fed plain values.

`evaluate(...)` is the single source of the rules: the what-if endpoint `POST /api/v1/credit/evaluate` calls it
with the events it was given, and the rating runs call it with each customer's active events from the register.

- Window: an event counts when as_of − 12 calendar months < date ≤ as_of (the 36-month safety bonus looks at
  as_of − 36 months < date ≤ as_of). Subtracting months keeps the day number, clamped to the target month's end.
- Each dimension starts at its maximum, every event in the window adds its points, the sum is clamped to
  [0, maximum]. Capped codes (trip_branch two or more, violation two or more, rules_missing) give each
  occurrence, by date and then input order, its single amount or what is left of the cap, whichever is smaller.
- Lighting (照明户): payment and legal only, each 50 × score / 30 rounded half-up to 0.1; reasons keep their
  30-point values; the total is the sum of the two rounded scores. Power (动力户): the total is the sum of the six
  dimensions as computed (only conduct and potential can carry a second decimal), graded as it is and shown
  rounded half-up to 0.1, like each dimension's score.
- Grade by the thresholds (default 90/80/70/60/50); a payment or legal score of 0 makes it D whatever the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from gridcare.core.dates import months_back

from .choices import DIMENSION_OF, Dimension, EventCode, RatedClass

ZERO = Decimal("0")
TENTH = Decimal("0.1")

MAXIMA = {
    Dimension.PAYMENT: Decimal("30"),
    Dimension.SAFETY: Decimal("20"),
    Dimension.LEGAL: Decimal("30"),
    Dimension.COOPERATION: Decimal("10"),
    Dimension.CONDUCT: Decimal("5"),
    Dimension.POTENTIAL: Decimal("5"),
}
LIGHTING_MAX = Decimal("50")
POWER_DIMENSIONS = [
    Dimension.PAYMENT,
    Dimension.SAFETY,
    Dimension.LEGAL,
    Dimension.COOPERATION,
    Dimension.CONDUCT,
    Dimension.POTENTIAL,
]
LIGHTING_DIMENSIONS = [Dimension.PAYMENT, Dimension.LEGAL]

# Points per occurrence of the codes that are not capped and carry no multiplier.
EACH: dict[str, Decimal] = {
    EventCode.ARREARS_CLEARED_NEXT_MONTH: Decimal("0.5"),
    EventCode.WRONG_BANK_ACCOUNT: Decimal("-10"),
    EventCode.ABSCONDER_REPORT: Decimal("10"),
    EventCode.ACCIDENT: Decimal("-5"),
    EventCode.TRIP_SUBSTATION: Decimal("-20"),
    EventCode.CONCEALMENT: Decimal("-10"),
    EventCode.THEFT: Decimal("-30"),
    EventCode.OBSTRUCTION: Decimal("-10"),
    EventCode.REPORT_COOPERATION: Decimal("10"),
    EventCode.CONTRACT_BAD_FAITH: Decimal("-10"),
    EventCode.NO_TEST_COOPERATION: Decimal("-5"),
    EventCode.INSPECTION_REFUSED: Decimal("-5"),
    EventCode.RECTIFICATION_OVERDUE: Decimal("-10"),
    EventCode.DISPATCH_RULES_IGNORED: Decimal("-10"),
}
# Capped codes: (single amount, cap for all occurrences in the window).
CAPPED: dict[str, tuple[Decimal, Decimal]] = {
    EventCode.TRIP_BRANCH: (Decimal("-10"), Decimal("-20")),
    EventCode.VIOLATION: (Decimal("-20"), Decimal("-30")),
    EventCode.RULES_MISSING: (Decimal("-5"), Decimal("-5")),
}
ARREARS_STEP = Decimal("-10")
ELECTRICIAN_STEP = Decimal("-5")
CLEAN_YEAR = Decimal("5")
CLEAN_THREE_YEARS = Decimal("10")
# Codes that break the three clean years.
SAFETY_INCIDENTS = frozenset(
    {EventCode.ACCIDENT, EventCode.TRIP_BRANCH, EventCode.TRIP_SUBSTATION, EventCode.CONCEALMENT}
)


@dataclass(frozen=True)
class Thresholds:
    """The lowest total of each grade above D (configurable; the seed names the grades, not the numbers)."""

    aaa: Decimal = Decimal("90")
    aa: Decimal = Decimal("80")
    a: Decimal = Decimal("70")
    b: Decimal = Decimal("60")
    c: Decimal = Decimal("50")

    def grade(self, total: Decimal) -> str:
        for name, low in (("AAA", self.aaa), ("AA", self.aa), ("A", self.a), ("B", self.b), ("C", self.c)):
            if total >= low:
                return name
        return "D"


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Event:
    """One event as the rule sees it; `ref` is the register's event id (None in what-if studies)."""

    code: str
    date: date
    severity: int | None = None
    count: int | None = None
    ref: int | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    date: date | None
    points: Decimal | None
    ref: int | None = None


@dataclass
class DimensionScore:
    name: str
    score: Decimal
    max: Decimal
    reasons: list[Reason] = field(default_factory=list)


@dataclass
class Rating:
    total: Decimal
    grade: str
    dimensions: list[DimensionScore]

    def dimension(self, name: str) -> DimensionScore | None:
        return next((d for d in self.dimensions if d.name == name), None)


class RuleError(ValueError):
    """Bad input to the rule: `field` names where (e.g. "events[2].severity"), `message` why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def tenth(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


def validate(
    *,
    rated_class: str,
    as_of: date,
    customer_since: date,
    conduct: Decimal | None,
    potential: Decimal | None,
    events: Sequence[Event],
) -> None:
    """Refuse what the rule cannot rate (RuleError naming the field). Types are the caller's to check."""
    if rated_class not in RatedClass.values:
        raise RuleError("customer_class", "must be power or lighting")
    if customer_since > as_of:
        raise RuleError("customer_since", "is after as_of")
    for name, value in (("conduct", conduct), ("potential", potential)):
        if value is None:
            continue
        if rated_class == RatedClass.LIGHTING:
            raise RuleError(name, "is assessed for power customers only; give null for a lighting customer")
        if not ZERO <= value <= MAXIMA[name]:
            raise RuleError(name, "must be between 0 and 5")
    for i, e in enumerate(events):
        where = f"events[{i}]"
        if e.code not in DIMENSION_OF:
            raise RuleError(f"{where}.code", f"unknown event code {e.code!r}")
        if e.date > as_of:
            raise RuleError(f"{where}.date", "is after as_of")
        if e.code == EventCode.ARREARS:
            if e.severity is None:
                raise RuleError(f"{where}.severity", "is required for arrears (1–3)")
            if not 1 <= e.severity <= 3:
                raise RuleError(f"{where}.severity", "must be 1, 2 or 3")
        elif e.severity is not None:
            raise RuleError(f"{where}.severity", "belongs to arrears only")
        if e.code == EventCode.UNQUALIFIED_ELECTRICIAN:
            if e.count is None:
                raise RuleError(f"{where}.count", "is required for unqualified_electrician (at least 1)")
            if e.count < 1:
                raise RuleError(f"{where}.count", "must be at least 1")
        elif e.count is not None:
            raise RuleError(f"{where}.count", "belongs to unqualified_electrician only")


def _points(code: str, e: Event, used: dict[str, Decimal]) -> Decimal | None:
    if code == EventCode.ARREARS:
        return ARREARS_STEP * (e.severity or 1)
    if code == EventCode.UNQUALIFIED_ELECTRICIAN:
        return ELECTRICIAN_STEP * (e.count or 1)
    if code == EventCode.FACILITY_DAMAGE:
        return None
    if code in CAPPED:
        single, cap = CAPPED[code]
        left = cap - used.get(code, ZERO)  # negative amounts: what is left of the cap
        taken = max(single, left) if left < 0 else ZERO
        used[code] = used.get(code, ZERO) + taken
        return taken
    return EACH[code]


def evaluate(
    *,
    rated_class: str,
    as_of: date,
    customer_since: date,
    conduct: Decimal | None = None,
    potential: Decimal | None = None,
    events: Iterable[Event] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Rating:
    """Rate one customer from plain values (the input is assumed valid: see `validate`)."""
    start12 = months_back(as_of, 12)
    start36 = months_back(as_of, 36)
    # By date, then input order (sorted() is stable).
    ordered = sorted(events, key=lambda e: e.date)
    in_window = [e for e in ordered if start12 < e.date <= as_of]
    lighting = rated_class == RatedClass.LIGHTING

    reasons: dict[str, list[Reason]] = {d: [] for d in POWER_DIMENSIONS}
    sums: dict[str, Decimal] = {d: ZERO for d in POWER_DIMENSIONS}
    used: dict[str, Decimal] = {}
    facility_damage = False
    has_arrears = False
    for e in in_window:
        dim = DIMENSION_OF[e.code]
        if lighting and dim not in LIGHTING_DIMENSIONS:
            continue  # validated, then ignored
        pts = _points(e.code, e, used)
        if e.code == EventCode.FACILITY_DAMAGE:
            facility_damage = True
        elif e.code == EventCode.ARREARS:
            has_arrears = True
        if pts is not None:
            sums[dim] += pts
        reasons[dim].append(Reason(e.code, e.date, pts, e.ref))

    if not has_arrears and customer_since <= start12:
        sums[Dimension.PAYMENT] += CLEAN_YEAR
        reasons[Dimension.PAYMENT].append(Reason("clean_year", None, CLEAN_YEAR))
    if not lighting:
        incident = any(start36 < e.date <= as_of and e.code in SAFETY_INCIDENTS for e in ordered)
        if not incident and customer_since <= start36:
            sums[Dimension.SAFETY] += CLEAN_THREE_YEARS
            reasons[Dimension.SAFETY].append(Reason("clean_three_years", None, CLEAN_THREE_YEARS))

    def clamp(dim: str) -> Decimal:
        top = MAXIMA[dim]
        return min(max(top + sums[dim], ZERO), top)

    scores: dict[str, Decimal] = {}
    for dim in (Dimension.PAYMENT, Dimension.SAFETY, Dimension.LEGAL, Dimension.COOPERATION):
        scores[dim] = clamp(dim)
    if facility_damage:
        scores[Dimension.LEGAL] = ZERO
    scores[Dimension.CONDUCT] = conduct if conduct is not None else ZERO
    scores[Dimension.POTENTIAL] = potential if potential is not None else ZERO

    dimensions: list[DimensionScore] = []
    if lighting:
        for dim in LIGHTING_DIMENSIONS:
            shown = tenth(LIGHTING_MAX * scores[dim] / MAXIMA[dim])
            dimensions.append(DimensionScore(dim, shown, LIGHTING_MAX, reasons[dim]))
        exact = sum((d.score for d in dimensions), ZERO)
    else:
        for dim in POWER_DIMENSIONS:
            dimensions.append(DimensionScore(dim, tenth(scores[dim]), MAXIMA[dim], reasons[dim]))
        exact = sum((scores[dim] for dim in POWER_DIMENSIONS), ZERO)
    total = tenth(exact)
    grade = thresholds.grade(exact)
    if scores[Dimension.PAYMENT] == ZERO or scores[Dimension.LEGAL] == ZERO:
        grade = "D"
    return Rating(total=total, grade=grade, dimensions=dimensions)
