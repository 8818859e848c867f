"""What every Excel export and template shares: cells Excel will not run as formulas."""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@")


def excel_safe(value: Any) -> Any:
    """A cell value Excel will not run as a formula: text starting with = + - @ (a
    description typed as "=HYPERLINK(…)", a location "-3 层") gets a leading apostrophe and
    is shown as the text it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
