"""Payments tests reuse the billing tests' reading route."""

from tests.billing.conftest import route  # noqa: F401 — a fixture
