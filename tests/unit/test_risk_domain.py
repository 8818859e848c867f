"""The risk register's rules: the LEC method's allowed factors, the grade bands and their
boundaries, the worst grade of a place, and which check verifies a control of each level."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.errors import ValidationFailed
from app.hazard_reporting.checks.domain import CheckLevel
from app.hazard_reporting.risks.domain import (
    ACCIDENT_TYPES,
    CHECK_LEVEL_OF_CONTROL,
    GRADE_COLOUR,
    ControlLevel,
    RiskGrade,
    check_responsible_unit,
    grade_of,
    lec_score,
    worst_grade,
)
from app.hazard_reporting.schedules.domain import RiskLevel


def test_d_is_the_product_of_the_three_factors():
    assert lec_score(6, 6, 15) == Decimal("540")  # 相当可能 · 每天暴露 · 1～2人死亡
    assert lec_score("0.5", "3", "7") == Decimal("10.5")
    assert lec_score(Decimal("0.1"), Decimal("0.5"), Decimal("1")) == Decimal("0.05")


@pytest.mark.parametrize(
    ("l_value", "e_value", "c_value", "field"),
    [(5, 6, 15, "L"), (6, 4, 15, "E"), (6, 6, 20, "C"), ("", 6, 15, "L"), ("abc", 6, 15, "L"), (6, 6, -1, "C")],
)
def test_a_factor_the_method_does_not_know_is_refused_by_name(l_value, e_value, c_value, field):
    with pytest.raises(ValidationFailed) as refused:
        lec_score(l_value, e_value, c_value)
    assert field in refused.value.fields and "只能取" in refused.value.message


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        ("320", RiskGrade.MAJOR),  # a band's lower bound belongs to the band
        ("319.99", RiskGrade.LARGE),
        ("160", RiskGrade.LARGE),
        ("159.9", RiskGrade.GENERAL),
        ("70", RiskGrade.GENERAL),
        ("69.9", RiskGrade.LOW),
        ("0.05", RiskGrade.LOW),
        ("6000", RiskGrade.MAJOR),
    ],
)
def test_grade_bands_and_their_boundaries(score, grade):
    assert grade_of(Decimal(score)) is grade


def test_the_four_grades_are_the_four_colours():
    assert [GRADE_COLOUR[g] for g in RiskGrade] == [RiskLevel.RED, RiskLevel.ORANGE, RiskLevel.YELLOW, RiskLevel.BLUE]


def test_a_place_takes_its_worst_sources_grade():
    assert worst_grade([RiskGrade.LOW, RiskGrade.LARGE, RiskGrade.GENERAL]) is RiskGrade.LARGE
    assert worst_grade([RiskGrade.LOW]) is RiskGrade.LOW
    assert worst_grade([]) is None


def test_each_control_level_is_verified_by_its_units_check():
    assert CHECK_LEVEL_OF_CONTROL == {
        ControlLevel.TEAM: CheckLevel.DAILY,
        ControlLevel.DEPARTMENT: CheckLevel.WEEKLY,
        ControlLevel.COMPANY: CheckLevel.MONTHLY,
        ControlLevel.POST: None,  # the worker's own 岗位自查
    }


def test_team_and_department_controls_name_their_unit():
    with pytest.raises(ValidationFailed) as refused:
        check_responsible_unit(ControlLevel.TEAM, department_id=3, team_id=None)
    assert "team_id" in refused.value.fields
    with pytest.raises(ValidationFailed):
        check_responsible_unit(ControlLevel.DEPARTMENT, department_id=None, team_id=None)
    check_responsible_unit(ControlLevel.COMPANY, None, None)
    check_responsible_unit(ControlLevel.POST, None, None)


def test_gb_6441_has_twenty_accident_types():
    assert len(ACCIDENT_TYPES) == len(set(ACCIDENT_TYPES)) == 20
    assert ACCIDENT_TYPES[0] == "物体打击" and "中毒和窒息" in ACCIDENT_TYPES
