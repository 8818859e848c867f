"""The ledgers (台账) of one enterprise and month, as one .xlsx workbook of two sheets, and
the bureau's district (or town) ledger of a month: the hazards of every enterprise in its
scope on one sheet (district_ledger).

隐患台账: one row per hazard found in the month (by its report time in Asia/Shanghai), with
the columns Chinese ledgers use. Major hazards take their measures, responsible person and
funds from the 五到位 plan; general ones from the assignee and the note given when the fix
was submitted.

排查记录: one row per scheduled check (班组日/部门周/经理月排查) due in the month whose period
has begun: who checked where and when, how many items, how many hazards found, and whether
it was done on time, late, not at all, or excused.

Times are written as Excel date-times in Asia/Shanghai wall-clock time (Excel has no time
zones), so the sheets sort and filter by date.

Read only: takes (session, actor, now) like a service, checks EXPORT_LEDGER, never writes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.domain import Action, Actor, EnterpriseRef, require
from app.accounts.models import User
from app.accounts.queries import visible_enterprises
from app.clock import LOCAL_TZ, to_local
from app.database import chunks
from app.enterprises.models import Enterprise, Site, Town
from app.errors import NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checks.domain import CHECK_LEVEL_LABELS, CheckTaskStatus, ItemResult
from app.hazard_reporting.checks.models import CheckItemResult, CheckSubmission, CheckTask
from app.hazard_reporting.hazards.domain import (
    CATEGORY_LABELS,
    LEVEL_LABELS,
    STATUS_LABELS,
    HazardAction,
    HazardLevel,
    HazardStatus,
    is_overdue,
    place_label,
)
from app.hazard_reporting.hazards.models import Hazard, HazardEvent
from app.hazard_reporting.schedules.models import CheckSchedule
from app.spreadsheets import excel_safe

# (header, column width in characters)
HAZARD_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6),
    ("排查时间", 17),
    ("排查人", 10),
    ("隐患部位", 18),
    ("隐患描述", 36),
    ("隐患等级", 10),
    ("隐患类别", 10),
    ("整改措施", 36),
    ("责任人", 12),
    ("整改期限", 17),
    ("整改资金", 14),
    ("完成时间", 17),
    ("验收人", 12),
    ("状态", 14),
)
CHECK_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6),
    ("排查时间", 17),
    ("排查人", 10),
    ("排查类型", 14),
    ("点位", 20),
    ("检查项数", 10),
    ("发现隐患数", 11),
    ("应完成时间", 17),
    ("状态", 24),
)
LEDGER_TITLE = "隐患排查治理台账"
CHECKS_TITLE = "隐患排查记录台账"
CHECK_STATUS_TEXT = {
    CheckTaskStatus.DONE: "按时",
    CheckTaskStatus.DONE_LATE: "逾期",
    CheckTaskStatus.MISSED: "未完成",
}
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MONEY_FORMAT = "#,##0.00"
_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\r\n\t]+')
_WRAPPED = {"隐患部位", "隐患描述", "整改措施", "状态", "点位"}


@dataclass(frozen=True)
class LedgerFile:
    """A generated workbook: its download name and bytes (positioned at the start)."""

    filename: str
    content: io.BytesIO


def parse_month(text: str) -> tuple[int, int]:
    """(year, month) of "YYYY-MM". Raises ValidationFailed."""
    match = _MONTH_RE.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ValidationFailed.for_field("month", "月份格式应为 YYYY-MM，如 2026-11")
    return int(match.group(1)), int(match.group(2))


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """[start, end) of the local (Asia/Shanghai) calendar month, as aware UTC instants."""
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    start = datetime(first.year, first.month, first.day, tzinfo=LOCAL_TZ)
    end = datetime(following.year, following.month, following.day, tzinfo=LOCAL_TZ)
    return start.astimezone(UTC), end.astimezone(UTC)




def _wall_clock(moment: datetime | None) -> datetime | None:
    """An aware instant as naive Asia/Shanghai wall-clock time, for an Excel cell."""
    return to_local(moment).replace(tzinfo=None) if moment else None


def _enterprise(session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    enterprise = session.get(Enterprise, enterprise_id)
    ref = EnterpriseRef(id=enterprise.id, town_id=enterprise.town_id) if enterprise else None
    if ref is None or not actor.can(Action.VIEW_ENTERPRISE, ref):
        raise NotFound("企业不存在或您无权查看。")
    require(actor, Action.EXPORT_LEDGER, ref)
    return enterprise


def _ledger_rows(
    session: Session, enterprise_ids: list[int], year: int, month: int, now: datetime
) -> list[tuple[Hazard, list[Any]]]:
    """Each hazard the enterprises found in the local month, oldest first, with its ledger
    cells (HAZARD_COLUMNS order, without the 序号)."""
    start, end = month_bounds(year, month)
    if not enterprise_ids:
        return []
    hazards = list(
        session.scalars(
            select(Hazard)
            .where(Hazard.enterprise_id.in_(enterprise_ids), Hazard.created_at >= start, Hazard.created_at < end)
            .options(selectinload(Hazard.plan))
            .order_by(Hazard.created_at, Hazard.id)
        )
    )
    if not hazards:
        return []
    ids = [h.id for h in hazards]
    # The last submission (完成时间, its note as the measures taken) and the last verification
    # (验收人) of each hazard; events are append-only, so "last by id" is "latest".
    submitted: dict[int, HazardEvent] = {}
    verified: dict[int, HazardEvent] = {}
    for chunk in chunks(ids):
        for event in session.scalars(
            select(HazardEvent)
            .where(
                HazardEvent.hazard_id.in_(chunk),
                HazardEvent.action.in_([HazardAction.SUBMIT_RECTIFICATION, HazardAction.VERIFY]),
            )
            .order_by(HazardEvent.id)
        ):
            target = submitted if event.action is HazardAction.SUBMIT_RECTIFICATION else verified
            target[event.hazard_id] = event
    site_ids = sorted({h.site_id for h in hazards if h.site_id})
    sites: dict[int, str] = {}
    for chunk in chunks(site_ids):
        sites.update(session.execute(select(Site.id, Site.name).where(Site.id.in_(chunk))).all())
    user_ids = {h.reporter_id for h in hazards} | {h.assignee_id for h in hazards if h.assignee_id}
    user_ids |= {e.actor_id for e in verified.values() if e.actor_id}
    user_ids |= {h.plan.accepted_by_id for h in hazards if h.plan and h.plan.accepted_by_id}
    names: dict[int, str] = {}
    for chunk in chunks(sorted(user_ids)):
        names.update(session.execute(select(User.id, User.display_name).where(User.id.in_(chunk))).all())

    rows = []
    for hazard in hazards:
        plan = hazard.plan if hazard.level is HazardLevel.MAJOR else None
        submission = submitted.get(hazard.id)
        done = hazard.status in (HazardStatus.RECTIFIED, HazardStatus.CLOSED)
        if plan is not None:
            measures = plan.measures or ""
            responsible = plan.owner_person or names.get(hazard.assignee_id, "")
            funds: Decimal | None = plan.fund_amount
            acceptor = ""
            if hazard.status is HazardStatus.CLOSED:
                acceptor = plan.acceptor or names.get(plan.accepted_by_id, "")
        else:
            measures = (submission.note or "") if submission else ""
            responsible = names.get(hazard.assignee_id, "") if hazard.assignee_id else ""
            funds = None
            check = verified.get(hazard.id)
            acceptor = names.get(check.actor_id, "") if check and hazard.status is HazardStatus.CLOSED else ""
        status = STATUS_LABELS[hazard.status]
        if is_overdue(hazard.status, hazard.deadline, now):
            status += "（已逾期）"
        cells = [
            _wall_clock(hazard.created_at),
            names.get(hazard.reporter_id, ""),
            place_label(sites.get(hazard.site_id, ""), hazard.location, " "),
            hazard.description,
            LEVEL_LABELS[hazard.level],
            CATEGORY_LABELS[hazard.category],
            measures,
            responsible,
            _wall_clock(hazard.deadline),
            float(funds) if funds is not None else None,
            _wall_clock(submission.at) if submission and done else None,
            acceptor,
            status,
        ]
        rows.append((hazard, cells))
    return rows


def hazard_rows(
    session: Session, enterprise: Enterprise, year: int, month: int, now: datetime
) -> list[list[Any]]:
    """The ledger rows (one list of cell values per hazard, in HAZARD_COLUMNS order) of the
    hazards the enterprise found in the local month, oldest first."""
    return [
        [number, *cells]
        for number, (_hazard, cells) in enumerate(_ledger_rows(session, [enterprise.id], year, month, now), 1)
    ]


def _check_status(task: CheckTask, now: datetime) -> str:
    if task.status is CheckTaskStatus.EXCUSED:
        return f"免检：{task.excuse_reason}" if task.excuse_reason else "免检"
    if task.status is CheckTaskStatus.PENDING:
        # Not swept yet: past its grace it is missed all the same.
        return "未完成" if now > task.grace_until else "待完成"
    return CHECK_STATUS_TEXT[task.status]


def check_rows(
    session: Session, enterprise: Enterprise, year: int, month: int, now: datetime
) -> list[list[Any]]:
    """The check-record rows (CHECK_COLUMNS order) of the enterprise's scheduled checks due
    in the local month whose period has begun by `now`, by due time."""
    start, end = month_bounds(year, month)
    today = to_local(now).date()
    tasks = session.execute(
        select(CheckTask, CheckSchedule, CheckSubmission)
        .join(CheckSchedule, CheckSchedule.id == CheckTask.schedule_id)
        .outerjoin(CheckSubmission, CheckSubmission.task_id == CheckTask.id)
        .where(
            CheckTask.enterprise_id == enterprise.id,
            CheckTask.due_at >= start,
            CheckTask.due_at < end,
            CheckTask.period_start <= today,
        )
        .order_by(CheckTask.due_at, CheckTask.id)
    ).all()
    submission_ids = [sub.id for _, _, sub in tasks if sub is not None]
    tallies: dict[int, tuple[int, int]] = {}
    if submission_ids:
        found = func.sum(case((CheckItemResult.result == ItemResult.HAZARD, 1), else_=0))
        for submission_id, items, hazards in session.execute(
            select(CheckItemResult.submission_id, func.count(), found)
            .where(CheckItemResult.submission_id.in_(submission_ids))
            .group_by(CheckItemResult.submission_id)
        ):
            tallies[submission_id] = (int(items), int(hazards or 0))
    site_ids = {sub.site_id for _, _, sub in tasks if sub is not None} | {
        schedule.site_id for _, schedule, _ in tasks if schedule.site_id
    }
    user_ids = {sub.user_id for _, _, sub in tasks if sub is not None}
    sites = (
        dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))).all())
        if site_ids
        else {}
    )
    names = (
        dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )

    rows = []
    for number, (task, schedule, submission) in enumerate(tasks, start=1):
        level = CHECK_LEVEL_LABELS[schedule.level]
        kind = level if schedule.label in ("", level) else f"{level}（{schedule.label}）"
        items, hazards = tallies.get(submission.id, (0, 0)) if submission else (None, None)
        site_id = submission.site_id if submission else schedule.site_id
        rows.append(
            [
                number,
                _wall_clock(submission.submitted_at) if submission else None,
                names.get(submission.user_id, "") if submission else "",
                kind,
                sites.get(site_id, "") if site_id else "",
                items,
                hazards,
                _wall_clock(task.due_at),
                _check_status(task, now),
            ]
        )
    return rows


def _write_sheet(
    sheet: Any, title: str, columns: tuple[tuple[str, int], ...], rows: list[list[Any]], empty: str
) -> None:
    """Title row, frozen header row, widths, borders, formats; `empty` when there are no rows."""
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    last_column = get_column_letter(len(columns))

    sheet.merge_cells(f"A1:{last_column}1")
    sheet["A1"] = title
    sheet["A1"].font = Font(size=16, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center")
    sheet.row_dimensions[1].height = 32

    header_fill = PatternFill("solid", fgColor="E8F2EC")
    for index, (header, width) in enumerate(columns, start=1):
        cell = sheet.cell(row=2, column=index, value=header)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.border = border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.row_dimensions[2].height = 22

    for row_index, values in enumerate(rows, start=3):
        for column_index, value in enumerate(values, start=1):
            header = columns[column_index - 1][0]
            cell = sheet.cell(row=row_index, column=column_index, value=excel_safe(value))
            cell.border = border
            cell.alignment = Alignment(vertical="top", wrap_text=header in _WRAPPED)
            if isinstance(value, datetime):
                cell.number_format = DATETIME_FORMAT
            elif header == "整改资金" and value is not None:
                cell.number_format = MONEY_FORMAT
    if rows:
        sheet.auto_filter.ref = f"A2:{last_column}{len(rows) + 2}"
    else:
        sheet.merge_cells(f"A3:{last_column}3")
        sheet["A3"] = empty
        sheet["A3"].alignment = Alignment(horizontal="center")

    # The title and the headers stay visible while scrolling and on every printed page.
    sheet.freeze_panes = "A3"
    sheet.print_title_rows = "1:2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def safe_filename(name: str) -> str:
    """`name` without characters Windows and browsers refuse in a download name."""
    return _UNSAFE_FILENAME.sub("_", name).strip() or "台账"


def hazard_ledger(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, year: int, month: int
) -> LedgerFile:
    """The month's ledgers of the enterprise (hazards, then check records). Raises NotFound
    (not visible), PermissionDenied (no EXPORT_LEDGER)."""
    enterprise = _enterprise(session, actor, enterprise_id)
    rows = hazard_rows(session, enterprise, year, month, now)
    workbook = Workbook()
    hazards_sheet = workbook.active
    hazards_sheet.title = "隐患台账"
    title = f"{enterprise.name} {year}年{month}月 {LEDGER_TITLE}"
    _write_sheet(hazards_sheet, title, HAZARD_COLUMNS, rows, "本月未登记隐患")
    checks_sheet = workbook.create_sheet("排查记录")
    _write_sheet(
        checks_sheet,
        f"{enterprise.name} {year}年{month}月 {CHECKS_TITLE}",
        CHECK_COLUMNS,
        check_rows(session, enterprise, year, month, now),
        "本月没有应完成的排查任务",
    )
    exported = to_local(now).strftime("%Y-%m-%d %H:%M")
    for sheet in (hazards_sheet, checks_sheet):
        sheet.oddFooter.left.text = f"导出人：{actor.display_name}  导出时间：{exported}"
        sheet.oddFooter.right.text = "第 &P 页，共 &N 页"
    workbook.properties.title = title
    workbook.properties.creator = "安查 隐患排查治理"
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    filename = safe_filename(f"{enterprise.name}_{year}年{month:02d}月_{LEDGER_TITLE}.xlsx")
    return LedgerFile(filename=filename, content=buffer)


DISTRICT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6),
    ("镇（街道）", 12),
    ("企业名称", 24),
    *HAZARD_COLUMNS[1:],
)
_DISTRICT_WRAPPED = {"企业名称"}


def district_ledger(
    session: Session, actor: Actor, now: datetime, year: int, month: int, town_id: int | None = None
) -> LedgerFile:
    """The bureau's 辖区隐患台账 of the month: one sheet of the hazards found by every
    enterprise in the actor's scope (or in one of its towns) whose ledger they may export,
    with the town and enterprise of each. Raises PermissionDenied (not bureau staff),
    NotFound (a town outside their scope)."""
    if not actor.is_bureau:
        raise PermissionDenied("辖区台账仅供监管部门导出。")
    query = visible_enterprises(actor)
    town: Town | None = None
    if town_id is not None:
        town = session.get(Town, town_id)
        if town is None or not (actor.enterprise_scope().all or town.id in actor.bureau_town_ids):
            raise NotFound("镇（街道）不存在或不在您的负责范围内。")
        query = query.where(Enterprise.town_id == town.id)
    enterprises = {
        e.id: e for e in session.scalars(query.options(selectinload(Enterprise.town))) if actor.can(Action.EXPORT_LEDGER, e.ref)
    }
    rows = [
        [number, enterprises[hazard.enterprise_id].town.name, enterprises[hazard.enterprise_id].name, *cells]
        for number, (hazard, cells) in enumerate(
            _ledger_rows(session, sorted(enterprises), year, month, now), start=1
        )
    ]
    scope = town.name if town is not None else ("全区" if actor.enterprise_scope().all else "负责镇街")
    title = f"{scope} {year}年{month}月 {LEDGER_TITLE}"
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "辖区隐患台账"
    _write_sheet(sheet, title, DISTRICT_COLUMNS, rows, "本月辖区内未登记隐患")
    for index, (header, _width) in enumerate(DISTRICT_COLUMNS, start=1):
        if header in _DISTRICT_WRAPPED:
            for row in range(3, len(rows) + 3):
                sheet.cell(row=row, column=index).alignment = Alignment(vertical="top", wrap_text=True)
    exported = to_local(now).strftime("%Y-%m-%d %H:%M")
    sheet.oddFooter.left.text = f"导出人：{actor.display_name}  导出时间：{exported}"
    sheet.oddFooter.right.text = "第 &P 页，共 &N 页"
    workbook.properties.title = title
    workbook.properties.creator = "安查 隐患排查治理"
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return LedgerFile(filename=safe_filename(f"{scope}_{year}年{month:02d}月_辖区{LEDGER_TITLE}.xlsx"), content=buffer)
