"""The demo's special campaign (专项整治): one active 粉尘防爆 campaign over the district's
dust enterprises, launched by the bureau admin two weeks before its deadline, with 鑫林木业's
self-check submitted (one item failed, so one hazard in its ledger) and the others still
to check. Everything goes through the campaigns' services, as the console would."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.queries import load_actor
from app.clock import local_today
from app.enterprises.models import Enterprise
from app.hazard_reporting.checklists import service as checklists
from app.oversight.campaigns import queries, service
from app.oversight.campaigns.models import Campaign

TITLE = "惠济区粉尘防爆专项整治"
CHECKED_ENTERPRISE = "郑州鑫林木业有限公司"
CHECKED_BY = "xinlin_admin"
FAILED = {"DUST-10": "砂光车间屋面梁架积尘约 2 毫米，清扫记录缺 11 月 20 日至 22 日"}


def seed_campaigns(session: Session, now: datetime) -> int:
    """Create the demo campaign once (by its title). Returns how many campaigns were added."""
    if session.scalar(select(Campaign.id).where(Campaign.title == TITLE)) is not None:
        return 0
    admin_user = session.scalar(select(User).where(User.username == "admin"))
    enterprise = session.scalar(select(Enterprise).where(Enterprise.name == CHECKED_ENTERPRISE))
    checker = session.scalar(select(User).where(User.username == CHECKED_BY))
    if admin_user is None or enterprise is None or checker is None:
        return 0
    checklists.load_standard_checklists(session, now)  # idempotent; `make migrate` loads them too
    admin = load_actor(session, admin_user)
    today = local_today(now)
    campaign = service.create(
        session,
        admin,
        now,
        {
            "topic": "dust_explosion",
            "title": TITLE,
            "description": "各涉粉尘企业对照《粉尘防爆专项排查清单》逐项自查，不合格项登记为隐患并按期整改；"
            "粉尘作业人数 30 人以上的企业为重点，镇（街道）逐家督促。",
            "starts_on": (today - timedelta(days=3)).isoformat(),
            "deadline": (today + timedelta(days=14)).isoformat(),
            "scope": "all",
        },
    )
    service.launch(session, admin, now, campaign.id)
    items = queries.target_items(session, campaign.id, enterprise)
    form: dict[str, str] = {}
    for item in items:
        form[f"result-{item.code}"] = "fail" if item.code in FAILED else "pass"
        form[f"note-{item.code}"] = FAILED.get(item.code, "")
    # 鑫林 has no aluminium or magnesium dust: that item does not apply.
    form["result-DUST-11"] = "na"
    service.submit_check(session, load_actor(session, checker), now, enterprise.id, campaign.id, form)
    session.flush()
    return 1
