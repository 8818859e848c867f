"""The roster's pure rules: each row's action, and the reasons a row is refused (in Chinese)."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook

from app.accounts import roster
from app.accounts.domain import Role
from app.accounts.roster import Existing, MemberData, RosterRow, Units, check_row, plan_roster, read_roster
from app.errors import ValidationFailed

UNITS = Units(
    departments={"熔炼车间": 1, "成品库": 2},
    teams={("熔炼车间", "一班"): (1, 11), ("成品库", "一班"): (2, 21), ("成品库", "仓储班"): (2, 22)},
    posts={"电工": 5},
)


def row(n: int = 2, **kw) -> RosterRow:
    fields = {"name": "张三", "phone": "13800000001", "role": "岗位员工"}
    return RosterRow(n, **{**fields, **kw})


def test_a_row_becomes_a_member_with_its_units():
    data, errors = check_row(row(role="班组长", department="成品库", team="仓储班", post="电工"), UNITS)
    assert errors == []
    assert data == MemberData("张三", "13800000001", Role.TEAM_LEADER, 2, 22, 5)
    # A team unique in the enterprise names its department by itself.
    data, _ = check_row(row(role="班组长", team="仓储班"), UNITS)
    assert (data.department_id, data.team_id) == (2, 22)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "姓名不能为空"),
        ({"phone": ""}, "手机号不能为空"),
        ({"phone": "12345"}, "应为 11 位手机号"),
        ({"role": "老板"}, "角色「老板」不正确"),
        ({"department": "不存在车间"}, "部门「不存在车间」不存在"),
        ({"team": "夜班"}, "班组「夜班」不存在"),
        ({"team": "一班"}, "在多个部门中同名"),
        ({"department": "熔炼车间", "team": "仓储班"}, "不在部门「熔炼车间」下"),
        ({"post": "司机"}, "岗位「司机」不存在"),
        ({"role": "班组长"}, "班组长须指定所在班组"),
        ({"role": "部门负责人"}, "部门负责人须指定所在部门"),
    ],
)
def test_bad_rows_say_why(fields, message):
    data, errors = check_row(row(**fields), UNITS)
    assert data is None and any(message in e for e in errors), errors


def test_create_update_unchanged_and_a_phone_twice_in_the_file():
    same = MemberData("老李", "13800000002", Role.WORKER, None, None, None)
    existing = {
        "13800000002": Existing(7, same),
        "13800000003": Existing(8, MemberData("老王", "13800000003", Role.WORKER, None, None, None)),
    }
    plans = plan_roster(
        [
            row(2, phone="13800000001"),
            row(3, name="老李", phone="138 0000 0002"),
            row(4, name="老王", phone="13800000003", role="安全管理员"),
            row(5, name="甲", phone="13900000009"),
            row(6, name="乙", phone="+8613900000009"),
        ],
        UNITS,
        existing,
    )
    assert [(p.row, p.action) for p in plans] == [
        (2, "create"), (3, "unchanged"), (4, "update"), (5, "error"), (6, "error"),
    ]
    assert plans[2].membership_id == 8
    assert plans[3].errors == ["手机号与第 6 行重复"] and plans[4].errors == ["手机号与第 5 行重复"]
    assert roster.summary(plans) == {"create": 1, "update": 1, "unchanged": 1, "error": 2}


def test_a_phone_held_by_several_roles_is_not_guessed():
    data = MemberData("老李", "13800000002", Role.WORKER, None, None, None)
    plans = plan_roster([row(phone="13800000002")], UNITS, {"13800000002": Existing(7, data, ambiguous=True)})
    assert plans[0].action == "error" and "多个身份" in plans[0].errors[0]


def sheet(rows, header=roster.COLUMNS) -> bytes:
    book = Workbook()
    book.active.append(list(header))
    for values in rows:
        book.active.append(list(values))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_reading_a_sheet():
    rows = read_roster(sheet([("张三", 13800000001, "岗位员工"), (), (" 李四 ", "'-13800000002", "经理", "", "", "")]))
    assert rows == [
        RosterRow(2, "张三", "13800000001", "岗位员工", "", "", ""),
        RosterRow(4, "李四", "-13800000002", "经理", "", "", ""),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a spreadsheet", "不是 Excel"),
        (b"PK\x03\x04 broken zip", "不是 Excel"),
        (sheet([("张三",)], header=("名字", "电话")), "第 1 行应为表头"),
        (sheet([]), "没有数据行"),
        (sheet([("某人", f"138{i:08d}", "岗位员工") for i in range(roster.MAX_ROWS + 1)]), "最多 2000 行"),
        (b"PK" + b"\0" * roster.MAX_BYTES, "不超过 5 MB"),
    ],
)
def test_unreadable_files_are_refused(data, message):
    with pytest.raises(ValidationFailed) as refused:
        read_roster(data)
    assert message in refused.value.message


def test_the_template_lists_the_choices_and_neutralises_formulas():
    data = roster.template_workbook([("=车间", ["+班"]), ("成品库", [])], ["@岗"])
    book = load_workbook(io.BytesIO(data))
    assert [c.value for c in book["花名册"][1]] == list(roster.COLUMNS)
    choices = book["可选值"]
    values = {c.value for line in choices.iter_rows() for c in line if c.value}
    assert {"'=车间", "'+班", "'@岗", "岗位员工", "企业管理员"} <= values
    assert not any(str(v).startswith(("=", "+", "-", "@")) for v in values)
    assert roster.excel_safe("-1") == "'-1" and roster.excel_safe("正常") == "正常"
