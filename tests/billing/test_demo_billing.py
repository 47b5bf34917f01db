"""The demo month list is the N complete months before today, oldest first, across a year boundary."""

from datetime import date

from gridcare.billing.management.commands.demo_billing import last_complete_months


def test_last_complete_months_cross_the_year():
    assert last_complete_months(3, date(2026, 2, 10)) == ["2025-11", "2025-12", "2026-01"]
    assert last_complete_months(1, date(2026, 11, 24)) == ["2026-10"]
    assert len(last_complete_months(12, date(2026, 11, 24))) == 12


def test_billing_cli_unknown_unit_is_a_clear_error(db):
    import pytest
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="未知的供电单位"):
        call_command("billing", "run", period="2026-10", unit="NOPE")
