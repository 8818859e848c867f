"""What every Excel export, template and upload shares: cells Excel will not run as
formulas, a cell read back as the text a person typed, and the rows of an uploaded sheet."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from app.errors import ValidationFailed

FORMULA_START = ("=", "+", "-", "@")


def excel_safe(value: Any) -> Any:
    """A cell value Excel will not run as a formula: text starting with = + - @ (a
    description typed as "=HYPERLINK(…)", a location "-3 层") gets a leading apostrophe and
    is shown as the text it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def cell_text(value: object) -> str:
    """A cell as the text a person typed: numbers without '.0', runs of blanks as one, the
    apostrophe that guards a formula-like text (excel_safe) dropped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        text = text[1:]
    return text


@dataclass(frozen=True)
class SheetRules:
    """An upload's limits and what to tell a person who broke each (Chinese)."""

    columns: tuple[str, ...]
    max_bytes: int
    max_rows: int
    too_large: str
    not_xlsx: str
    wrong_header: str
    too_many: str
    no_rows: str


def read_rows(data: bytes, rules: SheetRules) -> list[tuple[int, list[str]]]:
    """(Excel row number, the cells of `rules.columns` as text) of the first sheet's data
    rows, blank rows skipped. Raises ValidationFailed on field `file` (too large, not an
    xlsx, wrong header, more than max_rows rows, no rows)."""
    if len(data) > rules.max_bytes:
        raise ValidationFailed.for_field("file", rules.too_large)
    if not data.startswith(b"PK"):
        raise ValidationFailed.for_field("file", rules.not_xlsx)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ValidationFailed.for_field("file", rules.not_xlsx) from None
    width = len(rules.columns)
    try:
        lines = book.worksheets[0].iter_rows(values_only=True)
        header = [cell_text(v) for v in next(lines, ())]
        if tuple(header[:width]) != rules.columns:
            raise ValidationFailed.for_field("file", rules.wrong_header)
        rows: list[tuple[int, list[str]]] = []
        for number, values in enumerate(lines, start=2):
            cells = [cell_text(v) for v in (tuple(values) + (None,) * width)[:width]]
            if not any(cells):
                continue
            if len(rows) >= rules.max_rows:
                raise ValidationFailed.for_field("file", rules.too_many)
            rows.append((number, cells))
    finally:
        book.close()
    if not rows:
        raise ValidationFailed.for_field("file", rules.no_rows)
    return rows
