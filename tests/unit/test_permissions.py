"""The permission matrix: every role × every action, inside and outside its scope."""

from __future__ import annotations

import pytest

from app.accounts.domain import (
    DISTRICT_ACTIONS,
    Action,
    Actor,
    BureauRole,
    EnterpriseRef,
    Role,
    require,
)
from app.errors import PermissionDenied

OWN = EnterpriseRef(id=1, town_id=10)
SAME_TOWN_OTHER = EnterpriseRef(id=2, town_id=10)
OTHER_TOWN = EnterpriseRef(id=3, town_id=20)

A = Action
# What each enterprise role may do in its own enterprise. Everything else is refused.
EXPECTED_MEMBER = {
    Role.WORKER: {A.VIEW_ENTERPRISE, A.REPORT_HAZARD},
    Role.TEAM_LEADER: {A.VIEW_ENTERPRISE, A.REPORT_HAZARD, A.DO_DAILY_CHECK},
    Role.DEPARTMENT_HEAD: {A.VIEW_ENTERPRISE, A.REPORT_HAZARD, A.DO_WEEKLY_CHECK, A.ASSIGN_HAZARD, A.VERIFY_HAZARD},
    Role.MANAGER: {
        A.VIEW_ENTERPRISE, A.REPORT_HAZARD, A.DO_MONTHLY_CHECK, A.ASSIGN_HAZARD,
        A.VERIFY_HAZARD, A.APPROVE_MAJOR_PLAN, A.EXPORT_LEDGER, A.DO_CAMPAIGN_CHECK, A.MANAGE_TRAINING,
    },
    Role.SAFETY_OFFICER: {
        A.VIEW_ENTERPRISE, A.REPORT_HAZARD, A.ASSIGN_HAZARD, A.VERIFY_HAZARD,
        A.EXPORT_LEDGER, A.MANAGE_STRUCTURE, A.DO_CAMPAIGN_CHECK, A.MANAGE_TRAINING,
    },
    Role.ENTERPRISE_ADMIN: {
        A.VIEW_ENTERPRISE, A.REPORT_HAZARD, A.EDIT_ENTERPRISE, A.MANAGE_STRUCTURE,
        A.MANAGE_MEMBERS, A.EXPORT_LEDGER,
        # May act as the safety officer on hazards (issue 12), and only on hazards.
        A.HANDLE_HAZARDS,
        # The campaign self-check (专项整治, issue 14).
        A.DO_CAMPAIGN_CHECK,
        # Records the enterprise's safety training (issue 14).
        A.MANAGE_TRAINING,
    },
}
ENTERPRISE_ACTIONS = [a for a in Action if a not in DISTRICT_ACTIONS]
BUREAU_ON_ENTERPRISE = {
    BureauRole.ADMIN: {
        A.VIEW_ENTERPRISE, A.EDIT_ENTERPRISE, A.EXPORT_LEDGER, A.SUPERVISE_MAJOR_HAZARD, A.SET_CREDIT_STATUS,
    },
    BureauRole.STAFF: {A.VIEW_ENTERPRISE, A.EDIT_ENTERPRISE, A.EXPORT_LEDGER, A.SUPERVISE_MAJOR_HAZARD},
}
# 执法检查 (issue 14): the bureau's, admin and staff, on enterprises in scope.
for _actions in BUREAU_ON_ENTERPRISE.values():
    _actions.add(A.INSPECT)
BUREAU_DISTRICT = {
    BureauRole.ADMIN: set(DISTRICT_ACTIONS),
    BureauRole.STAFF: {A.CREATE_ENTERPRISE, A.VIEW_DISTRICT_STATS},
}


def member(role: Role) -> Actor:
    return Actor(user_id=1, roles={OWN.id: frozenset({role})})


