"""The scheduler's jobs, declared as data, and the one thin function that runs any of them.

Each job names a service by import path. A plain job calls it once as
`service(session, now=now)` and commits; a job with `items` first asks
`items(session, now=now)` what to work on, then calls `service(session, item, now=now)` for
each in its own transaction, catching, logging and going on when one fails. Every service
is idempotent (unique keys, ON CONFLICT DO NOTHING, status checks), so a job may run twice,
late, or on two hosts during a lease hand-over with the same result.

Paths are resolved when the scheduler starts (`resolve_jobs`): a missing module or function
stops the process at start-up, loudly, instead of failing silently at the first run.
Triggers are wall-clock times in Asia/Shanghai. Ids are stable: operators and logs use them.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.clock import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Interval:
    """Every `seconds`, counted from the scheduler's start."""

    seconds: int

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("an interval must be positive")


@dataclass(frozen=True)
class Cron:
    """Cron fields in Asia/Shanghai (APScheduler syntax: "*", "1", "1-5", "*/2"…)."""

    minute: str = "0"
    hour: str = "*"
    day: str = "*"
    month: str = "*"
    day_of_week: str = "*"


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job.

    - `service`: "package.module:function" — called as function(session, now=…), or per
      item as function(session, item, now=…) when `items` is given.
    - `items`: "package.module:function" — (session, now=…) → the items of this run.
    - `misfire_grace`: how late a run may still start (a scheduler busy or paused past it
      skips that run); at start-up a cron job whose last fire time lies within it runs once
      to catch up (the process was down, or a standby took over).
    - `coalesce` / `max_instances`: a backlog of missed runs becomes one run; never two runs
      of one job at once.
    """

    id: str
    description: str
    service: str
    trigger: Interval | Cron
    misfire_grace: timedelta
    items: str | None = None
    run_at_start: bool = False
    coalesce: bool = True
    max_instances: int = 1


MINUTE = 60

JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        id="checks.generate_tasks",
        description="生成各周期的排查任务",
        service="app.hazard_reporting.schedules.service:generate_tasks",
        trigger=Interval(10 * MINUTE),
        misfire_grace=timedelta(minutes=10),
        run_at_start=True,
    ),
    JobSpec(
        id="checks.sweep_overdue",
        description="标记逾期排查任务并发送逾期升级提醒（排查、隐患）",
        # Sweeps overdue tasks to missed (checks.service.sweep_overdue), then writes the
        # escalation notices of overdue checks and hazards due soon or overdue.
        service="app.hazard_reporting.escalation.service:run_escalations",
        trigger=Interval(5 * MINUTE),
        misfire_grace=timedelta(minutes=5),
        # A scheduler coming back must not sit on overdue work for another interval.
        run_at_start=True,
    ),
    JobSpec(
        id="calendar.remind_unconfirmed",
        description="提醒安监局管理员确认下一年度工作日历（12月起每周一次）",
        service="app.hazard_reporting.work_calendar.service:remind_unconfirmed",
        # Daily, but one notice per admin per ISO week (dedupe key): the first run of a week
        # sends, a scheduler down at 09:00 catches up until 17:00 (never at night).
        trigger=Cron(minute="0", hour="9"),
        misfire_grace=timedelta(hours=8),
    ),
    JobSpec(
        id="notifications.daily_digests",
        description="生成每日安全汇总",
        service="app.hazard_reporting.escalation.service:build_daily_digests",
        # At the start of the working day, after the 22:00–07:00 quiet hours.
        trigger=Cron(minute="0", hour="8"),
        # A scheduler (re)started before noon catches the morning's run up; one started at
        # night does not build the new day's digest hours early (it waits for 08:00).
        misfire_grace=timedelta(hours=4),
    ),
    JobSpec(
        id="tips.propose_monthly",
        description="按季节日历生成本月安全提示建议（待审核）",
        service="app.tips.service:propose_monthly_tips",
        trigger=Cron(minute="0", hour="8", day="1"),
        # docs/DOMAIN.md §8(b): tips go out in the first week of the month.
        misfire_grace=timedelta(days=7),
    ),
    JobSpec(
        id="tips.release_due",
        description="发送到期的安全提示推送",
        service="app.tips.service:release_broadcast",
        items="app.tips.service:due_broadcast_ids",
        trigger=Interval(MINUTE),
        misfire_grace=timedelta(minutes=1),
    ),
    JobSpec(
        id="oversight.refresh_stats",
        description="更新辖区概况统计（本月和上月）",
        service="app.oversight.stats.service:refresh_rollups",
        trigger=Interval(10 * MINUTE),
        misfire_grace=timedelta(minutes=10),
        # The dashboard reads the rollups: a scheduler (re)started fills them at once.
        run_at_start=True,
    ),
    JobSpec(
        id="oversight.refresh_stats_year",
        description="重算近13个月的辖区概况统计（补计迟到的免检、销号）",
        service="app.oversight.stats.service:refresh_recent_year",
        trigger=Cron(minute="30", hour="2"),
        misfire_grace=timedelta(hours=4),
    ),
    JobSpec(
        id="tips.send_mass",
        description="提交安全提示的群发消息（按镇街标签）",
        service="app.tips.mass:send_mass",
        items="app.tips.mass:pending_mass_ids",
        trigger=Interval(MINUTE),
        misfire_grace=timedelta(minutes=1),
    ),
    JobSpec(
        id="wechat.replay_spool",
        description="重放存储中断期间暂存的微信消息",
        service="app.wechat_inbound.replay:replay_spool",
        trigger=Interval(30),
        misfire_grace=timedelta(seconds=30),
    ),
    JobSpec(
        id="tips.sync_tags",
        description="同步各镇街的微信用户标签",
        service="app.tips.mass:sync_all_tags",
        trigger=Cron(minute="20"),
        misfire_grace=timedelta(minutes=50),
    ),
)


class JobConfigError(RuntimeError):
    """A job names a service or items function that cannot be imported."""


@dataclass(frozen=True)
class ResolvedJob:
    spec: JobSpec
    service: Callable[..., Any]
    items: Callable[..., Iterable[Any]] | None


def _import(path: str, job_id: str) -> Callable[..., Any]:
    module_name, _, name = path.partition(":")
    if not module_name or not name:
        raise JobConfigError(f"job {job_id}: {path!r} is not 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise JobConfigError(f"job {job_id}: cannot import {module_name}: {exc}") from exc
    target = getattr(module, name, None)
    if not callable(target):
        raise JobConfigError(f"job {job_id}: {module_name} has no function {name}")
    return target


def resolve_jobs(specs: Iterable[JobSpec] = JOBS) -> list[ResolvedJob]:
    """Import every job's functions. Raises JobConfigError naming the first job that cannot
    be resolved, or a duplicate id."""
    resolved: list[ResolvedJob] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.id in seen:
            raise JobConfigError(f"duplicate job id {spec.id}")
        seen.add(spec.id)
        items = _import(spec.items, spec.id) if spec.items else None
        resolved.append(ResolvedJob(spec, _import(spec.service, spec.id), items))
    return resolved


@dataclass(frozen=True)
class JobOutcome:
    """What one run did: items (or the single call) that succeeded and failed, and the
    service's return value for a plain job."""

    job_id: str
    succeeded: int
    failed: int
    seconds: float
    result: Any = None


