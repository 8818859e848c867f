"""The census (普查) sheet of the bureau: its columns, how a typed cell becomes a value of the
enterprise file, and the decision for each row of an upload (create, update, unchanged, or
why not). Pure: no Flask, no SQLAlchemy; the service hands in the towns and the enterprises
already on file, keyed by credit code.

One sheet 「企业普查」, a header row, then one enterprise per row. The export and the import
template are the same format, so exporting and importing the export changes nothing. An
enterprise is known by its unified social credit code: importing the same file twice leaves
everything unchanged the second time.

A cell left empty takes the field's default (0, empty text, 未达标, 不涉及, 否): the sheet is
the whole record, as the export writes it. What an update changes is listed on its row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.enterprises.domain import (
    INDUSTRY_LABELS,
    SCALE_LABELS,
    STANDARDIZATION_LABELS,
    THREE_SIMULTANEOUS_LABELS,
    StandardizationLevel,
    ThreeSimultaneous,
)
from app.enterprises.schemas import validate_uscc
from app.errors import ValidationFailed
from app.spreadsheets import FORMULA_START

SHEET_TITLE = "企业普查"
NOTES_TITLE = "说明"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

MAX_BYTES = 10 * 1024 * 1024  # a census of 5 000 enterprises is about 1 MB
MAX_ROWS = 5000
# What the workbook may expand to once unzipped (a small file can hold a huge sheet).
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_COUNT = 1_000_000

YES, NO = "是", "否"

# Text fields: the longest each may be (the enterprise file's own limits).
TEXT_LIMITS = {
    "name": 128,
    "address": 256,
    "main_processes": 2000,
    "principal_name": 64,
    "principal_phone": 32,
}


@dataclass(frozen=True)
class Column:
    label: str
    field: str
    kind: str  # text | uscc | town | choice | count | date | flag
    required: bool = False
    width: int = 12
    note: str = ""


FLAG_FIELDS = ("dust_explosion", "confined_space", "ammonia_refrigeration", "metallurgical_gas", "molten_metal")

COLUMNS: tuple[Column, ...] = (
    Column("企业名称", "name", "text", True, 32, "营业执照上的全称"),
    Column("统一社会信用代码", "uscc", "uscc", True, 22, "18 位，按此代码识别企业：已登记的更新，未登记的新增"),
    Column("地址", "address", "text", True, 36, "生产经营地址"),
    Column("所属镇街", "town_id", "town", True, 14, "镇（街道）名称，见下方“镇街”列表"),
    Column("行业", "industry", "choice", True, 10),
    Column("规模", "scale", "choice", True, 8),
    Column("从业人员", "employee_count", "count", False, 10, "人数，非负整数；留空按 0"),
    Column("主要工艺", "main_processes", "text", False, 30),
    Column("主要负责人", "principal_name", "text", False, 12),
    Column("联系电话", "principal_phone", "text", False, 16, "主要负责人的电话"),
    Column("达标创建", "standardization_level", "choice", False, 10, "留空按“未达标”；达标的须填达标日期"),
    Column("达标日期", "standardization_date", "date", False, 12, "证书日期，如 2024-06-18；未达标留空"),
    Column("三同时", "three_simultaneous", "choice", False, 10, "留空按“不涉及”"),
    Column("粉尘涉爆", "dust_explosion", "flag", False, 9),
    Column("粉尘作业人数", "dust_worker_count", "count", False, 12, "非负整数；留空按 0"),
    Column("有限空间", "confined_space", "flag", False, 9),
    Column("涉氨制冷", "ammonia_refrigeration", "flag", False, 9),
    Column("冶金煤气", "metallurgical_gas", "flag", False, 9),
    Column("熔融金属", "molten_metal", "flag", False, 9),
)
LABELS = tuple(c.label for c in COLUMNS)
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}
COLUMN_BY_LABEL = {c.label: c for c in COLUMNS}

# The vocabularies of the choice columns: the label a person reads, as the console shows it.
CHOICES: Mapping[str, Mapping[Any, str]] = {
    "industry": INDUSTRY_LABELS,
    "scale": SCALE_LABELS,
    "standardization_level": STANDARDIZATION_LABELS,
    "three_simultaneous": THREE_SIMULTANEOUS_LABELS,
}
DEFAULTS: Mapping[str, Any] = {
    "employee_count": 0,
    "main_processes": "",
    "principal_name": "",
    "principal_phone": "",
    "standardization_level": StandardizationLevel.NONE,
    "standardization_date": None,
    "three_simultaneous": ThreeSimultaneous.NOT_APPLICABLE,
    "dust_worker_count": 0,
    **{name: False for name in FLAG_FIELDS},
}
FIELDS = tuple(c.field for c in COLUMNS)

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"
ACTIONS = (ERROR, CREATE, UPDATE, UNCHANGED)
ACTION_LABELS = {CREATE: "新增", UPDATE: "更新", UNCHANGED: "无变化", ERROR: "错误"}


# --- refusing a whole file ---------------------------------------------------------------------


class CensusFileRefused(ValidationFailed):
    """The whole file is refused before any row is planned (nothing is written)."""

    def __init__(self, message: str, *, http_status: int = 422):
        super().__init__(message, fields={"file": message})
        self.http_status = http_status


TOO_LARGE = f"文件太大：普查文件不超过 {MAX_BYTES // (1024 * 1024)} MB（约可容纳数万家企业）。请删去多余的工作表、图片后重新上传。"
NOT_XLSX = "文件不是 Excel 工作簿（.xlsx）。请用本页“下载导入模板”或“导出普查表”得到的文件填写后上传。"
OLD_XLS = "这是旧版 Excel 文件（.xls）。请在 Excel 中“另存为” Excel 工作簿（.xlsx）后重新上传。"
TOO_MANY_ROWS = f"普查表最多 {MAX_ROWS} 行企业，请分成几个文件导入。"
UNZIPPED_TOO_LARGE = "文件内容解压后过大，不像是普查表。请用下载的模板填写后上传。"
NO_ROWS = "普查表中没有企业数据行：请在表头下面每行填写一家企业。"
NO_FILE = "请选择要上传的普查文件（.xlsx）。"

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_file_bytes(data: bytes) -> None:
    """Refuse a file by its size and its first bytes (never by its name): an .xlsx is a zip
    archive. Raises CensusFileRefused."""
    if len(data) > MAX_BYTES:
        raise CensusFileRefused(TOO_LARGE, http_status=413)
    if not data:
        raise CensusFileRefused(NO_FILE)
    if data.startswith(OLE_MAGIC):
        raise CensusFileRefused(OLD_XLS)
    if not data.startswith(ZIP_MAGIC):
        raise CensusFileRefused(NOT_XLSX)


def check_header(header: Sequence[str]) -> dict[str, int]:
    """Where each column is (field → index) in a header row. Columns may come in any order;
    a missing, unknown or repeated column refuses the file, naming it. Raises
    CensusFileRefused."""
    positions: dict[str, int] = {}
    unknown: list[str] = []
    repeated: list[str] = []
    for index, label in enumerate(header):
        if not label:
            continue
        column = COLUMN_BY_LABEL.get(label)
        if column is None:
            unknown.append(label)
        elif column.field in positions:
            repeated.append(label)
        else:
            positions[column.field] = index
    missing = [c.label for c in COLUMNS if c.field not in positions]
    problems = []
    if missing:
        problems.append("缺少列：" + "、".join(f"「{m}」" for m in missing))
    if unknown:
        problems.append("无法识别的列：" + "、".join(f"「{u}」" for u in unknown))
    if repeated:
        problems.append("重复的列：" + "、".join(f"「{r}」" for r in repeated))
    if problems:
        raise CensusFileRefused(
            "第 1 行表头不正确：" + "；".join(problems) + "。表头应为：" + "、".join(LABELS) + "（请使用下载的模板）。"
        )
    return positions


# --- cells -------------------------------------------------------------------------------------


def cell_text(value: object) -> str:
    """A cell as the text a person typed: numbers without '.0', a date as YYYY-MM-DD,
    surrounding blanks and the apostrophe that guards a formula-like text dropped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        text = text[1:]
    return text


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")


