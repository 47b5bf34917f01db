"""Spreadsheet exports (CSV, XLSX) must not turn data into formulas (CSV/formula injection, OWASP): a text
cell starting with =, +, -, @, tab or carriage return gets a leading apostrophe, so Excel shows it as text."""

from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text_cell(value: Any) -> Any:
    """`value` unchanged unless it is text Excel would read as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
