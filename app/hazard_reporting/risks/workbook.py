"""The 风险辨识清单 as an Excel workbook: one row per control (a source without controls, or a
risk point without sources, takes one row with the later columns empty). The export is the
import's template: what an enterprise downloads, fills and uploads is the same format.
Every cell written goes through spreadsheets.excel_safe; the columns after 岗位 (D and the
grade) are computed on export and ignored on import."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils.exceptions import InvalidFileException

from app.errors import ValidationFailed
from app.spreadsheets import FORMULA_START, excel_safe

COLUMNS = (
    "风险点",
    "风险点类型",
    "区域",
    "排查点位",
    "危险源",
    "较大危险因素",
    "事故类型",
    "L",
    "E",
    "C",
    "管控措施",
    "措施类别",
    "管控层级",
    "责任部门",
    "责任班组",
    "岗位",
)
COMPUTED = ("D（计算）", "风险等级（计算）")
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 3000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

NOT_XLSX = "文件不是 Excel 工作簿（.xlsx），请用“下载清单（导入模板）”得到的文件填写后上传。"
TOO_LARGE = f"文件太大：风险辨识清单不超过 {MAX_BYTES // (1024 * 1024)} MB。"
TOO_MANY = f"风险辨识清单最多 {MAX_ROWS} 行，请精简后导入。"
NO_ROWS = "清单中没有数据行。"


@dataclass(frozen=True)
class RegisterRow:
    """One data row as typed (row = its Excel row number)."""

    row: int
    point: str = ""
    kind: str = ""
    area: str = ""
    site: str = ""
    source: str = ""
    major: str = ""
    accident_types: str = ""
    likelihood: str = ""
    exposure: str = ""
    consequence: str = ""
    control: str = ""
    control_kind: str = ""
    level: str = ""
    department: str = ""
    team: str = ""
    post: str = ""


def cell_text(value: object) -> str:
    """A cell as the text a person typed: numbers without '.0', a guarding apostrophe dropped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        text = text[1:]
    return text


def read_register(data: bytes) -> list[RegisterRow]:
    """The rows of the first sheet, blank rows skipped. Raises ValidationFailed (too large,
    not an xlsx, wrong header, no rows, more than MAX_ROWS rows)."""
    if len(data) > MAX_BYTES:
        raise ValidationFailed.for_field("file", TOO_LARGE)
    if not data.startswith(b"PK\x03\x04"):
        raise ValidationFailed.for_field("file", NOT_XLSX)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ValidationFailed.for_field("file", NOT_XLSX) from None
    try:
        lines = book.worksheets[0].iter_rows(values_only=True)
        header = [cell_text(v) for v in next(lines, ())]
        if tuple(header[: len(COLUMNS)]) != COLUMNS:
            raise ValidationFailed.for_field("file", "第 1 行应为表头：" + "、".join(COLUMNS) + "（请使用下载的清单）")
        rows: list[RegisterRow] = []
        for number, values in enumerate(lines, start=2):
            cells = [cell_text(v) for v in (tuple(values) + (None,) * len(COLUMNS))[: len(COLUMNS)]]
            if not any(cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise ValidationFailed.for_field("file", TOO_MANY)
            rows.append(RegisterRow(number, *cells))
    finally:
        book.close()
    if not rows:
        raise ValidationFailed.for_field("file", NO_ROWS)
    return rows


def register_workbook(rows: Iterable[Sequence[object]]) -> bytes:
    """The workbook of `rows` (each COLUMNS + COMPUTED long), header styled, cells made safe."""
    book = Workbook()
    sheet = book.active
    sheet.title = "风险辨识清单"
    sheet.append([*COLUMNS, *COMPUTED])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8F2EC")
    for row in rows:
        sheet.append([excel_safe(v) for v in row])
    widths = (16, 10, 14, 14, 20, 10, 16, 5, 5, 5, 40, 10, 10, 12, 12, 12, 8, 10)
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
