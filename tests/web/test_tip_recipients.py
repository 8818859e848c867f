"""The broadcast's recipient lists in the console: per enterprise with counts and a
click-through to its people, per person with state filters and paging, scoped to the
actor's towns; the compose page states the mass/task rule and this month's quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.tips import queries, service
from app.tips.domain import RecipientState
from app.tips.queries import RECIPIENT_PAGE_SIZE, RecipientFilters

NOW = datetime(2027, 6, 10, 2, 0, tzinfo=UTC)


class Scene:
    def __init__(self, build, db_session):
        self.north, self.south = build.town(name="北镇"), build.town(name="南镇")
        self.mill = build.enterprise(town=self.north, name="北镇机械厂")
        self.shop = build.enterprise(town=self.south, name="南镇商贸公司")
        self.mill_people = [build.member(self.mill, "worker") for _ in range(3)]
        self.shop_people = [build.member(self.shop, "worker") for _ in range(2)]
        self.admin_user = build.bureau_user("bureau_admin")
        self.staff_user = build.bureau_user("bureau_staff", towns=[self.south])
        self.admin = build.actor(self.admin_user)
        self.staff = build.actor(self.staff_user)
        data = {"title": "有限空间作业前检测", "body": "先通风、再检测、后作业。", "send_at": NOW.isoformat(),
                "requires_ack": True}
        self.broadcast = service.create_broadcast(db_session, self.admin, NOW, data)
        service.release_broadcast(db_session, self.broadcast.id, NOW)
        later = NOW + timedelta(hours=1)
        service.open_tip(db_session, build.actor(self.mill_people[0]), later, self.broadcast.tip_id)
        service.acknowledge_tip(db_session, build.actor(self.mill_people[1]), later, self.broadcast.tip_id)
        service.open_tip(db_session, build.actor(self.shop_people[0]), later, self.broadcast.tip_id)
        db_session.flush()


@pytest.fixture
def scene(build, db_session):
    return Scene(build, db_session)


def test_per_enterprise_counts(db_session, scene):
    result = queries.enterprise_recipients(db_session, scene.admin, scene.broadcast, RecipientFilters())
    rows = {r.name: (r.recipients, r.delivered, r.read, r.acknowledged) for r in result.rows}
    assert rows == {"北镇机械厂": (3, 0, 2, 1), "南镇商贸公司": (2, 0, 1, 0)}


def test_town_bound_staff_see_only_their_towns(db_session, scene):
    result = queries.enterprise_recipients(db_session, scene.staff, scene.broadcast, RecipientFilters())
    assert [r.name for r in result.rows] == ["南镇商贸公司"]
    people = queries.person_recipients(db_session, scene.staff, scene.broadcast, RecipientFilters())
    assert {r.user_id for r in people.rows} == {u.id for u in scene.shop_people}
    # Asking for the other town's enterprise shows nothing rather than its people.
    other = queries.person_recipients(
        db_session, scene.staff, scene.broadcast, RecipientFilters(enterprise_id=scene.mill.id)
    )
    assert other.total == 0 and other.rows == []


def test_state_and_enterprise_filters(db_session, scene):
    def ids(**kw):
        return {r.user_id for r in queries.person_recipients(db_session, scene.admin, scene.broadcast, RecipientFilters(**kw)).rows}

    m = scene.mill_people
    assert ids(state=RecipientState.ACKNOWLEDGED) == {m[1].id}
    assert ids(state=RecipientState.READ) == {m[0].id, scene.shop_people[0].id}
    assert ids(state=RecipientState.UNREAD) == {m[2].id, scene.shop_people[1].id}
    assert ids(enterprise_id=scene.mill.id, state=RecipientState.UNREAD) == {m[2].id}
    assert ids(town_id=scene.south.id) == {u.id for u in scene.shop_people}


def test_people_are_paged(db_session, build, scene):
    extra = [build.member(scene.mill, "worker") for _ in range(RECIPIENT_PAGE_SIZE)]
    data = {"title": "第二条", "body": "正文", "send_at": NOW.isoformat(), "requires_ack": True}
    broadcast = service.create_broadcast(db_session, scene.admin, NOW, data)
    service.release_broadcast(db_session, broadcast.id, NOW)
    first = queries.person_recipients(db_session, scene.admin, broadcast, RecipientFilters(page=1))
    second = queries.person_recipients(db_session, scene.admin, broadcast, RecipientFilters(page=2))
    assert first.total == 5 + len(extra) and first.pages == 2
    assert len(first.rows) == RECIPIENT_PAGE_SIZE and len(second.rows) == 5
    assert not {r.user_id for r in first.rows} & {r.user_id for r in second.rows}


def _login(client, user):
    with client.session_transaction() as session:
        session["user_id"] = user.id


def test_pages_render_and_refuse_bad_filters(client, db_session, scene):
    _login(client, scene.admin_user)
    detail = client.get(f"/console/tips/broadcasts/{scene.broadcast.id}").get_data(as_text=True)
    assert "按企业查看阅读与确认" in detail and "待办通知（逐人模板消息）" in detail
    page = client.get(f"/console/tips/broadcasts/{scene.broadcast.id}/enterprises")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "北镇机械厂" in text and "查看人员" in text
    people = client.get(f"/console/tips/broadcasts/{scene.broadcast.id}/people?enterprise={scene.mill.id}&state=unread")
    text = people.get_data(as_text=True)
    assert people.status_code == 200 and "未阅读" in text and scene.mill_people[2].display_name in text
    assert scene.mill_people[1].display_name not in text
    bad = client.get(f"/console/tips/broadcasts/{scene.broadcast.id}/people?state=whatever")
    assert bad.status_code == 422 and "状态筛选无效" in bad.get_data(as_text=True)
    assert client.get(f"/console/tips/broadcasts/{scene.broadcast.id}/people?town=99999999999").status_code == 422
    compose = client.get("/console/tips/new").get_data(as_text=True)
    assert "需逐人确认（学习任务）" in compose and "群发配额" in compose and "每位关注者每月最多 4 条" in compose


def test_a_post_without_the_csrf_token_changes_nothing(client, db_session, scene):
    _login(client, scene.admin_user)
    answer = client.post(f"/console/tips/broadcasts/{scene.broadcast.id}/remind")
    assert answer.status_code == 400
    assert queries.broadcast_counts(db_session, [scene.broadcast.id])[scene.broadcast.id].reminded == 0
