"""A bulletin as an Excel workbook: the text, then its lists with every enterprise's
reasons (or findings). Every cell goes through excel_safe."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from app.clock import to_local
from app.hazard_reporting.hazards.ledger import safe_filename
from app.oversight.bulletins.domain import (
    KIND_LABELS,
    STATUS_LABELS,
    VERDICT_LABELS,
    BulletinKind,
    Verdict,
    paragraphs,
)
from app.oversight.bulletins.models import Bulletin
from app.oversight.bulletins.queries import EntryRow
from app.spreadsheets import excel_safe

LIST_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6),
    ("类别", 10),
    ("镇（街道）", 14),
    ("企业名称", 30),
    ("原因 / 发现的问题", 70),
    ("来源", 10),
)


@dataclass(frozen=True)
class BulletinFile:
    filename: str
    content: io.BytesIO


def _source(row: EntryRow) -> str:
    if row.verdict is Verdict.VISITED:
        return "督导检查"
    return "规则" if row.by_rule else f"人工：{row.added_reason or ''}"


def _row(sheet, values: list) -> None:
    sheet.append([excel_safe(v) for v in values])


def bulletin_workbook(bulletin: Bulletin, rows: list[EntryRow], town_name: str | None, now: datetime, exporter: str) -> BulletinFile:
    """Sheet 通报 (title, status, text, requirements) and sheet 名单 (one row per listed
    enterprise; entries removed from a draft's list follow, marked, with the reason)."""
    workbook = Workbook()
    text_sheet = workbook.active
    text_sheet.title = "通报"
    text_sheet.column_dimensions["A"].width = 100
    _row(text_sheet, [bulletin.title])
    text_sheet["A1"].font = Font(bold=True, size=14)
    _row(text_sheet, [f"{KIND_LABELS[bulletin.kind]} · {town_name or '全区'} · {STATUS_LABELS[bulletin.status]}"
                      + (f" · 发布于 {to_local(bulletin.published_at):%Y-%m-%d %H:%M}" if bulletin.published_at else "")])
    for paragraph in paragraphs(bulletin.body):
        _row(text_sheet, [paragraph])
    if bulletin.kind is BulletinKind.SUPERVISION:
        if bulletin.requirements:
            _row(text_sheet, ["整改要求："])
            for line in bulletin.requirements.split("\n"):
                _row(text_sheet, [line])
        if bulletin.deadline:
            _row(text_sheet, [f"整改期限：{bulletin.deadline:%Y年%m月%d日}"])
    for cells in text_sheet.iter_rows(min_row=3):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    sheet = workbook.create_sheet("名单")
    _row(sheet, [name for name, _width in LIST_COLUMNS])
    for index, (_name, width) in enumerate(LIST_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.cell(row=1, column=index).font = Font(bold=True)
    listed = [r for r in rows if r.listed]
    removed = [r for r in rows if not r.listed]
    for number, r in enumerate(listed, start=1):
        _row(sheet, [number, VERDICT_LABELS[r.verdict], r.town_name, r.enterprise_name,
                     "；".join(r.reasons), _source(r)])
    for r in removed:
        _row(sheet, ["", f"已移出（{VERDICT_LABELS[r.verdict]}）", r.town_name, r.enterprise_name,
                     "；".join(r.reasons), f"移出理由：{r.removed_reason or ''}"])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    for s in (text_sheet, sheet):
        s.oddFooter.left.text = f"导出人：{exporter}  导出时间：{to_local(now):%Y-%m-%d %H:%M}"
        s.oddFooter.right.text = "第 &P 页，共 &N 页"
        s.page_setup.fitToWidth = 1
        s.page_setup.fitToHeight = 0
        s.sheet_properties.pageSetUpPr.fitToPage = True
    workbook.properties.title = bulletin.title
    workbook.properties.creator = "安查 隐患排查治理"
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return BulletinFile(filename=safe_filename(f"{bulletin.title}.xlsx"), content=buffer)
