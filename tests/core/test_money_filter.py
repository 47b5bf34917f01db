"""`yuan` formats money with thousands separators and two decimals, rounding half-up to the fen."""

from decimal import Decimal

from django.template import Context, Template


def render(value) -> str:
    return Template("{{ v|yuan }}").render(Context({"v": value}))


def test_thousands_and_two_decimals():
    assert render(Decimal("1234567.5")) == "1,234,567.50"
    assert render(Decimal("942.76")) == "942.76"
    assert render(Decimal("0")) == "0.00"


def test_half_up_and_negative():
    assert render(Decimal("2.345")) == "2.35"  # half-up, not banker's (2.34)
    assert render(Decimal("-1000.1")) == "-1,000.10"


def test_blank_and_text():
    assert render(None) == ""
    assert render("n/a") == "n/a"
