"""Input shapes of check submissions (扫码排查) and their item answers, and the filters of the
console task list (pydantic, Chinese titles so ValidationFailed names fields the way a user
sees them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from app.errors import ValidationFailed
from app.hazard_reporting.checks.domain import (
    MAX_PHOTOS_PER_ITEM,
    MAX_RESULT_NOTE,
    CheckLevel,
    CheckTaskStatus,
    ItemResult,
)
from app.hazard_reporting.checks.queries import TaskFilter
from app.ids import MAX_ID
from app.validation import parse

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
    # The risk register version the form was built from and the controls it offered; when
    # the register changed since, the submission goes through the controls the form showed.
    risk_register_version: int | None = Field(None, title="风险清单版本", ge=0, le=MAX_ID)
    control_ids: list[int] = Field(default_factory=list, title="管控措施", max_length=MAX_ANSWERS)

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


class TaskFilterIn(BaseModel):
    """The console task list's filters, from its URL arguments (empty ones left out)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    start: date | None = Field(None, title="开始日期")
    end: date | None = Field(None, title="结束日期")
    level: CheckLevel | None = Field(None, title="排查层级")
    team_id: int | None = Field(None, title="班组", ge=1, le=MAX_ID)
    status: CheckTaskStatus | None = Field(None, title="状态")
    page: int = Field(1, title="页码", ge=1, le=100_000)


DEFAULT_TASK_DAYS = 7  # the list opens on the last 7 days, today included
MAX_TASK_DAYS = 366


def task_filter(args: Mapping[str, str], today: date) -> TaskFilter:
    """The filters of the task list from URL arguments; the date range defaults to the last
    7 days (today included). Raises ValidationFailed (Chinese) for a bad value, an
    inverted range or one longer than a year."""
    data = {name: value for name, value in args.items() if value.strip()}
    parsed = parse(TaskFilterIn, data)
    end = parsed.end or (today if parsed.start is None else parsed.start + timedelta(days=DEFAULT_TASK_DAYS - 1))
    start = parsed.start or end - timedelta(days=DEFAULT_TASK_DAYS - 1)
    if start > end:
        raise ValidationFailed.for_field("start", "开始日期不能晚于结束日期")
    if (end - start).days >= MAX_TASK_DAYS:
        raise ValidationFailed.for_field("start", f"查询范围不能超过 {MAX_TASK_DAYS} 天")
    return TaskFilter(
        start=start, end=end, level=parsed.level, team_id=parsed.team_id, status=parsed.status, page=parsed.page
    )
