"""Input shapes of sites (pydantic, Chinese titles)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.enterprises.sites.domain import SITE_AREA_MAX, SITE_NAME_MAX
from app.ids import MAX_ID


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SiteFields(_Input):
    """The console's add and edit forms: every field given."""

    name: str = Field(title="点位名称", min_length=1, max_length=SITE_NAME_MAX)
    area: str = Field("", title="区域", max_length=SITE_AREA_MAX)
    department_id: int | None = Field(None, title="所属部门", ge=1, le=MAX_ID)


class SiteUpdate(_Input):
    """A partial change (API PATCH): fields left out stay as they are."""

    name: str | None = Field(None, title="点位名称", min_length=1, max_length=SITE_NAME_MAX)
    area: str | None = Field(None, title="区域", max_length=SITE_AREA_MAX)
    department_id: int | None = Field(None, title="所属部门", ge=1, le=MAX_ID)
    active: bool | None = Field(None, title="在用")
