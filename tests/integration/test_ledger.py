"""The monthly hazard ledger (隐患排查治理台账) as .xlsx, read back with openpyxl: title,
headers, frozen header row, widths, Asia/Shanghai month boundaries and times, the values of
general and major hazards, and who may export it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from app.errors import NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks import service as checks_service
from app.hazard_reporting.checks.queries import task_items
from app.hazard_reporting.hazards import ledger, major_hazards, service
from app.hazard_reporting.hazards.domain import PhotoKind
from tests.fixtures.builders import NOW
from tests.fixtures.checks import MONDAY, CheckOrg, submission_data
from tests.fixtures.hazard_pages import jpeg

HEADERS = [
    "序号",
    "排查时间",
    "排查人",
    "隐患部位",
    "隐患描述",
    "隐患等级",
    "隐患类别",
    "整改措施",
    "责任人",
    "整改期限",
    "整改资金",
    "完成时间",
    "验收人",
    "状态",
]


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def shop(build, db_session, tmp_dir):
    """An enterprise's November: a general hazard closed the same day, a major one under an
    approved plan, an overdue one found just after local midnight of 1 November; plus one of
    December (local) and one of another enterprise, which the ledger leaves out."""
    town = build.town()
    enterprise = build.enterprise(town, name="郑州恒达铸造有限公司")
    other = build.enterprise(town)
    site = build.site(enterprise, name="熔炼车间")
    worker = build.member(enterprise, "worker", user=build.user(display_name="李工"))
    fixer = build.member(enterprise, "worker", user=build.user(display_name="赵师傅"))
    officer = build.member(enterprise, "safety_officer", user=build.user(display_name="王安全"))
    manager = build.member(enterprise, "manager", user=build.user(display_name="陈经理"))
    outsider = build.member(other, "manager")
    a = {u: build.actor(u) for u in (worker, fixer, officer, manager, outsider)}

    def report(user, now, description, enterprise_id=enterprise.id, **data):
        hazard = service.report_hazard(
            db_session,
            a[user],
            now,
            {
                "enterprise_id": enterprise_id,
                "description": description,
                "category": "unsafe_condition",
                "location": "炉前平台",
                **data,
            },
        )
        service.add_photo(db_session, a[user], now, hazard.id, PhotoKind.BEFORE, jpeg(), tmp_dir)
        return hazard

    closed = report(worker, utc(2026, 11, 3, 2, 0), "炉前平台有积水", site_id=site.id)
    service.assign(db_session, a[officer], utc(2026, 11, 3, 3, 0), closed.id, {"assignee_id": fixer.id})
    service.start_rectification(db_session, a[fixer], utc(2026, 11, 3, 4, 0), closed.id)
    service.add_photo(
        db_session, a[fixer], utc(2026, 11, 3, 5, 0), closed.id, PhotoKind.AFTER, jpeg(), tmp_dir
    )
    service.submit_rectification(
        db_session, a[fixer], utc(2026, 11, 3, 6, 0), closed.id, {"note": "已排水并加装挡水坎"}
    )
    service.verify(db_session, a[officer], utc(2026, 11, 3, 7, 0), closed.id, {"passed": True})

    major = report(worker, utc(2026, 11, 10, 2, 0), "干式除尘器未设泄爆装置", level="major")
    major_hazards.assess(
        db_session,
        a[officer],
        utc(2026, 11, 10, 3, 0),
        major.id,
        {"criteria_code": "M23-FC-3", "assessor": "专家组", "opinion": "属实"},
    )
    major_hazards.register(db_session, a[officer], utc(2026, 11, 10, 4, 0), major.id)
    major_hazards.save_plan(
        db_session,
        a[officer],
        utc(2026, 11, 10, 5, 0),
        major.id,
        {
            "measures": "加装泄爆片和隔爆阀",
            "owner_org": "设备部",
            "owner_person": "设备部张主任",
            "fund_amount": "150000.50",
            "fund_source": "安全生产费用",
            "deadline": "2027-03-31",
            "contingency": "治理期间停用除尘系统",
        },
    )
    major_hazards.approve_plan(db_session, a[manager], utc(2026, 11, 10, 6, 0), major.id)

    overdue = report(worker, utc(2026, 10, 31, 17, 0), "安全护栏缺失")  # 1 November 01:00 local
    report(worker, utc(2026, 11, 30, 16, 30), "十二月的隐患")  # 1 December 00:30 local
    report(outsider, utc(2026, 11, 5, 2, 0), "别家企业的隐患", enterprise_id=other.id)
    db_session.flush()
    return {
        "enterprise": enterprise,
        "actors": a,
        "officer": officer,
        "worker": worker,
        "outsider": outsider,
        "closed": closed,
        "major": major,
        "overdue": overdue,
    }


def open_ledger(db_session, actor, enterprise_id, year=2026, month=11):
    workbook_file = ledger.hazard_ledger(db_session, actor, NOW, enterprise_id, year, month)
    return workbook_file, load_workbook(io.BytesIO(workbook_file.content.getvalue())).active


def test_layout_title_headers_frozen_row_and_widths(db_session, shop):
    workbook_file, sheet = open_ledger(db_session, shop["actors"][shop["officer"]], shop["enterprise"].id)
    assert workbook_file.filename == "郑州恒达铸造有限公司_2026年11月_隐患排查治理台账.xlsx"
    assert sheet.title == "隐患台账"
    assert sheet["A1"].value == "郑州恒达铸造有限公司 2026年11月 隐患排查治理台账"
    assert "A1:N1" in {str(r) for r in sheet.merged_cells.ranges}
    assert [c.value for c in sheet[2]] == HEADERS
    assert sheet.freeze_panes == "A3"
    assert sheet.column_dimensions["E"].width == 36 and sheet.column_dimensions["A"].width == 6
    assert sheet.auto_filter.ref == "A2:N5"
    assert sheet.max_row == 5  # three November hazards of this enterprise


def test_rows_are_the_local_month_oldest_first_with_local_times(db_session, shop):
    _, sheet = open_ledger(db_session, shop["actors"][shop["officer"]], shop["enterprise"].id)
    descriptions = [sheet.cell(row=r, column=5).value for r in range(3, 6)]
    assert descriptions == ["安全护栏缺失", "炉前平台有积水", "干式除尘器未设泄爆装置"]
    assert [sheet.cell(row=r, column=1).value for r in range(3, 6)] == [1, 2, 3]
    first = sheet["B3"]
    assert first.value == datetime(2026, 11, 1, 1, 0) and first.number_format == "yyyy-mm-dd hh:mm"
    assert sheet["N3"].value == "已上报（已逾期）"  # 不过夜 deadline of 1 November passed


def test_a_general_hazard_row(db_session, shop):
    _, sheet = open_ledger(db_session, shop["actors"][shop["officer"]], shop["enterprise"].id)
    row = [c.value for c in sheet[4]]
    assert row == [
        2,
        datetime(2026, 11, 3, 10, 0),
        "李工",
        "熔炼车间 炉前平台",
        "炉前平台有积水",
        "一般隐患",
        "物的状态",
        "已排水并加装挡水坎",
        "赵师傅",
        datetime(2026, 11, 3, 23, 59, 59),
        None,
        datetime(2026, 11, 3, 14, 0),
        "王安全",
        "已销号",
    ]


def test_a_major_hazard_row_takes_measures_person_and_funds_from_the_plan(db_session, shop):
    _, sheet = open_ledger(db_session, shop["actors"][shop["officer"]], shop["enterprise"].id)
    row = {header: cell for header, cell in zip(HEADERS, sheet[5], strict=True)}
    assert row["隐患等级"].value == "重大隐患"
    assert row["整改措施"].value == "加装泄爆片和隔爆阀"
    assert row["责任人"].value == "设备部张主任"
    assert row["整改资金"].value == pytest.approx(150000.50) and row["整改资金"].number_format == "#,##0.00"
    assert row["整改期限"].value == datetime(2027, 3, 31, 23, 59, 59)
    assert row["完成时间"].value is None and row["验收人"].value is None
    assert row["状态"].value == "已立项审核"


def test_an_empty_month_says_so(db_session, shop):
    _, sheet = open_ledger(db_session, shop["actors"][shop["officer"]], shop["enterprise"].id, 2026, 9)
    assert sheet["A1"].value == "郑州恒达铸造有限公司 2026年9月 隐患排查治理台账"
    assert [c.value for c in sheet[2]] == HEADERS
    assert sheet["A3"].value == "本月未登记隐患"


def test_only_those_with_export_ledger_may_export(db_session, shop):
    with pytest.raises(PermissionDenied):
        ledger.hazard_ledger(db_session, shop["actors"][shop["worker"]], NOW, shop["enterprise"].id, 2026, 11)
    with pytest.raises(NotFound):
        ledger.hazard_ledger(
            db_session, shop["actors"][shop["outsider"]], NOW, shop["enterprise"].id, 2026, 11
        )


@pytest.mark.parametrize("text", ["2026-13", "2026-0", "26-11", "2026/11", "", "十一月"])
def test_a_bad_month_is_refused(text):
    with pytest.raises(ValidationFailed) as caught:
        ledger.parse_month(text)
    assert caught.value.fields == {"month": "月份格式应为 YYYY-MM，如 2026-11"}


def test_month_bounds_are_local():
    assert ledger.parse_month("2026-11") == (2026, 11)
    assert ledger.month_bounds(2026, 12) == (utc(2026, 11, 30, 16, 0), utc(2026, 12, 31, 16, 0))


def test_download_names_lose_characters_windows_refuses():
    assert ledger.safe_filename('甲/乙:丙*"台账".xlsx') == "甲_乙_丙_台账_.xlsx"


# --- the check records sheet ------------------------------------------------------------------


@pytest.fixture
def checked(db_session, build, tmp_dir):
    """The check org of tests/fixtures/checks.py on Monday 23 November: the first team's
    daily check done on time with one 隐患 item, the rest of the week's checks still owed."""
    checklist_service.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate()
    task = org.daily()
    first_code = task_items(db_session, task)[0].item.code
    data = submission_data(
        db_session,
        task,
        org.s1,
        MONDAY - timedelta(minutes=5),
        hazards={first_code: ("配电柜前堆放杂物", [jpeg()])},
    )
    checks_service.submit_check(db_session, org.actor(org.leader), MONDAY, task.id, data, media_root=tmp_dir)
    db_session.flush()
    return org, len(task_items(db_session, task))


