"""Excel workbooks of the collection reports (openpyxl).

One sheet per report (and one per detail table of it, such as the channel mix's 代收机构明细): the title in
A1, the filter used in A2, a header row in Chinese, the rows, a totals row. Money cells are numbers formatted
`#,##0.00`, counts `0`, rates are fractions formatted `0.00%` (28.57 %
is stored as 0.2857) so that Excel can sum and chart them.
"""

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from gridcare.core.spreadsheet import as_text_cell

MONEY_FORMAT = "#,##0.00"  # thousands separators, as on the pages
PERCENT_FORMAT = "0.00%"
COUNT_FORMAT = "0"
TEXT = "text"
MONEY = "money"
PERCENT = "percent"
COUNT = "count"
_FORMATS = {MONEY: MONEY_FORMAT, PERCENT: PERCENT_FORMAT, COUNT: COUNT_FORMAT}
HEADER_ROW = 4  # title, filter, blank line, then the header


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT
    width: int = 14


@dataclass(frozen=True)
class Sheet:
    """A further sheet of a workbook, laid out as the first one."""

    title: str
    filter_text: str
    columns: list[Column]
    rows: list[list[Any]]
    totals: list[Any] | None


def _cell_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == PERCENT:
        # Rates come in as percentages with two decimals (28.57); Excel wants the fraction.
        return Decimal(value) / 100
    if kind == MONEY:
        return Decimal(value)
    return as_text_cell(value)


def report_workbook(
    *,
    title: str,
    filter_text: str,
    columns: list[Column],
    rows: list[list[Any]],
    totals: list[Any] | None,
    more: tuple[Sheet, ...] = (),
) -> bytes:
    """The xlsx bytes of one report sheet and the `more` sheets after it (see the module docstring for the
    layout)."""
    wb = Workbook()
    _write_sheet(wb.active, Sheet(title, filter_text, columns, rows, totals))
    for sheet in more:
        _write_sheet(wb.create_sheet(), sheet)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _write_sheet(ws, sheet: Sheet) -> None:
    title, filter_text, columns, rows, totals = (
        sheet.title,
        sheet.filter_text,
        sheet.columns,
        sheet.rows,
        sheet.totals,
    )
    ws.title = title[:31]  # Excel's limit on sheet names
    ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)
    ws.cell(row=2, column=1, value=filter_text)
    for c, col in enumerate(columns, start=1):
        ws.cell(row=HEADER_ROW, column=c, value=col.header).font = Font(bold=True)
        ws.column_dimensions[ws.cell(row=HEADER_ROW, column=c).column_letter].width = col.width
    r = HEADER_ROW
    for r, row in enumerate(rows, start=HEADER_ROW + 1):  # noqa: B007 — r is the last row written
        _write_row(ws, r, columns, row)
    if totals is not None:
        _write_row(ws, r + 1, columns, totals, bold=True)
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)


def _write_row(ws, r: int, columns: list[Column], values: list[Any], bold: bool = False) -> None:
    for c, (col, value) in enumerate(zip(columns, values, strict=True), start=1):
        cell = ws.cell(row=r, column=c, value=_cell_value(value, col.kind))
        if col.kind in _FORMATS:
            cell.number_format = _FORMATS[col.kind]
        if bold:
            cell.font = Font(bold=True)
