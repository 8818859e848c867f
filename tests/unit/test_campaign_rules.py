"""Pure rules of special campaigns: targets from the topic flags, the checklists a target
checks, the life cycle, lateness and overdue, progress totals, the self-check answers."""

from __future__ import annotations

from datetime import date

import pytest

from app.accounts.domain import Action, Actor, BureauRole, Role
from app.enterprises.domain import Topic
from app.errors import InvalidTransition, PermissionDenied, ValidationFailed
from app.oversight.campaigns.domain import (
    CampaignAction,
    CampaignStatus,
    CampaignTopic,
    Candidate,
    ItemResult,
    TargetState,
    check_close,
    check_launch,
    check_transition,
    checklists_for_target,
    hazard_description,
    is_target,
    may_watch,
    parse_answers,
    progress,
    require_manage,
    select_targets,
    target_state,
    topic_checklists,
)

DEADLINE = date(2026, 12, 10)
T = Topic


def test_each_topic_targets_its_flags_and_metallurgy_takes_either():
    assert is_target(CampaignTopic.DUST_EXPLOSION, {T.DUST_EXPLOSION, T.CONFINED_SPACE})
    assert not is_target(CampaignTopic.DUST_EXPLOSION, {T.CONFINED_SPACE})
    assert is_target(CampaignTopic.CONFINED_SPACE, {T.CONFINED_SPACE})
    assert is_target(CampaignTopic.AMMONIA_REFRIGERATION, {T.AMMONIA_REFRIGERATION})
    assert is_target(CampaignTopic.METALLURGY, {T.METALLURGICAL_GAS})
    assert is_target(CampaignTopic.METALLURGY, {T.MOLTEN_METAL})
    assert not is_target(CampaignTopic.METALLURGY, set())


def test_targets_are_the_flagged_enterprises_of_the_campaigns_towns():
    candidates = [
        Candidate(1, 10, frozenset({T.DUST_EXPLOSION})),
        Candidate(2, 20, frozenset({T.DUST_EXPLOSION})),
        Candidate(3, 10, frozenset()),
        Candidate(4, 10, frozenset({T.MOLTEN_METAL})),
    ]
    assert select_targets(CampaignTopic.DUST_EXPLOSION, None, candidates) == [1, 2]
    assert select_targets(CampaignTopic.DUST_EXPLOSION, frozenset({10}), candidates) == [1]
    assert select_targets(CampaignTopic.METALLURGY, None, candidates) == [4]
    assert select_targets(CampaignTopic.CONFINED_SPACE, None, candidates) == []


def test_the_topic_s_checklists_and_the_ones_a_target_checks():
    standard = [
        (1, frozenset()),  # GEN: industries only
        (2, frozenset({T.DUST_EXPLOSION})),
        (5, frozenset({T.METALLURGICAL_GAS})),
        (6, frozenset({T.MOLTEN_METAL})),
    ]
    assert topic_checklists(CampaignTopic.DUST_EXPLOSION, standard) == [2]
    assert topic_checklists(CampaignTopic.METALLURGY, standard) == [5, 6]
    pinned = [(50, frozenset({T.METALLURGICAL_GAS})), (60, frozenset({T.MOLTEN_METAL}))]
    assert checklists_for_target(pinned, frozenset({T.MOLTEN_METAL})) == [60]
    assert checklists_for_target(pinned, frozenset({T.MOLTEN_METAL, T.METALLURGICAL_GAS})) == [50, 60]
    assert checklists_for_target(pinned, frozenset()) == [50, 60]  # added by hand: all of them


def test_the_life_cycle():
    assert check_transition(CampaignAction.LAUNCH, CampaignStatus.DRAFT) is CampaignStatus.ACTIVE
    assert check_transition(CampaignAction.SELF_CHECK, CampaignStatus.ACTIVE) is CampaignStatus.ACTIVE
    assert check_transition(CampaignAction.CLOSE, CampaignStatus.ACTIVE) is CampaignStatus.CLOSED
    with pytest.raises(InvalidTransition, match="已启动"):
        check_transition(CampaignAction.LAUNCH, CampaignStatus.ACTIVE)
    with pytest.raises(InvalidTransition, match="已结束"):
        check_transition(CampaignAction.SELF_CHECK, CampaignStatus.CLOSED)
    with pytest.raises(InvalidTransition, match="草稿"):
        check_transition(CampaignAction.SELF_CHECK, CampaignStatus.DRAFT)
    with pytest.raises(InvalidTransition):
        check_transition(CampaignAction.EDIT, CampaignStatus.ACTIVE)


