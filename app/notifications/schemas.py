"""Input shapes of notification use cases."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.notifications.domain import DEFAULT_QUIET_END, DEFAULT_QUIET_START


class PreferenceIn(BaseModel):
    """A user's notification preferences. Quiet hours are local times, 22:00–07:00 unless
    given; both null (or equal) means no quiet hours."""

    model_config = ConfigDict(extra="forbid")

    digest_only: bool = Field(False, title="只接收每日汇总")
    quiet_start: time | None = Field(DEFAULT_QUIET_START, title="免打扰开始")
    quiet_end: time | None = Field(DEFAULT_QUIET_END, title="免打扰结束")

    @model_validator(mode="after")
    def _both_or_neither(self) -> PreferenceIn:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("免打扰开始和结束时间须同时填写或同时留空")
        return self
