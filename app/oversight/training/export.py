"""The bureau's training coverage as an Excel workbook: sheet 镇街 (per town and the district)
and sheet 企业 (every enterprise with a principal or safety officer registered, one row per
person, the uncovered first). Every cell goes through excel_safe."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from app.clock import to_local
from app.hazard_reporting.hazards.ledger import safe_filename
from app.oversight.training.queries import CoverageReport
from app.spreadsheets import excel_safe

TOWN_COLUMNS = (
    ("镇（街道）", 16), ("企业数", 8), ("已登记负责人/安全员的企业", 14), ("全部覆盖的企业", 12),
    ("主要负责人和安全管理员（人）", 14), ("已覆盖（人）", 10), ("未覆盖（人）", 10), ("覆盖率", 8),
)
PERSON_COLUMNS = (
    ("镇（街道）", 14), ("企业名称", 30), ("姓名", 10), ("职务", 18), ("是否覆盖", 8),
    ("最近一次计入覆盖的培训", 14), ("覆盖至", 12),
)


@dataclass(frozen=True)
class CoverageFile:
    filename: str
    content: io.BytesIO


def _row(sheet, values: list) -> None:
    sheet.append([excel_safe(v) for v in values])


def _header(sheet, columns) -> None:
    _row(sheet, [name for name, _width in columns])
    for index, (_name, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.cell(row=1, column=index).font = Font(bold=True)
    sheet.freeze_panes = "A2"


def coverage_workbook(report: CoverageReport, now: datetime, exporter: str) -> CoverageFile:
    workbook = Workbook()
    towns = workbook.active
    towns.title = "镇街"
    _header(towns, TOWN_COLUMNS)
    for t in report.towns:
        c = t.coverage
        _row(towns, [t.name, t.enterprises, t.with_people, t.fully_covered, c.people, c.covered, c.uncovered, c.percent])
    d = report.district
    _row(towns, ["全区合计", sum(t.enterprises for t in report.towns), sum(t.with_people for t in report.towns),
                 sum(t.fully_covered for t in report.towns), d.people, d.covered, d.uncovered, d.percent])
    towns.cell(row=towns.max_row, column=1).font = Font(bold=True)

    people = workbook.create_sheet("企业")
    _header(people, PERSON_COLUMNS)
    for e in report.enterprises:
        for p in sorted(e.people, key=lambda p: p.covered):
            _row(people, [
                e.town_name, e.name, p.name, p.role_label, "是" if p.covered else "否",
                p.last_trained_on.isoformat() if p.last_trained_on else "无",
                p.covered_until.isoformat() if p.covered and p.covered_until else "",
            ])
    rule = ("覆盖：主要负责人、安全管理员在统计日前 12 个月内参加“主要负责人和安全管理人员培训”或"
            "“年度再培训”并考核合格。")
    for sheet in (towns, people):
        sheet.oddFooter.left.text = f"统计日：{report.as_of:%Y-%m-%d}  导出人：{exporter}  导出时间：{to_local(now):%Y-%m-%d %H:%M}"
        sheet.oddHeader.left.text = rule
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    workbook.properties.title = f"安全培训覆盖情况（{report.as_of:%Y-%m-%d}）"
    workbook.properties.creator = "安查 隐患排查治理"
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return CoverageFile(filename=safe_filename(f"安全培训覆盖情况_{report.as_of:%Y%m%d}.xlsx"), content=buffer)
