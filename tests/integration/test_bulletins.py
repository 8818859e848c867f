"""Bulletins against a real database: the month's facts equal the checks' and hazards' own
rules applied to the same rows; drafting fills the lists by rule; publishing writes one
outbox row per manager and safety officer of the enterprises named, once; scopes; the
correction that supersedes."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists import service as checklists
from app.hazard_reporting.checks.domain import CheckTaskStatus, is_task_overdue
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.hazards.domain import (
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    is_overdue,
)
from app.hazard_reporting.hazards.ledger import month_bounds
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.schedules import service as schedules
from app.notifications.models import OutboxMessage
from app.oversight.bulletins import queries, service
from app.oversight.bulletins.domain import BulletinStatus, Month, Verdict
from app.oversight.bulletins.models import Bulletin, BulletinEntry, BulletinEvent
from tests.fixtures.checks import MONDAY, CheckOrg, local

NOV = Month(2026, 11)
AFTER_NOVEMBER = local(2026, 12, 3, 9)  # drafting early in the next month
NOV_START, NOV_END = month_bounds(2026, 11)


def hazard(db_session, enterprise, reporter, level, status, deadline) -> Hazard:
    row = Hazard(
        enterprise_id=enterprise.id,
        source=HazardSource.ADHOC,
        level=level,
        category=HazardCategory.UNSAFE_CONDITION,
        description=f"{level} {status}",
        reporter_id=reporter.id,
        deadline=deadline,
        status=status,
        created_at=NOV_START,
        updated_at=NOV_START,
    )
    db_session.add(row)
    return row


# --- the month's facts --------------------------------------------------------------------------------


def test_month_facts_equal_the_rules_applied_to_the_same_rows(db_session, build):
    checklists.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate(MONDAY)
    schedules.generate_tasks(db_session, MONDAY + timedelta(days=30))
    tasks = list(db_session.scalars(select(CheckTask).where(CheckTask.enterprise_id == org.enterprise.id)))
    assert len(tasks) >= len(CheckTaskStatus) * 5
    # Every status, due times inside November, just before it, and after the cut-off.
    dues = [NOV_START - timedelta(seconds=1), NOV_START, NOV_START + timedelta(days=10), NOV_END - timedelta(seconds=1), NOV_END]
    for task, (status, due) in zip(tasks, itertools.cycle(itertools.product(CheckTaskStatus, dues)), strict=False):
        task.status, task.due_at, task.grace_until = status, due, due + timedelta(hours=2)
    db_session.flush()
    cutoff = queries.facts_cutoff(NOV, AFTER_NOVEMBER)
    assert cutoff == NOV_END
    counted = [t for t in tasks if NOV_START <= t.due_at < cutoff and t.status is not CheckTaskStatus.EXCUSED]

    # Hazards of every status and level, deadlines either side of the cut-off.
    reporter = org.worker
    rows = []
    for level, status, deadline in itertools.product(
        HazardLevel, HazardStatus, (None, NOV_END - timedelta(days=1), NOV_END, NOV_END + timedelta(days=1))
    ):
        rows.append(hazard(db_session, org.enterprise, reporter, level, status, deadline))
    quiet = build.enterprise(town=org.enterprise.town, name="郑州安静机械有限公司")
    elsewhere = build.enterprise(name="别的镇的企业")
    db_session.flush()

    facts = {f.enterprise_id: f for f in queries.month_facts(db_session, NOV, org.enterprise.town_id, AFTER_NOVEMBER)}
    assert set(facts) == {org.enterprise.id, quiet.id}  # the town's, not another town's
    f = facts[org.enterprise.id]
    assert f.due_checks == len(counted)
    assert f.on_time_checks == sum(t.status is CheckTaskStatus.DONE for t in counted)
    assert f.late_checks == sum(t.status is CheckTaskStatus.DONE_LATE for t in counted)
    assert f.missed_checks == sum(is_task_overdue(t.status, t.due_at, cutoff) for t in counted)
    assert f.missed_checks > 0 and f.on_time_checks > 0
    assert f.overdue_general == sum(
        h.level is HazardLevel.GENERAL and is_overdue(h.status, h.deadline, cutoff) for h in rows
    )
    assert f.overdue_major == sum(h.level is HazardLevel.MAJOR and is_overdue(h.status, h.deadline, cutoff) for h in rows)
    assert f.overdue_major > 0
    assert facts[quiet.id].due_checks == 0 and facts[quiet.id].overdue_general == 0
    district = queries.month_facts(db_session, NOV, None, AFTER_NOVEMBER)
    assert {org.enterprise.id, quiet.id, elsewhere.id} <= {x.enterprise_id for x in district}


def test_while_the_month_runs_the_facts_are_read_at_now(db_session):
    now = datetime(2026, 11, 20, 4, tzinfo=UTC)
    assert queries.facts_cutoff(NOV, now) == now


# --- a district to draft for -----------------------------------------------------------------------


class District:
    """Two towns. In 花园口镇: 金穗 (certificate lapsed in November: warned), 豫北 (a major
    hazard overdue: warned), 华新 (nothing to say). In 古荥镇: 鑫林 (lapsed: warned).
    Each enterprise has a manager, a safety officer and a worker."""

    def __init__(self, build, db_session):
        self.session = db_session
        self.town = build.town(name="花园口镇")
        self.other_town = build.town(name="古荥镇")
        self.lapsed = build.enterprise(
            town=self.town, name="郑州金穗食品有限公司", standardization_level="level3",
            standardization_date=date(2023, 11, 2),
        )
        self.major = build.enterprise(town=self.town, name="郑州豫北特钢有限公司")
        self.calm = build.enterprise(town=self.town, name="郑州华新建材有限公司", scale="below")
        self.far = build.enterprise(
            town=self.other_town, name="郑州鑫林木业有限公司", standardization_level="level2",
            standardization_date=date(2023, 11, 20),
        )
        self.people = {}
        for e in (self.lapsed, self.major, self.calm, self.far):
            self.people[e.id] = {
                role: build.member(e, role) for role in ("manager", "safety_officer", "worker")
            }
        hazard(db_session, self.major, self.people[self.major.id]["worker"], HazardLevel.MAJOR,
               HazardStatus.RECTIFYING, NOV_END - timedelta(days=3))
        self.admin = build.actor(build.bureau_user("bureau_admin"))
        self.staff = build.actor(build.bureau_user("bureau_staff", towns=[self.town]))
        db_session.flush()

    def draft(self, actor=None, town=None, month="2026-11"):
        town = self.town if town is None else town
        return service.draft_monthly(
            self.session, actor or self.admin, AFTER_NOVEMBER, {"month": month, "town_id": town.id if town else ""}
        )


@pytest.fixture
def district(build, db_session) -> District:
    return District(build, db_session)


def outbox(db_session, bulletin_id) -> list[OutboxMessage]:
    return [
        m for m in db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if m.payload.get("bulletin_id") == bulletin_id
    ]


def test_a_town_draft_lists_the_warned_by_rule_with_the_default_text(district, db_session):
    bulletin = district.draft()
    assert bulletin.status is BulletinStatus.DRAFT
    assert bulletin.title == "惠济区花园口镇工贸行业隐患排查治理情况通报（2026年11月）"
    rows = {r.enterprise_id: r for r in queries.entry_rows(db_session, bulletin.id)}
    assert set(rows) == {district.lapsed.id, district.major.id}  # not the calm one, nor another town's
    assert rows[district.major.id].verdict is Verdict.WARNED
    assert rows[district.major.id].reasons == ["重大事故隐患逾期未整改 1 项"]
    assert "到期失效" in rows[district.lapsed.id].reasons[0]
    assert bulletin.figures["warned"] == 2 and bulletin.figures["enterprises"] == 3
    assert "纳入统计的工贸企业 3 家" in bulletin.body
    assert bulletin.facts_cutoff == NOV_END


def test_a_month_to_come_cannot_be_drafted(district):
    with pytest.raises(ValidationFailed, match="还没有开始"):
        district.draft(month="2027-01")


def test_publish_notifies_managers_and_safety_officers_of_the_named_enterprises_once(district, db_session):
    bulletin = district.draft()
    queued = service.publish(db_session, district.admin, AFTER_NOVEMBER, bulletin.id)
    assert queued == 4
    rows = outbox(db_session, bulletin.id)
    expected = {
        (e.id, district.people[e.id][role].id)
        for e in (district.lapsed, district.major)
        for role in ("manager", "safety_officer")
    }
    assert {(m.payload["enterprise_id"], m.recipient_user_id) for m in rows} == expected
    assert {m.kind for m in rows} == {"bulletin_warned"}
    assert bulletin.status is BulletinStatus.PUBLISHED and bulletin.published_at == AFTER_NOVEMBER
    # Once: publishing again is refused and writes nothing.
    with pytest.raises(InvalidTransition, match="已发布"):
        service.publish(db_session, district.admin, AFTER_NOVEMBER, bulletin.id)
    assert len(outbox(db_session, bulletin.id)) == 4
    # Read-only: no edit, no change of the lists.
    with pytest.raises(InvalidTransition):
        service.edit(db_session, district.admin, AFTER_NOVEMBER, bulletin.id, {"title": "改", "body": "改"})
    entry = bulletin.entries[0]
    with pytest.raises(InvalidTransition):
        service.remove_entry(db_session, district.admin, AFTER_NOVEMBER, bulletin.id, entry.id, "不该改")


def test_removed_and_added_enterprises_keep_their_reasons_and_decide_who_is_told(district, db_session):
    bulletin = district.draft()
    lapsed_entry = next(e for e in bulletin.entries if e.enterprise_id == district.lapsed.id)
    with pytest.raises(ValidationFailed):
        service.remove_entry(db_session, district.admin, AFTER_NOVEMBER, bulletin.id, lapsed_entry.id, "  ")
    service.remove_entry(db_session, district.admin, AFTER_NOVEMBER, bulletin.id, lapsed_entry.id, "已于11月28日取得复评证书")
    added = service.add_entry(
        db_session, district.admin, AFTER_NOVEMBER, bulletin.id,
        {"enterprise_id": str(district.calm.id), "verdict": "praised", "reason": "主动排查并整改粉尘隐患"},
    )
    assert added.verdict is Verdict.PRAISED and added.reasons == ["主动排查并整改粉尘隐患"] and not added.by_rule
    with pytest.raises(Conflict):
        service.add_entry(
            db_session, district.admin, AFTER_NOVEMBER, bulletin.id,
            {"enterprise_id": str(district.calm.id), "verdict": "warned", "reason": "重复"},
        )
    with pytest.raises(ValidationFailed, match="不属于"):
        service.add_entry(
            db_session, district.admin, AFTER_NOVEMBER, bulletin.id,
            {"enterprise_id": str(district.far.id), "verdict": "warned", "reason": "别的镇"},
        )
    service.publish(db_session, district.admin, AFTER_NOVEMBER, bulletin.id)
    rows = outbox(db_session, bulletin.id)
    assert {m.payload["enterprise_id"] for m in rows} == {district.major.id, district.calm.id}
    assert {m.kind for m in rows if m.payload["enterprise_id"] == district.calm.id} == {"bulletin_praised"}
    db_session.refresh(lapsed_entry)
    assert lapsed_entry.removed_reason == "已于11月28日取得复评证书" and lapsed_entry.removed_at is not None
    notes = [e.note for e in db_session.scalars(select(BulletinEvent).where(BulletinEvent.bulletin_id == bulletin.id))]
    assert any("取得复评证书" in (n or "") for n in notes)


def test_a_town_bound_user_drafts_only_for_their_town_and_never_publishes(district, db_session):
    with pytest.raises(PermissionDenied):
        district.draft(actor=district.staff, town=district.other_town)
    with pytest.raises(PermissionDenied):
        district.draft(actor=district.staff, town=False)  # the whole district
    other = district.draft(town=district.other_town)  # the admin's
    with pytest.raises(NotFound):  # not even visible to the staff
        service.publish(db_session, district.staff, AFTER_NOVEMBER, other.id)
    own = district.draft(actor=district.staff)
    service.edit(db_session, district.staff, AFTER_NOVEMBER, own.id, {"title": "花园口镇通报", "body": "正文"})
    with pytest.raises(PermissionDenied, match="管理员"):
        service.publish(db_session, district.staff, AFTER_NOVEMBER, own.id)
    assert outbox(db_session, own.id) == [] and outbox(db_session, other.id) == []
    assert own.status is BulletinStatus.DRAFT


def test_a_correction_supersedes_the_published_bulletin_when_published(district, db_session):
    bulletin = district.draft()
    service.publish(db_session, district.admin, AFTER_NOVEMBER, bulletin.id)
    correction = service.draft_correction(db_session, district.admin, AFTER_NOVEMBER, bulletin.id)
    assert correction.title.endswith("（更正）") and correction.supersedes_id == bulletin.id
    assert len(correction.entries) == len(bulletin.entries)
    assert bulletin.status is BulletinStatus.PUBLISHED
    later = AFTER_NOVEMBER + timedelta(days=1)
    service.publish(db_session, district.admin, later, correction.id)
    assert bulletin.status is BulletinStatus.SUPERSEDED
    # The correction's notices are its own (new dedupe keys), the original's stay as they were.
    assert len(outbox(db_session, correction.id)) == 4 and len(outbox(db_session, bulletin.id)) == 4
    with pytest.raises(InvalidTransition):
        service.draft_correction(db_session, district.admin, later, bulletin.id)


def test_a_supervision_bulletin_needs_findings_for_every_enterprise_visited(district, db_session):
    data = {
        "town_id": str(district.town.id), "visit_date": "2026-12-02", "deadline": "2026-12-15",
        "requirements": "立即整改\n整改后报镇安监办", "enterprise_ids": [str(district.calm.id), str(district.major.id)],
    }
    with pytest.raises(ValidationFailed, match="不能早于"):
        service.draft_supervision(db_session, district.admin, AFTER_NOVEMBER, {**data, "deadline": "2026-12-01"})
    with pytest.raises(ValidationFailed, match="不属于"):
        service.draft_supervision(db_session, district.admin, AFTER_NOVEMBER, {**data, "enterprise_ids": [str(district.far.id)]})
    bulletin = service.draft_supervision(db_session, district.admin, AFTER_NOVEMBER, data)
    assert bulletin.title == "惠济区花园口镇工贸企业安全生产督导检查情况通报（2026年12月2日）"
    with pytest.raises(ValidationFailed, match="发现的问题"):
        service.publish(db_session, district.admin, AFTER_NOVEMBER, bulletin.id)
    form = {"title": bulletin.title, "body": bulletin.body, "requirements": "立即整改", "deadline": "2026-12-15"}
    for entry in bulletin.entries:
        form[f"findings-{entry.id}"] = "除尘器未接地\n\n消防通道堵塞"
    service.edit(db_session, district.admin, AFTER_NOVEMBER, bulletin.id, form)
    assert all(e.reasons == ["除尘器未接地", "消防通道堵塞"] for e in bulletin.entries)
    assert service.publish(db_session, district.admin, AFTER_NOVEMBER, bulletin.id) == 4
    rows = outbox(db_session, bulletin.id)
    assert {m.kind for m in rows} == {"bulletin_supervision"} and rows[0].payload["deadline"] == "2026-12-15"


def test_members_see_published_bulletins_that_name_their_enterprise_only(district, db_session, build):
    bulletin = district.draft()
    manager = build.actor(district.people[district.major.id]["manager"])
    worker = build.actor(district.people[district.major.id]["worker"])
    outsider = build.actor(district.people[district.calm.id]["manager"])
    with pytest.raises(NotFound):  # a draft: nobody outside the bureau
        queries.phone_view(db_session, manager, bulletin.id)
    service.publish(db_session, district.admin, AFTER_NOVEMBER, bulletin.id)
    view = queries.phone_view(db_session, worker, bulletin.id)
    assert [r.enterprise_id for r in view.own] == [district.major.id]
    with pytest.raises(NotFound):
        queries.phone_view(db_session, outsider, bulletin.id)
    count = db_session.scalar(select(func.count()).select_from(BulletinEntry).where(BulletinEntry.bulletin_id == bulletin.id))
    assert count == 2 and db_session.get(Bulletin, bulletin.id).published_by_id == district.admin.user_id
