"""Input shapes of schedules and site risk profiles (pydantic, Chinese titles so
ValidationFailed names fields the way a user sees them)."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field

from app.hazard_reporting.schedules.domain import RiskLevel


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ScheduleUpdate(_Input):
    """What an enterprise may change on a schedule; fields left out stay as they are."""

    label: str | None = Field(None, title="名称", min_length=1, max_length=64)
    due_time: time | None = Field(None, title="截止时间")
    due_weekday: int | None = Field(None, title="每周截止日", ge=1, le=7)
    due_month_day: int | None = Field(None, title="每月截止日", ge=1, le=31)
    grace_minutes: int | None = Field(None, title="宽限时间（分钟）", ge=0, le=31 * 24 * 60)
    workdays_only: bool | None = Field(None, title="仅工作日")
    active: bool | None = Field(None, title="启用")


class RiskProfileIn(_Input):
    risk_level: RiskLevel = Field(title="风险等级")
    is_major_risk_point: bool = Field(False, title="较大危险因素点位")
    note: str = Field("", title="说明", max_length=256)
