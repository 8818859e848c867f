"""The demo's headline flow at any hour: a named team leader with today's 班组日排查 open.

The demo runs for days, and people try it at any hour; a day team's check (due 17:00, two
hours' grace) is missed by evening. So one demo team works the night shift: its daily check
is due at 23:59 local every day (data.HEADLINE), set through the schedules service as the
enterprise admin would set it. Every day the scheduler generates that day's task; nothing in
the demo submits today's (the history leaves it to the visitor), so from 00:00 to 23:59 it is
open and not past due. Nothing is re-opened or faked.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.accounts.queries import load_actor
from app.demo import data
from app.enterprises.models import Department, Enterprise, Site, Team
from app.enterprises.schemas import uscc_check_digit
from app.hazard_reporting.checks.domain import CheckLevel, ScheduleKind
from app.hazard_reporting.schedules import service as schedules
from app.hazard_reporting.schedules.models import CheckSchedule

SPEC = data.HEADLINE


def _enterprise(session: Session) -> Enterprise | None:
    spec = next(e for e in data.ENTERPRISES if e["key"] == SPEC["enterprise"])
    uscc = spec["uscc17"] + uscc_check_digit(spec["uscc17"])
    return session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))


def _team(session: Session, enterprise: Enterprise) -> Team | None:
    return session.scalar(
        select(Team)
        .join(Department)
        .where(
            Department.enterprise_id == enterprise.id,
            Department.name == SPEC["department"],
            Team.name == SPEC["team"],
        )
    )


def _schedule(session: Session, enterprise: Enterprise, team: Team) -> CheckSchedule | None:
    return session.scalar(
        select(CheckSchedule).where(
            CheckSchedule.enterprise_id == enterprise.id,
            CheckSchedule.kind == ScheduleKind.ROUTINE,
            CheckSchedule.level == CheckLevel.DAILY,
            CheckSchedule.team_id == team.id,
        )
    )


def ensure_night_schedule(session: Session, now: datetime) -> CheckSchedule | None:
    """Make the headline team's daily check the night shift's: due 23:59 local every day
    with data.HEADLINE's grace, through schedules.update_schedule as the enterprise admin
    (for periods not generated yet). On a demo whose schedules were set up before the team
    existed, its missing default schedule is created first (ensure_default_schedules: only
    this team's is missing); an enterprise without schedules (a seed without the history)
    is left alone. Idempotent; None when there is nothing to set."""
    enterprise = _enterprise(session)
    team = _team(session, enterprise) if enterprise is not None else None
    if enterprise is None or team is None:
        return None
    schedule = _schedule(session, enterprise, team)
    if schedule is None:
        has_schedules = session.scalar(
            select(CheckSchedule.id).where(
                CheckSchedule.enterprise_id == enterprise.id, CheckSchedule.kind == ScheduleKind.ROUTINE
            ).limit(1)
        )
        if has_schedules is None:
            return None
        schedules.ensure_default_schedules(session, now, enterprise.id)
        session.flush()
        schedule = _schedule(session, enterprise, team)
        if schedule is None:
            return None
    due = time.fromisoformat(SPEC["due_time"])
    wanted = {"due_time": due, "grace_minutes": SPEC["grace_minutes"], "workdays_only": False}
    if {name: getattr(schedule, name) for name in wanted} != wanted:
        admin = session.scalar(select(User).where(User.username == f"{SPEC['enterprise']}_admin"))
        if admin is None:
            return schedule
        schedules.update_schedule(session, load_actor(session, admin), now, schedule.id, wanted)
    return schedule


def headline(session: Session) -> dict[str, Any] | None:
    """Who tries what: the night team's leader, the point to scan, the check — for the
    start-up banner and `demo seed --json`. None without the demo."""
    enterprise = _enterprise(session)
    team = _team(session, enterprise) if enterprise is not None else None
    if enterprise is None or team is None:
        return None
    leader = session.execute(
        select(User.display_name, User.openid)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.enterprise_id == enterprise.id,
            Membership.team_id == team.id,
            Membership.role == Role.TEAM_LEADER,
            Membership.active.is_(True),
        )
        .order_by(Membership.id)
        .limit(1)
    ).first()
    site = session.scalar(select(Site).where(Site.enterprise_id == enterprise.id, Site.name == SPEC["site"]))
    schedule = _schedule(session, enterprise, team)
    if leader is None or site is None or schedule is None:
        return None
    return {
        "enterprise": enterprise.name,
        "team": team.name,
        "leader": leader.display_name,
        "leader_openid": leader.openid,
        "site": site.name,
        "check": schedule.label,
        "due_time": schedule.due_time.strftime("%H:%M"),
        "text": f"试一试：在模拟器中以 {leader.display_name}（班组长）扫描点位「{site.name}」完成今天的{schedule.label}",
    }
