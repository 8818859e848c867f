"""The training service and its coverage queries against the database: who may record,
attendees must be current members of that enterprise and named once, corrections keep their
reason, and coverage per person, enterprise, town and district, scoped to the actor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import Membership
from app.clock import local_today, utcnow
from app.errors import NotFound, PermissionDenied, ValidationFailed
from app.oversight.training import queries, service
from app.oversight.training.domain import EDIT_WINDOW_DAYS, TrainingAction, TrainingKind
from app.oversight.training.models import TrainingEvent, TrainingSession


def membership_of(session, user, enterprise) -> Membership:
    return session.scalar(select(Membership).where(Membership.user_id == user.id, Membership.enterprise_id == enterprise.id))


class Scene:
    def __init__(self, build, session):
        self.session = session
        self.town = build.town(name="花园口镇")
        self.other_town = build.town(name="古荥镇")
        self.e = build.enterprise(town=self.town, name="郑州恒达铸造有限公司")
        self.other = build.enterprise(town=self.other_town, name="郑州鑫林木业有限公司")
        self.manager = build.member(self.e, "manager", user=build.user(display_name="王经理"))
        self.officer = build.member(self.e, "safety_officer", user=build.user(display_name="李安全"))
        self.admin = build.member(self.e, "enterprise_admin")
        self.worker = build.member(self.e, "worker", user=build.user(display_name="赵工人"))
        self.other_manager = build.member(self.other, "manager", user=build.user(display_name="孙经理"))
        self.bureau = build.bureau_user("bureau_admin")
        self.staff = build.bureau_user("bureau_staff", towns=[self.town])
        self.build = build

    def m(self, user, enterprise=None) -> int:
        return membership_of(self.session, user, enterprise or self.e).id

    def data(self, *attendees, **fields) -> dict:
        today = local_today(utcnow())
        return {
            "topic": "主要负责人和安全管理人员培训", "kind": "principal_officer",
            "held_on": (today - timedelta(days=10)).isoformat(), "trainer": "王老师", "hours": "8",
            "location": "会议室", "notes": "", "attendees": list(attendees), **fields,
        }

    def record(self, who, *attendees, **fields) -> TrainingSession:
        return service.record_session(self.session, self.build.actor(who), utcnow(), self.e.id, self.data(*attendees, **fields))


@pytest.fixture
def scene(build, db_session) -> Scene:
    return Scene(build, db_session)


def test_the_safety_officer_records_a_session_with_its_attendees(scene, db_session):
    row = scene.record(
        scene.officer,
        {"membership_id": scene.m(scene.manager), "passed": True, "certificate_no": "ZZ-001"},
        {"membership_id": scene.m(scene.officer), "passed": False},
    )
    assert row.kind is TrainingKind.PRINCIPAL_OFFICER and str(row.hours) == "8.0"
    assert [(a.passed, a.certificate_no) for a in row.attendances] == [(True, "ZZ-001"), (False, None)]
    events = db_session.scalars(select(TrainingEvent).where(TrainingEvent.session_id == row.id)).all()
    assert [e.action for e in events] == [TrainingAction.RECORD]


@pytest.mark.parametrize("role_user", ["manager", "admin"])
def test_the_principal_and_the_admin_may_record(scene, role_user):
    scene.record(getattr(scene, role_user), {"membership_id": scene.m(scene.worker)})


def test_a_worker_and_the_bureau_may_not_record(scene):
    with pytest.raises(PermissionDenied):
        scene.record(scene.worker, {"membership_id": scene.m(scene.worker)})
    with pytest.raises(PermissionDenied):
        scene.record(scene.bureau, {"membership_id": scene.m(scene.worker)})


def test_another_enterprises_manager_is_told_it_does_not_exist(scene):
    with pytest.raises(NotFound):
        scene.record(scene.other_manager, {"membership_id": scene.m(scene.worker)})


def test_an_attendee_must_be_a_current_member_of_that_enterprise(scene, db_session):
    with pytest.raises(ValidationFailed, match="不是郑州恒达铸造有限公司的在职人员"):
        scene.record(scene.officer, {"membership_id": scene.m(scene.other_manager, scene.other)})
    left = membership_of(db_session, scene.worker, scene.e)
    left.active = False
    db_session.flush()
    with pytest.raises(ValidationFailed, match="在职人员"):
        scene.record(scene.officer, {"membership_id": left.id})
    with pytest.raises(ValidationFailed, match="在职人员"):
        scene.record(scene.officer, {"membership_id": 2**31 - 1})


def test_an_attendee_named_twice_is_refused(scene, build, db_session):
    m = scene.m(scene.worker)
    with pytest.raises(ValidationFailed, match="只能登记一次"):
        scene.record(scene.officer, {"membership_id": m}, {"membership_id": m})
    # The same person under two memberships (two roles) is one person.
    build.member(scene.e, "team_leader", user=scene.worker, team_id=build.team(build.department(scene.e)).id)
    second = db_session.scalar(
        select(Membership.id).where(Membership.user_id == scene.worker.id, Membership.id != m)
    )
    with pytest.raises(ValidationFailed, match="只能登记一次"):
        scene.record(scene.officer, {"membership_id": m}, {"membership_id": second})


def test_future_dates_bad_hours_and_no_attendees_are_refused(scene):
    today = local_today(utcnow())
    m = {"membership_id": scene.m(scene.worker)}
    with pytest.raises(ValidationFailed, match="晚于今天"):
        scene.record(scene.officer, m, held_on=(today + timedelta(days=1)).isoformat())
    with pytest.raises(ValidationFailed, match="0.5 到 40"):
        scene.record(scene.officer, m, hours="41")
    with pytest.raises(ValidationFailed, match="至少选择一名"):
        scene.record(scene.officer)


def test_a_correction_keeps_its_reason_and_a_departed_attendee(scene, db_session):
    row = scene.record(scene.officer, {"membership_id": scene.m(scene.worker)})
    left = membership_of(db_session, scene.worker, scene.e)
    left.active = False
    db_session.flush()
    corrected = service.correct_session(
        db_session, scene.build.actor(scene.officer), utcnow(), scene.e.id, row.id,
        scene.data({"membership_id": left.id}, {"membership_id": scene.m(scene.manager)}, hours="6", note="补录王经理"),
    )
    assert str(corrected.hours) == "6.0" and len(corrected.attendances) == 2
    last = db_session.scalars(select(TrainingEvent).where(TrainingEvent.session_id == row.id).order_by(TrainingEvent.id)).all()[-1]
    assert last.action is TrainingAction.CORRECT and "补录王经理" in last.note and "学时" in last.note and "参训人员" in last.note
    with pytest.raises(ValidationFailed, match="更正原因"):
        service.correct_session(
            db_session, scene.build.actor(scene.officer), utcnow(), scene.e.id, row.id, scene.data({"membership_id": left.id})
        )


def test_a_session_past_its_correction_window_is_not_changed(scene, db_session):
    old = (local_today(utcnow()) - timedelta(days=EDIT_WINDOW_DAYS + 1)).isoformat()
    row = scene.record(scene.officer, {"membership_id": scene.m(scene.worker)}, held_on=old)
    with pytest.raises(ValidationFailed, match="更正期限"):
        service.correct_session(
            db_session, scene.build.actor(scene.officer), utcnow(), scene.e.id, row.id,
            scene.data({"membership_id": scene.m(scene.worker)}, held_on=old, note="改学时"),
        )


def test_another_enterprises_session_is_not_found(scene, db_session):
    row = scene.record(scene.officer, {"membership_id": scene.m(scene.worker)})
    with pytest.raises(NotFound):
        queries.get_session(db_session, scene.other.id, row.id)


def test_coverage_per_person_enterprise_town_and_district(scene, db_session):
    today = local_today(utcnow())
    # The manager passed a covering session; the officer failed it; a three-level session
    # (not covering) names the officer too; the other enterprise's manager trained 366+ days ago.
    scene.record(scene.officer, {"membership_id": scene.m(scene.manager)}, {"membership_id": scene.m(scene.officer), "passed": False})
    scene.record(scene.officer, {"membership_id": scene.m(scene.officer)}, kind="three_level", topic="三级安全教育")
    other_officer = scene.build.member(scene.other, "safety_officer")
    service.record_session(
        db_session, scene.build.actor(other_officer), utcnow(), scene.other.id,
        {**scene.data({"membership_id": scene.m(scene.other_manager, scene.other)}),
         "held_on": (today.replace(year=today.year - 1) - timedelta(days=1)).isoformat(), "kind": "annual_refresher"},
    )
    report = queries.coverage_report(db_session, scene.build.actor(scene.bureau), today)
    assert (report.district.people, report.district.covered) == (4, 1)
    by_name = {e.name: e for e in report.enterprises}
    hengda = by_name["郑州恒达铸造有限公司"]
    assert {p.name: p.covered for p in hengda.people} == {"王经理": True, "李安全": False}
    xinlin = by_name["郑州鑫林木业有限公司"]
    assert {p.name for p in xinlin.uncovered_people} == {"孙经理", other_officer.display_name}
    assert next(p for p in xinlin.people if p.name == "孙经理").last_trained_on is not None
    # Uncovered first: 鑫林 has two uncovered (its manager lapsed, its officer never trained).
    assert [e.name for e in report.enterprises] == ["郑州鑫林木业有限公司", "郑州恒达铸造有限公司"]
    towns = {t.name: t for t in report.towns}
    assert (towns["花园口镇"].coverage.covered, towns["花园口镇"].coverage.people) == (1, 2)
    # Bureau staff see their town only.
    staff = queries.coverage_report(db_session, scene.build.actor(scene.staff), today)
    assert [e.name for e in staff.enterprises] == ["郑州恒达铸造有限公司"]
    assert [t.name for t in staff.towns] == ["花园口镇"]
    # Eleven days ago, before 王经理's session, only 孙经理 was covered (his year not yet out).
    before = queries.coverage_report(db_session, scene.build.actor(scene.bureau), today - timedelta(days=11))
    assert [p.name for e in before.enterprises for p in e.people if p.covered] == ["孙经理"]
