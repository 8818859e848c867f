"""Input and output shapes of safety training in API v1 (pydantic)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from app.oversight.training.domain import (
    MAX_CERTIFICATE,
    MAX_HOURS,
    MAX_LOCATION,
    MAX_NOTES,
    MAX_TOPIC,
    MAX_TRAINER,
    MIN_HOURS,
    TrainingKind,
)

MAX_PER_PAGE = 100


class AttendeeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    membership_id: int = Field(..., ge=1, title="参训人员（成员编号）", description="a current member of the enterprise")
    passed: bool = Field(True, title="考核合格")
    certificate_no: str | None = Field(None, max_length=MAX_CERTIFICATE, title="证书编号")


class TrainingSessionIn(BaseModel):
    """A session to record: it must have taken place (`held_on` not after today)."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(..., min_length=1, max_length=MAX_TOPIC, title="培训主题")
    kind: TrainingKind = Field(..., title="培训类别")
    held_on: date = Field(..., title="培训日期")
    trainer: str = Field(..., min_length=1, max_length=MAX_TRAINER, title="授课人")
    hours: Decimal = Field(..., ge=MIN_HOURS, le=MAX_HOURS, title="学时", description="0.5 – 40, in halves")
    location: str = Field("", max_length=MAX_LOCATION, title="培训地点")
    notes: str = Field("", max_length=MAX_NOTES, title="备注")
    attendees: list[AttendeeIn] = Field(..., min_length=1, title="参训人员")


class TrainingSessionsQuery(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class AttendeeOut(BaseModel):
    membership_id: int
    user_id: int
    name: str
    role: str
    passed: bool
    certificate_no: str | None


class TrainingSessionOut(BaseModel):
    id: int
    enterprise_id: int
    topic: str
    kind: TrainingKind
    held_on: date
    trainer: str
    hours: str
    location: str
    notes: str
    counts_for_coverage: bool
    attendees: list[AttendeeOut]
    created_at: datetime
    updated_at: datetime


class TrainingSessionPage(BaseModel):
    items: list[TrainingSessionOut]
    total: int
    page: int
    per_page: int


class CoverageQuery(BaseModel):
    as_of: date | None = Field(None, description="YYYY-MM-DD, not after today; default today")


class CoverageOut(BaseModel):
    people: int
    covered: int
    rate: float | None


class TownCoverageOut(CoverageOut):
    town_id: int
    town_name: str
    enterprises: int
    enterprises_with_people: int
    enterprises_fully_covered: int


class PersonOut(BaseModel):
    user_id: int
    name: str
    roles: list[str]
    covered: bool
    last_trained_on: date | None
    covered_until: date | None


class EnterpriseCoverageOut(CoverageOut):
    enterprise_id: int
    enterprise_name: str
    town_id: int
    people_list: list[PersonOut]


class CoverageReportOut(BaseModel):
    as_of: date
    covering_kinds: list[TrainingKind]
    district: CoverageOut
    towns: list[TownCoverageOut]
    enterprises: list[EnterpriseCoverageOut]