def test_launch_and_close_conditions():
    check_launch(date(2026, 12, 1), DEADLINE, DEADLINE, 1, 1)  # the deadline day itself is fine
    with pytest.raises(ValidationFailed, match="截止日期已过"):
        check_launch(date(2026, 12, 1), DEADLINE, date(2026, 12, 11), 1, 1)
    with pytest.raises(ValidationFailed, match="没有带该专项标签"):
        check_launch(date(2026, 12, 1), DEADLINE, DEADLINE, 0, 1)
    with pytest.raises(ValidationFailed, match="标准清单"):
        check_launch(date(2026, 12, 1), DEADLINE, DEADLINE, 3, 0)
    with pytest.raises(ValidationFailed, match="提前结束"):
        check_close(DEADLINE, DEADLINE, "")
    assert check_close(DEADLINE, date(2026, 12, 11), "") == ""
    assert check_close(DEADLINE, DEADLINE, "  上级  调整 ") == "上级 调整"


@pytest.mark.parametrize(
    ("today", "checked_on", "removed", "state"),
    [
        (date(2026, 12, 1), None, False, TargetState.PENDING),
        (DEADLINE, None, False, TargetState.PENDING),  # the deadline day is still in time
        (date(2026, 12, 11), None, False, TargetState.OVERDUE),
        (date(2026, 12, 11), DEADLINE, False, TargetState.CHECKED),
        (date(2026, 12, 11), date(2026, 12, 11), False, TargetState.LATE),
        (date(2026, 12, 11), None, True, TargetState.REMOVED),
    ],
)
def test_target_state(today, checked_on, removed, state):
    assert target_state(DEADLINE, today, checked_on, removed) is state


def test_progress_leaves_removed_targets_out():
    p = progress(
        [
            (TargetState.CHECKED, 2, 1),
            (TargetState.LATE, 1, 0),
            (TargetState.OVERDUE, 0, 0),
            (TargetState.PENDING, 0, 0),
            (TargetState.REMOVED, 5, 5),
        ]
    )
    assert (p.targets, p.checked, p.late, p.overdue, p.pending, p.hazards, p.rectified) == (4, 2, 1, 1, 1, 3, 1)
    assert p.checked_percent == "50%"
    assert progress([]).checked_percent == "—"


def test_every_item_is_answered_and_a_failed_one_says_what_was_found():
    answers = parse_answers(["A-1", "A-2", "A-3"], {
        "result-A-1": "pass", "result-A-2": "fail", "note-A-2": " 积尘 严重 ", "result-A-3": "na",
    })
    assert [(a.code, a.result, a.note) for a in answers] == [
        ("A-1", ItemResult.PASS, ""), ("A-2", ItemResult.FAIL, "积尘 严重"), ("A-3", ItemResult.NA, ""),
    ]
    with pytest.raises(ValidationFailed) as refused:
        parse_answers(["A-1", "A-2"], {"result-A-1": "maybe", "result-A-2": "fail"})
    assert set(refused.value.fields) == {"result-A-1", "note-A-2"}
    assert "还有 2 项" in refused.value.message


def test_the_hazard_names_the_campaign():
    assert hazard_description("2026年粉尘防爆专项整治", "除尘系统运行正常", "停运仍作业") == (
        "【专项整治：2026年粉尘防爆专项整治】除尘系统运行正常：停运仍作业"
    )


def test_managing_is_the_bureau_admins_and_staff_watch_their_towns():
    admin = Actor(user_id=1, bureau_role=BureauRole.ADMIN)
    staff = Actor(user_id=2, bureau_role=BureauRole.STAFF, bureau_town_ids=frozenset({10}))
    member = Actor(user_id=3, roles={7: frozenset({Role.MANAGER})})
    require_manage(admin)
    for actor in (staff, member):
        with pytest.raises(PermissionDenied):
            require_manage(actor)
    assert admin.can(Action.MANAGE_CAMPAIGNS) and not staff.can(Action.MANAGE_CAMPAIGNS)
    assert may_watch(admin, False, [20])
    assert may_watch(staff, True, []) and may_watch(staff, False, [10, 20])
    assert not may_watch(staff, False, [20])
    assert not may_watch(member, True, [])


def test_the_launch_notice_gives_the_deadline_and_links_to_the_self_check():
    import app.notices  # noqa: F401  (registers the kinds)
    from app.notifications.kinds import get_kind, render

    rendered = render(
        get_kind("campaign_launched"),
        {"campaign_id": 4, "campaign_title": "2026年粉尘防爆专项整治", "enterprise_id": 9,
         "enterprise_name": "郑州鑫林木业有限公司", "deadline": "2026-12-10", "at": "2026-11-28T02:00:00+00:00"},
        "http://ancha.test",
    )
    assert rendered.url == "http://ancha.test/console/enterprises/9/campaigns/4"
    assert rendered.data["thing3"]["value"] == "2026年粉尘防爆专项整治"
    assert rendered.data["thing4"]["value"] == "12月10日"
