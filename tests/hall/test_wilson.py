"""The rating rules of issue 16 §6, pure: satisfaction rate, the Wilson lower bound (z = 1.96) and the ranking,
with values worked out by hand and properties checked by hypothesis."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridcare.hall.ratings import rank, satisfaction_rate, wilson_lower_bound


def test_satisfaction_rate_counts_very_satisfied_and_satisfied():
    # (3 + 4) ÷ (3 + 4 + 2 + 1) = 0.7
    counts = {"very_satisfied": 3, "satisfied": 4, "neutral": 2, "dissatisfied": 1}
    assert satisfaction_rate(counts) == pytest.approx(0.7)
    assert satisfaction_rate({"neutral": 2}) == 0
    assert satisfaction_rate({}) is None


def test_wilson_values_worked_by_hand():
    # 30 of 30: p̂ = 1, z² = 3.8416; the square root term is z/(2n) = 0.0326667, so the numerator is exactly
    # 1 + z²/60 − z·z/60 = 1, and the bound is 1 ÷ (1 + 3.8416/30) = 1 ÷ 1.1280533 = 0.886483.
    assert wilson_lower_bound(30, 30) == pytest.approx(1 / (1 + 3.8416 / 30), abs=1e-12)
    assert round(wilson_lower_bound(30, 30), 3) == 0.886
    # 290 of 300: p̂ = 0.966667; z²/2n = 0.0064027; p̂(1−p̂)/n = 0.00010741, z²/4n² = 0.0000106711 → sum
    # 0.00011808, √ = 0.0108665, × 1.96 = 0.0212983; numerator 0.9517710; denominator 1.0128053 → 0.939737.
    assert wilson_lower_bound(290, 300) == pytest.approx(0.939737, abs=5e-6)
    assert round(wilson_lower_bound(290, 300), 3) == 0.940
    # 0 of 10: the bound is 0.
    assert wilson_lower_bound(0, 10) == pytest.approx(0, abs=1e-12)
    assert wilson_lower_bound(0, 0) is None


def test_ranking_needs_the_threshold_and_orders_by_the_bound():
    rows = [
        ("perfect30", 30, 30),  # 0.886
        ("big300", 290, 300),  # 0.940
        ("short29", 29, 29),  # 100 % but 29 ratings: unranked
        ("middling", 40, 50),  # p̂ 0.8: bound ≈ 0.670
    ]
    out = rank(rows, min_ratings=30)
    assert [(r.key, r.rank) for r in out] == [
        ("big300", 1),
        ("perfect30", 2),
        ("middling", 3),
        ("short29", None),
    ]
    # With a threshold of 29 the 29/29 clerk is ranked: bound 1/(1+3.8416/29) = 0.883 < 0.886.
    out = rank(rows, min_ratings=29)
    assert [r.key for r in out] == ["big300", "perfect30", "short29", "middling"]


def test_equal_bounds_share_a_rank_and_the_next_skips():
    out = rank([("a", 30, 30), ("b", 30, 30), ("c", 20, 30)], min_ratings=30)
    assert [(r.key, r.rank) for r in out] == [("a", 1), ("b", 1), ("c", 3)]


@given(st.integers(min_value=1, max_value=5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_bound_lies_below_the_rate_and_within_0_1(case):
    good, n = case
    lb = wilson_lower_bound(good, n)
    assert 0 <= lb <= good / n + 1e-12
    assert lb < 1


@given(st.integers(min_value=1, max_value=2000), st.integers(min_value=1, max_value=2000))
def test_more_evidence_of_a_perfect_record_raises_the_bound(n, m):
    # All satisfied: the bound 1 ÷ (1 + z²/n) grows with n.
    if n < m:
        assert wilson_lower_bound(n, n) < wilson_lower_bound(m, m)
    assert math.isclose(wilson_lower_bound(n, n), 1 / (1 + 1.96**2 / n), rel_tol=1e-12)
