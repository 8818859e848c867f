"""Hazard use cases on a real database: every state change writes its event and its outbox
rows in the caller's transaction (a refused one writes neither), outbox dedupe, the general
and major-hazard paths, deadline extensions, photos (real images made with Pillow) and the
actor-scoped queries."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from app.accounts.domain import Actor
from app.accounts.models import User
from app.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.hazards import major_hazards, queries, service
from app.hazard_reporting.hazards.domain import (
    ExtensionStatus,
    HazardAction,
    HazardLevel,
    HazardStatus,
    StandardVersion,
)
from app.hazard_reporting.hazards.models import (
    DeadlineExtension,
    Hazard,
    HazardEvent,
    HazardPhoto,
    MajorHazardPlan,
)
from app.hazard_reporting.hazards.photos import MAX_BYTES
from app.notifications.models import OutboxMessage
from app.notifications.service import enqueue
from tests.fixtures.builders import NOW

S = HazardStatus
A = HazardAction


# --- the cast -------------------------------------------------------------------------------


@dataclass
class World:
    enterprise: object
    other: object
    department: object
    reporter: User
    assignee: User
    head: User  # department head of `department`
    other_head: User  # department head of another department
    manager: User
    officer: User  # safety officer
    bureau_admin: User
    town_staff: User
    far_staff: User  # bureau staff of another town
    outsider: User  # member of another enterprise
    build: object

    def actor(self, user: User) -> Actor:
        return self.build.actor(user)


@pytest.fixture
def world(build) -> World:
    town, far_town = build.town(), build.town()
    enterprise = build.enterprise(town)
    other = build.enterprise(town)
    department = build.department(enterprise)
    other_department = build.department(enterprise)
    return World(
        enterprise=enterprise,
        other=other,
        department=department,
        reporter=build.member(enterprise, "worker", department_id=department.id),
        assignee=build.member(enterprise, "worker", department_id=department.id),
        head=build.member(enterprise, "department_head", department_id=department.id),
        other_head=build.member(enterprise, "department_head", department_id=other_department.id),
        manager=build.member(enterprise, "manager"),
        officer=build.member(enterprise, "safety_officer"),
        bureau_admin=build.bureau_user("bureau_admin"),
        town_staff=build.bureau_user("bureau_staff", towns=[town]),
        far_staff=build.bureau_user("bureau_staff", towns=[far_town]),
        outsider=build.member(other, "manager"),
        build=build,
    )


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def events(session, hazard) -> list[HazardEvent]:
    return list(session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard.id).order_by(HazardEvent.id)))


def outbox_of(session, event: HazardEvent) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedupe_key.like(f"%:event-{event.id}:%"))
            .order_by(OutboxMessage.recipient_user_id)
        )
    )


def expect_step(session, hazard, action, from_status, to_status, kind, recipients):
    """The latest event is `action` from → to, with one outbox row of `kind` per recipient."""
    event = events(session, hazard)[-1]
    assert (event.action, event.from_status, event.to_status) == (action, from_status, to_status)
    rows = outbox_of(session, event)
    assert {row.kind for row in rows} == ({kind} if kind else set())
    assert {row.recipient_user_id for row in rows} == {user.id for user in recipients}
    for row in rows:
        assert row.status == "queued" and row.next_attempt_at is not None
        assert row.payload["hazard_id"] == hazard.id
    return event


# --- images -----------------------------------------------------------------------------------


def jpeg(size=(40, 20), orientation: int | None = None, gps: bool = False, color="red") -> bytes:
    image = Image.new("RGB", size, color)
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))  # right half blue
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (34.0, 48.0, 7.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (113.0, 36.0, 5.0),
        }
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, comment=b"shot at home")
    return buffer.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring a huge grayscale picture, with one tiny data chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(
        b"IEND", b""
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# --- reporting --------------------------------------------------------------------------------


def report(session, world, user=None, now=NOW, **overrides) -> Hazard:
    data = {
        "enterprise_id": world.enterprise.id,
        "category": "unsafe_condition",
        "description": "二号车间安全出口被货物堵塞",
        "location": "二号车间东门",
        **overrides,
    }
    return service.report_hazard(session, world.actor(user or world.reporter), now, data)


def test_report_adhoc_general_is_due_by_local_midnight(db_session, world):
    hazard = report(db_session, world)
    assert hazard.level is HazardLevel.GENERAL and hazard.status is S.REPORTED
    assert hazard.deadline == datetime(2026, 11, 28, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    # Everyone who may assign hears of it: no department, so both department heads too.
    expect_step(
        db_session, hazard, A.REPORT, None, S.REPORTED, "hazard_reported",
        [world.head, world.other_head, world.manager, world.officer],
    )


def test_report_after_local_midnight_is_due_the_next_day(db_session, world):
    late = datetime(2026, 11, 28, 16, 30, tzinfo=UTC)  # 00:30 on the 29th in Shanghai
    hazard = report(db_session, world, now=late)
    db_session.expire(hazard)
    assert hazard.deadline == datetime(2026, 11, 29, 15, 59, 59, tzinfo=UTC)


def test_department_hazard_notifies_only_that_departments_head(db_session, world):
    hazard = report(db_session, world, department_id=world.department.id)
    recipients = {row.recipient_user_id for row in outbox_of(db_session, events(db_session, hazard)[-1])}
    assert recipients == {world.head.id, world.manager.id, world.officer.id}


@pytest.mark.parametrize(
    ("on_fail", "level", "review", "criteria"),
    [
        ("general", HazardLevel.GENERAL, False, None),
        ("review", HazardLevel.GENERAL, True, None),
        ("major", HazardLevel.MAJOR, False, "M23-FC-3"),
    ],
)
def test_report_from_a_failed_check_item(db_session, world, on_fail, level, review, criteria):
    site = world.build.site(world.enterprise)
    hazard = report(
        db_session,
        world,
        category=None,
        source="check",
        site_id=site.id,
        source_task_id=4242,
        item_code="DUST-03",
        on_fail=on_fail,
        item_category="EQUIP",
        criteria_refs=["Z17-FC-03", "M23-FC-3"],
    )
    assert (hazard.level, hazard.review_required, hazard.criteria_code) == (level, review, criteria)
    assert hazard.category == "unsafe_condition" and hazard.source_task_id == 4242
    if level is HazardLevel.MAJOR:
        assert hazard.deadline is None and hazard.standard_version is StandardVersion.MEM10_2023
    else:
        assert hazard.deadline is not None and hazard.standard_version is None


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"source": "check"}, {"source_task_id", "item_code", "on_fail"}),
        ({"source": "check", "source_task_id": 1, "item_code": "GEN-01", "on_fail": "general", "level": "major"}, {"level"}),
        ({"source_task_id": 1}, {"source_task_id"}),
        ({"category": None}, {"category"}),
        ({"description": ""}, {"description"}),
        ({"level": "huge"}, {"level"}),
    ],
)
def test_bad_reports_name_the_field_and_write_nothing(db_session, world, overrides, fields):
    before = (count(db_session, Hazard), count(db_session, HazardEvent), count(db_session, OutboxMessage))
    with pytest.raises(ValidationFailed) as refused:
        report(db_session, world, **overrides)
    assert set(refused.value.fields) == fields
    assert (count(db_session, Hazard), count(db_session, HazardEvent), count(db_session, OutboxMessage)) == before


def test_site_of_another_enterprise_is_refused(db_session, world):
    with pytest.raises(ValidationFailed) as refused:
        report(db_session, world, site_id=world.build.site(world.other).id)
    assert "site_id" in refused.value.fields


def test_bureau_and_outsiders_cannot_report(db_session, world):
    with pytest.raises(PermissionDenied):
        report(db_session, world, user=world.town_staff)
    with pytest.raises(NotFound):
        report(db_session, world, user=world.outsider)


# --- the general path -----------------------------------------------------------------------


def test_general_path_writes_an_event_and_outbox_rows_at_every_step(db_session, world, tmp_path):
    hazard = report(db_session, world)
    officer, assignee = world.actor(world.officer), world.actor(world.assignee)

    service.assign(db_session, officer, at(1), hazard.id, {"assignee_id": world.assignee.id})
    expect_step(db_session, hazard, A.ASSIGN, S.REPORTED, S.ASSIGNED, "hazard_assigned", [world.assignee])

    service.add_photo(db_session, world.actor(world.reporter), at(1), hazard.id, "before", jpeg(), tmp_path)
    expect_step(db_session, hazard, A.ADD_BEFORE_PHOTO, S.ASSIGNED, S.ASSIGNED, None, [])

    service.start_rectification(db_session, assignee, at(2), hazard.id)
    expect_step(
        db_session, hazard, A.START_RECTIFICATION, S.ASSIGNED, S.RECTIFYING, "hazard_rectification_started",
        [world.reporter],
    )

    with pytest.raises(ValidationFailed, match="整改后的照片"):
        service.submit_rectification(db_session, assignee, at(3), hazard.id)
    service.add_photo(db_session, assignee, at(3), hazard.id, "after", jpeg(color="green"), tmp_path)
    service.submit_rectification(db_session, assignee, at(3), hazard.id, {"note": "货物已清走"})
    expect_step(
        db_session, hazard, A.SUBMIT_RECTIFICATION, S.RECTIFYING, S.RECTIFIED, "hazard_rectified",
        [world.head, world.other_head, world.manager, world.officer],
    )

    service.verify(db_session, officer, at(4), hazard.id, {"passed": True, "note": "通道已畅通"})
    expect_step(db_session, hazard, A.VERIFY, S.RECTIFIED, S.CLOSED, "hazard_verified", [world.reporter, world.assignee])
    assert hazard.closed_at == at(4)
    assert [e.actor_id for e in events(db_session, hazard)] == [
        world.reporter.id, world.officer.id, world.reporter.id, world.assignee.id,
        world.assignee.id, world.assignee.id, world.officer.id,
    ]


def test_failed_verification_reopens_with_a_reason(db_session, world, tmp_path):
    hazard = rectified_general(db_session, world, tmp_path)
    officer = world.actor(world.officer)
    with pytest.raises(ValidationFailed, match="复查不通过须说明原因"):
        service.verify(db_session, officer, at(4), hazard.id, {"passed": False})
    service.verify(db_session, officer, at(4), hazard.id, {"passed": False, "note": "东门仍有纸箱"})
    event = expect_step(
        db_session, hazard, A.REOPEN, S.RECTIFIED, S.RECTIFYING, "hazard_reopened", [world.assignee]
    )
    assert event.note == "东门仍有纸箱" and hazard.closed_at is None


def rectified_general(session, world, media_root) -> Hazard:
    hazard = report(session, world)
    service.assign(session, world.actor(world.officer), at(1), hazard.id, {"assignee_id": world.assignee.id})
    assignee = world.actor(world.assignee)
    service.start_rectification(session, assignee, at(2), hazard.id)
    service.add_photo(session, assignee, at(2), hazard.id, "after", jpeg(color="green"), media_root)
    service.submit_rectification(session, assignee, at(3), hazard.id)
    return hazard


def test_a_state_change_and_its_outbox_rows_share_one_transaction(db_session, world):
    hazard = report(db_session, world)
    before = (count(db_session, HazardEvent), count(db_session, OutboxMessage))
    unit_of_work = db_session.begin_nested()
    service.assign(db_session, world.actor(world.officer), at(1), hazard.id, {"assignee_id": world.assignee.id})
    assert count(db_session, HazardEvent) == before[0] + 1
    assert count(db_session, OutboxMessage) == before[1] + 1
    unit_of_work.rollback()
    db_session.expire_all()
    assert (count(db_session, HazardEvent), count(db_session, OutboxMessage)) == before
    assert db_session.get(Hazard, hazard.id).status is S.REPORTED


@pytest.mark.parametrize(
    ("who", "call", "error"),
    [
        ("reporter", lambda s, a, h, w: service.assign(s, a, at(1), h.id, {"assignee_id": w.assignee.id}), PermissionDenied),
        ("officer", lambda s, a, h, w: service.verify(s, a, at(1), h.id, {"passed": True}), InvalidTransition),
        ("officer", lambda s, a, h, w: service.reject(s, a, at(1), h.id, {"reason": ""}), ValidationFailed),
        ("officer", lambda s, a, h, w: service.assign(s, a, at(1), h.id, {"assignee_id": w.outsider.id}), ValidationFailed),
        ("officer", lambda s, a, h, w: major_hazards.assess(s, a, at(1), h.id, {"assessor": "x", "opinion": "y"}), InvalidTransition),
        ("outsider", lambda s, a, h, w: service.reject(s, a, at(1), h.id, {"reason": "不是隐患"}), NotFound),
        ("far_staff", lambda s, a, h, w: service.reject(s, a, at(1), h.id, {"reason": "不是隐患"}), NotFound),
    ],
)
def test_a_refused_action_writes_neither_event_nor_outbox(db_session, world, who, call, error):
    hazard = report(db_session, world)
    before = (count(db_session, HazardEvent), count(db_session, OutboxMessage))
    with pytest.raises(error):
        call(db_session, world.actor(getattr(world, who)), hazard, world)
    assert (count(db_session, HazardEvent), count(db_session, OutboxMessage)) == before
    db_session.expire_all()
    assert db_session.get(Hazard, hazard.id).status is S.REPORTED
    assert db_session.get(Hazard, hazard.id).assignee_id is None


def test_reject_needs_a_reason_and_tells_the_reporter(db_session, world):
    hazard = report(db_session, world)
    service.reject(db_session, world.actor(world.head), at(1), hazard.id, {"reason": "系临时堆放，已在交接班时清理"})
    expect_step(db_session, hazard, A.REJECT, S.REPORTED, S.REJECTED, "hazard_rejected", [world.reporter])
    assert hazard.rejected_reason == "系临时堆放，已在交接班时清理"
    with pytest.raises(InvalidTransition, match="已驳回"):
        service.assign(db_session, world.actor(world.head), at(2), hazard.id, {"assignee_id": world.assignee.id})


def test_events_are_append_only(db_session, world):
    hazard = report(db_session, world)
    event = events(db_session, hazard)[0]
    event.note = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        db_session.flush()
    db_session.rollback()


# --- outbox -----------------------------------------------------------------------------------


def test_enqueue_is_idempotent_by_dedupe_key(db_session, world):
    first = enqueue(
        db_session, kind="hazard_assigned", recipient_user_id=world.assignee.id,
        payload={"hazard_id": 1}, dedupe_key="test:dedupe:1", now=NOW,
    )
    again = enqueue(
        db_session, kind="hazard_assigned", recipient_user_id=world.assignee.id,
        payload={"hazard_id": 2}, dedupe_key="test:dedupe:1", now=at(1),
    )
    assert isinstance(first, int) and again is None
    rows = list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == "test:dedupe:1")))
    assert len(rows) == 1
    assert rows[0].payload == {"hazard_id": 1} and rows[0].created_at == NOW and rows[0].attempts == 0


def test_enqueue_needs_a_recipient(db_session):
    with pytest.raises(ValueError):
        enqueue(db_session, kind="x", recipient_user_id=None, payload={}, dedupe_key="k", now=NOW)


# --- upgrade ----------------------------------------------------------------------------------


def test_upgrade_a_reviewed_hazard_to_major(db_session, world):
    hazard = report(
        db_session, world, category=None, source="check", source_task_id=7, item_code="GEN-13",
        on_fail="review", item_category="EQUIP",
    )
    assert hazard.review_required
    officer = world.actor(world.officer)
    service.assign(db_session, officer, at(1), hazard.id, {"assignee_id": world.assignee.id})
    service.request_extension(
        db_session, world.actor(world.assignee), at(2), hazard.id,
        {"new_deadline": "2026-11-30", "reason": "报警器需厂家更换探头"},
    )
    with pytest.raises(ValidationFailed, match="应急管理部令第10号"):
        service.upgrade_to_major(db_session, officer, at(3), hazard.id, {"criteria_code": "Z17-FC-03"})
    service.upgrade_to_major(
        db_session, officer, at(3), hazard.id, {"criteria_code": "M23-FC-3", "note": "报警装置失效，按第十四条判定"}
    )
    event = expect_step(
        db_session, hazard, A.UPGRADE_TO_MAJOR, S.ASSIGNED, S.REPORTED, "hazard_upgraded",
        [world.manager, world.assignee],
    )
    assert (hazard.level, hazard.review_required, hazard.deadline) == (HazardLevel.MAJOR, False, None)
    assert hazard.standard_version is StandardVersion.MEM10_2023
    extension = db_session.scalar(select(DeadlineExtension).where(DeadlineExtension.hazard_id == hazard.id))
    assert extension.status is ExtensionStatus.CANCELLED
    assert event.data["cancelled_extension_id"] == extension.id


# --- the major path ---------------------------------------------------------------------------

FULL_PLAN = {
    "measures": "除尘器加装泄爆片和隔爆阀，更换破损滤袋",
    "owner_org": "设备部",
    "owner_person": "王工",
    "fund_amount": "150000.00",
    "fund_source": "企业安全生产费用",
    "deadline": "2026-12-31",
    "milestones": [{"title": "设备到货", "due": "2026-12-10"}, {"title": "安装调试", "due": "2026-12-25"}],
    "contingency": "整改期间除尘系统停用，打磨工段停产",
}


def test_major_hazard_goes_through_the_five_duties_in_order(db_session, world, tmp_path):
    manager, officer, assignee = world.actor(world.manager), world.actor(world.officer), world.actor(world.assignee)
    staff = world.actor(world.town_staff)
    hazard = report(db_session, world, level="major", description="打磨工段干式除尘器无泄爆装置")
    assert hazard.deadline is None

    # Order is enforced: nothing skips ahead.
    with pytest.raises(InvalidTransition):
        major_hazards.register(db_session, officer, at(1), hazard.id)
    with pytest.raises(InvalidTransition):
        major_hazards.approve_plan(db_session, manager, at(1), hazard.id)

    major_hazards.assess(
        db_session, officer, at(1), hazard.id,
        {"criteria_code": "M23-FC-3", "assessor": "省安全专家李工", "opinion": "属干式除尘系统未采取控爆措施"},
    )
    expect_step(db_session, hazard, A.ASSESS, S.REPORTED, S.ASSESSED, "major_hazard_assessed", [world.manager])

    with pytest.raises(ValidationFailed, match="至少有一张隐患照片"):
        major_hazards.register(db_session, officer, at(2), hazard.id)
    service.add_photo(db_session, officer, at(2), hazard.id, "before", jpeg(), tmp_path)
    major_hazards.register(db_session, officer, at(2), hazard.id, {"note": "已报区应急管理局"})
    # Reported to the bureau: its admin and the staff of this town, not of another town.
    expect_step(
        db_session, hazard, A.REGISTER, S.ASSESSED, S.REGISTERED, "major_hazard_registered",
        [world.bureau_admin, world.town_staff],
    )

    service.assign(db_session, manager, at(3), hazard.id, {"assignee_id": world.assignee.id})
    expect_step(db_session, hazard, A.ASSIGN, S.REGISTERED, S.REGISTERED, "hazard_assigned", [world.assignee])

    partial = {k: FULL_PLAN[k] for k in ("measures", "owner_org", "owner_person", "deadline")}
    major_hazards.save_plan(db_session, assignee, at(4), hazard.id, partial)
    expect_step(db_session, hazard, A.SAVE_PLAN, S.REGISTERED, S.REGISTERED, None, [])
    with pytest.raises(ValidationFailed) as refused:
        major_hazards.approve_plan(db_session, manager, at(5), hazard.id)
    assert refused.value.message == "五到位未落实，缺少：整改资金、应急预案。"
    assert set(refused.value.fields) == {"fund_amount", "fund_source", "contingency"}
    with pytest.raises(PermissionDenied):
        major_hazards.approve_plan(db_session, officer, at(5), hazard.id)

    major_hazards.save_plan(db_session, assignee, at(5), hazard.id, FULL_PLAN)
    major_hazards.approve_plan(db_session, manager, at(6), hazard.id, {"note": "同意立项"})
    expect_step(
        db_session, hazard, A.APPROVE_PLAN, S.REGISTERED, S.PLAN_APPROVED, "major_plan_approved",
        [world.bureau_admin, world.town_staff, world.assignee],
    )
    assert hazard.deadline == datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)
    with pytest.raises(InvalidTransition):  # the approved plan is frozen
        major_hazards.save_plan(db_session, assignee, at(6), hazard.id, {"measures": "改为更便宜的方案"})
    with pytest.raises(InvalidTransition):  # not before the bureau's supervision
        service.start_rectification(db_session, assignee, at(6), hazard.id)

    with pytest.raises(PermissionDenied):
        major_hazards.supervise(db_session, manager, at(7), hazard.id, {"supervising_unit": "自己"})
    with pytest.raises(NotFound):
        major_hazards.supervise(db_session, world.actor(world.far_staff), at(7), hazard.id, {"supervising_unit": "区局"})
    major_hazards.supervise(db_session, staff, at(7), hazard.id, {"supervising_unit": "惠济区应急管理局", "note": "挂牌督办"})
    expect_step(
        db_session, hazard, A.SUPERVISE, S.PLAN_APPROVED, S.SUPERVISING, "major_hazard_supervised",
        [world.manager, world.assignee],
    )

    service.start_rectification(db_session, assignee, at(8), hazard.id)
    service.add_photo(db_session, assignee, at(9), hazard.id, "after", jpeg(color="green"), tmp_path)
    service.submit_rectification(db_session, assignee, at(9), hazard.id)
    expect_step(db_session, hazard, A.SUBMIT_RECTIFICATION, S.RECTIFYING, S.RECTIFIED, "hazard_rectified", [world.manager])

    with pytest.raises(InvalidTransition, match="重大隐患不能复查销号"):
        service.verify(db_session, officer, at(10), hazard.id, {"passed": True})
    major_hazards.accept(
        db_session, staff, at(10), hazard.id, {"passed": False, "acceptor": "区局验收组", "opinion": "隔爆阀未调试"}
    )
    expect_step(db_session, hazard, A.REOPEN, S.RECTIFIED, S.RECTIFYING, "hazard_reopened", [world.assignee])
    service.submit_rectification(db_session, assignee, at(11), hazard.id)
    major_hazards.accept(
        db_session, manager, at(12), hazard.id, {"passed": True, "acceptor": "专家组", "opinion": "治理到位，同意销号"}
    )
    expect_step(
        db_session, hazard, A.ACCEPT, S.RECTIFIED, S.CLOSED, "major_hazard_accepted",
        [world.reporter, world.assignee, world.bureau_admin, world.town_staff],
    )

    plan = db_session.scalar(select(MajorHazardPlan).where(MajorHazardPlan.hazard_id == hazard.id))
    steps = [
        (plan.assessed_by_id, plan.assessed_at),
        (plan.registered_by_id, plan.registered_at),
        (plan.approved_by_id, plan.approved_at),
        (plan.supervised_by_id, plan.supervised_at),
        (plan.accepted_by_id, plan.accepted_at),
    ]
    assert steps == [
        (world.officer.id, at(1)),
        (world.officer.id, at(2)),
        (world.manager.id, at(6)),
        (world.town_staff.id, at(7)),
        (world.manager.id, at(12)),
    ]
    assert plan.registration_no == f"ZD20261128-{hazard.id:06d}"
    assert plan.fund_amount == Decimal("150000.00")
    assert plan.milestones == [
        {"title": "设备到货", "due": "2026-12-10", "done": False},
        {"title": "安装调试", "due": "2026-12-25", "done": False},
    ]
    assert (plan.assessor, plan.supervising_unit, plan.acceptor) == ("省安全专家李工", "惠济区应急管理局", "专家组")
    assert hazard.status is S.CLOSED and hazard.closed_at == at(12)


def test_major_hazard_cannot_start_rectifying_without_a_complete_approved_plan(db_session, world):
    hazard = report(db_session, world, level="major")
    service.assign(db_session, world.actor(world.manager), at(1), hazard.id, {"assignee_id": world.assignee.id})
    major_hazards.save_plan(db_session, world.actor(world.assignee), at(1), hazard.id, {"measures": "加装隔爆阀"})
    # Reach 督导督办 by hand to prove the guard holds even if the status says otherwise.
    hazard.status = S.SUPERVISING
    db_session.flush()
    with pytest.raises(ValidationFailed) as refused:
        service.start_rectification(db_session, world.actor(world.assignee), at(2), hazard.id)
    assert refused.value.message == "五到位未落实，缺少：整改责任、整改资金、整改时限、应急预案。"
    # Complete, but never approved (filled in by hand, as save_plan is closed at this status).
    plan = hazard.plan
    plan.owner_org, plan.owner_person = "设备部", "王工"
    plan.fund_amount, plan.fund_source = Decimal("1000"), "安全生产费用"
    plan.deadline, plan.contingency = at(100), "停产整改"
    db_session.flush()
    with pytest.raises(ValidationFailed, match="尚未通过立项审核"):
        service.start_rectification(db_session, world.actor(world.assignee), at(2), hazard.id)


def test_plan_rules(db_session, world):
    hazard = report(db_session, world, level="major")
    manager = world.actor(world.manager)
    with pytest.raises(ValidationFailed) as refused:
        major_hazards.save_plan(db_session, manager, NOW, hazard.id, {"deadline": "2026-11-27"})
    assert "deadline" in refused.value.fields
    with pytest.raises(ValidationFailed) as refused:
        major_hazards.save_plan(
            db_session, manager, NOW, hazard.id,
            {"deadline": "2026-12-01", "milestones": [{"title": "安装", "due": "2026-12-02"}]},
        )
    assert "milestones" in refused.value.fields
    with pytest.raises(PermissionDenied):
        major_hazards.save_plan(db_session, world.actor(world.reporter), NOW, hazard.id, {"measures": "x"})


# --- deadline extensions ---------------------------------------------------------------------


def test_general_extension_request_and_approval(db_session, world):
    hazard = report(db_session, world)
    service.assign(db_session, world.actor(world.officer), at(1), hazard.id, {"assignee_id": world.assignee.id})
    assignee = world.actor(world.assignee)
    with pytest.raises(ValidationFailed, match="晚于原整改期限"):
        service.request_extension(db_session, assignee, at(2), hazard.id, {"new_deadline": "2026-11-28", "reason": "x"})
    extension = service.request_extension(
        db_session, assignee, at(2), hazard.id, {"new_deadline": "2026-11-30", "reason": "需停机检修，等待备件"}
    )
    event = expect_step(
        db_session, hazard, A.REQUEST_EXTENSION, S.ASSIGNED, S.ASSIGNED, "deadline_extension_requested",
        [world.head, world.other_head, world.manager, world.officer],
    )
    assert event.data["extension_id"] == extension.id
    with pytest.raises(Conflict):
        service.request_extension(db_session, assignee, at(2), hazard.id, {"new_deadline": "2026-12-01", "reason": "x"})

    with pytest.raises(PermissionDenied):
        service.decide_extension(db_session, world.actor(world.reporter), at(3), extension.id, {"approved": True})
    with pytest.raises(ValidationFailed, match="不同意延期须说明理由"):
        service.decide_extension(db_session, world.actor(world.head), at(3), extension.id, {"approved": False})
    service.decide_extension(db_session, world.actor(world.head), at(3), extension.id, {"approved": True})
    expect_step(
        db_session, hazard, A.DECIDE_EXTENSION, S.ASSIGNED, S.ASSIGNED, "deadline_extension_decided", [world.assignee]
    )
    assert extension.status is ExtensionStatus.APPROVED and extension.decided_by_id == world.head.id
    assert hazard.deadline == datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)
    with pytest.raises(InvalidTransition, match="已处理"):
        service.decide_extension(db_session, world.actor(world.manager), at(4), extension.id, {"approved": True})


def test_nobody_approves_their_own_extension(db_session, world):
    hazard = report(db_session, world)
    officer = world.actor(world.officer)
    service.assign(db_session, officer, at(1), hazard.id, {"assignee_id": world.assignee.id})
    extension = service.request_extension(
        db_session, officer, at(2), hazard.id, {"new_deadline": "2026-11-30", "reason": "等待备件"}
    )
    with pytest.raises(PermissionDenied, match="本人"):
        service.decide_extension(db_session, officer, at(3), extension.id, {"approved": True})


def test_major_extension_is_decided_by_the_principal(db_session, world, tmp_path):
    hazard = approved_major(db_session, world, tmp_path)
    extension = service.request_extension(
        db_session, world.actor(world.assignee), at(8), hazard.id,
        {"new_deadline": "2027-01-31", "reason": "隔爆阀供货延迟"},
    )
    assert {row.recipient_user_id for row in outbox_of(db_session, events(db_session, hazard)[-1])} == {world.manager.id}
    with pytest.raises(PermissionDenied):
        service.decide_extension(db_session, world.actor(world.officer), at(9), extension.id, {"approved": True})
    service.decide_extension(db_session, world.actor(world.manager), at(9), extension.id, {"approved": True})
    expected = datetime(2027, 1, 31, 15, 59, 59, tzinfo=UTC)
    assert hazard.deadline == expected and hazard.plan.deadline == expected


def approved_major(session, world, media_root) -> Hazard:
    officer, manager = world.actor(world.officer), world.actor(world.manager)
    hazard = report(session, world, level="major")
    major_hazards.assess(session, officer, at(1), hazard.id, {"criteria_code": "M23-FC-3", "assessor": "李工", "opinion": "属实"})
    service.add_photo(session, officer, at(1), hazard.id, "before", jpeg(), media_root)
    major_hazards.register(session, officer, at(2), hazard.id)
    service.assign(session, manager, at(3), hazard.id, {"assignee_id": world.assignee.id})
    major_hazards.save_plan(session, manager, at(4), hazard.id, FULL_PLAN)
    major_hazards.approve_plan(session, manager, at(5), hazard.id)
    return hazard


# --- photos ------------------------------------------------------------------------------------


def add(session, world, hazard, data, media_root, kind="before"):
    return service.add_photo(session, world.actor(world.reporter), at(1), hazard.id, kind, data, media_root)


def test_photo_is_turned_upright_and_stripped_of_metadata(db_session, world, tmp_path):
    hazard = report(db_session, world)
    upload = jpeg(size=(40, 20), orientation=6, gps=True)
    assert Image.open(io.BytesIO(upload)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input does carry GPS

    photo = add(db_session, world, hazard, upload, tmp_path)
    stored = (tmp_path / photo.path).read_bytes()
    assert photo.path == f"hazards/2026/11/{photo.sha256}.jpg"
    assert hashlib.sha256(stored).hexdigest() == photo.sha256
    with Image.open(tmp_path / photo.path) as image:
        assert image.format == "JPEG"
        assert image.size == (20, 40) == (photo.width, photo.height)  # rotated upright
        # Orientation 6 means "rotate 90° clockwise to view": the left (red) half ends up on top.
        assert image.getpixel((10, 3))[0] > 200 and image.getpixel((10, 36))[2] > 200
        assert len(image.getexif()) == 0
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
    for blob in (stored, (tmp_path / photo.thumb_path).read_bytes()):
        assert b"Exif" not in blob and b"SpyCam" not in blob and b"shot at home" not in blob


def test_large_photo_gets_a_thumbnail(db_session, world, tmp_path):
    hazard = report(db_session, world)
    photo = add(db_session, world, hazard, jpeg(size=(1600, 1200)), tmp_path)
    with Image.open(tmp_path / photo.thumb_path) as thumb:
        assert thumb.size == (480, 360)
    assert (photo.width, photo.height) == (1600, 1200)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_accepted_as_jpeg(db_session, world, tmp_path, fmt):
    hazard = report(db_session, world)
    image = Image.new("RGBA", (30, 30), (255, 0, 0, 0))  # fully transparent → white
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    photo = add(db_session, world, hazard, buffer.getvalue(), tmp_path)
    with Image.open(tmp_path / photo.path) as stored:
        assert stored.format == "JPEG" and stored.mode == "RGB"
        assert min(stored.getpixel((15, 15))) > 240


def test_same_picture_twice_is_one_photo(db_session, world, tmp_path):
    hazard = report(db_session, world)
    upload = jpeg(gps=True)
    first = add(db_session, world, hazard, upload, tmp_path)
    before = (count(db_session, HazardPhoto), count(db_session, HazardEvent))
    again = add(db_session, world, hazard, upload, tmp_path)
    assert again.id == first.id
    assert (count(db_session, HazardPhoto), count(db_session, HazardEvent)) == before
    assert len(files_under(tmp_path)) == 2  # the original and its thumbnail


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "为空"),
        (b"this is not an image at all", "无法识别的图片"),
        (b"%PDF-1.7\n" + b"0" * 100, "无法识别的图片"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 64, "HEIC"),
        (b"GIF89a" + b"\0" * 64, "无法识别的图片"),
    ],
)
def test_bad_uploads_are_refused_in_chinese_and_store_nothing(db_session, world, tmp_path, data, message):
    hazard = report(db_session, world)
    before = (count(db_session, HazardPhoto), count(db_session, HazardEvent))
    with pytest.raises(ValidationFailed, match=message):
        add(db_session, world, hazard, data, tmp_path)
    assert files_under(tmp_path) == []
    assert (count(db_session, HazardPhoto), count(db_session, HazardEvent)) == before


def test_truncated_jpeg_is_refused(db_session, world, tmp_path):
    hazard = report(db_session, world)
    whole = jpeg(size=(400, 300))
    with pytest.raises(ValidationFailed, match="损坏或不完整"):
        add(db_session, world, hazard, whole[: len(whole) // 2], tmp_path)
    assert files_under(tmp_path) == []


# Pillow warns between the cap and twice the cap (and raises above); we refuse all of them.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(("width", "height"), [(30_000, 30_000), (10_000, 6_000), (7_100, 7_100)])
def test_decompression_bomb_is_refused_before_decoding(db_session, world, tmp_path, width, height):
    hazard = report(db_session, world)
    bomb = png_bomb(width, height)
    assert len(bomb) < 2000
    started = time.perf_counter()
    with pytest.raises(ValidationFailed, match="像素过大"):
        add(db_session, world, hazard, bomb, tmp_path)
    assert time.perf_counter() - started < 1.0
    assert files_under(tmp_path) == []


def test_oversize_upload_is_refused(db_session, world, tmp_path):
    hazard = report(db_session, world)
    with pytest.raises(ValidationFailed, match="不能超过 10 MB"):
        add(db_session, world, hazard, jpeg() + b"\0" * MAX_BYTES, tmp_path)
    assert files_under(tmp_path) == []


def test_who_may_add_which_photo(db_session, world, tmp_path):
    hazard = report(db_session, world)
    stranger = world.build.member(world.enterprise, "worker")
    with pytest.raises(PermissionDenied):
        service.add_photo(db_session, world.actor(stranger), NOW, hazard.id, "before", jpeg(), tmp_path)
    with pytest.raises(InvalidTransition):  # no after-photos before rectification starts
        service.add_photo(db_session, world.actor(world.officer), NOW, hazard.id, "after", jpeg(), tmp_path)
    with pytest.raises(ValidationFailed):
        service.add_photo(db_session, world.actor(world.reporter), NOW, hazard.id, "sideways", jpeg(), tmp_path)
    assert files_under(tmp_path) == []  # refused before anything touched the disk


# --- queries ----------------------------------------------------------------------------------


def test_queries_are_scoped_by_the_actor(db_session, world):
    mine = report(db_session, world)
    theirs = service.report_hazard(
        db_session, world.actor(world.outsider), NOW,
        {"enterprise_id": world.other.id, "category": "unsafe_behavior", "description": "未戴安全帽"},
    )
    service.assign(db_session, world.actor(world.officer), at(1), mine.id, {"assignee_id": world.assignee.id})

    def ids(hazards):
        return {h.id for h in hazards}

    assert ids(queries.list_hazards(db_session, world.actor(world.reporter))) == {mine.id}
    assert ids(queries.list_hazards(db_session, world.actor(world.outsider))) == {theirs.id}
    assert ids(queries.list_hazards(db_session, world.actor(world.town_staff))) == {mine.id, theirs.id}
    assert ids(queries.list_hazards(db_session, world.actor(world.far_staff))) == set()
    assert {mine.id, theirs.id} <= ids(queries.list_hazards(db_session, world.actor(world.bureau_admin)))

    assignee = world.actor(world.assignee)
    assert ids(queries.hazards_of_assignee(db_session, assignee, world.assignee.id)) == {mine.id}
    assert ids(queries.hazards_of_reporter(db_session, assignee, world.reporter.id)) == {mine.id}
    assert ids(queries.hazards_of_reporter(db_session, assignee, world.outsider.id)) == set()
    assert ids(queries.hazards_of_enterprise(db_session, assignee, world.enterprise.id, open_only=True)) == {mine.id}
    with pytest.raises(NotFound):
        queries.hazards_of_enterprise(db_session, assignee, world.other.id)
    with pytest.raises(NotFound):
        queries.get_hazard(db_session, assignee, theirs.id)
    assert [e.action for e in queries.hazard_history(db_session, assignee, mine.id)] == [A.REPORT, A.ASSIGN]
    assert ids(
        queries.list_hazards(db_session, world.actor(world.officer), statuses=[S.REPORTED])
    ) == set()


def test_pending_extensions_in_scope(db_session, world):
    hazard = report(db_session, world)
    service.assign(db_session, world.actor(world.officer), at(1), hazard.id, {"assignee_id": world.assignee.id})
    extension = service.request_extension(
        db_session, world.actor(world.assignee), at(2), hazard.id, {"new_deadline": "2026-11-30", "reason": "等待备件"}
    )
    assert [e.id for e in queries.pending_extensions(db_session, world.actor(world.manager))] == [extension.id]
    assert queries.pending_extensions(db_session, world.actor(world.outsider)) == []


@pytest.mark.parametrize(
    ("location", "said"),
    [("", "熔炼车间炉前"), ("一号厂房 熔炼车间炉前", "一号厂房 熔炼车间炉前"), ("东侧", "熔炼车间炉前 · 东侧")],
)
def test_a_new_hazard_notice_says_where_once(db_session, world, build, location, said):
    site = build.site(world.enterprise, name="熔炼车间炉前")
    hazard = report(db_session, world, site_id=site.id, location=location)
    payloads = [
        m.payload for m in db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "hazard_reported"))
        if m.payload["hazard_id"] == hazard.id
    ]
    assert payloads and {p["location"] for p in payloads} == {said}
