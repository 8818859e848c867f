"""The demo's enforcement inspections (执法检查), written through the services as the
bureau and the enterprise would: a signed inspection of a demo enterprise with two problems
(both hazards in its ledger, one rectified and verified by its safety officer), and an
older one re-inspected and accepted (复查验收). Written once (any inspection: skipped)."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.accounts.queries import load_actor
from app.clock import local_today
from app.enterprises.models import Town
from app.hazard_reporting.hazards import service as hazards_service
from app.oversight.enforcement import service
from app.oversight.enforcement.models import Inspection

log = logging.getLogger(__name__)

INSPECTOR = "staff_north"  # 区安监局 北片网格员 (花园口镇、古荥镇)
TOWNS = ("410108101", "410108102")


def _png(image: Image.Image, points: list[tuple[int, int]], ink: tuple[int, ...]) -> bytes:
    ImageDraw.Draw(image).line(points, fill=ink, width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _signature() -> bytes:
    """A scrawl on a transparent canvas, as the sign page posts it."""
    points = [(40, 160), (110, 50), (170, 170), (260, 60), (330, 150), (420, 70), (520, 160), (600, 80)]
    return _png(Image.new("RGBA", (640, 220), (0, 0, 0, 0)), points, (17, 17, 17, 255))


def _after_photo() -> bytes:
    return _png(Image.new("RGB", (800, 600), (214, 222, 230)), [(100, 500), (400, 120), (700, 500)], (7, 193, 96))


def seed_enforcement(session: Session, now: datetime, media_root: str | Path, enterprises: dict) -> int:
    """Write the two inspections; returns how many (0 when any exists or nothing fits)."""
    if session.scalar(select(func.count()).select_from(Inspection)):
        return 0
    inspector = session.scalar(select(User).where(User.username == INSPECTOR))
    town_ids = set(session.scalars(select(Town.id).where(Town.code.in_(TOWNS))))
    candidates = [e for e in enterprises.values() if e.town_id in town_ids]
    if inspector is None or not candidates:
        log.warning("demo enforcement skipped: no inspector or enterprise in %s", TOWNS)
        return 0
    enterprise = candidates[0]
    officer_id = session.scalar(
        select(Membership.user_id).where(
            Membership.enterprise_id == enterprise.id, Membership.role == Role.SAFETY_OFFICER, Membership.active.is_(True)
        )
    )
    if officer_id is None:
        return 0
    actor = load_actor(session, inspector)
    officer = load_actor(session, session.get(User, officer_id))
    today = local_today(now)

    def inspection(days_ago: int, problems: list[tuple[str, str, str, int]], summary: str) -> Inspection:
        record = service.create(
            session, actor, now,
            {"enterprise_id": enterprise.id, "inspected_on": (today - timedelta(days=days_ago)).isoformat(),
             "inspectors": f"{inspector.display_name}、刘建国", "responsible_name": enterprise.principal_name or "企业负责人",
             "responsible_title": "主要负责人", "summary": summary},
        )
        for text, level, category, days in problems:
            service.add_problem(
                session, actor, now, record.id,
                {"text": text, "level": level, "category": category, "deadline": (today + timedelta(days=days)).isoformat()},
            )
        service.set_directive(
            session, actor, now, record.id,
            {"penalty_kind": "rectify_order", "penalty_number": f"惠应急责改〔{today.year}〕{record.id:02d}号",
             "penalty_content": "对检查发现的问题责令限期整改，整改完成后报告区应急管理局复查。",
             "penalty_deadline": (today + timedelta(days=max(d for *_x, d in problems))).isoformat()},
        )
        return service.sign(session, actor, now, record.id, _signature(), None, media_root)

    def close(hazard_id: int) -> None:
        hazards_service.assign(session, officer, now, hazard_id, {"assignee_id": officer_id})
        hazards_service.start_rectification(session, officer, now, hazard_id)
        hazards_service.add_photo(session, officer, now, hazard_id, "after", _after_photo(), media_root)
        hazards_service.submit_rectification(session, officer, now, hazard_id, {"note": "已整改"})
        hazards_service.verify(session, officer, now, hazard_id, {"passed": True, "note": "整改到位"})

    older = inspection(
        20, [("配电箱箱门缺失，电缆无防护穿越通道", "general", "unsafe_condition", 0)], "季度执法检查，抽查用电安全。"
    )
    close(older.problems[0].hazard_id)
    service.reinspect(
        session, actor, now, older.id,
        {"reinspected_on": today.isoformat(), "passed": "1", "result": "配电箱已加装箱门，电缆已穿管防护，复查验收通过。"},
    )
    recent = inspection(
        3,
        [
            ("除尘器泄爆口朝向人员通道，未设置安全导向", "general", "unsafe_condition", 7),
            ("未建立粉尘清扫制度，清扫记录缺失", "general", "management_defect", 10),
        ],
        "粉尘防爆专项执法检查。",
    )
    close(recent.problems[0].hazard_id)
    session.flush()
    return 2
