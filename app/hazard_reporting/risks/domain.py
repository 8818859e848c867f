"""The risk register's rules (风险分级管控, the first half of 双重预防): what a risk point, a
hazard source and a control are; the assessment method; the four colours; and which check a
control becomes part of.

Assessment: the LEC method (作业条件危险性评价法), the one Chinese enterprises' 风险辨识清单 most
often use and the provincial 两个体系 platforms accept: D = L × E × C with
- L, the likelihood of an accident (事故发生的可能性): 10 完全可以预料 · 6 相当可能 · 3 可能，但不经常 ·
  1 可能性小，完全意外 · 0.5 很不可能，可以设想 · 0.2 极不可能 · 0.1 实际不可能;
- E, how often people are exposed (暴露于危险环境的频繁程度): 10 连续暴露 · 6 每天工作时间内暴露 ·
  3 每周一次或偶然暴露 · 2 每月一次暴露 · 1 每年几次暴露 · 0.5 非常罕见地暴露;
- C, the consequence (发生事故产生的后果): 100 10人以上死亡 · 40 3～9人死亡 · 15 1～2人死亡 ·
  7 严重伤残 · 3 有伤残 · 1 轻伤，需救护.
The grades follow the LEC bands folded into the four levels of 安全风险分级管控:
D ≥ 320 重大风险 (red), 160 ≤ D < 320 较大风险 (orange), 70 ≤ D < 160 一般风险 (yellow),
D < 70 低风险 (blue). A band's lower bound belongs to the band (the method's tables print
"> 320" and "160～320" and leave the boundary open; we round towards caution).

A place's colour is its worst source's; a control's level says who answers for it and so
which routine check verifies it: 班组 → the team's 班组日排查, 部门 → the department's 部门周排查,
公司 → the 经理月排查, 岗位 → the worker's own pre-shift confirmation (岗位自查).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from app.errors import ValidationFailed
from app.hazard_reporting.checks.domain import CheckLevel
from app.hazard_reporting.schedules.domain import RiskLevel


class RiskPointKind(StrEnum):
    """What a 风险点 is."""

    PLACE = "place"  # 场所/区域 (a workshop, a storeroom, a pit)
    EQUIPMENT = "equipment"  # 设备设施 (a furnace, a press line, a refrigeration unit)
    ACTIVITY = "activity"  # 作业活动 (hot work, work in a confined space, lifting)


RISK_POINT_KIND_LABELS = {
    RiskPointKind.PLACE: "场所/区域",
    RiskPointKind.EQUIPMENT: "设备设施",
    RiskPointKind.ACTIVITY: "作业活动",
}

# GB 6441-1986《企业职工伤亡事故分类》: the twenty accident types, in the standard's order.
ACCIDENT_TYPES: tuple[str, ...] = (
    "物体打击",
    "车辆伤害",
    "机械伤害",
    "起重伤害",
    "触电",
    "淹溺",
    "灼烫",
    "火灾",
    "高处坠落",
    "坍塌",
    "冒顶片帮",
    "透水",
    "放炮",
    "火药爆炸",
    "瓦斯爆炸",
    "锅炉爆炸",
    "容器爆炸",
    "其它爆炸",
    "中毒和窒息",
    "其它伤害",
)


class RiskGrade(StrEnum):
    """安全风险等级, from the assessment."""

    MAJOR = "major"  # 重大风险
    LARGE = "large"  # 较大风险
    GENERAL = "general"  # 一般风险
    LOW = "low"  # 低风险


RISK_GRADE_LABELS = {
    RiskGrade.MAJOR: "重大风险",
    RiskGrade.LARGE: "较大风险",
    RiskGrade.GENERAL: "一般风险",
    RiskGrade.LOW: "低风险",
}
GRADE_COLOUR = {
    RiskGrade.MAJOR: RiskLevel.RED,
    RiskGrade.LARGE: RiskLevel.ORANGE,
    RiskGrade.GENERAL: RiskLevel.YELLOW,
    RiskGrade.LOW: RiskLevel.BLUE,
}
# Worst first.
GRADE_ORDER = (RiskGrade.MAJOR, RiskGrade.LARGE, RiskGrade.GENERAL, RiskGrade.LOW)

# The values the method allows, with their wording (for the editor's choices and the import).
LIKELIHOOD = {
    Decimal("10"): "完全可以预料",
    Decimal("6"): "相当可能",
    Decimal("3"): "可能，但不经常",
    Decimal("1"): "可能性小，完全意外",
    Decimal("0.5"): "很不可能，可以设想",
    Decimal("0.2"): "极不可能",
    Decimal("0.1"): "实际不可能",
}
EXPOSURE = {
    Decimal("10"): "连续暴露",
    Decimal("6"): "每天工作时间内暴露",
    Decimal("3"): "每周一次或偶然暴露",
    Decimal("2"): "每月一次暴露",
    Decimal("1"): "每年几次暴露",
    Decimal("0.5"): "非常罕见地暴露",
}
CONSEQUENCE = {
    Decimal("100"): "10人以上死亡",
    Decimal("40"): "3～9人死亡",
    Decimal("15"): "1～2人死亡",
    Decimal("7"): "严重伤残",
    Decimal("3"): "有伤残",
    Decimal("1"): "轻伤，需救护",
}
# Lower bounds of the bands, worst first.
GRADE_BANDS = ((Decimal("320"), RiskGrade.MAJOR), (Decimal("160"), RiskGrade.LARGE), (Decimal("70"), RiskGrade.GENERAL))


def _factor(name: str, label: str, value: object, allowed: dict[Decimal, str]) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (ArithmeticError, ValueError):
        number = None
    if number is None or number not in allowed:
        choices = "、".join(f"{v.normalize():f}" for v in allowed)
        raise ValidationFailed(f"{label}（{name}）只能取：{choices}", fields={name: f"只能取 {choices}"})
    return number


def lec_score(likelihood: object, exposure: object, consequence: object) -> Decimal:
    """D = L × E × C. Raises ValidationFailed naming a factor the method does not allow."""
    l_value = _factor("L", "事故发生的可能性", likelihood, LIKELIHOOD)
    e_value = _factor("E", "暴露于危险环境的频繁程度", exposure, EXPOSURE)
    c_value = _factor("C", "事故后果的严重程度", consequence, CONSEQUENCE)
    return l_value * e_value * c_value


def grade_of(score: Decimal) -> RiskGrade:
    """The grade of a D value (bands as in the module docstring)."""
    for lower, grade in GRADE_BANDS:
        if score >= lower:
            return grade
    return RiskGrade.LOW


def worst_grade(grades: Iterable[RiskGrade]) -> RiskGrade | None:
    """The worst of `grades`; None when there is none (an empty register says nothing)."""
    present = set(grades)
    return next((grade for grade in GRADE_ORDER if grade in present), None)


class ControlKind(StrEnum):
    """管控措施的类别."""

    ENGINEERING = "engineering"  # 工程技术
    MANAGEMENT = "management"  # 管理措施
    TRAINING = "training"  # 培训教育
    PPE = "ppe"  # 个体防护
    EMERGENCY = "emergency"  # 应急处置


CONTROL_KIND_LABELS = {
    ControlKind.ENGINEERING: "工程技术",
    ControlKind.MANAGEMENT: "管理措施",
    ControlKind.TRAINING: "培训教育",
    ControlKind.PPE: "个体防护",
    ControlKind.EMERGENCY: "应急处置",
}


class ControlLevel(StrEnum):
    """管控层级: who answers for a control (the CONTRACT's `control_level`)."""

    COMPANY = "company"  # 公司级
    DEPARTMENT = "department"  # 部门（车间）级
    TEAM = "team"  # 班组级
    POST = "post"  # 岗位级


CONTROL_LEVEL_LABELS = {
    ControlLevel.COMPANY: "公司级",
    ControlLevel.DEPARTMENT: "部门级",
    ControlLevel.TEAM: "班组级",
    ControlLevel.POST: "岗位级",
}
# Which routine check verifies a control of each level; POST is the worker's own 岗位自查.
CHECK_LEVEL_OF_CONTROL: dict[ControlLevel, CheckLevel | None] = {
    ControlLevel.COMPANY: CheckLevel.MONTHLY,
    ControlLevel.DEPARTMENT: CheckLevel.WEEKLY,
    ControlLevel.TEAM: CheckLevel.DAILY,
    ControlLevel.POST: None,
}


def check_responsible_unit(level: ControlLevel, department_id: int | None, team_id: int | None) -> None:
    """A department-level control names its department, a team-level one its team (the unit
    whose check verifies it). Raises ValidationFailed."""
    if level is ControlLevel.DEPARTMENT and department_id is None:
        raise ValidationFailed("部门级管控措施须指定责任部门", fields={"department_id": "请选择责任部门"})
    if level is ControlLevel.TEAM and team_id is None:
        raise ValidationFailed("班组级管控措施须指定责任班组", fields={"team_id": "请选择责任班组"})


def clean_accident_types(values: Iterable[str]) -> list[str]:
    """The accident types named, each one of GB 6441's twenty, in the standard's order, no
    repeats. Raises ValidationFailed naming what is not a type."""
    named = [v.strip() for v in values if v and v.strip()]
    unknown = [v for v in named if v not in ACCIDENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"事故类型「{'、'.join(unknown)}」不在 GB 6441 的二十类中",
            fields={"accident_types": "请从 GB 6441 的事故类型中选择"},
        )
    return [t for t in ACCIDENT_TYPES if t in named]


def is_major_for_rounds(grade: RiskGrade, is_major_factor: bool) -> bool:
    """Whether a source makes its site a major risk point (较大危险因素点位, with the extra
    rounds of schedules.domain.RISK_POINT_PLANS): the enterprise marked it a 较大危险因素, or
    the assessment says 重大 or 较大. A 一般/低 source nobody flagged adds no rounds."""
    return is_major_factor or grade in (RiskGrade.MAJOR, RiskGrade.LARGE)


def site_profile(sources: Iterable[tuple[RiskGrade, bool]]) -> tuple[RiskLevel, bool]:
    """A register-driven site's (colour, major risk point) from its active sources
    `(grade, is_major_factor)`: the worst grade's colour, and whether any source makes it a
    major risk point. A site whose risk points have no active source left is blue (低风险)
    and no major risk point: its colour drops when its last risk is retired."""
    listed = list(sources)
    worst = worst_grade(grade for grade, _ in listed)
    colour = GRADE_COLOUR[worst] if worst is not None else RiskLevel.BLUE
    return colour, any(is_major_for_rounds(grade, flag) for grade, flag in listed)
