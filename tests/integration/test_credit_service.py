"""The credit list's use cases on the database: listing (dates, flags, the enterprise's
credit_status, notices to its managers and admins), the one active record per enterprise
(service check and partial unique index), delisting (a reason, once), who may act, what each
bureau user sees, and the dossier's history and timeline."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.enterprises.domain import CreditStatus
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.notifications.models import OutboxMessage
from app.oversight.credit import queries, service
from app.oversight.credit.models import CreditRecord
from app.oversight.credit.notices import CREDIT_DELISTED, CREDIT_LISTED
from app.oversight.dossier.domain import TimelineKind

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 10:00 in Zhengzhou
TODAY = date(2026, 12, 5)


class World:
    def __init__(self, build, session):
        self.session = session
        self.town = build.town(name="花园口镇")
        self.other_town = build.town(name="古荥镇")
        self.enterprise = build.enterprise(town=self.town, name="郑州绿源纺织有限公司")
        self.far = build.enterprise(town=self.other_town, name="郑州鑫林木业有限公司")
        self.manager = build.member(self.enterprise, "manager")
        self.ent_admin = build.member(self.enterprise, "enterprise_admin")
        self.officer = build.member(self.enterprise, "safety_officer")
        self.worker = build.member(self.enterprise, "worker")
        self.admin_user = build.bureau_user("bureau_admin")
        self.staff_user = build.bureau_user("bureau_staff", towns=[self.town])
        self.admin = build.actor(self.admin_user)
        self.staff = build.actor(self.staff_user)
        self.manager_actor = build.actor(self.manager)

    def data(self, **overrides):
        return {
            "enterprise_id": self.enterprise.id,
            "list_kind": "watchlist",
            "reason": "重大事故隐患逾期未整改",
            "basis": "《安全生产严重失信主体名单管理办法》第六条",
            "decision_no": "惠应急罚〔2026〕12号",
            "publicize": "1",
            "occupational_ban": True,
            **overrides,
        }

    def list(self, **overrides) -> CreditRecord:
        return service.list_enterprise(self.session, self.admin, NOW, self.data(**overrides))


@pytest.fixture
def world(build, db_session) -> World:
    return World(build, db_session)


def _outbox(session, kind=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.recipient_user_id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(session.scalars(query))


def test_listing_records_the_facts_sets_credit_status_and_tells_managers_and_admins(world, db_session):
    record = world.list()
    assert record.list_kind is CreditStatus.WATCHLIST and record.active
    assert (record.listed_on, record.review_on) == (TODAY, date(2027, 12, 5))
    assert record.flags == {"restrict_market": False, "publicize": True, "occupational_ban": True, "industry_ban": False}
    assert record.listed_by_id == world.admin_user.id and record.decision_no == "惠应急罚〔2026〕12号"
    assert world.enterprise.credit_status is CreditStatus.WATCHLIST
    notices = _outbox(db_session, CREDIT_LISTED)
    assert {n.recipient_user_id for n in notices} == {world.manager.id, world.ent_admin.id}
    assert notices[0].payload["list_name"] == "重点关注名单"
    assert notices[0].payload["reason"] == "重大事故隐患逾期未整改" and notices[0].payload["day"] == "2026-12-05"


def test_serious_discredit_defaults_to_three_years(world):
    record = world.list(list_kind="serious_discredit", listed_on="2026-10-09", review_on="")
    assert (record.listed_on, record.review_on) == (date(2026, 10, 9), date(2029, 10, 9))
    assert world.enterprise.credit_status is CreditStatus.SERIOUS_DISCREDIT


def test_a_second_active_listing_is_refused_in_chinese_and_nothing_changes(world, db_session):
    world.list()
    with pytest.raises(Conflict, match="已在重点关注名单中.*请先填写理由将其移出"):
        world.list(list_kind="serious_discredit")
    assert db_session.scalar(select(func.count()).select_from(CreditRecord)) == 1
    assert world.enterprise.credit_status is CreditStatus.WATCHLIST


def test_the_partial_unique_index_backs_the_check(world, db_session):
    world.list()
    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            db_session.add(
                CreditRecord(
                    enterprise_id=world.enterprise.id, list_kind=CreditStatus.SERIOUS_DISCREDIT, reason="x",
                    basis="y", listed_on=TODAY, review_on=date(2027, 1, 1), created_at=NOW,
                )
            )
            db_session.flush()
    # A delisted record does not count: the enterprise may be listed again.
    record = queries.active_record(db_session, world.enterprise.id)
    service.delist(db_session, world.admin, NOW, record.id, {"delist_reason": "整改到位"})
    again = world.list(list_kind="serious_discredit")
    assert again.active and world.enterprise.credit_status is CreditStatus.SERIOUS_DISCREDIT


def test_delisting_needs_a_reason_resets_credit_status_and_tells_them(world, db_session):
    record = world.list()
    for empty in ({}, {"delist_reason": "  "}):
        with pytest.raises(ValidationFailed, match="请填写移出理由"):
            service.delist(db_session, world.admin, NOW, record.id, empty)
    assert record.active and world.enterprise.credit_status is CreditStatus.WATCHLIST
    service.delist(db_session, world.admin, NOW, record.id, {"delist_reason": "信用修复申请经审核通过"})
    assert (record.delisted_on, record.delist_reason, record.delisted_by_id) == (
        TODAY, "信用修复申请经审核通过", world.admin_user.id,
    )
    assert world.enterprise.credit_status is CreditStatus.NORMAL
    notices = _outbox(db_session, CREDIT_DELISTED)
    assert {n.recipient_user_id for n in notices} == {world.manager.id, world.ent_admin.id}
    assert notices[0].payload["reason"] == "信用修复申请经审核通过"


def test_delisting_a_delisted_record_is_refused(world, db_session):
    record = world.list()
    service.delist(db_session, world.admin, NOW, record.id, {"reason": "期满复核"})
    with pytest.raises(Conflict, match="已于2026年12月5日移出名单，不能重复移出"):
        service.delist(db_session, world.admin, NOW, record.id, {"reason": "再次移出"})
    assert record.delist_reason == "期满复核"


def test_staff_and_enterprise_people_cannot_list_or_delist(world, db_session):
    with pytest.raises(PermissionDenied, match="安监局管理员"):
        service.list_enterprise(db_session, world.staff, NOW, world.data())
    with pytest.raises(NotFound):  # not the enterprise's to see as a list
        service.list_enterprise(db_session, world.staff, NOW, world.data(enterprise_id=world.far.id))
    with pytest.raises(PermissionDenied):
        service.list_enterprise(db_session, world.manager_actor, NOW, world.data())
    record = world.list()
    with pytest.raises(PermissionDenied, match="安监局管理员"):
        service.delist(db_session, world.staff, NOW, record.id, {"reason": "x"})
    with pytest.raises(NotFound):
        service.delist(db_session, world.manager_actor, NOW, record.id, {"reason": "x"})
    assert record.active and world.enterprise.credit_status is CreditStatus.WATCHLIST


def test_bad_input_is_refused_field_by_field(world, db_session):
    cases = [
        ({"list_kind": "normal"}, "list_kind"),
        ({"reason": ""}, "reason"),
        ({"basis": " "}, "basis"),
        ({"listed_on": "2026-12-06"}, "listed_on"),
        ({"review_on": "2026-12-05"}, "review_on"),
        ({"enterprise_id": "abc"}, "enterprise_id"),
    ]
    for overrides, field in cases:
        with pytest.raises(ValidationFailed) as refused:
            world.list(**overrides)
        assert field in refused.value.fields, overrides
    assert db_session.scalar(select(func.count()).select_from(CreditRecord)) == 0
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_who_sees_which_records(world, db_session):
    near = world.list()
    far = world.list(enterprise_id=world.far.id)
    everything = queries.CreditFilter()
    assert {r.id for r in queries.list_records(db_session, world.admin, everything)[0]} == {near.id, far.id}
    assert [r.id for r in queries.list_records(db_session, world.staff, everything)[0]] == [near.id]
    assert queries.list_records(db_session, world.manager_actor, everything) == ([], 0)
    with pytest.raises(NotFound):
        queries.get_record(db_session, world.staff, far.id)
    service.delist(db_session, world.admin, NOW, far.id, {"reason": "撤销处罚决定"})
    active = queries.list_records(db_session, world.admin, queries.CreditFilter(active=True))[0]
    past = queries.list_records(db_session, world.admin, queries.CreditFilter(active=False))[0]
    assert [r.id for r in active] == [near.id] and [r.id for r in past] == [far.id]
    in_town = queries.list_records(db_session, world.admin, queries.CreditFilter(town_id=world.other_town.id))[0]
    assert [r.id for r in in_town] == [far.id]
    assert queries.active_marks(db_session) == {world.enterprise.id: CreditStatus.WATCHLIST}


def test_the_dossier_history_and_timeline(world, db_session):
    first = world.list(list_kind="serious_discredit", listed_on="2026-01-05")
    service.delist(db_session, world.admin, NOW, first.id, {"reason": "信用修复"})
    second = world.list()
    rows = queries.history(db_session, world.enterprise.id)
    assert [r.id for r in rows] == [second.id, first.id] and rows[0].active and not rows[1].active
    assert rows[0].flag_labels == ["一律上网公示", "一律职业禁入"]
    entries = queries.timeline_entries(db_session, world.enterprise.id, 10)
    assert {e.kind for e in entries} == {TimelineKind.CREDIT}
    assert sorted(e.title for e in entries) == sorted(["列入严重失信主体名单", "移出严重失信主体名单", "列入重点关注名单"])


def test_the_enterprise_file_no_longer_changes_credit_status(world, db_session):
    from app.enterprises import service as enterprise_service

    with pytest.raises(ValidationFailed, match="失信名单") as refused:
        enterprise_service.update_enterprise(db_session, world.admin, NOW, world.enterprise.id, {"credit_status": "watchlist"})
    assert "credit_status" in refused.value.fields
    assert world.enterprise.credit_status is CreditStatus.NORMAL
    # Echoing the current value back (a client sending the whole file) is not a change.
    enterprise_service.update_enterprise(
        db_session, world.admin, NOW, world.enterprise.id, {"credit_status": "normal", "employee_count": 99}
    )
    assert world.enterprise.employee_count == 99


def test_the_demo_credit_seed_goes_through_the_service_once(build, db_session):
    from app.demo import data
    from app.demo.credit import seed_credit
    from app.enterprises.schemas import uscc_check_digit

    def demo(key: str):
        spec = next(s for s in data.ENTERPRISES if s["key"] == key)
        return build.enterprise(uscc=spec["uscc17"] + uscc_check_digit(spec["uscc17"]), name=spec["name"])

    watched, history = demo("lvyuan"), demo("huaxin")
    marked = build.enterprise(credit_status=CreditStatus.SERIOUS_DISCREDIT)
    build.bureau_user("bureau_admin", user=build.user(username="admin"))
    assert seed_credit(db_session, NOW) == 3
    assert seed_credit(db_session, NOW) == 0
    assert watched.credit_status is CreditStatus.WATCHLIST and history.credit_status is CreditStatus.NORMAL
    assert marked.credit_status is CreditStatus.SERIOUS_DISCREDIT
    active = queries.active_record(db_session, watched.id)
    assert active is not None and active.restrict_market and active.publicize and not active.occupational_ban
    (past,) = queries.history(db_session, history.id)
    assert not past.active and past.delisted_on < TODAY and "复核" in past.delist_reason
    assert queries.active_record(db_session, marked.id).list_kind is CreditStatus.SERIOUS_DISCREDIT
