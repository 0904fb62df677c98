"""Cells of every CSV and XLSX export, safe to open in a spreadsheet program (used by analysis and app).

Text that a spreadsheet would read as a formula (OWASP "CSV injection": a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) is neutralised: in CSV it gets a leading single quote, in XLSX it
is written as a plain string cell with Excel's quote prefix, never as a formula. Numbers stay numbers, so a
negative amount is still a number. Control characters that XML 1.0 cannot carry (openpyxl refuses them)
are replaced by U+FFFD in XLSX, so that text stored before the API refused them still exports.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from openpyxl.worksheet.worksheet import Worksheet

# ASCII triggers per OWASP, and their full-width forms, which some East Asian spreadsheet setups treat alike.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
QUOTE = "'"
REPLACEMENT = "\ufffd"
# The characters XML 1.0 forbids (all C0 controls but tab, line feed and carriage return), as openpyxl's
# ILLEGAL_CHARACTERS_RE, plus the non-characters U+FFFE/U+FFFF.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet program could take this text for a formula."""
    return text.startswith(FORMULA_TRIGGERS)


def csv_cell(value: Any) -> Any:
    """A value for csv.writer: blank for None, quoted text when it looks like a formula, else unchanged."""
    if value is None:
        return ""
    if isinstance(value, str) and is_formula_like(value):
        return QUOTE + value
    return value


def csv_text(rows: Iterable[Iterable[Any]], *, lineterminator: str = "\r\n") -> str:
    """Rows as CSV text with every cell neutralised (no byte-order mark; callers add one for Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=lineterminator)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue()


def read_csv_cell(text: str) -> str:
    """Undo ``csv_cell`` on a cell read back from one of our CSV exports (the ledger round-trips)."""
    if text.startswith(QUOTE) and is_formula_like(text[1:]):
        return text[1:]
    return text


def xlsx_text(text: str) -> str:
    """Text with the characters an XLSX file cannot hold replaced by U+FFFD."""
    return _ILLEGAL_XML.sub(REPLACEMENT, text)


# Number formats of XLSX cells: the value stays a number a spreadsheet can add up, shown as people read it.
AREA = "#,##0.00"  # m², two decimals
COUNT = "#,##0"
MONEY = "#,##0.00"  # 元
DECIMAL = "#,##0.0#"  # one or two decimals (working days, distances)
PERCENT = '0.0#"%"'  # a share already multiplied by 100
RATIO = "0.0%"  # a 0–1 ratio shown as a percentage


def append_row(sheet: Worksheet, values: Iterable[Any], formats: Sequence[str | None] = ()) -> None:
    """Append a row to a worksheet: text is always a string cell (never a formula), numbers stay numbers,
    shown in the number format of their column in ``formats`` (None or missing: General)."""
    cleaned = [xlsx_text(v) if isinstance(v, str) else v for v in values]
    sheet.append(cleaned)
    row = sheet.max_row  # the row just written (an empty one writes no cell and needs nothing)
    for column, value in enumerate(cleaned, start=1):
        number_format = formats[column - 1] if column <= len(formats) else None
        if number_format and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            sheet.cell(row=row, column=column).number_format = number_format
        if isinstance(value, str):
            cell = sheet.cell(row=row, column=column)
            cell.data_type = "s"  # openpyxl would write a text starting with "=" as a formula
            if is_formula_like(value):
                cell.quotePrefix = True  # Excel keeps it text even when the cell is edited
