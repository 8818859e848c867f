"""Output shapes of API v1 (inputs are the feature packages' own schemas)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from app.enterprises.domain import (
    CreditStatus,
    Industry,
    Scale,
    StandardizationLevel,
    ThreeSimultaneous,
    Topic,
)


class ErrorOut(BaseModel):
    error: str
    message: str
    fields: dict[str, str] | None = None


class TownOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str


class EnterpriseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    uscc: str
    name: str
    address: str
    town_id: int
    industry: Industry
    scale: Scale
    employee_count: int
    main_processes: str
    principal_name: str
    principal_phone: str
    standardization_level: StandardizationLevel
    standardization_date: date | None
    dust_explosion: bool
    confined_space: bool
    ammonia_refrigeration: bool
    metallurgical_gas: bool
    molten_metal: bool
    dust_worker_count: int
    dust_key: bool
    topics: list[Topic]
    three_simultaneous: ThreeSimultaneous
    credit_status: CreditStatus


class EnterpriseList(BaseModel):
    items: list[EnterpriseOut]
    total: int


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int
    name: str
    area: str
    department_id: int | None = None
    token: str
    scene: str
    active: bool


class SiteList(BaseModel):
    items: list[SiteOut]


class MemberOut(BaseModel):
    """A member of an enterprise: the person, their role and units, and their WeChat binding."""

    id: int
    name: str
    phone: str
    role: str
    department_id: int | None
    team_id: int | None
    post_id: int | None
    active: bool
    bound: bool
    openid: str | None
    bound_at: datetime | None


class MemberList(BaseModel):
    items: list[MemberOut]
    total: int
    page: int
    per_page: int


class InviteOut(BaseModel):
    scene: str
    qr_url: str
    expires_at: datetime


class ProblemOut(BaseModel):
    """application/problem+json (RFC 9457), with `errors` per field of a 422."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: dict[str, str] | None = None
