"""组织与岗位 use cases on a real database: names unique within their parent, a unit removed
only when nothing refers to it (members, sites, schedules, posts, teams), a post's factors
replaced as one ordered list, and the actor's scope (another enterprise is NotFound, a viewer
without MANAGE_STRUCTURE is refused)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import Membership
from app.enterprises.models import Department, Post, PostHazardFactor, Team
from app.enterprises.organisation import queries, service
from app.enterprises.organisation.domain import MAX_ID
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists import service as checklist_service
from tests.fixtures.builders import NOW
from tests.fixtures.checks import MONDAY, CheckOrg

CARD = {
    "name": "熔炼工",
    "department_id": "",
    "risks": "高温熔融金属喷溅灼烫",
    "precautions": "穿戴隔热服和面罩",
    "emergency_measures": "立即断电撤离",
    "factors": [
        {"name": "高温熔融金属喷溅、爆炸", "measures": "炉料干燥预热；炉前无积水"},
        {"name": "", "measures": ""},
        {"name": "漏炉", "measures": "每班检查炉衬"},
    ],
}


@pytest.fixture
def plant(build):
    enterprise = build.enterprise(name="郑州恒达铸造有限公司")
    admin = build.actor(build.member(enterprise, "enterprise_admin"))
    return enterprise, admin


def test_departments_and_teams_are_added_renamed_and_unique_within_their_parent(db_session, build, plant):
    enterprise, admin = plant
    melt = service.add_department(db_session, admin, NOW, enterprise.id, "  熔炼车间 ")
    assert melt.name == "熔炼车间"
    with pytest.raises(ValidationFailed) as caught:
        service.add_department(db_session, admin, NOW, enterprise.id, "熔炼车间")
    assert "已有名为「熔炼车间」的部门" in caught.value.fields["name"]
    # Another enterprise may use the same name.
    other = build.enterprise()
    service.add_department(db_session, build.actor(build.member(other, "safety_officer")), NOW, other.id, "熔炼车间")
    team = service.add_team(db_session, admin, NOW, melt.id, "熔炼班")
    with pytest.raises(ValidationFailed) as caught:
        service.add_team(db_session, admin, NOW, melt.id, "熔炼班")
    assert caught.value.fields["name"] == "「熔炼车间」已有名为「熔炼班」的班组，名称不能重复"
    pour = service.add_department(db_session, admin, NOW, enterprise.id, "浇注车间")
    service.add_team(db_session, admin, NOW, pour.id, "熔炼班")  # same name, another department
    service.add_team(db_session, admin, NOW, melt.id, "浇注班")
    with pytest.raises(ValidationFailed):
        service.rename_team(db_session, admin, NOW, team.id, "浇注班")
    assert service.rename_team(db_session, admin, NOW, team.id, "熔炼一班").name == "熔炼一班"
    assert service.rename_team(db_session, admin, NOW, team.id, "熔炼一班").name == "熔炼一班"  # its own name
    with pytest.raises(ValidationFailed):
        service.rename_department(db_session, admin, NOW, pour.id, "熔炼车间")
    with pytest.raises(ValidationFailed) as caught:
        service.rename_department(db_session, admin, NOW, pour.id, "")
    assert caught.value.fields["name"] == "请填写部门名称"
    assert service.rename_department(db_session, admin, NOW, pour.id, "铸造车间").name == "铸造车间"


def test_a_department_is_removed_only_when_nothing_refers_to_it(db_session, build, plant):
    enterprise, admin = plant
    department = build.department(enterprise, name="设备部")
    team = build.team(department, name="维修班")
    site = build.site(enterprise, name="抛丸除尘器", department_id=department.id)
    post = build.post(enterprise, name="维修电工", department_id=department.id)
    build.member(enterprise, "worker", user=build.user(display_name="王建华"), department_id=department.id, team_id=team.id)
    with pytest.raises(Conflict) as caught:
        service.remove_department(db_session, admin, NOW, department.id)
    message = caught.value.message
    assert message.startswith("不能删除部门「设备部」")
    for part in ("班组 1 个（维修班）", "点位 1 个（抛丸除尘器）", "岗位 1 个（维修电工）", "在册人员 1 名（王建华）"):
        assert part in message
    with pytest.raises(Conflict) as caught:
        service.remove_team(db_session, admin, NOW, team.id)
    assert "在册人员 1 名（王建华）" in caught.value.message
    # Clear the references one by one: a member who left and a revoked site do not hold it.
    membership = db_session.scalar(select(Membership).where(Membership.team_id == team.id))
    membership.active = False
    site.active = False
    db_session.flush()
    assert service.remove_team(db_session, admin, NOW, team.id) == "维修班"
    post.department_id = None
    db_session.flush()
    assert service.remove_department(db_session, admin, NOW, department.id) == "设备部"
    db_session.expire_all()
    assert db_session.get(Department, department.id) is None
    assert db_session.get(Membership, membership.id).department_id is None  # cleared by the database
    assert db_session.get(type(site), site.id).department_id is None


def test_check_schedules_hold_their_department_and_team(db_session, build):
    checklist_service.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate()
    officer = build.actor(org.officer)
    with pytest.raises(Conflict) as caught:
        service.remove_department(db_session, officer, MONDAY, org.d2.id)
    assert "排查计划" in caught.value.message and "班组 1 个（仓储班）" in caught.value.message
    with pytest.raises(Conflict) as caught:
        service.remove_team(db_session, officer, MONDAY, org.t2.id)
    assert "排查计划 1 项" in caught.value.message
    assert db_session.get(Team, org.t2.id) is not None


def test_a_post_card_with_its_factors_is_added_edited_and_removed(db_session, build, plant):
    enterprise, admin = plant
    department = build.department(enterprise, name="熔炼车间")
    post = service.add_post(db_session, admin, NOW, enterprise.id, {**CARD, "department_id": str(department.id)})
    assert post.department_id == department.id
    assert [(f.name, f.position) for f in post.hazard_factors] == [("高温熔融金属喷溅、爆炸", 0), ("漏炉", 1)]
    with pytest.raises(ValidationFailed) as caught:
        service.add_post(db_session, admin, NOW, enterprise.id, CARD)
    assert "已有名为「熔炼工」的岗位" in caught.value.fields["name"]
    # Swap the two factors and change one: names move between rows without a unique clash.
    edited = {**CARD, "factors": [{"name": "漏炉", "measures": "每班检查炉衬；冷却水报警"}, {"name": "高温熔融金属喷溅、爆炸", "measures": "干燥"}]}
    service.update_post(db_session, admin, NOW, post.id, edited)
    db_session.expire_all()
    post = db_session.get(Post, post.id)
    assert [(f.name, f.measures) for f in post.hazard_factors] == [("漏炉", "每班检查炉衬；冷却水报警"), ("高温熔融金属喷溅、爆炸", "干燥")]
    assert post.department_id is None
    holder = build.member(enterprise, "worker", user=build.user(display_name="李国强"), post_id=post.id)
    with pytest.raises(Conflict) as caught:
        service.remove_post(db_session, admin, NOW, post.id)
    assert caught.value.message.startswith("不能删除岗位「熔炼工」：仍有在册人员 1 名（李国强）")
    db_session.scalar(select(Membership).where(Membership.user_id == holder.id)).active = False
    db_session.flush()
    assert service.remove_post(db_session, admin, NOW, post.id) == "熔炼工"
    assert db_session.scalar(select(func.count()).select_from(PostHazardFactor)) == 0


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "不能为空"),
        ({"risks": ""}, "risks", "不能为空"),
        ({"risks": "风" * 2001}, "risks", "不能超过 2000 个字符"),
        ({"department_id": "abc"}, "department_id", "应为整数"),
        ({"department_id": str(MAX_ID + 1)}, "department_id", "不能大于"),
        ({"factors": [{"name": "漏炉", "measures": ""}]}, "factors.1", "请填写「漏炉」的管控措施"),
    ],
)
def test_a_bad_card_is_refused_and_nothing_written(db_session, plant, change, field, message):
    enterprise, admin = plant
    with pytest.raises(ValidationFailed) as caught:
        service.add_post(db_session, admin, NOW, enterprise.id, {**CARD, **change})
    assert message in caught.value.fields[field]
    assert db_session.scalar(select(func.count()).select_from(Post).where(Post.enterprise_id == enterprise.id)) == 0


def test_another_enterprise_s_department_cannot_be_put_on_a_card(db_session, build, plant):
    enterprise, admin = plant
    foreign = build.department(build.enterprise(), name="别家车间")
    with pytest.raises(ValidationFailed) as caught:
        service.add_post(db_session, admin, NOW, enterprise.id, {**CARD, "department_id": str(foreign.id)})
    assert caught.value.fields["department_id"] == "部门不存在或不属于本企业"


def test_scope_another_enterprise_is_not_found_and_a_worker_or_the_bureau_may_not_edit(db_session, build, plant):
    enterprise, _ = plant
    department = build.department(enterprise)
    team = build.team(department)
    post = build.post(enterprise)
    outsider = build.actor(build.member(build.enterprise(), "enterprise_admin"))
    worker = build.actor(build.member(enterprise, "worker"))
    bureau = build.actor(build.bureau_user("bureau_admin"))
    calls = [
        lambda a: service.add_department(db_session, a, NOW, enterprise.id, "新部门"),
        lambda a: service.rename_department(db_session, a, NOW, department.id, "新名"),
        lambda a: service.remove_department(db_session, a, NOW, department.id),
        lambda a: service.add_team(db_session, a, NOW, department.id, "新班组"),
        lambda a: service.rename_team(db_session, a, NOW, team.id, "新名"),
        lambda a: service.remove_team(db_session, a, NOW, team.id),
        lambda a: service.add_post(db_session, a, NOW, enterprise.id, CARD),
        lambda a: service.update_post(db_session, a, NOW, post.id, CARD),
        lambda a: service.remove_post(db_session, a, NOW, post.id),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call(outsider)
        for actor in (worker, bureau):
            with pytest.raises(PermissionDenied):
                call(actor)
    for too_big in (MAX_ID + 1, 10**12):
        with pytest.raises(NotFound):
            service.visible_enterprise(db_session, bureau, too_big)
        with pytest.raises(NotFound):
            service.rename_department(db_session, bureau, NOW, too_big, "x")
        with pytest.raises(NotFound):
            service.post_to_edit(db_session, bureau, too_big)
        assert queries.enterprise_id_of(db_session, "team", too_big) is None


def test_my_post_cards_are_the_posts_of_my_active_memberships_by_enterprise(db_session, build):
    first, second = build.enterprise(name="甲厂"), build.enterprise(name="乙厂")
    smelter = build.post(first, name="熔炼工")
    build.post(first, name="浇注工")  # nobody's
    guard = build.post(second, name="门卫")
    left = build.post(second, name="叉车工")
    user = build.user()
    build.member(first, "worker", user=user, post_id=smelter.id)
    build.member(first, "team_leader", user=user, post_id=smelter.id)  # the same post twice
    build.member(second, "worker", user=user, post_id=guard.id)
    build.member(second, "safety_officer", user=user)  # no post
    build.member(second, "team_leader", user=user, post_id=left.id, active=False)
    cards = queries.my_post_cards(db_session, user.id)
    assert [(c.enterprise_name, [p.name for p in c.posts]) for c in cards] == [("甲厂", ["熔炼工"]), ("乙厂", ["门卫"])]
    assert [c.enterprise_name for c in queries.my_post_cards(db_session, user.id, second.id)] == ["乙厂"]
    assert queries.my_post_cards(db_session, build.user().id) == []
