"""The census sheet as an Excel file: writing the export (an empty export is the import
template) and reading an upload into rows. No Flask, no SQLAlchemy."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from app.oversight.census.domain import (
    CHOICES,
    COLUMNS,
    FLAG_FIELDS,
    MAX_ROWS,
    MAX_UNZIPPED_BYTES,
    NO,
    NO_ROWS,
    NOT_XLSX,
    NOTES_TITLE,
    SHEET_TITLE,
    TOO_MANY_ROWS,
    UNZIPPED_TOO_LARGE,
    YES,
    CensusFileRefused,
    CensusRow,
    cell_text,
    check_file_bytes,
    check_header,
    row_cells,
)
from app.spreadsheets import excel_safe

HEADER_FILL = PatternFill("solid", fgColor="E8F2EC")
REQUIRED_FILL = PatternFill("solid", fgColor="FCE8D5")
TEXT_FIELDS = ("uscc", "principal_phone")  # digits that must stay text (18 digits lose precision)


def _letter(field_name: str) -> str:
    return get_column_letter(next(i for i, c in enumerate(COLUMNS, start=1) if c.field == field_name))


def census_workbook(
    enterprises: Sequence[Mapping[str, Any]], town_names: Mapping[int, str], towns: Sequence[str], title: str
) -> bytes:
    """Sheet 企业普查 (the header, one row per enterprise, every cell through excel_safe) and
    sheet 说明 (each column: required or not, what to write, the allowed values; the towns
    the reader may file enterprises in). With no enterprises it is the import template."""
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_TITLE
    sheet.append([c.label for c in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        cell.fill = REQUIRED_FILL if column.required else HEADER_FILL
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    for values in enterprises:
        sheet.append([excel_safe(v) for v in row_cells(values, town_names)])
    last = max(len(enterprises) + 1, 200)
    for name in TEXT_FIELDS:  # typed codes and phones stay text
        for row in range(2, last + 1):
            sheet[f"{_letter(name)}{row}"].number_format = "@"
    date_letter = _letter("standardization_date")
    for row in range(2, last + 1):
        sheet[f"{date_letter}{row}"].number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "B2"
    _choice_lists(sheet, towns)

    notes = book.create_sheet(NOTES_TITLE)
    notes.append(["列名", "是否必填", "填写说明", "可选值"])
    for column in COLUMNS:
        allowed = ""
        if column.field in CHOICES:
            allowed = "、".join(CHOICES[column.field].values())
        elif column.field in FLAG_FIELDS:
            allowed = f"{YES}、{NO}（留空按“{NO}”）"
        elif column.field == "town_id":
            allowed = "、".join(towns)
        notes.append([excel_safe(v) for v in (column.label, "必填" if column.required else "选填", column.note, allowed)])
    notes.append([])
    notes.append(["镇街"])
    for name in towns:
        notes.append([excel_safe(name)])
    notes.append([])
    for line in (
        "每行一家企业，第 1 行为表头，请勿修改表头。",
        "按统一社会信用代码识别企业：已登记的按本表更新，未登记的新增；同一代码只能出现一次。",
        "选填列留空即取默认值（人数 0、未达标、不涉及、否），会覆盖已登记的内容，导入前预览会列出每项变更。",
        f"一次最多 {MAX_ROWS} 行；有任何错误行时不会导入任何企业。信用状态不在本表中，请在失信名单中维护。",
    ):
        notes.append([line])
    for cells in notes.iter_rows(min_row=1, max_row=1):
        for cell in cells:
            cell.font = Font(bold=True)
    for letter, width in zip("ABCD", (16, 10, 48, 60), strict=True):
        notes.column_dimensions[letter].width = width
    for cells in notes.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    book.properties.title = title
    book.properties.creator = "安查 隐患排查治理"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _choice_lists(sheet, towns: Sequence[str]) -> None:
    """Drop-down lists on the choice columns (a hint: the import checks every value)."""
    lists: dict[str, list[str]] = {name: list(labels.values()) for name, labels in CHOICES.items()}
    lists.update({name: [YES, NO] for name in FLAG_FIELDS})
    joined_towns = ",".join(towns)
    if towns and len(joined_towns) <= 250 and not any("," in t or '"' in t for t in towns):
        lists["town_id"] = list(towns)  # Excel's inline lists hold 255 characters
    for name, options in lists.items():
        validation = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True)
        validation.showErrorMessage = False
        sheet.add_data_validation(validation)
        letter = _letter(name)
        validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")


def read_census(data: bytes) -> list[CensusRow]:
    """The data rows of the sheet 企业普查 (or the first sheet), blank rows skipped, each with
    its Excel row number. Raises CensusFileRefused: too large, not an .xlsx (by its bytes, not
    its name), a wrong header, no rows, more than MAX_ROWS rows."""
    check_file_bytes(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
                raise CensusFileRefused(UNZIPPED_TOO_LARGE)
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except CensusFileRefused:
        raise
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, EOFError):
        raise CensusFileRefused(NOT_XLSX) from None
    try:
        sheet = book[SHEET_TITLE] if SHEET_TITLE in book.sheetnames else book.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        header = [cell_text(v) for v in next(lines, ())]
        positions = check_header(header)
        rows: list[CensusRow] = []
        for number, values in enumerate(lines, start=2):
            values = tuple(values)
            cells = {name: values[index] if index < len(values) else None for name, index in positions.items()}
            if not any(cell_text(v) for v in cells.values()):
                continue
            if len(rows) >= MAX_ROWS:
                raise CensusFileRefused(TOO_MANY_ROWS)
            rows.append(CensusRow(number, cells))
    finally:
        book.close()
    if not rows:
        raise CensusFileRefused(NO_ROWS)
    return rows
