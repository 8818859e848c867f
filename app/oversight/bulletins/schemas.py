"""Output and query shapes of bulletins in API v1 (pydantic)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.oversight.bulletins.domain import BulletinKind, BulletinStatus, Verdict

MAX_PER_PAGE = 100


class BulletinQuery(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)
    month: str | None = Field(None, description="YYYY-MM: monthly bulletins of the month, supervision visits in it")
    town_id: int | None = Field(None, description="a town's bulletins (district-wide ones have none)")
    kind: BulletinKind | None = None


class BulletinEntryOut(BaseModel):
    enterprise_id: int
    enterprise_name: str
    town_name: str
    verdict: Verdict
    reasons: list[str]
    by_rule: bool
    removed: bool = False
    removed_reason: str | None = None


class BulletinSummaryOut(BaseModel):
    id: int
    kind: BulletinKind
    status: BulletinStatus
    title: str
    town_id: int | None
    month: str | None
    visit_date: date | None
    praised: int
    warned: int
    visited: int
    created_at: datetime
    published_at: datetime | None
    supersedes_id: int | None


class BulletinOut(BulletinSummaryOut):
    body: str
    requirements: str
    deadline: date | None
    figures: dict[str, int]
    entries: list[BulletinEntryOut]


class BulletinPage(BaseModel):
    items: list[BulletinSummaryOut]
    total: int
    page: int
    per_page: int
