"""Pure rules of confined-space jobs (有限空间作业). Standard library and other domain modules
only: the job's status transitions and the work-condition confirmation rule (every item
confirmed by a named person and holding before anyone goes in).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.errors import InvalidTransition


class JobStatus(StrEnum):
    DRAFT = "draft"  # 待确认: the work-condition confirmation is being filled in
    CONFIRMED = "confirmed"  # 条件已确认
    STARTED = "started"  # 作业中
    FINISHED = "finished"  # 已完成
    CANCELLED = "cancelled"  # 已取消


JOB_STATUS_LABELS = {
    JobStatus.DRAFT: "待确认",
    JobStatus.CONFIRMED: "条件已确认",
    JobStatus.STARTED: "作业中",
    JobStatus.FINISHED: "已完成",
    JobStatus.CANCELLED: "已取消",
}

JOB_TRANSITIONS: frozenset[tuple[JobStatus, JobStatus]] = frozenset(
    {
        (JobStatus.DRAFT, JobStatus.CONFIRMED),
        (JobStatus.CONFIRMED, JobStatus.STARTED),
        (JobStatus.STARTED, JobStatus.FINISHED),
        (JobStatus.DRAFT, JobStatus.CANCELLED),
        (JobStatus.CONFIRMED, JobStatus.CANCELLED),
    }
)


def check_job_transition(current: JobStatus, target: JobStatus) -> None:
    """Raises InvalidTransition (Chinese message) unless the table allows it."""
    if (current, target) not in JOB_TRANSITIONS:
        raise InvalidTransition(
            f"作业当前为“{JOB_STATUS_LABELS[current]}”，不能改为“{JOB_STATUS_LABELS[target]}”。"
        )


@dataclass(frozen=True)
class ConfirmationEntry:
    """One confirmed line: who (a named person), when, and whether the condition holds."""

    item_code: str
    passed: bool
    confirmed_by: str
    confirmed_at: datetime | None


def confirmation_problems(required_codes: Sequence[str], entries: Iterable[ConfirmationEntry]) -> list[str]:
    """What keeps a work-condition confirmation from passing, in item order (empty: passed).

    Every required item must be confirmed, by a named person, with a time, and hold."""
    by_code = {e.item_code: e for e in entries}
    problems: list[str] = []
    for code in required_codes:
        entry = by_code.get(code)
        if entry is None:
            problems.append(f"{code} 未确认")
        elif not entry.confirmed_by.strip() or entry.confirmed_at is None:
            problems.append(f"{code} 缺少确认人或确认时间")
        elif not entry.passed:
            problems.append(f"{code} 不符合要求")
    return problems


def require_confirmation_passed(required_codes: Sequence[str], entries: Iterable[ConfirmationEntry]) -> None:
    """Raises InvalidTransition listing every unmet item: the job must not start."""
    problems = confirmation_problems(required_codes, entries)
    if problems:
        raise InvalidTransition("作业条件确认未通过，严禁进入有限空间作业：" + "；".join(problems) + "。")
