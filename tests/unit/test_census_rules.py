"""The census sheet's rules (app/oversight/census/domain.py and workbook.py): the header,
each cell's reading and refusal, each row's verdict, and whole-file refusals."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from app.enterprises.domain import Industry, Scale, StandardizationLevel, ThreeSimultaneous
from app.oversight.census import domain
from app.oversight.census.domain import (
    CREATE,
    ERROR,
    UNCHANGED,
    UPDATE,
    CensusFileRefused,
    CensusRow,
    Existing,
    Town,
    check_header,
    check_row,
    plan_census,
)
from app.oversight.census.workbook import census_workbook, read_census
from tests.fixtures.builders import valid_uscc
from tests.fixtures.census import census_row, census_xlsx

TOWNS = [Town(1, "花园口镇", True), Town(2, "古荥镇", True), Town(3, "迎宾路街道", False)]
BY_NAME = {t.name: t for t in TOWNS}
FIELD_OF = {c.label: c.field for c in domain.COLUMNS}


def raw(number: int = 2, **by_label) -> CensusRow:
    row = census_row("郑州普查机械有限公司", "花园口镇", 9_100_000 + number)
    row.update(by_label)
    return CensusRow(number, {FIELD_OF[label]: value for label, value in row.items()})


def errors_of(row: CensusRow) -> list[str]:
    values, errors = check_row(row, BY_NAME)
    assert (values is None) == bool(errors)
    return errors


# --- the header -------------------------------------------------------------------------------


def test_the_header_is_read_by_name_in_any_order():
    shuffled = list(reversed(domain.LABELS))
    positions = check_header(shuffled)
    assert positions["name"] == len(domain.LABELS) - 1 and positions["molten_metal"] == 0


def test_missing_unknown_and_repeated_columns_are_named():
    header = [label for label in domain.LABELS if label not in ("地址", "行业")] + ["备注", "规模"]
    with pytest.raises(CensusFileRefused) as refused:
        check_header(header)
    message = refused.value.message
    assert "缺少列：「地址」、「行业」" in message
    assert "无法识别的列：「备注」" in message
    assert "重复的列：「规模」" in message
    assert refused.value.http_status == 422


# --- cells and rows ---------------------------------------------------------------------------


def test_a_complete_row_becomes_the_enterprise_fields():
    values, errors = check_row(raw(), BY_NAME)
    assert errors == []
    assert values["town_id"] == 1
    assert values["industry"] is Industry.MACHINERY and values["scale"] is Scale.ABOVE
    assert values["standardization_level"] is StandardizationLevel.LEVEL3
    assert values["standardization_date"] == date(2024, 6, 18)
    assert values["three_simultaneous"] is ThreeSimultaneous.COMPLETE
    assert values["dust_explosion"] is True and values["confined_space"] is False
    assert values["employee_count"] == 80 and values["dust_worker_count"] == 12


def test_empty_optional_cells_take_the_defaults():
    blanks = {label: None for label in ("从业人员", "主要工艺", "主要负责人", "联系电话", "达标创建", "达标日期",
                                         "三同时", "粉尘涉爆", "粉尘作业人数", "有限空间")}
    values, errors = check_row(raw(**blanks), BY_NAME)
    assert errors == []
    assert values["employee_count"] == 0 and values["principal_phone"] == ""
    assert values["standardization_level"] is StandardizationLevel.NONE
    assert values["standardization_date"] is None
    assert values["three_simultaneous"] is ThreeSimultaneous.NOT_APPLICABLE
    assert values["dust_explosion"] is False


def test_missing_required_fields_are_named():
    errors = errors_of(raw(企业名称="", 地址=None, 行业=" ", 规模=None))
    assert errors == ["企业名称：必填，不能为空", "地址：必填，不能为空", "行业：必填，不能为空", "规模：必填，不能为空"]


def test_a_bad_credit_code_says_what_is_wrong():
    good = valid_uscc(9_100_001)
    bad_digit = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert errors_of(raw(统一社会信用代码=bad_digit)) == [
        f"统一社会信用代码：「{bad_digit}」校验位错误，请核对营业执照上的代码"
    ]
    assert errors_of(raw(统一社会信用代码="91410108")) == ["统一社会信用代码：「91410108」应为18位"]


def test_a_credit_code_in_lower_case_or_with_spaces_is_normalised():
    code = valid_uscc(9_100_002)
    values, errors = check_row(raw(统一社会信用代码=" " + code.lower() + " "), BY_NAME)
    assert errors == [] and values["uscc"] == code


def test_unknown_towns_and_towns_outside_the_scope_are_refused():
    unknown = errors_of(raw(所属镇街="大河村"))
    assert unknown == ["所属镇街：「大河村」不是本区的镇（街道），应为：花园口镇、古荥镇、迎宾路街道"]
    outside = errors_of(raw(所属镇街="迎宾路街道"))
    assert outside == ["所属镇街：「迎宾路街道」不在您负责的镇（街道）范围内，不能登记或修改该镇街的企业"]


def test_bad_labels_list_the_allowed_values():
    errors = errors_of(raw(行业="化工", 规模="大型", 达标创建="四级", 三同时="有", 粉尘涉爆="Y"))
    assert errors == [
        "行业：「化工」不是可选值，应为：冶金、有色、建材、机械、轻工、纺织、烟草、商贸",
        "规模：「大型」不是可选值，应为：规上、规下",
        "达标创建：「四级」不是可选值，应为：未达标、一级、二级、三级",
        "三同时：「有」不是可选值，应为：手续齐全、正在办理、未办理、不涉及",
        "粉尘涉爆：「Y」应为“是”或“否”",
    ]


def test_counts_must_be_whole_and_not_negative():
    assert errors_of(raw(从业人员=-3)) == ["从业人员：不能为负数（填的是 -3）"]
    assert errors_of(raw(粉尘作业人数="-1")) == ["粉尘作业人数：不能为负数（填的是 -1）"]
    assert errors_of(raw(从业人员=12.5)) == ["从业人员：「12.5」应为整数"]
    assert errors_of(raw(从业人员="约50人")) == ["从业人员：「约50人」应为整数"]
    values, _ = check_row(raw(从业人员=50.0, 粉尘作业人数="1,200"), BY_NAME)
    assert values["employee_count"] == 50 and values["dust_worker_count"] == 1200


def test_dates_are_read_from_date_cells_and_common_writings():
    for cell in (datetime(2023, 11, 2), date(2023, 11, 2), "2023-11-02", "2023/11/2", "2023年11月2日"):
        values, errors = check_row(raw(达标日期=cell), BY_NAME)
        assert errors == [] and values["standardization_date"] == date(2023, 11, 2), cell
    assert errors_of(raw(达标日期="去年")) == ["达标日期：「去年」不是日期，应写作 2024-06-18"]


def test_a_level_needs_its_date_and_no_level_has_none():
    assert errors_of(raw(达标日期=None)) == ["达标日期：达标创建为“三级”时必须填写达标日期"]
    assert errors_of(raw(达标创建="未达标")) == ["达标日期：达标创建为“未达标”时达标日期应留空"]


def test_texts_longer_than_the_file_allows_are_refused():
    assert errors_of(raw(企业名称="名" * 129)) == ["企业名称：不能超过 128 个字（现有 129 个）"]


def test_a_formula_guard_is_dropped_and_numbers_read_as_typed():
    assert domain.cell_text("'=SUM(A1)") == "=SUM(A1)"
    assert domain.cell_text(13800000000.0) == "13800000000"
    assert domain.cell_text("  花园口镇 ") == "花园口镇"


# --- verdicts ---------------------------------------------------------------------------------


def _existing(row: CensusRow, enterprise_id: int = 7, in_scope: bool = True, **changes) -> Existing:
    values, _ = check_row(row, BY_NAME)
    return Existing(enterprise_id, in_scope, {**values, **changes})


def test_each_row_is_created_updated_or_unchanged_by_credit_code():
    new, same, changed = raw(2), raw(3), raw(4)
    existing = {
        same.text("uscc"): _existing(same, 11),
        changed.text("uscc"): _existing(changed, 12, employee_count=40, town_id=2),
    }
    plans = plan_census([new, same, changed], TOWNS, existing)
    assert [p.action for p in plans] == [CREATE, UNCHANGED, UPDATE]
    assert plans[1].enterprise_id == 11 and plans[2].enterprise_id == 12
    assert plans[2].changes == ["所属镇街：古荥镇 → 花园口镇", "从业人员：40 → 80"]
    assert plans[0].changes == [] and plans[1].changes == []


def test_a_credit_code_twice_in_the_file_is_an_error_on_every_such_row():
    first, second, third = raw(2), raw(5), raw(9)
    code = first.text("uscc")
    second = CensusRow(5, {**second.cells, "uscc": code.lower()})
    third = CensusRow(9, {**third.cells, "uscc": code})
    plans = plan_census([first, second, third], TOWNS, {})
    assert [p.action for p in plans] == [ERROR, ERROR, ERROR]
    assert plans[0].errors == ["统一社会信用代码：与第 5、9 行重复，同一企业只能填一行"]
    assert plans[1].errors == ["统一社会信用代码：与第 2、9 行重复，同一企业只能填一行"]


def test_an_enterprise_on_file_outside_the_scope_cannot_be_changed():
    row = raw(2)
    plans = plan_census([row], TOWNS, {row.text("uscc"): _existing(row, in_scope=False)})
    assert plans[0].action == ERROR
    assert "已登记在您负责范围以外" in plans[0].errors[0]


def test_the_report_lists_errors_first():
    good, bad = raw(2), raw(3, 行业="化工")
    plans = plan_census([good, bad], TOWNS, {})
    assert [p.row for p in domain.errors_first(plans)] == [3, 2]
    assert domain.summary(plans) == {CREATE: 1, UPDATE: 0, UNCHANGED: 0, ERROR: 1}


# --- whole files ------------------------------------------------------------------------------


def test_the_export_reads_back_as_the_same_rows():
    row = raw(2, 企业名称="=HYPERLINK(\"http://x\")金穗", 主要工艺="-3 层 切割\n+焊接")
    values, _ = check_row(row, BY_NAME)
    content = census_workbook([values], {1: "花园口镇", 2: "古荥镇"}, ["花园口镇", "古荥镇"], "普查")
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == [domain.SHEET_TITLE, domain.NOTES_TITLE]
    sheet = book[domain.SHEET_TITLE]
    assert [c.value for c in sheet[1]] == list(domain.LABELS)
    assert sheet["A2"].value.startswith("'=")  # neutralised: Excel shows text, runs nothing
    assert sheet["H2"].value.startswith("'-")
    notes = [c.value for c in book[domain.NOTES_TITLE]["D"] if c.value]
    assert "冶金、有色、建材、机械、轻工、纺织、烟草、商贸" in notes
    assert "未达标、一级、二级、三级" in notes and "规上、规下" in notes
    (again,) = read_census(content)
    assert again.row == 2
    values_again, errors = check_row(again, BY_NAME)
    assert errors == [] and values_again == values


def test_rows_keep_their_excel_numbers_across_blank_rows():
    book = Workbook()
    sheet = book.active
    sheet.title = domain.SHEET_TITLE
    sheet.append(list(domain.LABELS))
    sheet.append([None] * len(domain.LABELS))
    first = census_row("甲", "花园口镇", 9_100_010)
    sheet.append([first[label] for label in domain.LABELS])
    sheet.cell(row=7, column=1, value="乙")
    buffer = io.BytesIO()
    book.save(buffer)
    rows = read_census(buffer.getvalue())
    assert [r.row for r in rows] == [3, 7]


def test_an_empty_file_a_renamed_text_file_and_an_old_xls_are_refused_by_their_bytes():
    with pytest.raises(CensusFileRefused, match="没有企业数据行"):
        read_census(census_xlsx([]))
    with pytest.raises(CensusFileRefused, match=r"不是 Excel 工作簿（\.xlsx）"):
        read_census("企业名称,统一社会信用代码\n".encode())
    with pytest.raises(CensusFileRefused, match=r"旧版 Excel 文件（\.xls）"):
        read_census(domain.OLE_MAGIC + b"\0" * 600)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(CensusFileRefused, match=r"不是 Excel 工作簿"):
        read_census(archive.getvalue())


def test_a_file_over_the_limit_is_refused_with_413():
    with pytest.raises(CensusFileRefused) as refused:
        read_census(domain.ZIP_MAGIC + b"\0" * domain.MAX_BYTES)
    assert refused.value.http_status == 413
    assert "不超过 10 MB" in refused.value.message


def test_more_than_5000_rows_are_refused():
    rows = [{"企业名称": f"企业{i}", "所属镇街": "花园口镇"} for i in range(domain.MAX_ROWS + 1)]
    with pytest.raises(CensusFileRefused, match="最多 5000 行"):
        read_census(census_xlsx(rows))
    assert len(read_census(census_xlsx(rows[: domain.MAX_ROWS]))) == domain.MAX_ROWS


def test_wrong_columns_in_a_file_are_named():
    header = [label for label in domain.LABELS if label != "所属镇街"] + ["镇街"]
    with pytest.raises(CensusFileRefused) as refused:
        read_census(census_xlsx([{"企业名称": "甲"}], header=header))
    assert "缺少列：「所属镇街」" in refused.value.message and "无法识别的列：「镇街」" in refused.value.message
