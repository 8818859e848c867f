"""The hazard lifecycle as a table: every action × level × status, every role × every allowed
transition, the 不过夜 deadline across midnight, 五到位 completeness and the criteria rules.

The expectations below are written out independently of app/hazard_reporting/hazards/domain.py,
so a change to the table there must be made here too, on purpose.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.accounts.domain import Actor, BureauRole, EnterpriseRef, Role
from app.clock import LOCAL_TZ
from app.errors import InvalidTransition, PermissionDenied, ValidationFailed
from app.hazard_reporting.hazards.domain import (
    MIN_GENERAL_WINDOW,
    NOTICES,
    RULES,
    TERMINAL_STATUSES,
    FiveInPlace,
    HazardAction,
    HazardCategory,
    HazardLevel,
    HazardStatus,
    OnFail,
    StandardVersion,
    authorize,
    category_for_item,
    check_criteria,
    check_extension,
    general_deadline,
    level_for_failed_item,
    local_end_of_day,
    missing_five_in_place,
    pick_criteria,
    registration_number,
    require_five_in_place,
    require_ready_for_rectification,
    rule_for,
    standard_version_on,
    version_of_code,
)

A = HazardAction
S = HazardStatus
G = HazardLevel.GENERAL
M = HazardLevel.MAJOR

OWN = EnterpriseRef(id=1, town_id=10)
REPORTER_ID, ASSIGNEE_ID = 101, 102

# Who is who in the matrix. Enterprise roles act in OWN; bureau users cover town 10.
# The enterprise admin may act as the safety officer (issue 12): assign and verify.
ASSIGNERS = {Role.DEPARTMENT_HEAD, Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN}  # ASSIGN_HAZARD
VERIFIERS = {Role.DEPARTMENT_HEAD, Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN}  # VERIFY_HAZARD
APPROVERS = {Role.MANAGER}  # APPROVE_MAJOR_PLAN
BUREAU = {BureauRole.ADMIN, BureauRole.STAFF}  # SUPERVISE_MAJOR_HAZARD
ASSIGNEE, REPORTER = "assignee", "reporter"  # workers acting as a party to the hazard

OPEN = set(S) - {S.CLOSED, S.REJECTED}

# (action, level) → (statuses it may be taken from, status it leads to (None: unchanged), who)
EXPECTED = {
    (A.ASSIGN, G): ({S.REPORTED, S.ASSIGNED}, S.ASSIGNED, ASSIGNERS),
    (A.ASSIGN, M): ({S.REPORTED, S.ASSESSED, S.REGISTERED, S.PLAN_APPROVED, S.SUPERVISING}, None, ASSIGNERS),
    (A.START_RECTIFICATION, G): ({S.ASSIGNED}, S.RECTIFYING, ASSIGNERS | {ASSIGNEE}),
    (A.START_RECTIFICATION, M): ({S.SUPERVISING}, S.RECTIFYING, ASSIGNERS | {ASSIGNEE}),
    (A.SUBMIT_RECTIFICATION, G): ({S.RECTIFYING}, S.RECTIFIED, ASSIGNERS | {ASSIGNEE}),
    (A.SUBMIT_RECTIFICATION, M): ({S.RECTIFYING}, S.RECTIFIED, ASSIGNERS | {ASSIGNEE}),
    (A.VERIFY, G): ({S.RECTIFIED}, S.CLOSED, VERIFIERS),
    (A.REOPEN, G): ({S.RECTIFIED}, S.RECTIFYING, VERIFIERS),
    (A.REOPEN, M): ({S.RECTIFIED}, S.RECTIFYING, APPROVERS | BUREAU),
    (A.REJECT, G): ({S.REPORTED, S.ASSIGNED}, S.REJECTED, VERIFIERS),
    (A.REJECT, M): ({S.REPORTED}, S.REJECTED, APPROVERS),
    (A.UPGRADE_TO_MAJOR, G): ({S.REPORTED, S.ASSIGNED, S.RECTIFYING}, S.REPORTED, VERIFIERS),
    (A.ASSESS, M): ({S.REPORTED}, S.ASSESSED, VERIFIERS | BUREAU),  # the bureau's 评估认定 too
    (A.REGISTER, M): ({S.ASSESSED}, S.REGISTERED, VERIFIERS),
    (A.SAVE_PLAN, M): ({S.REPORTED, S.ASSESSED, S.REGISTERED}, None, VERIFIERS | APPROVERS | {ASSIGNEE}),
    (A.APPROVE_PLAN, M): ({S.REGISTERED}, S.PLAN_APPROVED, APPROVERS),
    (A.SUPERVISE, M): ({S.PLAN_APPROVED}, S.SUPERVISING, BUREAU),
    (A.ACCEPT, M): ({S.RECTIFIED}, S.CLOSED, APPROVERS | BUREAU),
    (A.REQUEST_EXTENSION, G): ({S.REPORTED, S.ASSIGNED, S.RECTIFYING}, None, ASSIGNERS | {ASSIGNEE}),
    (A.REQUEST_EXTENSION, M): ({S.PLAN_APPROVED, S.SUPERVISING, S.RECTIFYING}, None, ASSIGNERS | {ASSIGNEE}),
    (A.DECIDE_EXTENSION, G): ({S.REPORTED, S.ASSIGNED, S.RECTIFYING, S.RECTIFIED}, None, VERIFIERS),
    (A.DECIDE_EXTENSION, M): ({S.PLAN_APPROVED, S.SUPERVISING, S.RECTIFYING, S.RECTIFIED}, None, APPROVERS),
    (A.ADD_BEFORE_PHOTO, G): (OPEN, None, ASSIGNERS | VERIFIERS | {REPORTER}),
    (A.ADD_BEFORE_PHOTO, M): (OPEN, None, ASSIGNERS | VERIFIERS | {REPORTER}),
    (A.ADD_AFTER_PHOTO, G): ({S.RECTIFYING}, None, ASSIGNERS | {ASSIGNEE}),
    (A.ADD_AFTER_PHOTO, M): ({S.RECTIFYING}, None, ASSIGNERS | {ASSIGNEE}),
}

TABLE_ACTIONS = [a for a in A if a is not A.REPORT]  # reporting creates a hazard; no source status
WHO = [*Role, *BureauRole, ASSIGNEE, REPORTER]


def actor_for(who) -> Actor:
    if isinstance(who, Role):
        return Actor(user_id=200, roles={OWN.id: frozenset({who})})
    if isinstance(who, BureauRole):
        return Actor(user_id=300, bureau_role=who, bureau_town_ids=frozenset({OWN.town_id}))
    user_id = ASSIGNEE_ID if who == ASSIGNEE else REPORTER_ID
    return Actor(user_id=user_id, roles={OWN.id: frozenset({Role.WORKER})})


def attempt(action, level, status, actor, *, assignee_id=ASSIGNEE_ID):
    return authorize(
        action,
        status=status,
        level=level,
        actor=actor,
        enterprise=OWN,
        reporter_id=REPORTER_ID,
        assignee_id=assignee_id,
    )


# --- the status gate ------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("level", list(HazardLevel))
@pytest.mark.parametrize("action", TABLE_ACTIONS)
def test_status_gate(action, level, status):
    sources, target, _who = EXPECTED.get((action, level), (set(), None, set()))
    if status in sources:
        rule = rule_for(action, level, status)
        assert rule.target == target
    else:
        with pytest.raises(InvalidTransition) as refused:
            rule_for(action, level, status)
        assert "不能" in refused.value.message


def test_table_and_expectations_cover_the_same_transitions():
    actual = {
        (rule.action, level, status) for rule in RULES for level in rule.levels for status in rule.sources
    }
    expected = {(a, lv, st) for (a, lv), (sources, _t, _w) in EXPECTED.items() for st in sources}
    assert actual == expected


def test_nothing_leaves_a_terminal_status():
    for rule in RULES:
        assert not (rule.sources & TERMINAL_STATUSES), rule.action


def test_refusals_say_why_in_chinese():
    with pytest.raises(InvalidTransition, match="当前为“已销号”，不能指派整改人"):
        rule_for(A.ASSIGN, G, S.CLOSED)
    with pytest.raises(InvalidTransition, match="重大隐患不能复查销号"):
        rule_for(A.VERIFY, M, S.RECTIFIED)
    with pytest.raises(InvalidTransition, match="一般隐患不能评估认定"):
        rule_for(A.ASSESS, G, S.REPORTED)


# --- the role matrix ------------------------------------------------------------------------

ALLOWED_CASES = [
    (action, level, status)
    for (action, level), (sources, _target, _who) in EXPECTED.items()
    for status in sorted(sources)
]


@pytest.mark.parametrize("who", WHO, ids=str)
@pytest.mark.parametrize(("action", "level", "status"), ALLOWED_CASES)
def test_role_matrix(action, level, status, who):
    allowed = who in EXPECTED[(action, level)][2]
    if allowed:
        attempt(action, level, status, actor_for(who))
    else:
        with pytest.raises(PermissionDenied):
            attempt(action, level, status, actor_for(who))


@pytest.mark.parametrize(("action", "level", "status"), ALLOWED_CASES)
def test_nobody_outside_the_enterprise_may_act(action, level, status):
    other_member = Actor(user_id=200, roles={2: frozenset(Role)})
    other_town_bureau = Actor(user_id=300, bureau_role=BureauRole.STAFF, bureau_town_ids=frozenset({99}))
    # The assignee who has left the enterprise keeps the id but is no longer a party.
    former_assignee = Actor(user_id=ASSIGNEE_ID)
    for actor in (other_member, other_town_bureau, former_assignee):
        with pytest.raises(PermissionDenied):
            attempt(action, level, status, actor)


def test_a_worker_who_is_not_the_assignee_cannot_rectify():
    with pytest.raises(PermissionDenied):
        attempt(A.START_RECTIFICATION, G, S.ASSIGNED, actor_for(ASSIGNEE), assignee_id=999)


def test_every_status_change_notifies_someone():
    changing = {rule.action for rule in RULES if rule.target is not None} | {A.REPORT}
    assert changing <= set(NOTICES)
    assert NOTICES[A.REGISTER].kind == "major_hazard_registered"
    assert NOTICES[A.SUBMIT_RECTIFICATION].kind == "hazard_rectified"


# --- 不过夜 -----------------------------------------------------------------------------------


def _local(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=LOCAL_TZ).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "deadline"),
    [
        # 10:00 local → 23:59:59 local the same day (15:59:59 UTC).
        (datetime(2026, 11, 28, 2, 0, tzinfo=UTC), datetime(2026, 11, 28, 15, 59, 59, tzinfo=UTC)),
        # 18:00 local, the day shift's end: 6 h remain, still the same day.
        (_local(28, 18), _local(28, 23, 59, 59)),
        # 19:59:59 local: exactly 4 h remain, the same day.
        (_local(28, 19, 59, 59), _local(28, 23, 59, 59)),
        # 20:00 local: less than 4 h remain → the end of the next day shift, 18:00 local.
        (_local(28, 20), _local(29, 18)),
        # Issue 12: found at 22:49 got 70 minutes; now it is due at 18:00 the next day.
        (_local(28, 22, 49), _local(29, 18)),
        # 23:59:59 local: the next day's shift end, not one second.
        (datetime(2026, 11, 28, 15, 59, 59, tzinfo=UTC), datetime(2026, 11, 29, 10, 0, tzinfo=UTC)),
        # 00:00 local is already the next day, though UTC still says the 28th: a whole day.
        (datetime(2026, 11, 28, 16, 0, tzinfo=UTC), datetime(2026, 11, 29, 15, 59, 59, tzinfo=UTC)),
        # 00:30 local on the 28th is 16:30 UTC on the 27th.
        (datetime(2026, 11, 27, 16, 30, tzinfo=UTC), datetime(2026, 11, 28, 15, 59, 59, tzinfo=UTC)),
        # New year's eve late at night, local: 18:00 on new year's day.
        (datetime(2026, 12, 31, 15, 30, tzinfo=UTC), datetime(2027, 1, 1, 10, 0, tzinfo=UTC)),
    ],
)
def test_general_hazards_are_due_the_same_local_day_unless_found_at_night(now, deadline):
    due = general_deadline(now)
    assert due == deadline
    assert due.utcoffset().total_seconds() == 0  # stored as UTC
    assert due - now >= MIN_GENERAL_WINDOW


def test_general_deadline_refuses_naive_times():
    with pytest.raises(ValueError):
        general_deadline(datetime(2026, 11, 28, 10, 0))


def test_local_end_of_day():
    assert local_end_of_day(date(2026, 11, 30)) == datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)


def test_extension_rules():
    old = datetime(2026, 11, 28, 15, 59, 59, tzinfo=UTC)
    now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    check_extension(old, datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC), now)
    with pytest.raises(ValidationFailed, match="晚于原整改期限"):
        check_extension(old, old, now)
    with pytest.raises(ValidationFailed, match="尚无整改期限"):
        check_extension(None, old, now)
    with pytest.raises(ValidationFailed, match="晚于当前时间"):
        check_extension(old, datetime(2026, 11, 29, tzinfo=UTC), datetime(2026, 11, 29, 1, tzinfo=UTC))


# --- 五到位 ------------------------------------------------------------------------------------

COMPLETE = dict(
    measures="更换泄爆片，加装隔爆阀",
    owner_org="设备部",
    owner_person="张三",
    fund_amount=Decimal("150000.00"),
    fund_source="企业安全生产费用",
    deadline=datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC),
    contingency="整改期间除尘系统停用，相关工段停产",
)


def plan(**changes) -> FiveInPlace:
    return FiveInPlace(**{**COMPLETE, **changes})


def test_a_complete_plan_passes():
    assert missing_five_in_place(plan()) == {}
    require_five_in_place(plan())


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"measures": None}, "整改措施"),
        ({"measures": "   "}, "整改措施"),
        ({"owner_org": ""}, "整改责任"),
        ({"owner_person": None}, "整改责任"),
        ({"fund_amount": None}, "整改资金"),
        ({"fund_amount": Decimal("0")}, "整改资金"),
        ({"fund_source": None}, "整改资金"),
        ({"deadline": None}, "整改时限"),
        ({"contingency": ""}, "应急预案"),
    ],
)
def test_any_empty_item_is_named(changes, missing):
    assert list(missing_five_in_place(plan(**changes))) == [missing]
    with pytest.raises(ValidationFailed) as refused:
        require_five_in_place(plan(**changes))
    assert refused.value.message == f"五到位未落实，缺少：{missing}。"
    assert set(refused.value.fields) == set(changes)


def test_all_missing_are_named_in_order():
    with pytest.raises(ValidationFailed) as refused:
        require_five_in_place(None)
    assert refused.value.message == "五到位未落实，缺少：整改措施、整改责任、整改资金、整改时限、应急预案。"
    with pytest.raises(ValidationFailed, match="缺少：整改资金、应急预案"):
        require_five_in_place(plan(fund_source=None, contingency=None))


def test_rectification_needs_an_approved_complete_plan():
    approved_at = datetime(2026, 11, 28, tzinfo=UTC)
    require_ready_for_rectification(plan(), approved_at)
    with pytest.raises(ValidationFailed, match="立项审核"):
        require_ready_for_rectification(plan(), None)
    with pytest.raises(ValidationFailed, match="缺少：整改措施"):
        require_ready_for_rectification(plan(measures=None), approved_at)


# --- levels, categories, criteria -------------------------------------------------------------


def test_level_of_a_failed_item():
    assert level_for_failed_item(OnFail.GENERAL) == (G, False)
    assert level_for_failed_item(OnFail.REVIEW) == (G, True)
    assert level_for_failed_item(OnFail.MAJOR) == (M, False)


@pytest.mark.parametrize(
    ("item", "category"),
    [
        ("SITE", HazardCategory.UNSAFE_CONDITION),
        ("EQUIP", HazardCategory.UNSAFE_CONDITION),
        ("BEHAV", HazardCategory.UNSAFE_BEHAVIOR),
        ("MGMT", HazardCategory.MANAGEMENT_DEFECT),
        ("emerg", HazardCategory.MANAGEMENT_DEFECT),
    ],
)
def test_category_of_an_item(item, category):
    assert category_for_item(item) is category


def test_unknown_item_category_is_refused():
    with pytest.raises(ValidationFailed):
        category_for_item("OTHER")


@pytest.mark.parametrize(
    ("now", "version"),
    [
        (datetime(2023, 5, 14, 15, 59, 59, tzinfo=UTC), StandardVersion.GM2017),  # 23:59:59 local, 14 May
        (datetime(2023, 5, 14, 16, 0, tzinfo=UTC), StandardVersion.MEM10_2023),  # 00:00 local, 15 May
        (datetime(2017, 12, 1, tzinfo=UTC), StandardVersion.GM2017),
        (datetime(2026, 11, 28, tzinfo=UTC), StandardVersion.MEM10_2023),
    ],
)
def test_standard_version_follows_the_local_date(now, version):
    assert standard_version_on(now) is version


def test_codes_and_their_versions():
    assert version_of_code("M23-FC-3") is StandardVersion.MEM10_2023
    assert version_of_code("Z17-FC-03") is StandardVersion.GM2017
    assert version_of_code("H17-YJ-11") is StandardVersion.GM2017
    assert version_of_code("GEN-09") is None


def test_pick_the_reference_of_the_standard_in_force():
    refs = ["Z17-FC-03", "M23-FC-3"]
    assert pick_criteria(refs, datetime(2026, 11, 28, tzinfo=UTC)) == "M23-FC-3"
    assert pick_criteria(refs, datetime(2020, 1, 1, tzinfo=UTC)) == "Z17-FC-03"
    assert pick_criteria(["H17-SM-01"], datetime(2026, 11, 28, tzinfo=UTC)) is None


def test_criteria_must_belong_to_the_standard_in_force():
    now = datetime(2026, 11, 28, tzinfo=UTC)
    assert check_criteria(" m23-fc-3 ", None, now) == ("M23-FC-3", StandardVersion.MEM10_2023)
    assert check_criteria("external", "上游化工园区管道穿越厂区", now) == ("external", StandardVersion.MEM10_2023)
    with pytest.raises(ValidationFailed, match="应急管理部令第10号"):
        check_criteria("Z17-FC-03", None, now)
    with pytest.raises(ValidationFailed, match="格式不正确"):
        check_criteria("FC-3", None, now)
    with pytest.raises(ValidationFailed) as refused:
        check_criteria("external", "  ", now)
    assert "criteria_note" in refused.value.fields
    with pytest.raises(ValidationFailed) as refused:
        check_criteria(None, None, now)
    assert "criteria_code" in refused.value.fields


def test_registration_number_uses_the_local_date():
    assert registration_number(42, datetime(2026, 11, 28, 16, 30, tzinfo=UTC)) == "ZD20261129-000042"


def test_the_place_of_a_hazard_names_the_point_once():
    from app.hazard_reporting.hazards.domain import place_label

    assert place_label("熔炼车间炉前", "一号厂房 熔炼车间炉前") == "一号厂房 熔炼车间炉前"
    assert place_label("熔炼车间炉前", "东侧") == "熔炼车间炉前 · 东侧"
    assert place_label("", "东侧") == "东侧" and place_label("炉前", "") == "炉前"
    assert place_label(" ", "  ") == ""
    assert place_label("炉前", "东侧", " ") == "炉前 东侧"