def check_sheet(db_session, org, now):
    workbook_file = ledger.hazard_ledger(db_session, org.actor(org.officer), now, org.enterprise.id, 2026, 11)
    return load_workbook(io.BytesIO(workbook_file.content.getvalue()))["排查记录"]


def test_the_check_records_sheet(db_session, checked):
    org, item_count = checked
    tuesday = MONDAY + timedelta(days=1)
    sheet = check_sheet(db_session, org, tuesday)
    assert sheet["A1"].value == "郑州恒达铸造有限公司 2026年11月 隐患排查记录台账"
    assert [c.value for c in sheet[2]] == [
        "序号",
        "排查时间",
        "排查人",
        "排查类型",
        "点位",
        "检查项数",
        "发现隐患数",
        "应完成时间",
        "状态",
    ]
    assert sheet.freeze_panes == "A3"
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    by_checker = {row[2]: row for row in rows}
    done = by_checker["王班长"]
    assert done[1] == datetime(2026, 11, 23, 10, 0) and done[3] == "班组日排查"
    assert done[4] == "熔炼车间配电室" and done[5] == item_count and done[6] == 1
    assert done[8] == "按时"
    owed = [row for row in rows if not row[2]]
    kinds = sorted(row[3] for row in owed)
    assert kinds == ["班组日排查", "经理月排查", "部门周排查", "部门周排查"]
    # Monday's other daily check is past its grace on Tuesday; the week's and month's are not due.
    statuses = {row[3]: row[8] for row in owed}
    assert statuses["班组日排查"] == "未完成" and statuses["经理月排查"] == "待完成"
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
    assert [row[7] for row in rows] == sorted(row[7] for row in rows)  # by due time


def test_checks_of_periods_not_begun_are_left_out(db_session, checked):
    org, _ = checked
    sunday_before = MONDAY - timedelta(days=1)
    sheet = check_sheet(db_session, org, sunday_before)
    # Only the monthly check's period (November) has begun on Sunday 22 November.
    assert [row[3] for row in sheet.iter_rows(min_row=3, values_only=True)] == ["经理月排查"]
