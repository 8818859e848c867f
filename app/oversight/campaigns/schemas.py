"""Output and query shapes of special campaigns in API v1 (pydantic)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.oversight.campaigns.domain import CampaignStatus, CampaignTopic, TargetState

MAX_PER_PAGE = 100


class CampaignQuery(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)
    status: CampaignStatus | None = Field(None, description="draft, active or closed")


class ProgressOut(BaseModel):
    targets: int = Field(description="target enterprises (removed ones left out)")
    checked: int = Field(description="self-check submitted, on time or late")
    late: int = Field(description="self-check submitted after the deadline")
    pending: int = Field(description="not checked, deadline to come")
    overdue: int = Field(description="not checked, deadline passed")
    hazards: int = Field(description="hazards the self-checks raised")
    rectified: int = Field(description="of those, closed (verified or accepted)")


class CampaignSummaryOut(BaseModel):
    id: int
    topic: CampaignTopic
    title: str
    status: CampaignStatus
    starts_on: date
    deadline: date
    all_towns: bool
    town_ids: list[int]
    launched_at: datetime | None
    closed_at: datetime | None
    progress: ProgressOut | None = Field(None, description="as the token's user sees it; none for a draft")


class TargetOut(BaseModel):
    enterprise_id: int
    enterprise_name: str
    town_id: int
    town_name: str
    state: TargetState
    checked_at: datetime | None
    hazards: int
    rectified: int
    by_rule: bool
    added_reason: str | None
    removed_reason: str | None


class TownProgressOut(ProgressOut):
    town_id: int
    town_name: str


class CampaignOut(CampaignSummaryOut):
    description: str
    checklists: list[str]
    towns: list[TownProgressOut]
    targets: list[TargetOut]


class CampaignPage(BaseModel):
    items: list[CampaignSummaryOut]
    total: int
    page: int
    per_page: int
