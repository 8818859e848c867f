"""Input, output and query shapes of the credit list in API v1 (pydantic)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.oversight.credit.domain import MAX_BASIS, MAX_DECISION_NO, MAX_REASON

MAX_PER_PAGE = 100
ListKind = Literal["watchlist", "serious_discredit"]


class CreditRecordQuery(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)
    active: bool | None = Field(None, description="true: on a list now; false: delisted; absent: both")
    enterprise_id: int | None = Field(None, description="one enterprise's records")
    town_id: int | None = Field(None, description="the records of a town's enterprises")


class CreditRecordIn(BaseModel):
    enterprise_id: int = Field(title="企业")
    list_kind: ListKind = Field(title="名单", description="watchlist 重点关注名单 | serious_discredit 严重失信主体名单")
    reason: str = Field(title="列入事由", max_length=MAX_REASON)
    basis: str = Field(title="列入依据", max_length=MAX_BASIS)
    decision_no: str | None = Field(None, title="决定书文号", max_length=MAX_DECISION_NO)
    listed_on: date | None = Field(None, title="列入日期", description="default: today (Asia/Shanghai)")
    review_on: date | None = Field(
        None, title="复核（到期）日期", description="default: listed_on + 1 year (watchlist) or + 3 years (serious_discredit)"
    )
    restrict_market: bool = Field(False, title="一律给予限制")
    publicize: bool = Field(False, title="一律上网公示")
    occupational_ban: bool = Field(False, title="一律职业禁入")
    industry_ban: bool = Field(False, title="一律行业禁入")


class DelistIn(BaseModel):
    reason: str = Field(title="移出理由", max_length=MAX_REASON)


class CreditFlagsOut(BaseModel):
    restrict_market: bool
    publicize: bool
    occupational_ban: bool
    industry_ban: bool


class CreditRecordOut(BaseModel):
    id: int
    enterprise_id: int
    enterprise_name: str
    uscc: str
    town_id: int
    town_name: str
    list_kind: ListKind
    list_name: str
    active: bool
    reason: str
    basis: str
    decision_no: str | None
    listed_on: date
    review_on: date
    flags: CreditFlagsOut
    listed_by: str
    created_at: datetime
    delisted_on: date | None
    delist_reason: str | None
    delisted_by: str | None
    delisted_at: datetime | None


class CreditRecordPage(BaseModel):
    items: list[CreditRecordOut]
    total: int
    page: int
    per_page: int
