"""Output and query shapes of enforcement inspections in API v1 (pydantic)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.hazard_reporting.hazards.domain import HazardCategory, HazardLevel, HazardStatus
from app.oversight.enforcement.domain import InspectionStatus, PenaltyKind

MAX_PER_PAGE = 100


class InspectionQuery(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)
    enterprise_id: int | None = Field(None, description="one enterprise's inspections")
    status: InspectionStatus | None = None
    town_id: int | None = Field(None, description="the inspections of a town's enterprises")


class SeenOut(BaseModel):
    key: str = Field(description="problems | directive | signature | rectification | acceptance")
    label: str
    done: bool
    detail: str


class InspectionProblemOut(BaseModel):
    id: int
    number: int
    text: str
    level: HazardLevel
    category: HazardCategory
    deadline: date
    hazard_id: int | None = Field(description="the hazard in the enterprise's ledger, once signed")
    hazard_status: HazardStatus | None


class InspectionSummaryOut(BaseModel):
    id: int
    enterprise_id: int
    enterprise_name: str
    town_name: str
    inspected_on: date
    inspectors: str
    status: InspectionStatus
    cross_region: bool
    cross_region_district: str
    joint: bool
    joint_agencies: str
    five_seen_done: int = Field(description="how many of the five 见 are done (0–5)")
    signed_at: datetime | None


class SignatureOut(BaseModel):
    signer_name: str
    signed_at: datetime
    sha256: str
    url: str


class InspectionOut(InspectionSummaryOut):
    summary: str
    no_problems: bool
    penalty_kind: PenaltyKind | None
    penalty_number: str
    penalty_content: str
    penalty_deadline: date | None
    responsible_name: str
    responsible_title: str
    signature: SignatureOut | None
    reinspected_on: date | None
    reinspection_passed: bool | None
    reinspection_result: str | None
    five_seen: list[SeenOut]
    problems: list[InspectionProblemOut]


class InspectionPage(BaseModel):
    items: list[InspectionSummaryOut]
    total: int
    page: int
    per_page: int
