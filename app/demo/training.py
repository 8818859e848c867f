"""The demo's safety training: a few sessions across the staffed enterprises, recorded through
the training service by each enterprise's safety officer, so that the bureau's coverage page
shows a partial picture — some principals and safety officers covered, some lapsed, one who
failed the assessment, and enterprises with no record at all."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.accounts.queries import load_actor
from app.clock import local_today
from app.enterprises.models import Enterprise
from app.oversight.training import service
from app.oversight.training.models import TrainingSession

# (enterprise name, days before today, kind, topic, trainer, hours, who attends, who failed)
# Attending roles: "manager", "safety" (the safety officer), "workers" (every worker).
SESSIONS: tuple[tuple[str, int, str, str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("郑州恒达铸造有限公司", 120, "principal_officer", "主要负责人和安全管理人员安全生产知识和管理能力培训",
     "区应急管理局培训中心 王老师", "16", ("manager", "safety"), ()),
    ("郑州恒达铸造有限公司", 30, "confined_space", "有限空间作业专题培训（审批、监护、作业、救援）",
     "安全管理员", "4", ("safety", "workers"), ()),
    ("郑州金穗食品有限公司", 60, "annual_refresher", "年度安全生产再培训（涉氨制冷）",
     "郑州安培咨询 刘工", "8", ("manager", "safety"), ("safety",)),
    ("郑州中原铝材有限公司", 400, "annual_refresher", "年度安全生产再培训",
     "郑州安培咨询 刘工", "8", ("manager", "safety"), ()),
)


def _members(session: Session, enterprise_id: int, role: Role) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership)
            .where(Membership.enterprise_id == enterprise_id, Membership.role == role, Membership.active.is_(True))
            .order_by(Membership.id)
        )
    )


def seed_training(session: Session, now: datetime) -> int:
    """Record the demo sessions of the enterprises that have none yet. Returns how many."""
    today = local_today(now)
    created = 0
    for name, days, kind, topic, trainer, hours, attending, failing in SESSIONS:
        enterprise = session.scalar(select(Enterprise).where(Enterprise.name == name))
        if enterprise is None:
            continue
        if session.scalar(
            select(TrainingSession.id).where(
                TrainingSession.enterprise_id == enterprise.id, TrainingSession.topic == topic
            )
        ):
            continue
        officers = _members(session, enterprise.id, Role.SAFETY_OFFICER)
        if not officers:
            continue
        groups = {
            "manager": _members(session, enterprise.id, Role.MANAGER)[:1],
            "safety": officers[:1],
            "workers": _members(session, enterprise.id, Role.WORKER),
        }
        attendees: list[dict[str, Any]] = []
        for group in attending:
            for membership in groups[group]:
                attendees.append(
                    {"membership_id": membership.id, "passed": group not in failing,
                     "certificate_no": f"ZZAJ{today.year}{membership.id:05d}" if kind == "principal_officer" else None}
                )
        actor = load_actor(session, session.get(User, officers[0].user_id))
        service.record_session(
            session, actor, now, enterprise.id,
            {"topic": topic, "kind": kind, "held_on": today - timedelta(days=days), "trainer": trainer,
             "hours": hours, "location": "公司会议室", "notes": "", "attendees": attendees},
        )
        created += 1
    return created
