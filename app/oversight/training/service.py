"""Use cases of safety training: record a session an enterprise held with its attendees, and
correct it (within the correction window, with the reason, kept in the history). There is
no delete: a record the bureau reads is corrected, never erased.

Every verb takes (session, actor, now, …), checks the actor (Action.MANAGE_TRAINING on the
enterprise) and the input against domain.py, writes an event row, flushes; the caller
commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.clock import local_today
from app.enterprises import service as enterprise_service
from app.enterprises.models import Enterprise
from app.ids import MAX_ID
from app.oversight.training import queries
from app.oversight.training.domain import (
    MAX_CERTIFICATE,
    MAX_LOCATION,
    MAX_NOTE,
    MAX_NOTES,
    MAX_TOPIC,
    MAX_TRAINER,
    TrainingAction,
    check_attendees,
    check_correctable,
    clean_held_on,
    clean_hours,
    clean_kind,
    clean_text,
    invalid,
)
from app.oversight.training.models import TrainingAttendance, TrainingEvent, TrainingSession


@dataclass(frozen=True)
class Attendee:
    membership_id: int
    passed: bool
    certificate_no: str | None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "on", "yes", "y")


def _attendees(value: Any) -> list[Attendee]:
    """`attendees`: a list of {membership_id, passed (default true), certificate_no}."""
    if value is None:
        value = []
    if not isinstance(value, list | tuple):
        raise invalid("attendees", "参训人员应为列表")
    attendees = []
    for item in value:
        if not isinstance(item, dict):
            raise invalid("attendees", "参训人员有误，请重新选择")
        raw = item.get("membership_id")
        try:
            membership_id = int(raw)
        except (TypeError, ValueError):
            raise invalid("attendees", "参训人员有误，请重新选择") from None
        if not 0 < membership_id <= MAX_ID:
            raise invalid("attendees", "参训人员有误，请重新选择")
        certificate = clean_text(
            item.get("certificate_no"), "attendees", "证书编号", MAX_CERTIFICATE, required=False
        )
        attendees.append(Attendee(membership_id, _bool(item.get("passed", True)), certificate or None))
    check_attendees(a.membership_id for a in attendees)
    return attendees


def _fields(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "topic": clean_text(data.get("topic"), "topic", "培训主题", MAX_TOPIC),
        "kind": clean_kind(data.get("kind")),
        "held_on": clean_held_on(data.get("held_on"), local_today(now)),
        "trainer": clean_text(data.get("trainer"), "trainer", "授课人", MAX_TRAINER),
        "hours": clean_hours(data.get("hours")),
        "location": clean_text(data.get("location"), "location", "培训地点", MAX_LOCATION, required=False),
        "notes": clean_text(data.get("notes"), "notes", "备注", MAX_NOTES, required=False),
    }


def _enterprise(session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    """The enterprise (NotFound outside the actor's scope) whose training the actor manages
    (PermissionDenied otherwise)."""
    enterprise = enterprise_service.get_enterprise(session, actor, enterprise_id)
    require(actor, Action.MANAGE_TRAINING, enterprise.ref)
    return enterprise


def _check_people(
    session: Session, enterprise: Enterprise, attendees: list[Attendee], kept: frozenset[int] = frozenset()
) -> None:
    """Every attendee is a current member of this enterprise (one already on the record,
    `kept`, may have left since) and no person is named twice under two memberships."""
    ids = [a.membership_id for a in attendees]
    current = queries.active_memberships(session, enterprise.id, ids)
    known = queries.memberships_by_id(session, [i for i in ids if i in kept])
    users: set[int] = set()
    for membership_id in ids:
        membership = current.get(membership_id) or known.get(membership_id)
        if membership is None or membership.enterprise_id != enterprise.id:
            raise invalid("attendees", f"所选参训人员不是{enterprise.name}的在职人员，请重新选择")
        if membership.user_id in users:
            raise invalid("attendees", "同一人员在一次培训中只能登记一次")
        users.add(membership.user_id)


def _event(session: Session, row: TrainingSession, actor: Actor, now: datetime, action: TrainingAction, note: str) -> None:
    session.add(TrainingEvent(session_id=row.id, actor_id=actor.user_id, at=now, action=action, note=note))


def record_session(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, data: dict[str, Any]
) -> TrainingSession:
    """Record a session the enterprise held: `topic`, `kind`, `held_on` (not in the future),
    `trainer`, `hours` (0.5–40), optional `location` and `notes`, and `attendees` (current
    members, each once, with `passed` and an optional `certificate_no`). Raises NotFound,
    PermissionDenied, ValidationFailed."""
    enterprise = _enterprise(session, actor, enterprise_id)
    fields = _fields(data, now)
    attendees = _attendees(data.get("attendees"))
    _check_people(session, enterprise, attendees)
    row = TrainingSession(
        enterprise_id=enterprise.id, **fields, created_by_id=actor.user_id, created_at=now, updated_at=now
    )
    session.add(row)
    session.flush()
    for a in attendees:
        row.attendances.append(
            TrainingAttendance(membership_id=a.membership_id, passed=a.passed, certificate_no=a.certificate_no)
        )
    _event(session, row, actor, now, TrainingAction.RECORD, f"参训 {len(attendees)} 人")
    session.flush()
    return row


def correct_session(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, training_session_id: int, data: dict[str, Any]
) -> TrainingSession:
    """Correct a recorded session (the same fields as `record_session`) with `note`, the
    reason of the correction, while the correction window is open (domain.EDIT_WINDOW_DAYS
    after the day it was held). Attendees already on the record may stay though they have
    left the enterprise since; new ones must be current members."""
    enterprise = _enterprise(session, actor, enterprise_id)
    row = queries.get_session(session, enterprise.id, training_session_id)
    today = local_today(now)
    check_correctable(row.held_on, today)
    note = clean_text(data.get("note"), "note", "更正原因", MAX_NOTE)
    fields = _fields(data, now)
    check_correctable(fields["held_on"], today)
    attendees = _attendees(data.get("attendees"))
    existing = {a.membership_id: a for a in row.attendances}
    _check_people(session, enterprise, attendees, frozenset(existing))
    changes = [label for key, label in _LABELS.items() if getattr(row, key) != fields[key]]
    for key, value in fields.items():
        setattr(row, key, value)
    wanted = {a.membership_id: a for a in attendees}
    if set(wanted) != set(existing) or any(
        (existing[m].passed, existing[m].certificate_no) != (wanted[m].passed, wanted[m].certificate_no)
        for m in set(wanted) & set(existing)
    ):
        changes.append("参训人员")
    for membership_id, attendance in list(existing.items()):
        if membership_id not in wanted:
            row.attendances.remove(attendance)
    for membership_id, a in wanted.items():
        attendance = existing.get(membership_id)
        if attendance is None:
            row.attendances.append(
                TrainingAttendance(membership_id=membership_id, passed=a.passed, certificate_no=a.certificate_no)
            )
        else:
            attendance.passed = a.passed
            attendance.certificate_no = a.certificate_no
    row.updated_at = now
    summary = "、".join(changes) if changes else "无字段变化"
    _event(session, row, actor, now, TrainingAction.CORRECT, f"{note}（更正：{summary}）")
    session.flush()
    return row


_LABELS = {
    "topic": "培训主题",
    "kind": "培训类别",
    "held_on": "培训日期",
    "trainer": "授课人",
    "hours": "学时",
    "location": "培训地点",
    "notes": "备注",
}
