"""Pure rules of 组织与岗位: names (trimmed, length, unique within the parent), the refusal
naming what still refers to a unit, and a risk card's 较大危险因素 rows."""

from __future__ import annotations

import pytest

from app.enterprises.organisation.domain import (
    MAX_FACTORS,
    MAX_ID,
    NAME_MAX,
    Factor,
    Reference,
    check_removable,
    check_unique_name,
    clean_factors,
    clean_name,
    removal_refused,
    valid_id,
)
from app.errors import Conflict, ValidationFailed


def test_a_name_is_trimmed_and_inner_spaces_collapse():
    assert clean_name("  熔炼 \t 车间 ", "department") == "熔炼 车间"


@pytest.mark.parametrize(("value", "message"), [("", "请填写班组名称"), ("   ", "请填写班组名称"), ("班" * (NAME_MAX + 1), f"不能超过 {NAME_MAX} 个字")])
def test_an_empty_or_long_name_is_refused_in_chinese(value, message):
    with pytest.raises(ValidationFailed) as caught:
        clean_name(value, "team")
    assert message in caught.value.fields["name"]


def test_a_name_of_exactly_the_limit_is_accepted():
    assert clean_name("岗" * NAME_MAX, "post") == "岗" * NAME_MAX


def test_a_sibling_s_name_is_refused_naming_the_parent_and_case_does_not_make_it_new():
    with pytest.raises(ValidationFailed) as caught:
        check_unique_name("熔炼班", ["浇注班", "熔炼班"], "team", "「熔炼车间」")
    assert caught.value.fields["name"] == "「熔炼车间」已有名为「熔炼班」的班组，名称不能重复"
    with pytest.raises(ValidationFailed):
        check_unique_name("CNC班", ["cnc班"], "team", "「机加车间」")
    check_unique_name("浇注二班", ["浇注班", "熔炼班"], "team", "「熔炼车间」")  # free


def test_nothing_referring_means_removable():
    assert removal_refused("department", "设备部", []) is None
    assert removal_refused("department", "设备部", [Reference("sites", 0)]) is None
    check_removable("department", "设备部", [])


def test_the_refusal_names_every_kind_that_refers_with_counts_and_a_few_names():
    refs = [
        Reference("memberships", 5, ("王建华", "李国强", "张秀兰")),
        Reference("sites", 1, ("熔炼车间炉前",)),
        Reference("check_schedules", 2, ()),
        Reference("some_future_table", 4),
    ]
    message = removal_refused("department", "熔炼车间", refs)
    assert message.startswith("不能删除部门「熔炼车间」：仍有")
    assert "在册人员 5 名（王建华、李国强、张秀兰等）" in message
    assert "点位 1 个（熔炼车间炉前）" in message and "等" not in message.split("点位")[1].split("、")[0]
    assert "排查计划 2 项" in message and "其他记录 4 条" in message
    with pytest.raises(Conflict) as caught:
        check_removable("department", "熔炼车间", refs)
    assert caught.value.message == message and caught.value.http_status == 409


def test_factor_rows_drop_blank_rows_keep_order_and_trim():
    rows = [("", ""), (" 高温熔融金属喷溅 ", " 干燥预热 "), ("  ", "\n"), ("漏炉", "检查炉衬")]
    assert clean_factors(rows) == [Factor("高温熔融金属喷溅", "干燥预热"), Factor("漏炉", "检查炉衬")]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("", "干燥预热")], "第 1 行：请填写危险因素名称"),
        ([("a", "b"), ("漏炉", "")], "第 2 行：请填写「漏炉」的管控措施"),
        ([("漏炉", "a"), ("漏炉", "b")], "第 2 行：「漏炉」重复填写"),
        ([("因" * (NAME_MAX + 1), "a")], f"名称不能超过 {NAME_MAX} 个字"),
        ([("a", "措" * 1001)], "管控措施不能超过 1000 个字"),
        ([(f"因素{n}", "措施") for n in range(MAX_FACTORS + 1)], f"最多 {MAX_FACTORS} 项"),
    ],
)
def test_bad_factor_rows_are_refused_naming_the_row(rows, message):
    with pytest.raises(ValidationFailed) as caught:
        clean_factors(rows)
    assert message in next(iter(caught.value.fields.values()))


def test_ids_beyond_the_database_integer_are_not_ids():
    assert valid_id(1) and valid_id(MAX_ID)
    assert not valid_id(0) and not valid_id(-3) and not valid_id(MAX_ID + 1) and not valid_id(None)
