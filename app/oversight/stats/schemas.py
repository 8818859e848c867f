"""Shapes of the stats API (GET /api/v1/stats/…): the query and the figures per town and in
total, built from the same TownFigures the console page and its export show."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.hazard_reporting.checks.domain import CheckLevel
from app.oversight.stats.domain import CheckCompletion, percent_value
from app.oversight.stats.queries import Dashboard, TownFigures


class StatsQuery(BaseModel):
    month: str | None = Field(None, description="YYYY-MM；缺省为本月", examples=["2026-11"])
    town_id: int | None = Field(None, description="只看一个镇街；缺省为权限内全部镇街")


class StandardizationRow(BaseModel):
    town_id: int | None = Field(description="镇街 id；合计行为 null")
    town: str
    enterprises: int
    above_scale: int = Field(description="规上企业数")
    standardized: int = Field(description="规上企业中持有效标准化证书的家数")
    rate: float | None = Field(description="达标率（百分数，保留1位）；无规上企业为 null")
    shortfall: float = Field(description="距 70% 的差距（百分点）")
    deduction: float = Field(description="扣分：每低于目标满 10 个百分点扣 0.5 分")
    meets_target: bool | None
    expiring: int = Field(description="证书 90 天内到期的企业（全部企业）")
    lapsed: int = Field(description="证书已过期的企业（全部企业）")


class StandardizationOut(BaseModel):
    month: str
    judged_on: str = Field(description="判定日：月末，本月为今天")
    target: float = 70.0
    towns: list[StandardizationRow]
    total: StandardizationRow


class CompletionOut(BaseModel):
    due: int
    on_time: int
    late: int
    missed: int
    excused: int
    overdue: int = Field(description="已过截止时间、仍在宽限期内")
    open: int = Field(description="尚未到截止时间")
    on_time_rate: float | None = Field(description="按时率（百分数）：按时 ÷（已过截止 − 免检）")


class ChecksRow(BaseModel):
    town_id: int | None
    town: str
    levels: dict[CheckLevel, CompletionOut]
    total: CompletionOut


class ChecksOut(BaseModel):
    month: str
    towns: list[ChecksRow]
    total: ChecksRow


def standardization_row(f: TownFigures) -> StandardizationRow:
    score = f.score
    return StandardizationRow(
        town_id=f.town_id,
        town=f.name,
        enterprises=f.enterprises,
        above_scale=f.above_scale,
        standardized=f.standardized,
        rate=percent_value(score.rate),
        shortfall=percent_value(score.shortfall) or 0.0,
        deduction=float(score.deduction),
        meets_target=score.meets_target,
        expiring=f.expiring,
        lapsed=f.lapsed,
    )


def standardization_out(board: Dashboard) -> StandardizationOut:
    return StandardizationOut(
        month=board.month.key,
        judged_on=board.day.isoformat(),
        towns=[standardization_row(f) for f in board.towns],
        total=standardization_row(board.total),
    )


def completion_out(c: CheckCompletion) -> CompletionOut:
    return CompletionOut(
        due=c.due,
        on_time=c.on_time,
        late=c.late,
        missed=c.missed,
        excused=c.excused,
        overdue=c.overdue,
        open=c.open,
        on_time_rate=percent_value(c.on_time_rate),
    )


def checks_row(f: TownFigures) -> ChecksRow:
    return ChecksRow(
        town_id=f.town_id,
        town=f.name,
        levels={lv: completion_out(f.checks[lv]) for lv in CheckLevel},
        total=completion_out(f.checks_total),
    )


def checks_out(board: Dashboard) -> ChecksOut:
    return ChecksOut(month=board.month.key, towns=[checks_row(f) for f in board.towns], total=checks_row(board.total))
