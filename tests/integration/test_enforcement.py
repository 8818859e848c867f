"""Enforcement inspections against the database: signing turns every problem into a hazard
of the enterprise's ledger (source 执法检查, reported by the inspector, due on the problem's
deadline, the enterprise told as for any hazard); a signed record is frozen and cannot be
signed again; the re-inspection waits for every hazard; bad signatures write nothing;
every verb is scoped; every transition leaves an event."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.clock import utcnow
from app.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.hazards import service as hazards_service
from app.hazard_reporting.hazards.domain import (
    HazardAction,
    HazardLevel,
    HazardSource,
    HazardStatus,
    local_end_of_day,
)
from app.hazard_reporting.hazards.models import Hazard, HazardEvent
from app.notifications.models import OutboxMessage
from app.oversight.enforcement import queries, service
from app.oversight.enforcement.domain import InspectionAction, InspectionStatus
from app.oversight.enforcement.models import Inspection, InspectionEvent
from tests.fixtures.enforcement import EnforcementScene, noisy_png, signature_png


@pytest.fixture
def scene(build, db_session, tmp_dir) -> EnforcementScene:
    return EnforcementScene(build, db_session, tmp_dir)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_signing_enters_each_problem_in_the_enterprise_s_ledger(scene, db_session, tmp_dir):
    inspection = scene.signed()
    assert inspection.status is InspectionStatus.SIGNED and inspection.signer_name == "陈经理"
    hazards = db_session.scalars(select(Hazard).where(Hazard.enterprise_id == scene.enterprise.id).order_by(Hazard.id)).all()
    assert [h.id for h in hazards] == [p.hazard_id for p in inspection.problems]
    first, second = hazards
    assert {h.source for h in hazards} == {HazardSource.ENFORCEMENT}
    assert {h.reporter_id for h in hazards} == {scene.staff.id}
    assert first.level is HazardLevel.GENERAL and second.level is HazardLevel.MAJOR
    assert first.status is HazardStatus.REPORTED and second.status is HazardStatus.REPORTED
    assert first.deadline == local_end_of_day(inspection.problems[0].deadline)
    assert first.site_id == scene.site.id and first.department_id == scene.department.id
    assert first.description.startswith("问题1：熔炼炉前未设置警示标识")
    # The REPORT event and the enterprise's notices, exactly as for any reported hazard.
    report = db_session.scalar(select(HazardEvent).where(HazardEvent.hazard_id == first.id))
    assert report.action is HazardAction.REPORT and report.data == {"source": "enforcement", "inspection_id": inspection.id}
    told = set(db_session.scalars(select(OutboxMessage.recipient_user_id).where(OutboxMessage.kind == "hazard_reported")))
    assert {scene.officer.id, scene.ent_admin.id, scene.manager.id} <= told and scene.staff.id not in told
    # The signature is stored by its hash under the media root.
    stored = Path(tmp_dir) / inspection.signature_path
    assert stored.is_file() and stored.name == f"{inspection.signature_sha256}.png"
    import hashlib

    assert hashlib.sha256(stored.read_bytes()).hexdigest() == inspection.signature_sha256


def test_a_signed_record_is_frozen_and_cannot_be_signed_again(scene, db_session):
    inspection = scene.signed()
    actor = scene.actor(scene.staff)
    now = utcnow()
    refused = [
        lambda: service.add_problem(db_session, actor, now, inspection.id, {"text": "x", "category": "unsafe_condition", "deadline": scene.today.isoformat()}),
        lambda: service.remove_problem(db_session, actor, now, inspection.id, inspection.problems[0].id),
        lambda: service.set_directive(db_session, actor, now, inspection.id, {"penalty_kind": "none"}),
        lambda: service.edit(db_session, actor, now, inspection.id, {"inspected_on": scene.today.isoformat(), "inspectors": "某某"}),
    ]
    for call in refused:
        with pytest.raises(InvalidTransition, match="不能再修改"):
            call()
    with pytest.raises(InvalidTransition, match="不能重复签字"):
        service.sign(db_session, actor, now, inspection.id, signature_png(), "陈经理", scene.media_root)
    db_session.refresh(inspection)
    assert len(inspection.problems) == 2 and inspection.penalty_kind.value == "rectify_order"
    assert count(db_session, Hazard) == 2


@pytest.mark.parametrize(
    ("png", "message"),
    [(signature_png(blank=True), "空白"), (noisy_png(1.2), "1 MB"), (b"not a png", "PNG")],
)
def test_a_bad_signature_signs_nothing(scene, db_session, png, message):
    inspection = scene.ready()
    with pytest.raises(ValidationFailed, match=message):
        service.sign(db_session, scene.actor(scene.staff), utcnow(), inspection.id, png, "陈经理", scene.media_root)
    db_session.refresh(inspection)
    assert inspection.status is InspectionStatus.DRAFT and inspection.signed_at is None
    assert count(db_session, Hazard) == 0
    assert not list(Path(scene.media_root).rglob("*.png"))


def test_an_incomplete_record_cannot_be_signed(scene, db_session):
    inspection = scene.draft()
    with pytest.raises(ValidationFailed) as refused:
        service.sign(db_session, scene.actor(scene.staff), utcnow(), inspection.id, signature_png(), "陈经理", scene.media_root)
    assert set(refused.value.fields) == {"problems", "penalty_kind"}
    assert count(db_session, Hazard) == 0


def test_no_problems_found_signs_without_hazards(scene, db_session):
    inspection = scene.signed(problems=0)
    assert inspection.status is InspectionStatus.SIGNED and count(db_session, Hazard) == 0
    seen = {s.key: s.done for s in queries.record_view(db_session, scene.actor(scene.staff), inspection.id).seen}
    assert seen == {"problems": True, "directive": True, "signature": True, "rectification": True, "acceptance": False}


def _close(db_session, scene, hazard_id: int) -> None:
    """Rectify and verify a general hazard as the enterprise does (assign, start, photo, submit, verify)."""
    officer = scene.actor(scene.officer)
    now = utcnow()
    hazards_service.assign(db_session, officer, now, hazard_id, {"assignee_id": scene.officer.id})
    hazards_service.start_rectification(db_session, officer, now, hazard_id)
    from tests.fixtures.enforcement import signature_png as picture

    hazards_service.add_photo(db_session, officer, now, hazard_id, "after", picture(), scene.media_root)
    hazards_service.submit_rectification(db_session, officer, now, hazard_id)
    hazards_service.verify(db_session, officer, now, hazard_id, {"passed": True})


def test_acceptance_is_refused_while_a_hazard_is_open_and_a_failed_one_needs_a_reason(scene, db_session):
    inspection = scene.signed(problems=1)
    actor = scene.actor(scene.staff)
    today = scene.today.isoformat()
    with pytest.raises(InvalidTransition, match="尚有 1 项隐患未整改销号"):
        service.reinspect(db_session, actor, utcnow(), inspection.id, {"reinspected_on": today, "passed": "1"})
    with pytest.raises(ValidationFailed, match="须说明原因"):
        service.reinspect(db_session, actor, utcnow(), inspection.id, {"reinspected_on": today, "passed": "0"})
    service.reinspect(db_session, actor, utcnow(), inspection.id, {"reinspected_on": today, "passed": "0", "result": "警示标识仍未设置"})
    assert inspection.status is InspectionStatus.RECTIFYING and inspection.reinspection_result == "警示标识仍未设置"
    _close(db_session, scene, inspection.problems[0].hazard_id)
    seen = {s.key: s.done for s in queries.record_view(db_session, actor, inspection.id).seen}
    assert seen["rectification"] and not seen["acceptance"]
    service.reinspect(db_session, actor, utcnow(), inspection.id, {"reinspected_on": today, "passed": "1", "result": "已整改到位"})
    assert inspection.status is InspectionStatus.ACCEPTED and inspection.reinspected_by_id == scene.staff.id
    with pytest.raises(InvalidTransition, match="不能重复验收"):
        service.reinspect(db_session, actor, utcnow(), inspection.id, {"reinspected_on": today, "passed": "1"})
    actions = [e.action for e in db_session.scalars(select(InspectionEvent).where(InspectionEvent.inspection_id == inspection.id).order_by(InspectionEvent.id))]
    assert actions == [
        InspectionAction.CREATE, InspectionAction.ADD_PROBLEM, InspectionAction.SET_DIRECTIVE,
        InspectionAction.SIGN, InspectionAction.REOPEN, InspectionAction.ACCEPT,
    ]


def test_events_are_append_only(scene, db_session):
    inspection = scene.draft()
    event = db_session.scalar(select(InspectionEvent).where(InspectionEvent.inspection_id == inspection.id))
    event.note = "changed"
    with pytest.raises(RuntimeError, match="append-only"):
        db_session.flush()


def test_scope_who_may_open_act_and_read(scene, db_session):
    now = utcnow()
    data = {"enterprise_id": str(scene.far.id), "inspected_on": scene.today.isoformat(), "inspectors": "张执法"}
    # An enterprise the actor cannot see (another town's; another enterprise): no existence leak.
    for user in (scene.staff, scene.ent_admin):
        with pytest.raises(ValidationFailed, match="请选择被检查的企业"):
            service.create(db_session, scene.actor(user), now, data)
    with pytest.raises(PermissionDenied):
        service.create(db_session, scene.actor(scene.ent_admin), now, {**data, "enterprise_id": str(scene.enterprise.id)})
    far = service.create(db_session, scene.actor(scene.admin), now, data)  # the admin: anywhere
    inspection = scene.ready()
    with pytest.raises(NotFound):
        service.add_problem(db_session, scene.actor(scene.other_staff), now, inspection.id, {"text": "x"})
    with pytest.raises(NotFound):  # a draft is the bureau's work in progress
        queries.get_inspection(db_session, scene.actor(scene.ent_admin), inspection.id)
    service.sign(db_session, scene.actor(scene.staff), now, inspection.id, signature_png(), "陈经理", scene.media_root)
    for reader in (scene.ent_admin, scene.manager, scene.officer):
        assert queries.get_inspection(db_session, scene.actor(reader), inspection.id) is inspection
    with pytest.raises(NotFound):
        queries.get_inspection(db_session, scene.actor(scene.worker), inspection.id)
    with pytest.raises(NotFound):
        queries.get_inspection(db_session, scene.actor(scene.far_admin), inspection.id)
    with pytest.raises(PermissionDenied):  # reads, does not act
        service.reinspect(db_session, scene.actor(scene.ent_admin), now, inspection.id, {"reinspected_on": scene.today.isoformat(), "passed": "0", "result": "x"})

    def ids(user, **flt):
        rows, total = queries.list_inspections(db_session, scene.actor(user), queries.InspectionFilter(**flt))
        return sorted(r.inspection.id for r in rows)

    assert ids(scene.admin) == sorted([far.id, inspection.id])
    assert ids(scene.staff) == [inspection.id]
    assert ids(scene.other_staff) == [far.id]
    assert ids(scene.ent_admin) == [inspection.id] and ids(scene.far_admin) == []
    assert ids(scene.admin, town_id=scene.other_town.id) == [far.id]
    assert ids(scene.admin, status=InspectionStatus.DRAFT) == [far.id]


def test_the_hazards_service_refuses_enforcement_hazards_to_others(scene, db_session):
    common = dict(
        enterprise_id=scene.enterprise.id, inspection_id=1, description="x", level=HazardLevel.GENERAL,
        category="unsafe_condition", due_on=scene.today,
    )
    with pytest.raises(PermissionDenied):
        hazards_service.record_enforcement_hazard(db_session, scene.actor(scene.officer), utcnow(), **common)
    with pytest.raises(NotFound):
        hazards_service.record_enforcement_hazard(db_session, scene.actor(scene.other_staff), utcnow(), **common)
    assert count(db_session, Hazard) == 0


def test_input_is_checked_in_chinese(scene, db_session):
    actor = scene.actor(scene.staff)
    inspection = scene.draft()
    cases = [
        ({"text": "", "category": "unsafe_condition", "deadline": scene.today.isoformat()}, "text"),
        ({"text": "x", "category": "", "deadline": scene.today.isoformat()}, "category"),
        ({"text": "x", "category": "unsafe_condition", "deadline": (scene.today - timedelta(days=1)).isoformat()}, "deadline"),
        ({"text": "x", "category": "unsafe_condition", "deadline": scene.today.isoformat(), "site_id": "999999"}, "site_id"),
    ]
    for data, field in cases:
        with pytest.raises(ValidationFailed) as refused:
            service.add_problem(db_session, actor, utcnow(), inspection.id, data)
        assert field in refused.value.fields
    with pytest.raises(ValidationFailed, match="异地执法"):
        scene.draft(cross_region="1")
    with pytest.raises(ValidationFailed, match="不能晚于今天"):
        scene.draft(inspected_on=(scene.today + timedelta(days=1)).isoformat())
    with pytest.raises(ValidationFailed) as directive:
        service.set_directive(db_session, actor, utcnow(), inspection.id, {"penalty_kind": "administrative_penalty"})
    assert set(directive.value.fields) == {"penalty_content", "penalty_number"}
    assert count(db_session, Inspection) == 1
