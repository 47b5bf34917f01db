"""Exports never hand Excel a formula: text starting with =, +, -, @ (or tab / CR) is kept as text."""

from decimal import Decimal
from io import BytesIO

from openpyxl import load_workbook

from gridcare.core.spreadsheet import as_text_cell
from gridcare.payments.reports.excel import MONEY, TEXT, Column, report_workbook


def test_formula_like_text_is_prefixed_and_other_values_are_left_alone():
    assert as_text_cell('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert as_text_cell("+8613800000000") == "'+8613800000000"
    assert as_text_cell("@SUM(A1)") == "'@SUM(A1)"
    assert as_text_cell("城关供电所") == "城关供电所"
    assert as_text_cell(Decimal("-5.00")) == Decimal("-5.00")  # numbers stay numbers
    assert as_text_cell(None) is None


def test_report_workbook_writes_formula_like_names_as_text():
    data = report_workbook(
        title="t",
        filter_text="f",
        columns=[Column("单位", TEXT), Column("金额", MONEY)],
        rows=[["=1+1", "12.50"]],
        totals=None,
    )
    ws = load_workbook(BytesIO(data)).active
    cell = ws.cell(row=5, column=1)
    assert cell.data_type == "s" and cell.value == "'=1+1"
    assert ws.cell(row=5, column=2).value == 12.5
