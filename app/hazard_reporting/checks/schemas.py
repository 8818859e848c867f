"""Input shapes of check submissions (扫码排查) and their item answers (pydantic, Chinese titles
so ValidationFailed names fields the way a user sees them)."""

from __future__ import annotations

import re

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from app.hazard_reporting.checks.domain import MAX_PHOTOS_PER_ITEM, MAX_RESULT_NOTE, ItemResult

# Made by the phone (or the page) when a form is first filled in: URL-safe, unguessable.
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_ANSWERS = 300  # far above any checklist; bounds the work one request can ask for


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ItemAnswerIn(_Input):
    """The answer to one item; photos (raw bytes) only for a 隐患 answer."""

    item_code: str = Field(title="检查项", min_length=1, max_length=16)
    result: ItemResult = Field(title="检查结果")
    note: str = Field("", title="隐患描述", max_length=MAX_RESULT_NOTE)
    photos: list[bytes] = Field(default_factory=list, title="照片", max_length=MAX_PHOTOS_PER_ITEM)


class CheckSubmissionIn(_Input):
    site_token: str = Field(title="点位二维码", min_length=1, max_length=64)
    scanned_at: AwareDatetime = Field(title="扫码时间")
    idempotency_key: str = Field(title="提交标识", max_length=64)
    latitude: float | None = Field(None, title="纬度", ge=-90, le=90)
    longitude: float | None = Field(None, title="经度", ge=-180, le=180)
    location_accuracy: float | None = Field(None, title="定位精度（米）", ge=0, le=1_000_000)
    answers: list[ItemAnswerIn] = Field(title="检查结果", max_length=MAX_ANSWERS)

    @field_validator("idempotency_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not IDEMPOTENCY_KEY.match(value):
            raise ValueError("页面已过期，请刷新后重新提交")
        return value

    @field_validator("answers")
    @classmethod
    def _one_answer_per_item(cls, value: list[ItemAnswerIn]) -> list[ItemAnswerIn]:
        codes = [a.item_code for a in value]
        if len(set(codes)) != len(codes):
            raise ValueError("同一检查项只能作答一次")
        return value