def _parse_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"「{text}」不是日期，应写作 2024-06-18")


_INTEGER = re.compile(r"^[+-]?\d+$")


def _parse_count(value: object) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError("应为非负整数")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"「{value:g}」应为整数")
        value = int(value)
    if not isinstance(value, int):
        text = cell_text(value).replace(",", "")
        if not _INTEGER.match(text):
            raise ValueError(f"「{cell_text(value)}」应为整数")
        value = int(text)
    if value < 0:
        raise ValueError(f"不能为负数（填的是 {value}）")
    if value > MAX_COUNT:
        raise ValueError(f"不能大于 {MAX_COUNT}")
    return value


def _parse_choice(name: str, text: str) -> Any:
    labels = CHOICES[name]
    for member, label in labels.items():
        if text in (label, member.value):
            return member
    raise ValueError(f"「{text}」不是可选值，应为：" + "、".join(labels.values()))


def _parse_flag(text: str) -> bool:
    if text in (YES, NO, ""):
        return text == YES
    raise ValueError(f"「{text}」应为“{YES}”或“{NO}”")


def display(name: str, value: Any, town_names: Mapping[int, str]) -> Any:
    """A field's value as the sheet shows it (and the report's list of changes)."""
    if value is None:
        return ""
    if name == "town_id":
        return town_names.get(value, str(value))
    if name in CHOICES:
        return CHOICES[name][value]
    if name in FLAG_FIELDS:
        return YES if value else NO
    return value


