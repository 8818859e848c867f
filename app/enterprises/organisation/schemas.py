"""Input shapes of the organisation pages: a post's risk card with its factor rows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.enterprises.organisation.domain import CARD_TEXT_MAX, MAX_ID, NAME_MAX


class FactorRow(BaseModel):
    """One row of the 较大危险因素 table as typed (blank rows allowed; the domain cleans)."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    measures: str = ""


class PostCardIn(BaseModel):
    """岗位风险告知卡: the post's name, department, three texts and its factors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(title="岗位名称", min_length=1, max_length=NAME_MAX)
    department_id: int | None = Field(None, title="所属部门", ge=1, le=MAX_ID)
    risks: str = Field(title="主要风险", min_length=1, max_length=CARD_TEXT_MAX)
    precautions: str = Field(title="防范措施", min_length=1, max_length=CARD_TEXT_MAX)
    emergency_measures: str = Field(title="应急措施", min_length=1, max_length=CARD_TEXT_MAX)
    factors: list[FactorRow] = Field(default_factory=list, title="较大危险因素")

    @field_validator("department_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value
