"""Money is Decimal yuan, rounded half-up to the fen (SPEC §4)."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def fen(value: Any) -> Decimal:
    """A number — typically a database SUM — as Decimal yuan to the fen; None (the sum of nothing) is 0.00.

    PostgreSQL answers Decimal, SQLite sums NUMERIC columns as int, float or text ("60.6100000000000"); going
    through str keeps two-decimal sums exact (they stay far inside a float's precision)."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)
