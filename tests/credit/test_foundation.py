"""The foundation of issue 17: the policy row with its defaults, the power/lighting split, the permission table."""

from decimal import Decimal

from gridcare.core.permissions import Perm, Role, has_perm
from gridcare.credit.policy import current_policy, grade_steps, measures_for, rated_class_for


def test_policy_defaults_and_class_split(db):
    p = current_policy()
    assert (p.grade_aaa, p.grade_aa, p.grade_a, p.grade_b, p.grade_c) == tuple(
        Decimal(x) for x in ("90", "80", "70", "60", "50")
    )
    assert p.grace_days == 0
    assert rated_class_for("residential", p) == "lighting"
    assert rated_class_for("large_industry", p) == "power"
    assert measures_for("D", p) == ["deposit_or_prepaid", "connection_flag"]
    assert measures_for("Z", p) == []
    assert current_policy().pk == p.pk  # one row


def test_grade_steps():
    assert grade_steps("AA", "B") == 2
    assert grade_steps("B", "AAA") == -3


def test_inspector_role(cw):
    assert has_perm(cw.inspector, Perm.CREDIT_RECORD)
    assert not has_perm(cw.inspector, Perm.CREDIT_APPROVE)
    assert has_perm(cw.a_manager, Perm.CREDIT_APPROVE)
    assert not has_perm(cw.a_agent, Perm.CREDIT_RECORD)
    assert cw.inspector.role == Role.INSPECTOR
