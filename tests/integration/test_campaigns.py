"""Special campaigns against a real database: launching computes the targets from the topic
flags in the campaign's towns and notifies their people once; the self-check turns failed
items into hazards of the enterprise's ledger linked to the campaign, once per target and
only while the campaign is active; progress (checked, late, overdue, hazards found and
rectified) per target, town and campaign; who may do what, and who sees what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.hazards.domain import HazardLevel, HazardSource, HazardStatus
from app.hazard_reporting.hazards.models import Hazard
from app.notifications.models import OutboxMessage
from app.oversight.campaigns import queries, service
from app.oversight.campaigns.domain import CampaignStatus, TargetState
from app.oversight.campaigns.models import (
    CampaignCheck,
    CampaignCheckItem,
    CampaignEvent,
    CampaignHazard,
    CampaignTarget,
)
from app.oversight.campaigns.notices import CAMPAIGN_LAUNCHED
from tests.fixtures.campaigns import DEADLINE, NOW, CampaignScene, answers

AFTER_DEADLINE = NOW + timedelta(days=14)  # 2026-12-12 local


@pytest.fixture
def scene(build, db_session) -> CampaignScene:
    return CampaignScene(build, db_session)


def targets_of(session, campaign) -> set[int]:
    return set(
        session.scalars(
            select(CampaignTarget.enterprise_id).where(
                CampaignTarget.campaign_id == campaign.id, CampaignTarget.removed_at.is_(None)
            )
        )
    )


def notices(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == CAMPAIGN_LAUNCHED)))


# --- launch ----------------------------------------------------------------------------------


def test_launch_targets_the_flagged_enterprises_of_the_whole_district(scene, db_session):
    campaign = scene.draft()
    assert targets_of(db_session, campaign) == set()  # a draft has no targets yet
    targets, queued = service.launch(db_session, scene.actor(scene.admin), NOW, campaign.id)
    assert targets_of(db_session, campaign) == {scene.dust.id, scene.dust2.id, scene.far_dust.id}
    assert targets == 3
    assert campaign.status is CampaignStatus.ACTIVE and campaign.launched_at == NOW
    assert [p.name for p in queries.pinned_checklists(db_session, campaign.id)] == ["粉尘防爆专项排查清单"]
    # Manager, safety officer and enterprise admin of 金穗 and the manager of 鑫林; not the worker.
    rows = notices(db_session)
    assert queued == 4 == len(rows)
    assert {r.recipient_user_id for r in rows} == {
        scene.manager.id, scene.officer.id, scene.ent_admin.id, scene.dust2_manager.id
    }
    mine = next(r for r in rows if r.recipient_user_id == scene.manager.id)
    assert mine.payload["deadline"] == DEADLINE.isoformat()
    assert mine.payload["campaign_title"] == "2026年粉尘防爆专项整治"
    assert mine.dedupe_key == f"campaign:{campaign.id}:{scene.dust.id}:{scene.manager.id}"


def test_a_campaign_of_some_towns_targets_only_their_enterprises(scene, db_session):
    campaign = scene.launched(scope="towns", town_ids=[str(scene.town.id)])
    assert targets_of(db_session, campaign) == {scene.dust.id, scene.dust2.id}


def test_the_metallurgy_topic_takes_either_flag_and_each_target_checks_its_own_list(scene, db_session):
    campaign = scene.launched(topic="metallurgy", title="冶金煤气和熔融金属专项整治")
    assert targets_of(db_session, campaign) == {scene.molten.id}
    names = [p.name for p in queries.pinned_checklists(db_session, campaign.id)]
    assert names == ["煤气（燃气）专项排查清单", "高温熔融金属专项排查清单"]
    items = queries.target_items(db_session, campaign.id, scene.molten)
    assert items and {i.checklist_name for i in items} == {"高温熔融金属专项排查清单"}
    assert all(i.code.startswith("MM-") for i in items)


def test_launching_twice_is_refused_and_notices_are_queued_once(scene, db_session):
    campaign = scene.launched()
    before = len(notices(db_session))
    with pytest.raises(InvalidTransition, match="已启动"):
        service.launch(db_session, scene.actor(scene.admin), NOW + timedelta(minutes=5), campaign.id)
    assert len(notices(db_session)) == before == 4


def test_launch_is_refused_without_targets_or_after_the_deadline(scene, db_session):
    campaign = scene.draft(topic="ammonia_refrigeration", title="涉氨制冷专项整治")
    with pytest.raises(ValidationFailed, match="没有带该专项标签的企业"):
        service.launch(db_session, scene.actor(scene.admin), NOW, campaign.id)
    late = scene.draft()
    with pytest.raises(ValidationFailed, match="截止日期已过"):
        service.launch(db_session, scene.actor(scene.admin), AFTER_DEADLINE, late.id)


def test_only_the_bureau_admin_creates_launches_and_closes(scene, db_session):
    with pytest.raises(PermissionDenied, match="管理员"):
        service.create(db_session, scene.actor(scene.staff), NOW, scene.form())
    campaign = scene.draft()
    with pytest.raises(PermissionDenied):
        service.launch(db_session, scene.actor(scene.staff), NOW, campaign.id)
    with pytest.raises(NotFound):  # an enterprise's people do not see drafts at all
        service.launch(db_session, scene.actor(scene.manager), NOW, campaign.id)
    service.launch(db_session, scene.actor(scene.admin), NOW, campaign.id)
    with pytest.raises(PermissionDenied):
        service.close(db_session, scene.actor(scene.staff), AFTER_DEADLINE, campaign.id)


def test_the_draft_form_is_checked(scene, db_session):
    with pytest.raises(ValidationFailed, match="不能早于开始日期"):
        scene.draft(starts_on="2026-12-20")
    with pytest.raises(ValidationFailed, match="专项类别"):
        scene.draft(topic="fireworks")
    with pytest.raises(ValidationFailed, match="至少选择一个镇"):
        scene.draft(scope="towns", town_ids=[])
    with pytest.raises(ValidationFailed, match="不存在"):
        scene.draft(scope="towns", town_ids=["999999"])


# --- the self-check --------------------------------------------------------------------------


def test_the_self_check_turns_failed_items_into_hazards_linked_to_the_campaign(scene, db_session):
    campaign = scene.launched()
    items = queries.target_items(db_session, campaign.id, scene.dust)
    assert items[0].code == "DUST-01" and len(items) == 14
    form = answers(items, {"DUST-10": "除尘器下方积尘约 3 毫米", "DUST-03": "泄爆片锈蚀"})
    check = service.submit_check(db_session, scene.actor(scene.ent_admin), NOW, scene.dust.id, campaign.id, form)
    assert check.checked_by_id == scene.ent_admin.id
    assert db_session.scalar(select(func.count()).select_from(CampaignCheckItem).where(CampaignCheckItem.check_id == check.id)) == 14
    links = list(db_session.scalars(select(CampaignHazard).where(CampaignHazard.campaign_id == campaign.id)))
    assert sorted(link.item_code for link in links) == ["DUST-03", "DUST-10"]
    hazards = {h.item_code: h for h in db_session.scalars(select(Hazard).where(Hazard.id.in_([link.hazard_id for link in links])))}
    assert all(h.enterprise_id == scene.dust.id and h.source is HazardSource.ADHOC for h in hazards.values())
    assert hazards["DUST-10"].level is HazardLevel.GENERAL
    assert hazards["DUST-03"].level is HazardLevel.MAJOR  # the item matches a major-hazard criterion
    assert hazards["DUST-10"].description.startswith("【专项整治：2026年粉尘防爆专项整治】")
    assert "除尘器下方积尘约 3 毫米" in hazards["DUST-10"].description
    event = db_session.scalars(select(CampaignEvent).where(CampaignEvent.campaign_id == campaign.id).order_by(CampaignEvent.id.desc())).first()
    assert "不合格 2 项" in event.note


def test_a_second_self_check_is_refused(scene, db_session):
    campaign = scene.launched()
    items = queries.target_items(db_session, campaign.id, scene.dust)
    service.submit_check(db_session, scene.actor(scene.manager), NOW, scene.dust.id, campaign.id, answers(items, {"DUST-12": "除尘停运仍在作业"}))
    with pytest.raises(Conflict, match="不能重复提交"):
        service.submit_check(db_session, scene.actor(scene.officer), NOW, scene.dust.id, campaign.id, answers(items, {"DUST-12": "又一次"}))
    assert db_session.scalar(select(func.count()).select_from(CampaignHazard)) == 1


def test_a_closed_campaign_refuses_the_self_check(scene, db_session):
    campaign = scene.launched()
    service.close(db_session, scene.actor(scene.admin), AFTER_DEADLINE, campaign.id)
    items = queries.target_items(db_session, campaign.id, scene.dust)
    with pytest.raises(InvalidTransition, match="已结束"):
        service.submit_check(db_session, scene.actor(scene.manager), AFTER_DEADLINE, scene.dust.id, campaign.id, answers(items))
    assert db_session.scalar(select(func.count()).select_from(CampaignCheck)) == 0


def test_closing_before_the_deadline_needs_a_reason(scene, db_session):
    campaign = scene.launched()
    with pytest.raises(ValidationFailed, match="提前结束请填写理由"):
        service.close(db_session, scene.actor(scene.admin), NOW, campaign.id, "")
    service.close(db_session, scene.actor(scene.admin), NOW, campaign.id, "上级部署调整")
    assert campaign.status is CampaignStatus.CLOSED and campaign.close_note == "上级部署调整"


def test_who_may_submit_the_self_check(scene, db_session):
    campaign = scene.launched()
    items = queries.target_items(db_session, campaign.id, scene.dust)
    with pytest.raises(PermissionDenied, match="主要负责人"):
        service.submit_check(db_session, scene.actor(scene.worker), NOW, scene.dust.id, campaign.id, answers(items))
    with pytest.raises(PermissionDenied):  # the bureau watches; it does not check for the enterprise
        service.submit_check(db_session, scene.actor(scene.admin), NOW, scene.dust.id, campaign.id, answers(items))
    with pytest.raises(NotFound, match="不是该专项整治的对象"):  # not a target
        service.submit_check(db_session, scene.actor(scene.plain_admin), NOW, scene.plain.id, campaign.id, {})
    with pytest.raises(NotFound):  # another enterprise's self-check
        service.submit_check(db_session, scene.actor(scene.plain_admin), NOW, scene.dust.id, campaign.id, answers(items))


def test_an_incomplete_self_check_writes_nothing(scene, db_session):
    campaign = scene.launched()
    items = queries.target_items(db_session, campaign.id, scene.dust)
    form = answers(items, {"DUST-10": ""})  # failed without saying what was found
    del form["result-DUST-14"]
    with pytest.raises(ValidationFailed) as refused:
        service.submit_check(db_session, scene.actor(scene.manager), NOW, scene.dust.id, campaign.id, form)
    assert set(refused.value.fields) == {"note-DUST-10", "result-DUST-14"}
    assert db_session.scalar(select(func.count()).select_from(CampaignCheck)) == 0
    assert db_session.scalar(select(func.count()).select_from(Hazard)) == 0


# --- targets by hand -------------------------------------------------------------------------


def test_the_admin_adds_and_removes_targets_with_a_reason(scene, db_session):
    campaign = scene.launched()
    admin = scene.actor(scene.admin)
    with pytest.raises(ValidationFailed, match="理由"):
        service.add_target(db_session, admin, NOW, campaign.id, {"enterprise_id": scene.plain.id, "reason": " "})
    target = service.add_target(db_session, admin, NOW, campaign.id, {"enterprise_id": scene.plain.id, "reason": "新上木粉砂光线"})
    assert not target.by_rule and target.added_reason == "新上木粉砂光线"
    assert {r.recipient_user_id for r in notices(db_session)} >= {scene.plain_admin.id}
    with pytest.raises(Conflict):
        service.add_target(db_session, admin, NOW, campaign.id, {"enterprise_id": scene.plain.id, "reason": "再加"})
    # A target without the topic's flag checks every checklist of the campaign.
    assert len(queries.target_items(db_session, campaign.id, scene.plain)) == 14
    removed = service.remove_target(db_session, admin, NOW, campaign.id, target.id, "经核实已停产")
    assert removed.removed_reason == "经核实已停产"
    assert scene.plain.id not in targets_of(db_session, campaign)


# --- progress --------------------------------------------------------------------------------


def test_progress_counts_checked_late_overdue_found_and_rectified(scene, db_session):
    campaign = scene.launched()
    items = queries.target_items(db_session, campaign.id, scene.dust)
    service.submit_check(db_session, scene.actor(scene.manager), NOW, scene.dust.id, campaign.id,
                         answers(items, {"DUST-10": "积尘", "DUST-13": "接地线断开"}))
    late_day = AFTER_DEADLINE
    service.submit_check(db_session, scene.actor(scene.dust2_manager), late_day, scene.dust2.id, campaign.id, answers(items))
    fixed = db_session.scalars(select(Hazard).where(Hazard.item_code == "DUST-13")).one()
    fixed.status = HazardStatus.CLOSED
    db_session.flush()

    rows = {r.enterprise_id: r for r in queries.target_rows(db_session, scene.actor(scene.admin), campaign, late_day)}
    assert rows[scene.dust.id].state is TargetState.CHECKED
    assert (rows[scene.dust.id].hazards, rows[scene.dust.id].rectified) == (2, 1)
    assert rows[scene.dust2.id].state is TargetState.LATE
    assert rows[scene.far_dust.id].state is TargetState.OVERDUE
    total = queries.totals(list(rows.values()))
    assert (total.targets, total.checked, total.late, total.overdue, total.pending, total.hazards, total.rectified) == (3, 2, 1, 1, 0, 2, 1)
    towns = {t.town_name: t.progress for t in queries.town_rollup(list(rows.values()))}
    assert (towns["花园口镇"].targets, towns["花园口镇"].checked) == (2, 2)
    assert (towns["古荥镇"].targets, towns["古荥镇"].overdue) == (1, 1)
    # Before the deadline the unchecked one is only pending.
    early = {r.enterprise_id: r for r in queries.target_rows(db_session, scene.actor(scene.admin), campaign, NOW)}
    assert early[scene.far_dust.id].state is TargetState.PENDING


# --- scope -----------------------------------------------------------------------------------


def test_staff_see_campaigns_covering_their_towns_and_only_their_targets(scene, db_session):
    district = scene.launched()
    far = scene.launched(scope="towns", town_ids=[str(scene.other_town.id)], title="古荥镇粉尘防爆专项整治")
    staff = scene.actor(scene.staff)
    items, total = queries.list_campaigns(db_session, staff)
    assert [c.id for c in items] == [district.id] and total == 1
    with pytest.raises(NotFound):
        queries.get_campaign(db_session, staff, far.id)
    rows = queries.target_rows(db_session, staff, district, NOW)
    assert {r.enterprise_id for r in rows} == {scene.dust.id, scene.dust2.id}


def test_an_enterprise_sees_only_the_launched_campaigns_it_is_a_target_of(scene, db_session):
    launched = scene.launched()
    scene.draft(title="草稿")
    items, _ = queries.list_campaigns(db_session, scene.actor(scene.manager))
    assert [c.id for c in items] == [launched.id]
    assert queries.list_campaigns(db_session, scene.actor(scene.plain_admin)) == ([], 0)
    rows = queries.target_rows(db_session, scene.actor(scene.manager), launched, NOW)
    assert [r.enterprise_id for r in rows] == [scene.dust.id]
    due = queries.campaigns_due(db_session, scene.dust.id, NOW)
    assert [d.campaign.id for d in due] == [launched.id]
    items = queries.target_items(db_session, launched.id, scene.dust)
    service.submit_check(db_session, scene.actor(scene.manager), NOW, scene.dust.id, launched.id, answers(items))
    assert queries.campaigns_due(db_session, scene.dust.id, NOW) == []
