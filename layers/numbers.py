"""Numbers for people: thousands separators, no needless decimals, the unit after the figure.

One formatter for every place a person reads a figure the server writes (the identify panel, finding
messages, exports); Chinese and English write numbers alike (27,700.5), so it takes no language.
"""

from __future__ import annotations

from decimal import Decimal

Number = int | float | Decimal
DASH = "—"
# Units written straight after the figure (50%, 12.5°); every other unit follows a space (27,700 元/m²).
_TIGHT_UNITS = ("%", "°", "‰")


def format_number(value: Number | None, digits: int = 2, *, grouped: bool = True) -> str:
    """A figure rounded to at most ``digits`` decimals, trailing zeros dropped, with thousands separators
    unless ``grouped`` is false (years, numbers read as identifiers); a dash for None."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return str(value)
    text = f"{value:{',' if grouped else ''}.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def with_unit(value: Number | None, unit: str | None, digits: int = 2, *, grouped: bool = True) -> str:
    """A figure followed by its unit (no unit: the figure alone); a dash for None."""
    figure = format_number(value, digits, grouped=grouped)
    if value is None or not unit:
        return figure
    return f"{figure}{unit}" if unit in _TIGHT_UNITS else f"{figure} {unit}"
