"""Confined-space jobs: draft → confirmed → started → finished / cancelled; no start without
a passed work-condition confirmation (CSC-01..11, each confirmed by a named person)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.confined_space import service
from app.hazard_reporting.confined_space.domain import JobStatus

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 Asia/Shanghai
CODES = [f"CSC-{n:02d}" for n in range(1, 12)]


@pytest.fixture
def ctx(db_session, build):
    checklist_service.load_standard_checklists(db_session, NOW)
    enterprise = build.enterprise(confined_space=True)
    site = build.site(enterprise, name="污水处理池")
    leader = build.actor(build.member(enterprise, "team_leader"))
    job = service.create_confined_space_job(
        db_session,
        leader,
        NOW,
        enterprise.id,
        {
            "site_id": site.id,
            "description": "清理污水池底泥",
            "planned_start": (NOW + timedelta(hours=1)).isoformat(),
        },
    )
    return enterprise, site, leader, job


def confirm_all(session, actor, job, at, failing=()):
    for code in CODES:
        service.record_confirmation(
            session,
            actor,
            at,
            job.id,
            {"item_code": code, "passed": code not in failing, "confirmed_by": "王监护"},
        )


def test_a_job_starts_after_a_passed_confirmation(db_session, ctx):
    _, _, leader, job = ctx
    assert job.status is JobStatus.DRAFT and job.checklist_version == 1
    confirm_all(db_session, leader, job, NOW + timedelta(minutes=10))
    service.confirm_job(db_session, leader, NOW + timedelta(minutes=20), job.id)
    service.start_job(db_session, leader, NOW + timedelta(minutes=30), job.id)
    service.finish_job(db_session, leader, NOW + timedelta(hours=3), job.id)
    assert job.status is JobStatus.FINISHED
    assert (job.confirmed_at, job.started_at, job.finished_at) == (
        NOW + timedelta(minutes=20),
        NOW + timedelta(minutes=30),
        NOW + timedelta(hours=3),
    )
    assert all(
        c.confirmed_by == "王监护" and c.confirmed_at == NOW + timedelta(minutes=10)
        for c in job.confirmations
    )
    assert [(e.from_status, e.to_status, e.actor_id) for e in job.events] == [
        (None, JobStatus.DRAFT, leader.user_id),
        (JobStatus.DRAFT, JobStatus.CONFIRMED, leader.user_id),
        (JobStatus.CONFIRMED, JobStatus.STARTED, leader.user_id),
        (JobStatus.STARTED, JobStatus.FINISHED, leader.user_id),
    ]


def test_start_without_confirmation_is_refused_naming_the_items(db_session, ctx):
    _, _, leader, job = ctx
    with pytest.raises(InvalidTransition) as caught:
        service.start_job(db_session, leader, NOW, job.id)
    assert "严禁进入有限空间作业" in caught.value.message and "CSC-01 未确认" in caught.value.message
    assert job.status is JobStatus.DRAFT and job.started_at is None


def test_a_failing_item_blocks_confirmation_and_start(db_session, ctx):
    _, _, leader, job = ctx
    confirm_all(db_session, leader, job, NOW, failing={"CSC-07"})
    with pytest.raises(InvalidTransition, match="CSC-07 不符合要求"):
        service.confirm_job(db_session, leader, NOW, job.id)
    with pytest.raises(InvalidTransition, match="CSC-07 不符合要求"):
        service.start_job(db_session, leader, NOW, job.id)
    # Ventilated again and re-tested: the corrected item lets the job go ahead.
    service.record_confirmation(
        db_session,
        leader,
        NOW + timedelta(minutes=15),
        job.id,
        {"item_code": "CSC-07", "passed": True, "confirmed_by": "李检测", "note": "氧含量20.8%"},
    )
    service.confirm_job(db_session, leader, NOW + timedelta(minutes=16), job.id)
    service.start_job(db_session, leader, NOW + timedelta(minutes=20), job.id)
    assert job.status is JobStatus.STARTED


def test_a_draft_all_passed_still_needs_the_sign_off(db_session, ctx):
    _, _, leader, job = ctx
    confirm_all(db_session, leader, job, NOW)
    with pytest.raises(InvalidTransition, match="待确认"):
        service.start_job(db_session, leader, NOW, job.id)


def test_confirmations_are_frozen_once_signed_off(db_session, ctx):
    _, _, leader, job = ctx
    confirm_all(db_session, leader, job, NOW)
    service.confirm_job(db_session, leader, NOW, job.id)
    with pytest.raises(InvalidTransition):
        service.record_confirmation(
            db_session, leader, NOW, job.id, {"item_code": "CSC-01", "passed": False, "confirmed_by": "王"}
        )


def test_bad_confirmation_input(db_session, ctx):
    _, _, leader, job = ctx
    with pytest.raises(ValidationFailed) as caught:
        service.record_confirmation(
            db_session, leader, NOW, job.id, {"item_code": "CSC-99", "passed": True, "confirmed_by": "王"}
        )
    assert "item_code" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        service.record_confirmation(
            db_session, leader, NOW, job.id, {"item_code": "CSC-01", "passed": True, "confirmed_by": ""}
        )
    assert "confirmed_by" in caught.value.fields


def test_cancel_needs_a_reason_and_not_after_start(db_session, ctx):
    _, _, leader, job = ctx
    with pytest.raises(ValidationFailed):
        service.cancel_job(db_session, leader, NOW, job.id, "")
    service.cancel_job(db_session, leader, NOW, job.id, "检测仪故障，改期")
    assert job.status is JobStatus.CANCELLED and job.cancel_reason == "检测仪故障，改期"
    with pytest.raises(InvalidTransition):
        service.confirm_job(db_session, leader, NOW, job.id)


def test_only_check_leaders_run_jobs(db_session, build, ctx):
    enterprise, site, _, job = ctx
    for role in ("worker", "enterprise_admin"):
        actor = build.actor(build.member(enterprise, role))
        with pytest.raises(PermissionDenied):
            service.start_job(db_session, actor, NOW, job.id)
    other_site = build.site(build.enterprise())
    leader = build.actor(build.member(enterprise, "safety_officer"))
    with pytest.raises(ValidationFailed) as caught:
        service.create_confined_space_job(
            db_session,
            leader,
            NOW,
            enterprise.id,
            {"site_id": other_site.id, "description": "x", "planned_start": NOW.isoformat()},
        )
    assert "site_id" in caught.value.fields


def test_without_the_confirmation_list_loaded_a_job_cannot_be_registered(db_session, build):
    enterprise = build.enterprise(confined_space=True)
    site = build.site(enterprise)
    leader = build.actor(build.member(enterprise, "team_leader"))
    with pytest.raises(Conflict, match="作业条件确认单"):
        service.create_confined_space_job(
            db_session,
            leader,
            NOW,
            enterprise.id,
            {"site_id": site.id, "description": "清罐", "planned_start": NOW.isoformat()},
        )
