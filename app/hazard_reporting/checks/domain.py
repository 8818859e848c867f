"""Pure rules of scheduled checks (班组日排查 / 部门周排查 / 经理月排查). Standard library and
other domain modules only.

- Periods: a calendar day, an ISO week (Mon–Sun) or a calendar month, in Asia/Shanghai;
  daily checks skip non-workdays (the working calendar: hazard_reporting/work_calendar);
  due times computed in local time, handed back in UTC; when the next check falls due.
- Who owes which check, and which checks can be done from which QR point.
- Check tasks: status enum + transition table, the done / done_late / missed decision.
- Submissions (扫码排查): item answers, the completeness rule, how fresh a scan must be.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from app.accounts.domain import ENTERPRISE_PERMISSIONS, ROLE_LABELS, Action, Role
from app.clock import LOCAL_TZ, local_today
from app.errors import InvalidTransition, ValidationFailed
from app.hazard_reporting.checklists.domain import ItemCategory, OnFail, ResolvedItem

# --- Periods -----------------------------------------------------------------------------


class CheckLevel(StrEnum):
    DAILY = "daily"  # 班组日排查: a calendar day
    WEEKLY = "weekly"  # 部门周排查: an ISO week, Monday to Sunday
    MONTHLY = "monthly"  # 经理月排查: a calendar month


CHECK_LEVEL_LABELS = {
    CheckLevel.DAILY: "班组日排查",
    CheckLevel.WEEKLY: "部门周排查",
    CheckLevel.MONTHLY: "经理月排查",
}
# Which checklist items a check of each level goes through.
ITEM_LEVEL_OF = {CheckLevel.DAILY: "D", CheckLevel.WEEKLY: "W", CheckLevel.MONTHLY: "M"}


@dataclass(frozen=True, order=True)
class Period:
    """A check period: local calendar dates, both ends included."""

    start: date
    end: date


def period_containing(level: CheckLevel, day: date) -> Period:
    """The day, ISO week (Mon–Sun; a week belongs to no month or year boundary) or calendar
    month containing `day`."""
    if level is CheckLevel.DAILY:
        return Period(day, day)
    if level is CheckLevel.WEEKLY:
        monday = day - timedelta(days=day.isoweekday() - 1)
        return Period(monday, monday + timedelta(days=6))
    first = day.replace(day=1)
    return Period(first, day.replace(day=calendar.monthrange(day.year, day.month)[1]))


def next_period(level: CheckLevel, period: Period) -> Period:
    return period_containing(level, period.end + timedelta(days=1))


def iso_week_label(period: Period) -> str:
    """'2026-W53' — the ISO year may differ from the calendar year of the start/end."""
    year, week, _ = period.start.isocalendar()
    return f"{year}-W{week:02d}"


def periods_between(
    level: CheckLevel, first: date, last: date, is_workday: Callable[[date], bool] | None = None
) -> Iterator[Period]:
    """Every period overlapping [first, last] in order. With `is_workday` (daily checks on
    workdays only: the working calendar's), non-workdays are skipped: a holiday has no daily
    check."""
    if first > last:
        return
    period = period_containing(level, first)
    while period.start <= last:
        if is_workday is None or level is not CheckLevel.DAILY or is_workday(period.start):
            yield period
        period = next_period(level, period)


@dataclass(frozen=True)
class Timing:
    """When a check of a period is due, and how long past that it may still be done."""

    level: CheckLevel
    due_time: time  # local wall-clock time
    grace_minutes: int
    workdays_only: bool = False  # daily checks only
    due_weekday: int | None = None  # weekly: ISO weekday 1–7 (default Friday)
    due_month_day: int | None = None  # monthly: 1–31, clamped to month end; None = last day


DEFAULT_WEEKLY_DUE_WEEKDAY = 5  # Friday


def due_date(timing: Timing, period: Period) -> date:
    """The local date a period's check is due on: the day itself, the week's due weekday
    (default Friday), or the month's due day (default and clamp: the last day)."""
    if timing.level is CheckLevel.DAILY:
        return period.start
    if timing.level is CheckLevel.WEEKLY:
        weekday = timing.due_weekday or DEFAULT_WEEKLY_DUE_WEEKDAY
        return period.start + timedelta(days=weekday - 1)
    if timing.due_month_day is None:
        return period.end
    return period.start.replace(day=min(timing.due_month_day, period.end.day))


def local_instant(day: date, at: time) -> datetime:
    """A local (Asia/Shanghai) wall-clock time on `day`, as an aware UTC datetime."""
    return datetime.combine(day, at, tzinfo=LOCAL_TZ).astimezone(UTC)


def due_window(timing: Timing, period: Period) -> tuple[datetime, datetime]:
    """(due_at, grace_until) of a period, both UTC."""
    due_at = local_instant(due_date(timing, period), timing.due_time)
    return due_at, due_at + timedelta(minutes=timing.grace_minutes)


def next_due_period(
    timing: Timing,
    now: datetime,
    closed_starts: Container[date],
    is_workday: Callable[[date], bool] | None = None,
    look_ahead: int = 62,
) -> tuple[Period, datetime] | None:
    """The first period, from the one containing today on, whose check is still to be done
    (not closed as done, missed or excused, and its grace not over), with its due time.

    Daily checks on workdays skip non-workdays by `is_workday`. None when nothing is due
    within `look_ahead` periods."""
    period = period_containing(timing.level, local_today(now))
    for _ in range(look_ahead):
        skipped = (
            timing.workdays_only
            and timing.level is CheckLevel.DAILY
            and is_workday is not None
            and not is_workday(period.start)
        )
        if not skipped and period.start not in closed_starts:
            due_at, grace_until = due_window(timing, period)
            if now <= grace_until:
                return period, due_at
        period = next_period(timing.level, period)
    return None


# --- Who owes which check ----------------------------------------------------------------


class ScheduleKind(StrEnum):
    ROUTINE = "routine"  # 班组日 / 部门周 / 经理月排查
    RISK_POINT = "risk_point"  # 较大危险因素点位的专门巡查


@dataclass(frozen=True)
class ScheduleFacts:
    """What the ownership and location rules need to know about a schedule."""

    kind: ScheduleKind
    level: CheckLevel
    team_id: int | None
    department_id: int | None
    site_id: int | None


@dataclass(frozen=True)
class MemberFacts:
    """One active membership: the role and the unit it is tied to. `department_id` is the
    membership's department, or for a team leader the department of their team."""

    role: Role
    team_id: int | None = None
    department_id: int | None = None


def owes(schedule: ScheduleFacts, member: MemberFacts) -> bool:
    """Does this membership owe checks of this schedule?

    Routine: team leader → the daily check of their team; department head → the weekly check
    of their department; manager → the monthly check of the enterprise.
    Risk point: a schedule naming a team is owed by that team's leaders; one naming a
    department by its head and, for daily rounds, by the leaders of its teams; a site with no
    owning unit by the enterprise's safety officers and managers."""
    role = member.role
    if schedule.kind is ScheduleKind.ROUTINE:
        if schedule.level is CheckLevel.DAILY:
            return role is Role.TEAM_LEADER and member.team_id == schedule.team_id
        if schedule.level is CheckLevel.WEEKLY:
            return role is Role.DEPARTMENT_HEAD and member.department_id == schedule.department_id
        return role is Role.MANAGER
    if schedule.team_id is not None:
        return role is Role.TEAM_LEADER and member.team_id == schedule.team_id
    if schedule.department_id is not None:
        if member.department_id != schedule.department_id:
            return False
        if role is Role.DEPARTMENT_HEAD:
            return True
        return role is Role.TEAM_LEADER and schedule.level is CheckLevel.DAILY
    return role in (Role.SAFETY_OFFICER, Role.MANAGER)


def checkable_at(schedule: ScheduleFacts, site_id: int, site_department_id: int | None) -> bool:
    """Can this schedule's check be done from that QR point (of the same enterprise)?

    A schedule tied to a site: only there. A team's daily or a department's weekly check:
    at the sites of that department or at sites belonging to no department. The monthly
    check covers the whole enterprise."""
    if schedule.site_id is not None:
        return schedule.site_id == site_id
    if schedule.level is CheckLevel.MONTHLY or site_department_id is None:
        return True
    return schedule.department_id == site_department_id


# --- Check tasks -------------------------------------------------------------------------


class CheckTaskStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"  # submitted by the due time
    DONE_LATE = "done_late"  # submitted after the due time, within the grace period
    MISSED = "missed"  # not submitted by the end of the grace period
    EXCUSED = "excused"  # approved not to be done (停产、放假…), with reason and approver


CHECK_TASK_STATUS_LABELS = {
    CheckTaskStatus.PENDING: "待检查",
    CheckTaskStatus.DONE: "已完成",
    CheckTaskStatus.DONE_LATE: "逾期完成",
    CheckTaskStatus.MISSED: "漏检",
    CheckTaskStatus.EXCUSED: "已批准免检",
}

# Who may excuse a pending or missed check (service.excuse_task): the people accountable for
# closing hazards — never for a check they owe themselves.
EXCUSE_ACTION = Action.VERIFY_HAZARD


def excuse_roles() -> tuple[Role, ...]:
    """The enterprise roles that may excuse a check, in the order Role lists them."""
    return tuple(role for role in Role if EXCUSE_ACTION in ENTERPRISE_PERMISSIONS[role])


def missed_explanation(due_at: datetime, grace_minutes: int) -> str:
    """What a missed check says on the phone: why it counts as missed and who may excuse it.
    `due_at` is shown in local time (HH:MM)."""
    who = "/".join(ROLE_LABELS[role] for role in excuse_roles())
    return (
        f"已超过截止时间（截止 {due_at.astimezone(LOCAL_TZ):%H:%M}，宽限 {grace_minutes} 分钟）未提交；"
        f"可由 {who} 在管理后台批准免除"
    )


# Allowed status changes. A missed check may still be excused afterwards (the plant was
# shut that day and nobody filed it in time); nothing leaves done, done_late or excused.
TASK_TRANSITIONS: frozenset[tuple[CheckTaskStatus, CheckTaskStatus]] = frozenset(
    {
        (CheckTaskStatus.PENDING, CheckTaskStatus.DONE),
        (CheckTaskStatus.PENDING, CheckTaskStatus.DONE_LATE),
        (CheckTaskStatus.PENDING, CheckTaskStatus.MISSED),
        (CheckTaskStatus.PENDING, CheckTaskStatus.EXCUSED),
        (CheckTaskStatus.MISSED, CheckTaskStatus.EXCUSED),
    }
)
OPEN_TASK_STATUSES = frozenset({CheckTaskStatus.PENDING})
# A task that still owes its check: not done and not excused. A missed one still owes it
# (the escalation ladder keeps climbing until it is done late or excused).
OWING_STATUSES = frozenset({CheckTaskStatus.PENDING, CheckTaskStatus.MISSED})


def is_task_overdue(status: str, due_at: datetime, now: datetime) -> bool:
    """Is a check task overdue at `now`: it still owes its check and its due time has
    passed. The SQL of the same rule is queries.task_overdue_clause
    (tests/integration/test_task_overdue.py keeps them equal)."""
    return status in OWING_STATUSES and now > due_at
MAX_EXCUSE_REASON = 200


def check_task_transition(current: CheckTaskStatus, target: CheckTaskStatus) -> None:
    """Raises InvalidTransition (Chinese message) unless the table allows it."""
    if (current, target) not in TASK_TRANSITIONS:
        raise InvalidTransition(
            f"检查任务当前为“{CHECK_TASK_STATUS_LABELS[current]}”，"
            f"不能改为“{CHECK_TASK_STATUS_LABELS[target]}”。"
        )


def timeliness(now: datetime, due_at: datetime, grace_until: datetime) -> CheckTaskStatus:
    """How a check done at `now` counts: by the due time → done; by the end of grace
    (inclusive) → done_late; later → missed. The same whether or not the sweep ran."""
    if now <= due_at:
        return CheckTaskStatus.DONE
    if now <= grace_until:
        return CheckTaskStatus.DONE_LATE
    return CheckTaskStatus.MISSED


def status_after_submission(
    current: CheckTaskStatus, now: datetime, due_at: datetime, grace_until: datetime
) -> CheckTaskStatus:
    """The task's status once a submission arrives at `now`.

    Pending: done / done_late / missed by `timeliness`. Already done or done_late: unchanged
    (a repeated submission is not a new occurrence). Missed: stays missed (the check was
    late beyond grace; the submission itself is still recorded by the caller).
    Raises InvalidTransition for an excused task."""
    if current is CheckTaskStatus.EXCUSED:
        raise InvalidTransition("该检查任务已批准免检，无需提交。")
    if current is not CheckTaskStatus.PENDING:
        return current
    return timeliness(now, due_at, grace_until)


def check_excuse_reason(reason: str) -> str:
    """An excuse needs a reason of 1–200 characters. Raises ValidationFailed."""
    cleaned = (reason or "").strip()
    if not cleaned:
        raise ValidationFailed.for_field("reason", "请填写免检原因")
    if len(cleaned) > MAX_EXCUSE_REASON:
        raise ValidationFailed.for_field("reason", f"不能超过 {MAX_EXCUSE_REASON} 个字符")
    return cleaned


def is_open(status: CheckTaskStatus, period_start: date, grace_until: datetime, now: datetime) -> bool:
    """A task can be done now: pending, its period has begun (local date), grace not over."""
    return status in OPEN_TASK_STATUSES and period_start <= local_today(now) and now <= grace_until


# --- Check submissions (扫码排查) ----------------------------------------------------------


class ItemResult(StrEnum):
    """The answer to one item of a check."""

    OK = "ok"  # 符合
    HAZARD = "hazard"  # 不符合: a hazard is reported for it, with a description and photos
    NOT_APPLICABLE = "not_applicable"  # 不适用 at this point (no such equipment, no such work)


ITEM_RESULT_LABELS = {
    ItemResult.OK: "符合",
    ItemResult.HAZARD: "隐患",
    ItemResult.NOT_APPLICABLE: "不适用",
}


class SubmissionStatus(StrEnum):
    ON_TIME = "on_time"  # by the due time
    LATE = "late"  # after the due time, within the grace period


SUBMISSION_STATUS_LABELS = {SubmissionStatus.ON_TIME: "按时完成", SubmissionStatus.LATE: "逾期完成"}

MAX_RESULT_NOTE = 200  # a short description: what is wrong, where exactly
MAX_PHOTOS_PER_ITEM = 9  # what wx.chooseImage offers at most
# A scan shows the checker stood at the point. It vouches for a while only: a form opened
# from a morning scan is not to be sent from the office in the evening.
SCAN_VALID_FOR = timedelta(hours=4)
# Phones and servers disagree by a little; a scan "from the future" within this is fine.
CLOCK_SKEW = timedelta(minutes=5)
SCAN_EXPIRED = "扫码已超过 4 小时，请回到现场重新扫描点位二维码后再提交（已填写的内容会保留）。"


def submission_status(task_status: CheckTaskStatus) -> SubmissionStatus:
    """On time or late, from the status the task was closed with."""
    if task_status is CheckTaskStatus.DONE:
        return SubmissionStatus.ON_TIME
    if task_status is CheckTaskStatus.DONE_LATE:
        return SubmissionStatus.LATE
    raise ValueError(f"a submission does not close a task as {task_status}")


def check_scan_fresh(scanned_at: datetime, now: datetime) -> None:
    """The scan behind a submission must be recent. Raises ValidationFailed."""
    if scanned_at > now + CLOCK_SKEW:
        raise ValidationFailed.for_field("scanned_at", "扫码时间不正确，请重新扫描点位二维码")
    if now - scanned_at > SCAN_VALID_FOR:
        raise ValidationFailed.for_field("scanned_at", SCAN_EXPIRED)


@dataclass(frozen=True)
class AnswerFacts:
    """What the completeness rule needs to know about one answer."""

    result: ItemResult | None
    note: str = ""
    photo_count: int = 0


def answer_problems(codes: Sequence[str], answers: Mapping[str, AnswerFacts]) -> dict[str, str]:
    """What keeps a check from being submitted, by item code (empty: complete).

    Every item of the check is answered; an item answered 隐患 has a short description and at
    least one photo; photos belong to 隐患 items only; no answer names an item outside the
    check (a stale form after the checklist changed)."""
    problems: dict[str, str] = {}
    wanted = set(codes)
    for code in answers:
        if code not in wanted:
            problems[code] = "不属于本次检查的检查项，请刷新页面后重新填写"
    for code in codes:
        answer = answers.get(code)
        if answer is None or answer.result is None:
            problems[code] = "请选择“符合”“隐患”或“不适用”"
        elif answer.result is ItemResult.HAZARD:
            if not answer.note.strip():
                problems[code] = "请简要描述发现的隐患"
            elif answer.photo_count < 1:
                problems[code] = "请至少拍摄一张隐患照片"
            elif answer.photo_count > MAX_PHOTOS_PER_ITEM:
                problems[code] = f"每项最多 {MAX_PHOTOS_PER_ITEM} 张照片"
        elif answer.photo_count:
            problems[code] = "只有判定为“隐患”的检查项需要上传照片"
    return problems


def in_form_order(items: Sequence[ResolvedItem]) -> list[ResolvedItem]:
    """Items as a check form lists and numbers them: by category (场所环境, 设备设施, 作业行为,
    基础管理, 应急管理), in checklist order within each. Messages say "第 N 项" by this order."""
    rank = {category: n for n, category in enumerate(ItemCategory)}
    return sorted(items, key=lambda resolved: rank[resolved.item.category])


# --- Control items (双重预防: the risk register's controls in the routine checks) --------------
# A control of the risk register (risks/) is verified by the routine check of the unit that
# answers for it: a team-level control by that team's 班组日排查 when its leader scans the
# control's site, a department-level one by that department's 部门周排查 at the site, a
# company-level one by the 经理月排查 (which covers the whole enterprise, wherever the manager
# scans). Post-level controls are confirmed by each worker of the post at the site (岗位自查).
# Risk-point rounds (ScheduleKind.RISK_POINT) carry no control items: they have their own list.


class ItemOriginKind(StrEnum):
    """Where an item of a check form comes from (the CONTRACT's `origin`)."""

    CHECKLIST = "checklist"  # a line of the law's checklist (the enterprise's copy)
    CONTROL = "control"  # a control of the enterprise's risk register


CONTROL_ITEM_PREFIX = "RC-"
# How a control's kind (risks.domain.ControlKind values) files its item and its hazard.
CONTROL_KIND_CATEGORY = {
    "engineering": ItemCategory.EQUIP,
    "management": ItemCategory.MGMT,
    "training": ItemCategory.MGMT,
    "ppe": ItemCategory.BEHAV,
    "emergency": ItemCategory.EMERG,
}
# A failed control of a 重大/较大 risk (risks.domain.RiskGrade values) is reviewed by the safety
# officer (who may upgrade it to a major hazard); of a 一般/低 risk it is a general hazard.
_REVIEWED_GRADES = frozenset({"major", "large"})


def control_item_code(control_id: int) -> str:
    """The item code of a control in a check: RC-<id> (at most 16 characters)."""
    return f"{CONTROL_ITEM_PREFIX}{control_id}"


def control_on_fail(grade: str) -> OnFail:
    """What a failed control item means, by the grade of the risk it controls."""
    return OnFail.REVIEW if grade in _REVIEWED_GRADES else OnFail.GENERAL


@dataclass(frozen=True)
class ControlFacts:
    """What the composition rules need to know about one control of the register.

    `check_level` is the routine check that verifies it (None: a post-level control, the
    worker's 岗位自查); `site_id` the site of its risk point; `active` false when the control,
    its source or its risk point is retired."""

    id: int
    check_level: CheckLevel | None
    team_id: int | None
    department_id: int | None
    post_id: int | None
    site_id: int | None
    active: bool = True


def control_offered(schedule: ScheduleFacts, site_id: int | None, control: ControlFacts) -> bool:
    """Is `control` an item of a check of `schedule` done at `site_id` (None: wherever the
    check is done — the API's list of what a task may carry)? Ignores `active`."""
    if schedule.kind != ScheduleKind.ROUTINE or control.check_level is None or control.check_level != schedule.level:
        return False
    at_site = site_id is None or control.site_id == site_id
    if schedule.level == CheckLevel.DAILY:
        return control.team_id is not None and control.team_id == schedule.team_id and at_site
    if schedule.level == CheckLevel.WEEKLY:
        return control.department_id is not None and control.department_id == schedule.department_id and at_site
    return True


def controls_for(schedule: ScheduleFacts, site_id: int | None, controls: Iterable[ControlFacts]) -> list[ControlFacts]:
    """The active controls a check of `schedule` at `site_id` goes through, in the given order."""
    return [c for c in controls if c.active and control_offered(schedule, site_id, c)]


def post_controls_for(post_ids: Container[int], site_id: int, controls: Iterable[ControlFacts]) -> list[ControlFacts]:
    """The active post-level controls of the worker's posts at the scanned site (岗位自查)."""
    return [
        c
        for c in controls
        if c.active and c.check_level is None and c.post_id is not None and c.post_id in post_ids
        and c.site_id == site_id
    ]


class SelfCheckResult(StrEnum):
    """A worker's answer to one control of their post (岗位自查)."""

    CONFIRMED = "confirmed"  # 已确认: the control is in place
    PROBLEM = "problem"  # 有问题: reported as a hazard, with a note


SELF_CHECK_RESULT_LABELS = {SelfCheckResult.CONFIRMED: "已确认", SelfCheckResult.PROBLEM: "有问题"}


def check_self_check_note(result: SelfCheckResult, note: str) -> str:
    """A 有问题 answer says what is wrong (1–200 characters). Raises ValidationFailed."""
    cleaned = (note or "").strip()
    if len(cleaned) > MAX_RESULT_NOTE:
        raise ValidationFailed.for_field("note", f"不能超过 {MAX_RESULT_NOTE} 个字符")
    if result is SelfCheckResult.PROBLEM and not cleaned:
        raise ValidationFailed.for_field("note", "请简要写明发现的问题")
    return cleaned
