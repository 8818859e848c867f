"""Pure rules of enforcement inspections: the transition table × statuses, who may act
(every role, in and out of scope), who may read, the five 见, what signing and acceptance
need, and the signature image checks."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image

from app.accounts.domain import Actor, BureauRole, EnterpriseRef, Role
from app.errors import InvalidTransition, PermissionDenied, ValidationFailed
from app.hazard_reporting.hazards.domain import HazardStatus
from app.oversight.enforcement.domain import (
    TRANSITIONS,
    InspectionAction,
    InspectionStatus,
    PenaltyKind,
    RecordFacts,
    check_acceptance,
    check_ready_to_sign,
    check_transition,
    directive_problems,
    five_seen,
    may_read,
    may_take,
    require_inspection_action,
)
from app.oversight.enforcement.signature import from_data_url, prepare_signature
from tests.fixtures.enforcement import data_url, noisy_png, signature_png

S = InspectionStatus
A = InspectionAction
OWN = EnterpriseRef(id=1, town_id=10)
OTHER_TOWN = EnterpriseRef(id=3, town_id=20)

# (action, status) → the status after, or None when refused.
EXPECTED = {
    (A.EDIT, S.DRAFT): S.DRAFT,
    (A.ADD_PROBLEM, S.DRAFT): S.DRAFT,
    (A.REMOVE_PROBLEM, S.DRAFT): S.DRAFT,
    (A.SET_DIRECTIVE, S.DRAFT): S.DRAFT,
    (A.SIGN, S.DRAFT): S.SIGNED,
    (A.ACCEPT, S.SIGNED): S.ACCEPTED,
    (A.ACCEPT, S.RECTIFYING): S.ACCEPTED,
    (A.REOPEN, S.SIGNED): S.RECTIFYING,
    (A.REOPEN, S.RECTIFYING): S.RECTIFYING,
}


@pytest.mark.parametrize("action", [a for a in A if a is not A.CREATE])
@pytest.mark.parametrize("status", list(S))
def test_the_transition_table(action, status):
    expected = EXPECTED.get((action, status))
    if expected is None:
        with pytest.raises(InvalidTransition) as refused:
            check_transition(action, status)
        assert refused.value.message  # a sentence a person can act on
    else:
        assert check_transition(action, status) is expected


def test_re_signing_and_editing_a_signed_record_are_refused_in_chinese():
    with pytest.raises(InvalidTransition, match="不能重复签字"):
        check_transition(A.SIGN, S.SIGNED)
    with pytest.raises(InvalidTransition, match="不能再修改"):
        check_transition(A.ADD_PROBLEM, S.SIGNED)
    with pytest.raises(InvalidTransition, match="不能重复验收"):
        check_transition(A.ACCEPT, S.ACCEPTED)
    assert set(TRANSITIONS) == set(A) - {A.CREATE}


def member(role: Role) -> Actor:
    return Actor(user_id=1, roles={OWN.id: frozenset({role})})


def bureau(role: BureauRole) -> Actor:
    return Actor(user_id=2, bureau_role=role, bureau_town_ids=frozenset({10}))


@pytest.mark.parametrize("action", list(A))
@pytest.mark.parametrize("role", list(Role))
def test_no_enterprise_role_acts_on_an_inspection(action, role):
    assert not may_take(member(role), action, OWN)
    with pytest.raises(PermissionDenied):
        require_inspection_action(member(role), action, OWN)


@pytest.mark.parametrize("action", list(A))
def test_the_bureau_acts_in_scope_only(action):
    assert may_take(bureau(BureauRole.ADMIN), action, OWN)
    assert may_take(bureau(BureauRole.ADMIN), action, OTHER_TOWN)
    assert may_take(bureau(BureauRole.STAFF), action, OWN)
    assert not may_take(bureau(BureauRole.STAFF), action, OTHER_TOWN)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("status", list(S))
def test_who_reads_a_record(role, status):
    readers = {Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN}
    assert may_read(member(role), OWN, status) == (role in readers and status is not S.DRAFT)
    assert not may_read(member(role), OTHER_TOWN, status)
    assert may_read(bureau(BureauRole.STAFF), OWN, status)
    assert not may_read(bureau(BureauRole.STAFF), OTHER_TOWN, status)


def facts(**kw) -> RecordFacts:
    base = dict(
        status=S.DRAFT, problems=0, no_problems=False, penalty_kind=None, penalty_content="", penalty_number="",
        penalty_deadline=None, signed=False, hazard_statuses=(),
    )
    return RecordFacts(**{**base, **kw})


def states(f: RecordFacts) -> dict[str, bool]:
    return {s.key: s.done for s in five_seen(f)}


def test_a_new_record_misses_all_five():
    seen = five_seen(facts())
    assert [s.label for s in seen] == ["见问题清单", "见处罚指令", "见责任人签字", "见整改结果", "见复查验收"]
    assert not any(s.done for s in seen)


def test_the_five_见_fill_in_as_the_record_goes():
    drafted = facts(problems=2, penalty_kind=PenaltyKind.NONE)
    assert states(drafted) == {"problems": True, "directive": True, "signature": False, "rectification": False, "acceptance": False}
    signed = facts(status=S.SIGNED, problems=2, penalty_kind=PenaltyKind.NONE, signed=True,
                   hazard_statuses=(HazardStatus.CLOSED, HazardStatus.RECTIFYING))
    assert states(signed)["signature"] and not states(signed)["rectification"]
    assert five_seen(signed)[3].detail == "2 项隐患中 1 项已整改销号，1 项未完成"
    rectified = facts(status=S.SIGNED, problems=2, penalty_kind=PenaltyKind.NONE, signed=True,
                      hazard_statuses=(HazardStatus.CLOSED, HazardStatus.CLOSED))
    assert states(rectified)["rectification"] and not states(rectified)["acceptance"]
    accepted = facts(status=S.ACCEPTED, problems=2, penalty_kind=PenaltyKind.NONE, signed=True,
                     hazard_statuses=(HazardStatus.CLOSED, HazardStatus.CLOSED))
    assert all(states(accepted).values())


def test_no_problems_counts_as_a_problem_list_and_needs_no_rectification():
    f = facts(status=S.SIGNED, no_problems=True, penalty_kind=PenaltyKind.NONE, signed=True)
    assert states(f) == {"problems": True, "directive": True, "signature": True, "rectification": True, "acceptance": False}


def test_a_directive_needs_what_its_kind_needs():
    assert directive_problems(None, "", "", None) == {"penalty_kind": "请选择处罚指令（没有处罚请选择“无”）"}
    assert directive_problems(PenaltyKind.NONE, "", "", None) == {}
    assert set(directive_problems(PenaltyKind.RECTIFY_ORDER, "", "", None)) == {"penalty_content", "penalty_deadline"}
    assert set(directive_problems(PenaltyKind.ADMINISTRATIVE_PENALTY, "罚款", "", None)) == {"penalty_number"}
    assert directive_problems(PenaltyKind.ADMINISTRATIVE_PENALTY, "罚款", "惠应急罚〔2026〕3号", None) == {}


def test_signing_needs_problems_or_the_flag_a_directive_and_a_person():
    with pytest.raises(ValidationFailed) as refused:
        check_ready_to_sign(facts(), "", [], date(2026, 12, 5))
    assert set(refused.value.fields) == {"problems", "penalty_kind", "responsible_name"}
    with pytest.raises(ValidationFailed) as both:
        check_ready_to_sign(facts(problems=1, no_problems=True, penalty_kind=PenaltyKind.NONE), "陈", [date(2026, 12, 9)], date(2026, 12, 5))
    assert set(both.value.fields) == {"no_problems"}
    with pytest.raises(ValidationFailed) as late:
        check_ready_to_sign(facts(problems=1, penalty_kind=PenaltyKind.NONE), "陈", [date(2026, 12, 4)], date(2026, 12, 5))
    assert set(late.value.fields) == {"deadline"}
    check_ready_to_sign(facts(problems=1, penalty_kind=PenaltyKind.NONE), "陈", [date(2026, 12, 5)], date(2026, 12, 5))
    check_ready_to_sign(facts(no_problems=True, penalty_kind=PenaltyKind.NONE), "陈", [], date(2026, 12, 5))


def test_acceptance_waits_for_every_hazard():
    with pytest.raises(InvalidTransition, match="尚有 1 项隐患未整改销号"):
        check_acceptance([HazardStatus.CLOSED, HazardStatus.RECTIFIED])
    check_acceptance([HazardStatus.CLOSED, HazardStatus.REJECTED])
    check_acceptance([])


# --- the signature image -------------------------------------------------------------------------


def test_a_drawn_signature_is_kept_as_a_png_on_white():
    stored = prepare_signature(signature_png())
    image = Image.open(io.BytesIO(stored))
    assert image.format == "PNG" and image.mode == "RGB" and image.size == (600, 200)
    assert image.getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (signature_png(blank=True), "空白"),
        (b"", "空白"),
        (b"GIF89a not a png at all", "只接受 PNG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "只接受 PNG"),
        (signature_png(20, 20), "尺寸异常"),
    ],
)
def test_blank_broken_and_odd_signatures_are_refused(data, message):
    with pytest.raises(ValidationFailed, match=message) as refused:
        prepare_signature(data)
    assert set(refused.value.fields) == {"signature"}


def test_a_jpeg_is_refused_and_so_is_more_than_a_megabyte():
    buffer = io.BytesIO()
    Image.new("RGB", (300, 100), (0, 0, 0)).save(buffer, format="JPEG")
    with pytest.raises(ValidationFailed, match="只接受 PNG"):
        prepare_signature(buffer.getvalue())
    big = noisy_png(1.2)
    assert len(big) > 1024 * 1024
    with pytest.raises(ValidationFailed, match="不能超过 1 MB"):
        prepare_signature(big)


def test_the_canvas_data_url_is_decoded_and_other_urls_refused():
    png = signature_png()
    assert from_data_url(data_url(png)) == png
    with pytest.raises(ValidationFailed, match="空白"):
        from_data_url("")
    with pytest.raises(ValidationFailed, match="只接受 PNG"):
        from_data_url("data:image/jpeg;base64,AAAA")
    with pytest.raises(ValidationFailed, match="只接受 PNG"):
        from_data_url("data:image/png;base64,@@@@")
