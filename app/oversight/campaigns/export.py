"""A campaign's progress as an Excel workbook: sheet 对象企业 (one row per target with its
state, self-check and hazards) and sheet 按镇街汇总 (the roll-up). Every cell goes through
excel_safe."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from app.clock import to_local
from app.hazard_reporting.hazards.ledger import safe_filename
from app.oversight.campaigns.domain import STATUS_LABELS, TARGET_STATE_LABELS, TOPIC_LABELS, Progress
from app.oversight.campaigns.models import Campaign
from app.oversight.campaigns.queries import TargetRow, TownProgress
from app.spreadsheets import excel_safe

TARGET_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6),
    ("镇（街道）", 14),
    ("企业名称", 32),
    ("状态", 12),
    ("自查提交时间", 18),
    ("提交人", 12),
    ("发现隐患", 10),
    ("已整改销号", 12),
    ("来源 / 说明", 40),
)
TOWN_COLUMNS: tuple[tuple[str, int], ...] = (
    ("镇（街道）", 14),
    ("对象企业", 10),
    ("已自查", 10),
    ("其中逾期自查", 14),
    ("逾期未自查", 12),
    ("待自查", 10),
    ("发现隐患", 10),
    ("已整改销号", 12),
)


@dataclass(frozen=True)
class CampaignFile:
    filename: str
    content: io.BytesIO


def _row(sheet, values: list) -> None:
    sheet.append([excel_safe(v) for v in values])


def _head(sheet, columns) -> None:
    _row(sheet, [name for name, _width in columns])
    for index, (_name, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.cell(row=1, column=index).font = Font(bold=True)
    sheet.freeze_panes = "A2"


def _source(r: TargetRow) -> str:
    if not r.listed:
        return f"已移出：{r.removed_reason or ''}"
    return "按专项标签" if r.by_rule else f"人工加入：{r.added_reason or ''}"


def _totals(label: str, p: Progress) -> list:
    return [label, p.targets, p.checked, p.late, p.overdue, p.pending, p.hazards, p.rectified]


def campaign_workbook(
    campaign: Campaign, rows: list[TargetRow], towns: list[TownProgress], total: Progress, now: datetime, exporter: str
) -> CampaignFile:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "对象企业"
    _head(sheet, TARGET_COLUMNS)
    listed = [r for r in rows if r.listed] + [r for r in rows if not r.listed]
    for number, r in enumerate(listed, start=1):
        _row(
            sheet,
            [
                number,
                r.town_name,
                r.enterprise_name,
                TARGET_STATE_LABELS[r.state],
                f"{to_local(r.checked_at):%Y-%m-%d %H:%M}" if r.checked_at else "",
                r.checked_by or "",
                r.hazards,
                r.rectified,
                _source(r),
            ],
        )
    rollup = workbook.create_sheet("按镇街汇总")
    _head(rollup, TOWN_COLUMNS)
    for t in towns:
        _row(rollup, _totals(t.town_name, t.progress))
    _row(rollup, _totals("合计", total))
    for s in (sheet, rollup):
        s.oddHeader.center.text = (
            f"{campaign.title}（{TOPIC_LABELS[campaign.topic]} · {STATUS_LABELS[campaign.status]} · "
            f"自查截止 {campaign.deadline:%Y-%m-%d}）"
        )
        s.oddFooter.left.text = f"导出人：{exporter}  导出时间：{to_local(now):%Y-%m-%d %H:%M}"
        s.oddFooter.right.text = "第 &P 页，共 &N 页"
    workbook.properties.title = campaign.title
    workbook.properties.creator = "安查 隐患排查治理"
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return CampaignFile(filename=safe_filename(f"{campaign.title}-进度.xlsx"), content=buffer)