def run_job(job: ResolvedJob, now: datetime | None = None) -> JobOutcome:
    """Run `job` once at `now` (default: the clock): open a session, call the service,
    commit; per item for jobs with items. A failure is rolled back, logged with the job id
    and counted, never raised: the scheduler keeps its thread and the next items still run."""
    now = now or utcnow()
    started = time.monotonic()
    from app.extensions import db  # the holder is initialised by create_app

    if job.items is None:
        with db.new_session() as session:
            try:
                result = job.service(session, now=now)
                session.commit()
            except Exception:
                session.rollback()
                log.exception("job %s failed", job.spec.id)
                return JobOutcome(job.spec.id, 0, 1, time.monotonic() - started)
        outcome = JobOutcome(job.spec.id, 1, 0, time.monotonic() - started, result)
        log.info("job %s done in %.2fs: %s", job.spec.id, outcome.seconds, _summary(result))
        return outcome

    with db.new_session() as session:
        try:
            items = list(job.items(session, now=now))
        except Exception:
            log.exception("job %s: listing its items failed", job.spec.id)
            return JobOutcome(job.spec.id, 0, 1, time.monotonic() - started)
    succeeded = failed = 0
    for item in items:
        with db.new_session() as session:
            try:
                job.service(session, item, now=now)
                session.commit()
                succeeded += 1
            except Exception:
                session.rollback()
                failed += 1
                log.exception("job %s: item %r failed; going on with the others", job.spec.id, item)
    outcome = JobOutcome(job.spec.id, succeeded, failed, time.monotonic() - started)
    if items:
        log.info("job %s done in %.2fs: %d ok, %d failed", job.spec.id, outcome.seconds, succeeded, failed)
    return outcome


def _summary(result: Any) -> str:
    if isinstance(result, list | tuple | set):
        return f"{len(result)} items"
    return repr(result)
