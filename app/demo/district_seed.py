"""Write the planned district (district.py): the enterprises, and for those with a history
their minimal organisation — one department, one or two teams, one to three points, and
the people the history needs (主要负责人 as manager, a safety officer who also heads the
department, a leader per team). Nobody here is bound to WeChat (no openid): the district
is summarised, not staffed per worker; notices addressed to them are dropped by the
dispatcher ("收件人未绑定微信"), as for any enterprise whose people have not bound yet.

In bulk (one INSERT … executemany per table) and idempotent: an enterprise whose USCC
exists is left as it is, with whatever organisation it has.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.demo.district import EnterprisePlan, plan_district
from app.enterprises.domain import new_site_token
from app.enterprises.models import Department, Enterprise, Site, Team, Town


def seed_district(session: Session, today: date, towns: dict[str, Town]) -> int:
    """Insert the planned enterprises that do not exist yet, with their organisation.
    Returns how many rows were written (0 on a second run)."""
    plans = plan_district(today)
    existing = set(session.scalars(select(Enterprise.uscc).where(Enterprise.uscc.in_([p.uscc for p in plans]))))
    missing = [p for p in plans if p.uscc not in existing]
    if not missing:
        return 0
    session.execute(insert(Enterprise.__table__), [p.enterprise_fields(towns[p.town_code].id) for p in missing])
    ids = dict(
        session.execute(select(Enterprise.uscc, Enterprise.id).where(Enterprise.uscc.in_([p.uscc for p in missing])))
        .all()
    )
    written = len(missing)
    staffed = [p for p in missing if p.tier is not None]
    if not staffed:
        return written

    session.execute(insert(Department.__table__), [{"enterprise_id": ids[p.uscc], "name": p.department} for p in staffed])
    departments = dict(
        session.execute(
            select(Department.enterprise_id, Department.id).where(
                Department.enterprise_id.in_([ids[p.uscc] for p in staffed])
            )
        )
        .all()
    )
    session.execute(
        insert(Team.__table__),
        [{"department_id": departments[ids[p.uscc]], "name": name} for p in staffed for name in p.teams],
    )
    teams: dict[tuple[int, str], int] = {
        (department_id, name): team_id
        for team_id, department_id, name in session.execute(
            select(Team.id, Team.department_id, Team.name).where(Team.department_id.in_(list(departments.values())))
        )
    }
    session.execute(
        insert(Site.__table__),
        [
            {
                "enterprise_id": ids[p.uscc],
                "department_id": departments[ids[p.uscc]],
                "name": name,
                "area": area,
                "token": new_site_token(),
            }
            for p in staffed
            for name, area in p.sites
        ],
    )
    written += len(staffed) + sum(len(p.teams) + len(p.sites) for p in staffed)

    # The people: users first (no username, no openid), then their roles.
    people: list[tuple[EnterprisePlan, str, str, Role, str | None]] = []  # plan, key, name, role, team
    for p in staffed:
        people.append((p, "manager", p.principal_name, Role.MANAGER, None))
        people.append((p, "safety", p.safety_officer, Role.SAFETY_OFFICER, None))
        for n, (team, leader) in enumerate(zip(p.teams, p.team_leaders, strict=True)):
            people.append((p, f"leader{n}", leader, Role.TEAM_LEADER, team))
    phones = {(p.uscc, "manager"): p.principal_phone for p in staffed}
    user_rows = [
        {"display_name": name, "phone": phones.get((p.uscc, key), ""), "subscribed": False}
        for p, key, name, _role, _team in people
    ]
    users = User.__table__
    user_ids = list(session.scalars(insert(users).returning(users.c.id, sort_by_parameter_order=True), user_rows))
    memberships: list[dict[str, Any]] = []
    for (p, key, _name, role, team), user_id in zip(people, user_ids, strict=True):
        enterprise_id = ids[p.uscc]
        department_id = departments[enterprise_id]
        row = {"user_id": user_id, "enterprise_id": enterprise_id, "role": role, "department_id": None, "team_id": None}
        if role is Role.TEAM_LEADER:
            row.update(department_id=department_id, team_id=teams[(department_id, team)])
        memberships.append(row)
        if key == "safety":  # who heads the one department: the weekly check is theirs
            memberships.append({**row, "role": Role.DEPARTMENT_HEAD, "department_id": department_id})
    session.execute(insert(Membership.__table__), memberships)
    written += len(user_rows) + len(memberships)
    session.flush()
    return written
