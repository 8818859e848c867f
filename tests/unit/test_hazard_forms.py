"""The hazard pages' rules without a database: which actions a page offers (on plain objects,
as domain.py promises), the 待我处理 test, and how a form becomes the plain data of
service.act (one verb and one form reading for every offered action).
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from app.accounts.domain import Actor, EnterpriseRef, Role
from app.errors import NotFound, ValidationFailed
from app.hazard_reporting.hazards import schemas, service
from app.hazard_reporting.hazards.domain import (
    FORM_ACTIONS,
    HazardAction,
    HazardLevel,
    HazardStatus,
    available_actions,
    primary_action,
    waits_for_decision,
)

A = HazardAction
OWN = EnterpriseRef(id=1, town_id=10)
OFFICER = Actor(user_id=200, roles={OWN.id: frozenset({Role.SAFETY_OFFICER})})
FIXER = Actor(user_id=102, roles={OWN.id: frozenset({Role.WORKER})})
DEADLINE = datetime(2026, 12, 1, 15, 59, 59, tzinfo=UTC)


def hazard(status: HazardStatus, assignee_id: int | None = None, deadline: datetime | None = DEADLINE):
    return SimpleNamespace(
        level=HazardLevel.GENERAL, status=status, reporter_id=101, assignee_id=assignee_id, deadline=deadline
    )


def test_every_offered_action_has_one_verb_and_one_form_reading():
    assert set(service.FORMS) == set(FORM_ACTIONS)
    assert set(schemas.ACTION_FIELDS) | {A.SAVE_PLAN} == set(FORM_ACTIONS)
    assert schemas.PHOTO_FORMS == {a for a, form in service.FORMS.items() if form.photos is not None}


def test_a_new_report_opens_on_naming_the_fixer_and_waits_for_the_officer():
    reported = hazard(HazardStatus.REPORTED)
    actions = available_actions(OFFICER, reported, OWN, None)
    assert actions[0] is A.ASSIGN
    assert primary_action(reported, actions) is A.ASSIGN
    assert waits_for_decision(reported, actions)


def test_re_assigning_is_neither_the_page_s_form_nor_waiting():
    assigned = hazard(HazardStatus.REPORTED, assignee_id=FIXER.user_id)
    actions = available_actions(OFFICER, assigned, OWN, None)
    assert A.ASSIGN in actions
    assert primary_action(assigned, actions) is None
    assert not waits_for_decision(assigned, actions)


def test_an_extension_is_asked_for_once_and_never_decided_by_its_asker():
    rectifying = hazard(HazardStatus.RECTIFYING, assignee_id=FIXER.user_id)
    assert A.REQUEST_EXTENSION in available_actions(FIXER, rectifying, OWN, None)
    asked = SimpleNamespace(requested_by_id=FIXER.user_id)
    assert A.REQUEST_EXTENSION not in available_actions(FIXER, rectifying, OWN, asked)
    assert A.DECIDE_EXTENSION in available_actions(OFFICER, rectifying, OWN, asked)
    own_request = SimpleNamespace(requested_by_id=OFFICER.user_id)
    assert A.DECIDE_EXTENSION not in available_actions(OFFICER, rectifying, OWN, own_request)
    no_deadline = hazard(HazardStatus.RECTIFYING, assignee_id=FIXER.user_id, deadline=None)
    assert A.REQUEST_EXTENSION not in available_actions(FIXER, no_deadline, OWN, None)


def test_the_fixer_s_page_opens_on_the_fix_not_on_a_side_action():
    rectifying = hazard(HazardStatus.RECTIFYING, assignee_id=FIXER.user_id)
    actions = available_actions(FIXER, rectifying, OWN, None)
    assert actions == [A.SUBMIT_RECTIFICATION, A.REQUEST_EXTENSION]
    assert primary_action(rectifying, actions) is A.SUBMIT_RECTIFICATION


@pytest.mark.parametrize("slug", ["report", "add_after_photo", "reopen", "nonsense", ""])
def test_only_offered_actions_have_a_form(slug):
    with pytest.raises(NotFound):
        schemas.form_action(slug)


def test_act_refuses_an_action_that_is_not_a_form_before_touching_anything():
    with pytest.raises(NotFound):
        service.act(None, OFFICER, DEADLINE, 1, A.REPORT, {})


def test_a_form_sends_only_its_own_filled_in_fields():
    form = {"passed": "true", "note": "  ", "reason": "not mine", "opinion": "好"}
    assert schemas.action_data(A.VERIFY, form, None) == {"passed": "true"}
    assert schemas.action_data(A.ACCEPT, form, None) == {"passed": "true", "opinion": "好"}


def test_plan_milestones_keep_their_done_mark_and_name_a_bad_line():
    plan = SimpleNamespace(milestones=[{"title": "更换泄爆片", "due": "2026-12-10", "done": True}])
    form = {"measures": "加装隔爆阀", "milestones": "2026-12-10 更换泄爆片\n\n2026-12-20 验收"}
    data = schemas.action_data(A.SAVE_PLAN, form, plan)
    assert data["measures"] == "加装隔爆阀" and data["owner_org"] is None
    assert data["milestones"] == [
        {"title": "更换泄爆片", "due": "2026-12-10", "done": True},
        {"title": "验收", "due": "2026-12-20", "done": False},
    ]
    with pytest.raises(ValidationFailed) as refused:
        schemas.plan_data({"milestones": "2026-12-10 更换泄爆片\n12月20日 验收"}, plan)
    assert "第 2 行" in str(refused.value.fields["milestones"])


def test_a_report_takes_its_enterprise_from_the_site_or_the_only_choice():
    one, two = SimpleNamespace(id=1), SimpleNamespace(id=2)
    site = SimpleNamespace(id=7, enterprise_id=2)
    form = {"site_id": "7", "description": "配电箱门未关", "category": "unsafe_condition"}
    assert schemas.report_data(form, [one, two], [site])["enterprise_id"] == 2
    assert schemas.report_data({"description": "x"}, [one], [])["enterprise_id"] == 1
    with pytest.raises(ValidationFailed):
        schemas.report_data({"description": "x"}, [one, two], [site])
    with pytest.raises(ValidationFailed):
        schemas.report_data({"description": "x", "level": "huge"}, [one], [])
