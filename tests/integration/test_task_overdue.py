"""One rule for "this check task is overdue" and one for "its grace is over": the domain
functions (checks.domain.is_task_overdue, timeliness) and the SQL that applies them
(checks.queries.task_overdue_clause, checks.service.sweep_overdue) agree on every status and
every due time around `now`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.hazard_reporting.checklists import service as checklists
from app.hazard_reporting.checks import service as checks
from app.hazard_reporting.checks.domain import CheckTaskStatus, is_task_overdue, timeliness
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import task_overdue_clause
from app.hazard_reporting.schedules import service as schedules
from tests.fixtures.checks import MONDAY, CheckOrg

NOW = MONDAY + timedelta(days=1)
OFFSETS = [timedelta(days=-2), timedelta(seconds=-1), timedelta(0), timedelta(seconds=1), timedelta(hours=3)]


def _tasks(db_session, build) -> list[CheckTask]:
    """A month of generated tasks of one enterprise (real rows: every constraint holds)."""
    checklists.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate(MONDAY)
    schedules.generate_tasks(db_session, MONDAY + timedelta(days=30))
    return list(db_session.scalars(select(CheckTask).where(CheckTask.enterprise_id == org.enterprise.id)))


def test_the_overdue_rule_and_its_sql_agree(db_session, build):
    tasks = _tasks(db_session, build)
    cases = [(status, offset) for status in CheckTaskStatus for offset in OFFSETS]
    assert len(tasks) >= len(cases)
    by_rule, case_of = set(), {}
    for task, (status, offset) in zip(tasks, cases, strict=False):
        task.status, task.due_at, task.grace_until = status, NOW + offset, NOW + offset + timedelta(hours=2)
        case_of[task.id] = (status, offset)
        if is_task_overdue(status, task.due_at, NOW):
            by_rule.add(task.id)
    db_session.flush()
    in_sql = set(db_session.scalars(select(CheckTask.id).where(CheckTask.id.in_(case_of), task_overdue_clause(NOW))))
    assert in_sql == by_rule
    overdue = {case_of[i] for i in by_rule}
    # The rule spelled out: still owing (pending or missed), due time strictly passed.
    assert overdue == {
        (status, offset)
        for status in (CheckTaskStatus.PENDING, CheckTaskStatus.MISSED)
        for offset in OFFSETS
        if offset < timedelta(0)
    }


def test_the_sweep_marks_missed_exactly_what_timeliness_calls_missed(db_session, build):
    tasks = _tasks(db_session, build)
    expected = set()
    for task, offset in zip(tasks, OFFSETS * len(tasks), strict=False):
        task.status = CheckTaskStatus.PENDING
        task.due_at, task.grace_until = NOW + offset - timedelta(hours=2), NOW + offset
        if timeliness(NOW, task.due_at, task.grace_until) is CheckTaskStatus.MISSED:
            expected.add(task.id)
    db_session.flush()
    swept = {t.id for t in checks.sweep_overdue(db_session, NOW)}
    assert swept == expected and expected