def bureau(role: BureauRole) -> Actor:
    return Actor(user_id=2, bureau_role=role, bureau_town_ids=frozenset({10}))


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", ENTERPRISE_ACTIONS)
def test_member_in_own_enterprise(role, action):
    assert member(role).can(action, OWN) == (action in EXPECTED_MEMBER[role])


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", ENTERPRISE_ACTIONS)
def test_member_never_acts_on_another_enterprise(role, action):
    assert not member(role).can(action, SAME_TOWN_OTHER)
    assert not member(role).can(action, OTHER_TOWN)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", sorted(DISTRICT_ACTIONS))
def test_members_have_no_district_actions(role, action):
    assert not member(role).can(action)


@pytest.mark.parametrize("role", list(BureauRole))
@pytest.mark.parametrize("action", ENTERPRISE_ACTIONS)
def test_bureau_on_enterprise_in_scope(role, action):
    assert bureau(role).can(action, SAME_TOWN_OTHER) == (action in BUREAU_ON_ENTERPRISE[role])


@pytest.mark.parametrize("action", ENTERPRISE_ACTIONS)
def test_bureau_staff_sees_nothing_outside_their_towns(action):
    assert not bureau(BureauRole.STAFF).can(action, OTHER_TOWN)


@pytest.mark.parametrize("action", ENTERPRISE_ACTIONS)
def test_bureau_admin_scope_is_the_whole_district(action):
    assert bureau(BureauRole.ADMIN).can(action, OTHER_TOWN) == (action in BUREAU_ON_ENTERPRISE[BureauRole.ADMIN])


@pytest.mark.parametrize("role", list(BureauRole))
@pytest.mark.parametrize("action", sorted(DISTRICT_ACTIONS))
def test_bureau_district_actions(role, action):
    assert bureau(role).can(action) == (action in BUREAU_DISTRICT[role])


def test_bureau_never_performs_enterprise_checks():
    for role in BureauRole:
        for action in (A.DO_DAILY_CHECK, A.DO_WEEKLY_CHECK, A.DO_MONTHLY_CHECK, A.APPROVE_MAJOR_PLAN):
            assert not bureau(role).can(action, SAME_TOWN_OTHER)


def test_enterprise_action_needs_a_target_and_district_action_refuses_one():
    admin = bureau(BureauRole.ADMIN)
    assert not admin.can(A.VIEW_ENTERPRISE)
    assert not admin.can(A.CREATE_ENTERPRISE, OWN)


def test_roles_combine_across_memberships():
    actor = Actor(user_id=1, roles={OWN.id: frozenset({Role.TEAM_LEADER, Role.SAFETY_OFFICER})})
    assert actor.can(A.DO_DAILY_CHECK, OWN) and actor.can(A.MANAGE_STRUCTURE, OWN)
    assert not actor.can(A.MANAGE_MEMBERS, OWN)


def test_bureau_staff_who_is_also_a_member_keeps_both():
    actor = Actor(
        user_id=3,
        roles={OTHER_TOWN.id: frozenset({Role.WORKER})},
        bureau_role=BureauRole.STAFF,
        bureau_town_ids=frozenset({10}),
    )
    assert actor.can(A.REPORT_HAZARD, OTHER_TOWN)
    assert not actor.can(A.EDIT_ENTERPRISE, OTHER_TOWN)
    assert actor.can(A.EDIT_ENTERPRISE, SAME_TOWN_OTHER)


def test_scope_of_each_kind_of_actor():
    assert member(Role.WORKER).enterprise_scope().enterprise_ids == {1}
    assert bureau(BureauRole.STAFF).enterprise_scope().town_ids == {10}
    assert bureau(BureauRole.ADMIN).enterprise_scope().all
    assert Actor(user_id=9).enterprise_scope().empty


def test_require_raises_permission_denied():
    with pytest.raises(PermissionDenied):
        require(member(Role.WORKER), A.MANAGE_MEMBERS, OWN)
    require(member(Role.ENTERPRISE_ADMIN), A.MANAGE_MEMBERS, OWN)