def row_cells(values: Mapping[str, Any], town_names: Mapping[int, str]) -> list[Any]:
    """One enterprise as a sheet row, in column order (dates stay dates, counts numbers)."""
    return [display(c.field, values[c.field], town_names) for c in COLUMNS]


# --- rows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CensusRow:
    """One data row of the sheet as read (`row` = its Excel row number): field → cell."""

    row: int
    cells: Mapping[str, object]

    def text(self, name: str) -> str:
        return cell_text(self.cells.get(name))


@dataclass(frozen=True)
class Town:
    id: int
    name: str
    in_scope: bool  # may this actor file enterprises in it


@dataclass(frozen=True)
class Existing:
    """An enterprise on file with this credit code, its census fields, and whether the actor
    may change it."""

    id: int
    in_scope: bool
    values: Mapping[str, Any]


@dataclass
class RowPlan:
    row: int
    uscc: str
    name: str
    town: str
    action: str
    errors: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    values: dict[str, Any] | None = None
    enterprise_id: int | None = None


def _field_error(column: Column, problem: str) -> str:
    return f"{column.label}：{problem}"


def check_row(raw: CensusRow, towns_by_name: Mapping[str, Town]) -> tuple[dict[str, Any] | None, list[str]]:
    """The enterprise fields a row describes, or the Chinese reasons it cannot be imported
    (every problem of the row, column by column)."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    for column in COLUMNS:
        name = column.field
        cell = raw.cells.get(name)
        text = cell_text(cell)
        if not text:
            if column.required:
                errors.append(_field_error(column, "必填，不能为空"))
            else:
                values[name] = DEFAULTS[name]
            continue
        try:
            if column.kind == "text":
                limit = TEXT_LIMITS[name]
                if len(text) > limit:
                    raise ValueError(f"不能超过 {limit} 个字（现有 {len(text)} 个）")
                values[name] = text
            elif column.kind == "uscc":
                values[name] = _uscc(text)
            elif column.kind == "town":
                town = towns_by_name.get(text)
                if town is None:
                    known = "、".join(towns_by_name) or "（尚未登记任何镇街）"
                    raise ValueError(f"「{text}」不是本区的镇（街道），应为：{known}")
                if not town.in_scope:
                    raise ValueError(f"「{text}」不在您负责的镇（街道）范围内，不能登记或修改该镇街的企业")
                values[name] = town.id
            elif column.kind == "choice":
                values[name] = _parse_choice(name, text)
            elif column.kind == "count":
                values[name] = _parse_count(cell)
            elif column.kind == "date":
                values[name] = _parse_date(cell)
            elif column.kind == "flag":
                values[name] = _parse_flag(text)
        except ValueError as exc:
            errors.append(_field_error(column, str(exc)))
    level = values.get("standardization_level")
    if level is not None and "standardization_date" in values:
        certified = values["standardization_date"]
        if level != StandardizationLevel.NONE and certified is None:
            errors.append(f"达标日期：达标创建为“{STANDARDIZATION_LABELS[level]}”时必须填写达标日期")
        if level == StandardizationLevel.NONE and certified is not None:
            errors.append("达标日期：达标创建为“未达标”时达标日期应留空")
    if errors:
        return None, errors
    return values, []


def _uscc(text: str) -> str:
    try:
        return validate_uscc(text)
    except ValueError as exc:
        raise ValueError(f"「{text}」{exc}") from None


def normal_uscc(text: str) -> str | None:
    """The credit code written in `text`, normalised, or None when it is not a valid one."""
    try:
        return validate_uscc(text)
    except ValueError:
        return None


def plan_census(
    rows: Iterable[CensusRow], towns: Sequence[Town], existing: Mapping[str, Existing]
) -> list[RowPlan]:
    """Each row's action: `create` (a credit code not on file), `update` (the enterprise with
    this code, with other data; its changes listed), `unchanged`, or `error` with its
    reasons. A credit code twice in the file is an error on every row that has it; an
    enterprise on file outside the actor's towns may not be changed."""
    rows = list(rows)
    towns_by_name = {t.name: t for t in towns}
    town_names = {t.id: t.name for t in towns}
    seen: dict[str, list[int]] = {}
    for raw in rows:
        code = normal_uscc(raw.text("uscc"))
        if code:
            seen.setdefault(code, []).append(raw.row)
    plans: list[RowPlan] = []
    for raw in rows:
        values, errors = check_row(raw, towns_by_name)
        code = values["uscc"] if values else (normal_uscc(raw.text("uscc")) or raw.text("uscc"))
        if len(seen.get(code, ())) > 1:
            others = "、".join(str(r) for r in seen[code] if r != raw.row)
            errors.append(f"统一社会信用代码：与第 {others} 行重复，同一企业只能填一行")
        holder = existing.get(code)
        if holder is not None and not holder.in_scope:
            errors.append("统一社会信用代码：该企业已登记在您负责范围以外的镇（街道），不能通过导入修改；请联系区安监局管理员")
        plan = RowPlan(raw.row, code, raw.text("name"), raw.text("town_id"), ERROR, errors)
        if not errors and values is not None:
            plan.values = values
            if holder is None:
                plan.action = CREATE
            else:
                plan.enterprise_id = holder.id
                plan.changes = describe_changes(holder.values, values, town_names)
                plan.action = UPDATE if plan.changes else UNCHANGED
        plans.append(plan)
    return plans


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `new` that differ from `old` (what an update writes)."""
    return {name: new[name] for name in FIELDS if old.get(name) != new[name]}


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any], town_names: Mapping[int, str]) -> list[str]:
    """What an update changes, one line per column: 「从业人员：50 → 60」."""
    lines = []
    for name in changed_fields(old, new):
        before = display(name, old.get(name), town_names)
        after = display(name, new[name], town_names)
        lines.append(f"{COLUMN_BY_FIELD[name].label}：{_shown(before)} → {_shown(after)}")
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text == "":
        return "（空）"
    return text if len(text) <= 40 else text[:40] + "…"


def summary(plans: Sequence[RowPlan]) -> dict[str, int]:
    counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0, ERROR: 0}
    for plan in plans:
        counts[plan.action] += 1
    return counts


def errors_first(plans: Sequence[RowPlan]) -> list[RowPlan]:
    """The report's order: error rows, then new, updated and unchanged ones, each by row."""
    return sorted(plans, key=lambda p: (ACTIONS.index(p.action), p.row))
