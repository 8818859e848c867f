"""Input shapes of accounts: a member of an enterprise as the console's form sends it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.accounts.domain import Role, normalize_phone


class MemberIn(BaseModel):
    """A person and their role in one enterprise (units optional but for the role's own:
    a team leader's team, a department head's department)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(title="姓名", min_length=1, max_length=32)
    phone: str = Field("", title="手机号", max_length=32)
    role: Role = Field(title="角色")
    department_id: int | None = Field(None, title="部门", ge=1)
    team_id: int | None = Field(None, title="班组", ge=1)
    post_id: int | None = Field(None, title="岗位", ge=1)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)

    @field_validator("department_id", "team_id", "post_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value
