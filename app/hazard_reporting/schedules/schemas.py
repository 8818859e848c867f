"""Input shapes of schedules and site risk profiles (pydantic, Chinese titles so
ValidationFailed names fields the way a user sees them)."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.hazard_reporting.checks.domain import CheckLevel
from app.hazard_reporting.schedules.domain import RiskLevel
from app.ids import MAX_ID


def _wall_clock(value: Any) -> Any:
    """A local wall-clock time: a time, or text "HH:MM" (seconds allowed); Chinese message
    otherwise. Empty text is no value (the service says what that means)."""
    if value is None or isinstance(value, time):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return time.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError("应为时间，格式为 时:分（如 17:00）")


WallClock = Annotated[time | None, BeforeValidator(_wall_clock)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ScheduleCreate(_Input):
    """A routine schedule to create: its level, the unit the level needs (a team for daily,
    a department for weekly, none for monthly), optionally a site, and its timing. Left
    out, the label and timing are the level's defaults (domain.ROUTINE_DEFAULTS)."""

    level: CheckLevel = Field(title="排查层级")
    label: str | None = Field(None, title="名称", min_length=1, max_length=64)
    team_id: int | None = Field(None, title="班组", ge=1, le=MAX_ID)
    department_id: int | None = Field(None, title="部门", ge=1, le=MAX_ID)
    site_id: int | None = Field(None, title="点位", ge=1, le=MAX_ID)
    due_time: WallClock = Field(None, title="截止时间")
    due_weekday: int | None = Field(None, title="每周截止日", ge=1, le=7)
    due_month_day: int | None = Field(None, title="每月截止日", ge=1, le=31)
    grace_minutes: int | None = Field(None, title="宽限时间（分钟）", ge=0)
    workdays_only: bool | None = Field(None, title="仅工作日")


class ScheduleUpdate(_Input):
    """What an enterprise may change on a schedule; fields left out stay as they are. The
    level and the unit never change (a different frequency is another schedule)."""

    label: str | None = Field(None, title="名称", min_length=1, max_length=64)
    site_id: int | None = Field(None, title="点位", ge=1, le=MAX_ID)
    due_time: WallClock = Field(None, title="截止时间")
    due_weekday: int | None = Field(None, title="每周截止日", ge=1, le=7)
    due_month_day: int | None = Field(None, title="每月截止日", ge=1, le=31)
    grace_minutes: int | None = Field(None, title="宽限时间（分钟）", ge=0)
    workdays_only: bool | None = Field(None, title="仅工作日")
    active: bool | None = Field(None, title="启用")


class RiskProfileIn(_Input):
    risk_level: RiskLevel = Field(title="风险等级")
    is_major_risk_point: bool = Field(False, title="较大危险因素点位")
    note: str = Field("", title="说明", max_length=256)
