"""Input shapes of checklists (pydantic, Chinese titles so ValidationFailed names fields the
way a user sees them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.hazard_reporting.checklists.domain import MAX_ITEM_TEXT, ItemCategory, OnFail


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ChecklistItemIn(_Input):
    """An item an enterprise adds to its own list."""

    text: str = Field(title="排查内容", min_length=1, max_length=MAX_ITEM_TEXT)
    category: ItemCategory = Field(title="类别")
    levels: list[Literal["D", "W", "M"]] = Field(title="排查层级", min_length=1)
    on_fail: OnFail = Field(OnFail.GENERAL, title="不符合时定级")
    note: str = Field("", title="说明", max_length=256)
