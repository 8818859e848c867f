"""The demo's special campaign (专项整治), written through the campaign service as the bureau
admin and an enterprise would: this winter's 粉尘防爆 campaign over the district's dust
enterprises, launched a week ago with its deadline three weeks ahead; 郑州恒达铸造 has done its
self-check and found one problem (a hazard in its ledger, linked to the campaign), the others
have not yet — so the bureau's progress page and the enterprises' 工作台 have something to
show. The launch and self-check notices are past events and are marked delivered, as the
history's are. Idempotent: a campaign with the same title is left alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.accounts.queries import load_actor
from app.clock import local_today
from app.demo import data
from app.demo.history import last_outbox_id, mark_delivered_since, photo
from app.enterprises.models import Enterprise
from app.enterprises.schemas import uscc_check_digit
from app.hazard_reporting.hazards import service as hazards
from app.hazard_reporting.hazards.domain import PhotoKind
from app.oversight.campaigns import queries, service
from app.oversight.campaigns.domain import ItemResult
from app.oversight.campaigns.models import Campaign, CampaignHazard

TITLE = "冬季粉尘防爆专项整治"
CHECKED = "hengda"
# The one problem 恒达 found, by item position in its list (the rest pass).
FINDING = "抛丸除尘器灰斗积灰未按班清理，现场约 3 cm 厚"


def _enterprise(session: Session, key: str) -> Enterprise | None:
    spec = next(s for s in data.ENTERPRISES if s["key"] == key)
    return session.scalar(select(Enterprise).where(Enterprise.uscc == spec["uscc17"] + uscc_check_digit(spec["uscc17"])))


def seed_campaigns(session: Session, now: datetime, media_root: str | Path | None) -> int:
    """Create, launch and self-check as above (the problem found gets its photo when there is
    a media root); returns how many rows of note were written."""
    admin_user = session.scalar(select(User).where(User.username == "admin"))
    if admin_user is None or session.scalar(select(Campaign.id).where(Campaign.title == TITLE)) is not None:
        return 0
    outbox_before = last_outbox_id(session)
    launched_at = now - timedelta(days=7)
    today = local_today(now)
    admin = load_actor(session, admin_user)
    campaign = service.create(
        session,
        admin,
        launched_at,
        {
            "topic": "dust_explosion",
            "title": TITLE,
            "description": "冬季干燥，粉尘静电风险上升。各涉粉尘企业对照粉尘防爆专项排查清单逐项自查，"
            "不合格项作为隐患登记并限期整改。",
            "starts_on": (today - timedelta(days=7)).isoformat(),
            "deadline": (today + timedelta(days=21)).isoformat(),
        },
    )
    service.launch(session, admin, launched_at, campaign.id)
    written = 1
    enterprise = _enterprise(session, CHECKED)
    manager = session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.enterprise_id == enterprise.id, Membership.role == Role.MANAGER)
        .order_by(User.id)
    ) if enterprise is not None else None
    if enterprise is not None and manager is not None and queries.target_of(session, campaign.id, enterprise.id):
        items = queries.target_items(session, campaign.id, enterprise)
        form: dict[str, str] = {f"result-{item.code}": ItemResult.PASS.value for item in items}
        failed = next((item for item in items if "积" in item.text or "清扫" in item.text or "清理" in item.text), items[0])
        form[f"result-{failed.code}"] = ItemResult.FAIL.value
        form[f"note-{failed.code}"] = FINDING
        checked_at = now - timedelta(days=2)
        actor = load_actor(session, manager)
        service.submit_check(session, actor, checked_at, enterprise.id, campaign.id, form)
        written += 1
        if media_root is not None:
            for hazard_id in session.scalars(select(CampaignHazard.hazard_id).where(CampaignHazard.campaign_id == campaign.id)):
                hazards.add_photo(
                    session, actor, checked_at + timedelta(minutes=1), hazard_id, PhotoKind.BEFORE, photo(17), media_root
                )
    session.flush()
    mark_delivered_since(session, outbox_before)
    return written
