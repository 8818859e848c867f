"""Input shapes of the bureau's broadcast forms (pydantic, Chinese titles so ValidationFailed
names fields the way the console shows them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.accounts.domain import Role
from app.clock import LOCAL_TZ
from app.enterprises.domain import Industry, Topic
from app.tips.domain import MAX_BODY, MAX_SUMMARY, MAX_TITLE, Audience


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AudienceIn(_Input):
    """Who receives a broadcast; every list empty means every enterprise."""

    towns: list[int] = Field(default_factory=list, title="推送镇街")
    industries: list[Industry] = Field(default_factory=list, title="行业")
    topics: list[Topic] = Field(default_factory=list, title="专项")
    roles: list[Role] = Field(default_factory=list, title="人员角色")
    send_at: datetime = Field(title="发送时间")
    # 需逐人确认: an acknowledgement task (task notice to each person) instead of a general
    # tip (mass message by town tag); None → domain.default_requires_ack.
    requires_ack: bool | None = Field(None, title="需逐人确认")

    @field_validator("send_at")
    @classmethod
    def _local_when_naive(cls, value: datetime) -> datetime:
        # The console's datetime-local field has no zone: it is Asia/Shanghai wall time.
        return value.replace(tzinfo=LOCAL_TZ) if value.tzinfo is None else value

    def audience(self) -> Audience:
        return Audience(
            town_ids=frozenset(self.towns),
            industries=frozenset(self.industries),
            topics=frozenset(self.topics),
            roles=frozenset(self.roles),
        )


class BroadcastIn(AudienceIn):
    """A new broadcast: a library tip (`tip_id`) or a new tip written here (title + body);
    the service refuses neither or both."""

    tip_id: int | None = Field(None, title="提示库条目")
    title: str | None = Field(None, title="标题", max_length=MAX_TITLE)
    summary: str | None = Field(None, title="摘要", max_length=MAX_SUMMARY)
    body: str | None = Field(None, title="正文", max_length=MAX_BODY)
