"""The 风险辨识清单 as an Excel workbook: one row per control (a source without controls, or a
risk point without sources, takes one row with the later columns empty). The export is the
import's template: what an enterprise downloads, fills and uploads is the same format.
Every cell written goes through spreadsheets.excel_safe; the columns after 岗位 (D and the
grade) are computed on export and ignored on import."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from app.spreadsheets import SheetRules, excel_safe, read_rows

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
_SHEET = SheetRules(
    columns=COLUMNS,
    max_bytes=MAX_BYTES,
    max_rows=MAX_ROWS,
    too_large=TOO_LARGE,
    not_xlsx=NOT_XLSX,
    wrong_header="第 1 行应为表头：" + "、".join(COLUMNS) + "（请使用下载的清单）",
    too_many=TOO_MANY,
    no_rows=NO_ROWS,
)


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


def read_register(data: bytes) -> list[RegisterRow]:
    """The rows of the first sheet, blank rows skipped. Raises ValidationFailed (too large,
    not an xlsx, wrong header, no rows, more than MAX_ROWS rows)."""
    return [RegisterRow(number, *cells) for number, cells in read_rows(data, _SHEET)]


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
