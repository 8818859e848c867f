"""The roster (花名册) of an enterprise as an Excel sheet: its template, reading an upload, and
the pure decision for each row (create, update, unchanged, or why not). No Flask, no
SQLAlchemy: the service hands in the enterprise's units and members by phone.

Columns: 姓名, 手机号, 角色, 部门, 班组, 岗位. A member is known by the phone number (one
person per phone per enterprise), so importing the same file twice changes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from app.accounts.domain import ROLE_LABELS, Role, check_member_units, normalize_phone
from app.errors import ValidationFailed
from app.spreadsheets import SheetRules, excel_safe, read_rows

COLUMNS = ("姓名", "手机号", "角色", "部门", "班组", "岗位")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000
NAME_MAX = 32
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ROLE_BY_LABEL: Mapping[str, Role] = {
    **{label: role for role, label in ROLE_LABELS.items()},
    **{role.value: role for role in Role},
}

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"
ACTION_LABELS = {CREATE: "新增", UPDATE: "更新", UNCHANGED: "无变化", ERROR: "错误"}



# --- the template ----------------------------------------------------------------------------


def template_workbook(departments: Sequence[tuple[str, Sequence[str]]], posts: Sequence[str]) -> bytes:
    """The roster template: the header row, one example row, and a sheet 可选值 naming the
    roles, the enterprise's departments with their teams, and its posts."""
    book = Workbook()
    sheet = book.active
    sheet.title = "花名册"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8F2EC")
    for letter, width in zip("ABCDEF", (12, 16, 14, 16, 16, 16), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    roles = DataValidation(type="list", formula1='"' + ",".join(ROLE_LABELS.values()) + '"', allow_blank=False)
    roles.error, roles.errorTitle = "请从列表中选择角色", "角色不正确"
    sheet.add_data_validation(roles)
    roles.add(f"C2:C{MAX_ROWS + 1}")
    for column in "B":
        for row in range(2, MAX_ROWS + 2):
            sheet[f"{column}{row}"].number_format = "@"  # phones stay text

    choices = book.create_sheet("可选值")
    choices.append(["角色", "部门", "班组", "岗位"])
    for cell in choices[1]:
        cell.font = Font(bold=True)
    team_rows = [(dept, team) for dept, teams in departments for team in (teams or [""])]
    height = max(len(ROLE_LABELS), len(team_rows), len(posts))
    role_names = list(ROLE_LABELS.values())
    for index in range(height):
        dept, team = team_rows[index] if index < len(team_rows) else ("", "")
        choices.append(
            [
                excel_safe(role_names[index]) if index < len(role_names) else None,
                excel_safe(dept) or None,
                excel_safe(team) or None,
                excel_safe(posts[index]) if index < len(posts) else None,
            ]
        )
    for letter in "ABCD":
        choices.column_dimensions[letter].width = 18
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- reading an upload -----------------------------------------------------------------------


@dataclass(frozen=True)
class RosterRow:
    """One data row of the sheet as typed (row = its Excel row number)."""

    row: int
    name: str = ""
    phone: str = ""
    role: str = ""
    department: str = ""
    team: str = ""
    post: str = ""


NOT_XLSX = "文件不是 Excel 工作簿（.xlsx），请用“下载模板”得到的文件填写后上传。"
TOO_LARGE = f"文件太大：名册文件不超过 {MAX_BYTES // (1024 * 1024)} MB。"
TOO_MANY = f"名册最多 {MAX_ROWS} 行，请分批导入。"
_SHEET = SheetRules(
    columns=COLUMNS,
    max_bytes=MAX_BYTES,
    max_rows=MAX_ROWS,
    too_large=TOO_LARGE,
    not_xlsx=NOT_XLSX,
    wrong_header="第 1 行应为表头：" + "、".join(COLUMNS) + "（请使用下载的模板）",
    too_many=TOO_MANY,
    no_rows="名册中没有数据行。",
)


def read_roster(data: bytes) -> list[RosterRow]:
    """The rows of the first sheet, blank rows skipped. Raises ValidationFailed (not an xlsx,
    too large, wrong header, no rows, more than MAX_ROWS rows)."""
    return [RosterRow(number, *cells) for number, cells in read_rows(data, _SHEET)]


# --- deciding each row -----------------------------------------------------------------------


@dataclass(frozen=True)
class Units:
    """An enterprise's unit names: departments, teams under (department, team) name, posts."""

    departments: Mapping[str, int]
    teams: Mapping[tuple[str, str], tuple[int, int]]  # (department, team) → (department id, team id)
    posts: Mapping[str, int]


@dataclass(frozen=True)
class MemberData:
    name: str
    phone: str
    role: Role
    department_id: int | None
    team_id: int | None
    post_id: int | None


@dataclass(frozen=True)
class Existing:
    """The enterprise's active member holding a phone; `ambiguous` when several roles share it."""

    membership_id: int
    data: MemberData
    ambiguous: bool = False


@dataclass
class RowPlan:
    row: int
    name: str
    phone: str
    action: str
    errors: list[str] = field(default_factory=list)
    data: MemberData | None = None
    membership_id: int | None = None


def _resolve_team(raw: RosterRow, units: Units) -> tuple[int | None, int | None, list[str]]:
    """(department id, team id, errors) of the row's department and team names."""
    errors: list[str] = []
    department_id = units.departments.get(raw.department) if raw.department else None
    if raw.department and department_id is None:
        errors.append(f"部门「{raw.department}」不存在")
    if not raw.team:
        return department_id, None, errors
    if raw.department:
        found = units.teams.get((raw.department, raw.team))
        if found is None and department_id is not None:
            errors.append(f"班组「{raw.team}」不在部门「{raw.department}」下")
        return department_id, found[1] if found else None, errors
    matches = [ids for (_, team), ids in units.teams.items() if team == raw.team]
    if not matches:
        errors.append(f"班组「{raw.team}」不存在")
        return None, None, errors
    if len(matches) > 1:
        errors.append(f"班组「{raw.team}」在多个部门中同名，请同时填写部门")
        return None, None, errors
    return matches[0][0], matches[0][1], errors


def check_row(raw: RosterRow, units: Units) -> tuple[MemberData | None, list[str]]:
    """The member a row describes, or the Chinese reasons it cannot be imported."""
    errors: list[str] = []
    if not raw.name:
        errors.append("姓名不能为空")
    elif len(raw.name) > NAME_MAX:
        errors.append(f"姓名不超过 {NAME_MAX} 个字")
    phone = ""
    if not raw.phone:
        errors.append("手机号不能为空（导入按手机号识别成员）")
    else:
        try:
            phone = normalize_phone(raw.phone)
        except ValueError as exc:
            errors.append(f"手机号「{raw.phone}」{exc}")
    role = ROLE_BY_LABEL.get(raw.role)
    if role is None:
        errors.append(f"角色「{raw.role}」不正确，应为：" + "、".join(ROLE_LABELS.values()) if raw.role else "角色不能为空")
    department_id, team_id, unit_errors = _resolve_team(raw, units)
    errors.extend(unit_errors)
    post_id = units.posts.get(raw.post) if raw.post else None
    if raw.post and post_id is None:
        errors.append(f"岗位「{raw.post}」不存在")
    if role is not None and not unit_errors:
        try:
            check_member_units(role, department_id, team_id)
        except ValidationFailed as exc:
            errors.extend(exc.fields.values())
    if errors:
        return None, errors
    return MemberData(raw.name, phone, role, department_id, team_id, post_id), []


def plan_roster(rows: Iterable[RosterRow], units: Units, existing: Mapping[str, Existing]) -> list[RowPlan]:
    """Each row's action: `create` (a new phone), `update` (the member with this phone, with
    other data), `unchanged`, or `error` with its reasons (a phone twice in the file is an
    error on both rows)."""
    rows = list(rows)
    seen: dict[str, list[int]] = {}
    for raw in rows:
        try:
            phone = normalize_phone(raw.phone)
        except ValueError:
            continue
        if phone:
            seen.setdefault(phone, []).append(raw.row)
    plans: list[RowPlan] = []
    for raw in rows:
        data, errors = check_row(raw, units)
        phone = data.phone if data else raw.phone
        if data is not None and len(seen.get(data.phone, ())) > 1:
            others = "、".join(str(r) for r in seen[data.phone] if r != raw.row)
            errors.append(f"手机号与第 {others} 行重复")
        holder = existing.get(data.phone) if data is not None else None
        if holder is not None and holder.ambiguous:
            errors.append("该手机号在本企业有多个身份，请在人员管理页逐个修改")
        if errors:
            plans.append(RowPlan(raw.row, raw.name, phone, ERROR, errors))
        elif holder is None:
            plans.append(RowPlan(raw.row, raw.name, phone, CREATE, data=data))
        else:
            action = UNCHANGED if holder.data == data else UPDATE
            plans.append(RowPlan(raw.row, raw.name, phone, action, data=data, membership_id=holder.membership_id))
    return plans


def summary(plans: Sequence[RowPlan]) -> dict[str, int]:
    counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0, ERROR: 0}
    for plan in plans:
        counts[plan.action] += 1
    return counts
