"""The time-limit policy table (SlaPolicy): the SPEC C4 defaults, and which rules apply to an order."""

from __future__ import annotations

from .deadlines import Rule

# (type, sub_type, area, name, amount, unit, basis): the defaults of issue 15 ("Deadlines, exactly").
DEFAULTS: list[tuple[str, str, str, str, int, str, str]] = [  # also seeded by migrations/0002
    ("fault", "", "urban", "arrival", 45, "minutes", "received"),
    ("fault", "", "rural", "arrival", 90, "minutes", "received"),
    ("fault", "", "remote", "arrival", 120, "minutes", "received"),
    ("fault", "", "urban", "restoration", 3, "hours", "arrived"),
    ("fault", "", "rural", "restoration", 4, "hours", "arrived"),
    ("fault", "", "remote", "restoration", 4, "hours", "arrived"),
    ("complaint", "", "", "contact", 1, "working_days", "received"),
    ("complaint", "", "", "reply", 7, "working_days", "received"),
    ("report", "", "", "reply", 10, "working_days", "received"),
    ("opinion", "", "", "reply", 10, "working_days", "received"),
    ("service_request", "reconnection", "", "complete", 24, "hours", "received"),
    ("service_request", "meter_check", "", "complete", 4, "working_days", "received"),
    ("service_request", "reading_data", "", "complete", 6, "working_days", "received"),
    ("service_request", "other", "", "complete", 5, "working_days", "received"),
    # The callback (回访): 1 working day after the order is resolved, every type whose callback is required.
    ("", "", "", "callback", 1, "working_days", "resolved"),
]

PolicyRow = tuple[str, str, str, str, int, str, str]


def rules_for(rows: list[PolicyRow], order_type: str, sub_type: str, area: str) -> list[Rule]:
    """The rules of `rows` for an order: per name, the most specific row matching its type, sub-type and area
    (a blank field matches any; type beats sub-type beats area in specificity)."""
    best: dict[str, tuple[int, Rule]] = {}
    for r_type, r_sub, r_area, name, amount, unit, basis in rows:
        if r_type and r_type != order_type:
            continue
        if r_sub and r_sub != sub_type:
            continue
        if r_area and r_area != area:
            continue
        score = (4 if r_type else 0) + (2 if r_sub else 0) + (1 if r_area else 0)
        if name not in best or score > best[name][0]:
            best[name] = (score, Rule(name=name, amount=amount, unit=unit, basis=basis))
    return [rule for _, rule in best.values()]


def load_rows() -> list[PolicyRow]:
    """The policy table as stored."""
    from .models import SlaPolicy

    return list(
        SlaPolicy.objects.values_list("order_type", "sub_type", "area", "name", "amount", "unit", "basis")
    )
