"""Submitting a check done at a scanned point (扫码排查) on a real database: who owes which
check where, on time / late / too late, complete answers, hazards with before-photos, one
submission per task whatever is repeated, refusals that store nothing."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.orm import Session

from app.accounts.models import Membership, User
from app.enterprises.models import Enterprise, Town
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checklists.models import Checklist
from app.hazard_reporting.checks import service
from app.hazard_reporting.checks.domain import (
    CheckLevel,
    CheckTaskStatus,
    ItemResult,
    SubmissionStatus,
    in_form_order,
)
from app.hazard_reporting.checks.models import CheckItemResult, CheckSubmission, CheckTask
from app.hazard_reporting.checks.queries import (
    my_missed_tasks,
    my_open_tasks,
    my_submissions,
    submission_of_task,
    task_items,
    tasks_owed,
)
from app.hazard_reporting.hazards.domain import HazardLevel, HazardSource, HazardStatus, PhotoKind
from app.hazard_reporting.hazards.models import Hazard, HazardEvent, HazardPhoto
from app.hazard_reporting.hazards.photos import MAX_BYTES
from app.hazard_reporting.schedules import queries as schedule_queries
from app.hazard_reporting.schedules import service as schedule_service
from app.notifications.models import OutboxMessage
from tests.fixtures.builders import Builders
from tests.fixtures.checks import MONDAY, CheckOrg, counts, jpeg, local, submission_data


@pytest.fixture
def standards(db_session):
    return checklist_service.load_standard_checklists(db_session, MONDAY)


@pytest.fixture
def org(build, standards) -> CheckOrg:
    org = CheckOrg(build)
    org.generate()
    return org


@pytest.fixture
def media_root(tmp_path) -> Path:
    return tmp_path / "media"


def submit(db_session, org, who, task, site, now, media_root, **extra):
    data = submission_data(
        db_session, task, site, extra.pop("scanned_at", now - timedelta(minutes=10)), **extra
    )
    return service.submit_check(db_session, org.actor(who), now, task.id, data, media_root=media_root)


def number(db_session, task, code) -> int:
    """The number of an item on the form: categories first (场所环境 before 设备设施 …)."""
    return [r.item.code for r in in_form_order(task_items(db_session, task))].index(code) + 1


def labels(tasks) -> list[str]:
    return [t.schedule.label for t in tasks]


# --- who owes what, where ---------------------------------------------------------------------


def test_each_role_is_offered_its_own_check_at_a_point(db_session, org):
    assert labels(tasks_owed(db_session, org.leader, org.s1, MONDAY)) == ["班组日排查"]
    assert labels(tasks_owed(db_session, org.head, org.s1, MONDAY)) == ["部门周排查"]
    assert labels(tasks_owed(db_session, org.manager, org.s2, MONDAY)) == ["经理月排查"]
    assert tasks_owed(db_session, org.worker, org.s1, MONDAY) == []
    # Another department's point offers the team leader nothing; the gate belongs to none.
    assert tasks_owed(db_session, org.leader, org.s2, MONDAY) == []
    assert labels(tasks_owed(db_session, org.leader, org.gate, MONDAY)) == ["班组日排查"]

    start = service.start_check(db_session, org.actor(org.leader), MONDAY, org.daily().id, org.s1.token)
    assert start.submission is None and start.site.id == org.s1.id
    codes = [r.item.code for r in start.items]
    # The daily list: the general items marked D plus the dust items marked D, numbered by
    # category on the form (场所环境 first), checklist order within.
    assert codes[:4] == ["GEN-01", "GEN-03", "DUST-10", "DUST-11"] and codes[4] == "GEN-02"
    assert "DUST-09" in codes and "GEN-09" not in codes


def test_next_check_due_when_nothing_is_owed_now(db_session, org, media_root):
    assert schedule_queries.next_checks_due(db_session, org.worker.id, org.s1, MONDAY) == []
    submit(db_session, org, org.leader, org.daily(), org.s1, MONDAY, media_root)
    assert tasks_owed(db_session, org.leader, org.s1, MONDAY) == []
    due = schedule_queries.next_checks_due(db_session, org.leader.id, org.s1, MONDAY)
    # Done today: the next is Tuesday's, due 17:00 local.
    assert [(s.label, at) for s, at in due] == [("班组日排查", local(2026, 11, 24, 17))]
    # On Friday evening after the check the next daily check is Monday's (weekend skipped).
    friday_night = local(2026, 11, 27, 20)
    assert [at for _, at in schedule_queries.next_checks_due(db_session, org.leader.id, org.s1, friday_night)] == [
        local(2026, 11, 30, 17)
    ]


# --- submitting ---------------------------------------------------------------------------------


def test_all_ok_on_time_closes_the_task_as_done(db_session, org, media_root):
    task = org.daily()
    scanned = MONDAY - timedelta(minutes=12)
    submission = submit(
        db_session,
        org,
        org.leader,
        task,
        org.s1,
        MONDAY,
        media_root,
        scanned_at=scanned,
        latitude=34.8123456,
        longitude=113.6254321,
        location_accuracy=18.4,
    )
    assert task.status is CheckTaskStatus.DONE and task.closed_at == MONDAY
    assert submission.status is SubmissionStatus.ON_TIME
    assert (submission.user_id, submission.site_id, submission.site_token) == (
        org.leader.id,
        org.s1.id,
        org.s1.token,
    )
    assert (submission.scanned_at, submission.submitted_at) == (scanned, MONDAY)
    assert (submission.latitude, submission.longitude, submission.location_accuracy) == (
        Decimal("34.812346"),
        Decimal("113.625432"),
        18,
    )
    assert (submission.checklist_id, submission.checklist_version) == (
        task.checklist_id,
        task.checklist_version,
    )
    items = in_form_order(task_items(db_session, task))
    results = db_session.scalars(
        select(CheckItemResult)
        .where(CheckItemResult.submission_id == submission.id)
        .order_by(CheckItemResult.position)
    ).all()
    assert [(r.item_code, r.item_text, r.result, r.hazard_id) for r in results] == [
        (i.item.code, i.item.text, ItemResult.OK, None) for i in items
    ]
    assert counts(db_session)[2:] == (0, 0)
    assert tasks_owed(db_session, org.leader, org.s1, MONDAY) == []


def test_not_applicable_counts_as_an_answer(db_session, org, media_root):
    task = org.daily()
    data = submission_data(db_session, task, org.s1, MONDAY)
    data["answers"][0]["result"] = "not_applicable"
    submission = service.submit_check(
        db_session, org.actor(org.leader), MONDAY, task.id, data, media_root=media_root
    )
    assert submission.results[0].result is ItemResult.NOT_APPLICABLE


def test_after_the_due_time_within_grace_is_done_late(db_session, org, media_root):
    task = org.daily()
    late = task.due_at + timedelta(minutes=30)
    submission = submit(db_session, org, org.leader, task, org.s1, late, media_root)
    assert submission.status is SubmissionStatus.LATE and task.status is CheckTaskStatus.DONE_LATE


def test_after_the_grace_period_it_is_refused_as_missed(db_session, org, media_root):
    task = org.daily()
    too_late = task.grace_until + timedelta(minutes=1)
    with pytest.raises(Conflict, match="超过宽限时间.*漏检"):
        submit(db_session, org, org.leader, task, org.s1, too_late, media_root)
    assert counts(db_session) == (0, 0, 0, 0) and task.status is CheckTaskStatus.PENDING


def test_hazard_items_report_hazards_with_their_photos(db_session, org, media_root):
    task = org.daily()
    photos = [jpeg(), jpeg((80, 60))]
    submission = submit(
        db_session,
        org,
        org.leader,
        task,
        org.s1,
        MONDAY,
        media_root,
        hazards={
            "GEN-04": ("2号冲床传动皮带防护罩缺失", photos),
            "GEN-05": ("急停按钮被杂物遮挡", [jpeg()]),
            "DUST-09": ("砂光机火花探测装置报警灯不亮", [jpeg()]),
        },
    )
    assert task.status is CheckTaskStatus.DONE
    by_code = {r.item_code: r for r in submission.results}
    hazard_results = {code: r for code, r in by_code.items() if r.result is ItemResult.HAZARD}
    assert set(hazard_results) == {"GEN-04", "GEN-05", "DUST-09"}
    hazards = {
        h.item_code: h for h in db_session.scalars(select(Hazard).where(Hazard.source_task_id == task.id))
    }
    assert {code: r.hazard_id for code, r in hazard_results.items()} == {c: h.id for c, h in hazards.items()}
    guard = hazards["GEN-04"]
    assert guard.source is HazardSource.CHECK and guard.status is HazardStatus.REPORTED
    assert (guard.enterprise_id, guard.site_id, guard.department_id) == (
        org.enterprise.id,
        org.s1.id,
        org.d1.id,
    )
    assert guard.reporter_id == org.leader.id and guard.location == "一号厂房"
    assert guard.description.startswith("2号冲床传动皮带防护罩缺失（检查项 GEN-04：")
    assert by_code["GEN-04"].note == "2号冲床传动皮带防护罩缺失"
    # The level follows each item's on_fail: general, review (general, flagged), major.
    assert (guard.level, guard.review_required) == (HazardLevel.GENERAL, False)
    assert guard.deadline is not None  # 不过夜
    assert (hazards["GEN-05"].level, hazards["GEN-05"].review_required) == (HazardLevel.GENERAL, True)
    major = hazards["DUST-09"]
    assert major.level is HazardLevel.MAJOR and major.criteria_code and major.deadline is None
    stored = db_session.scalars(select(HazardPhoto).where(HazardPhoto.hazard_id == guard.id)).all()
    assert len(stored) == 2 and {p.kind for p in stored} == {PhotoKind.BEFORE}
    assert all((media_root / p.path).is_file() and (media_root / p.thumb_path).is_file() for p in stored)
    # Each report is on the hazard's record and its assigners are told.
    assert (
        db_session.scalar(
            select(func.count()).select_from(HazardEvent).where(HazardEvent.hazard_id == guard.id)
        )
        == 3
    )
    assert (
        db_session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "hazard_reported")
        )
        > 0
    )


@pytest.mark.parametrize(
    ("hazard", "problem"),
    [
        (("", [b"placeholder"]), "请简要描述发现的隐患"),
        (("防护罩缺失", []), "请至少拍摄一张隐患照片"),
    ],
)
def test_a_hazard_needs_a_description_and_a_photo_and_nothing_is_stored_without(
    db_session, org, media_root, hazard, problem
):
    task = org.daily()
    note, photos = hazard
    with pytest.raises(ValidationFailed) as refused:
        submit(
            db_session, org, org.leader, task, org.s1, MONDAY, media_root, hazards={"GEN-04": (note, photos)}
        )
    assert refused.value.fields == {"answers.GEN-04": problem}
    assert (
        refused.value.message == f"还有 1 项需要处理。第 {number(db_session, task, 'GEN-04')} 项：{problem}。"
    )
    assert counts(db_session) == (0, 0, 0, 0) and task.status is CheckTaskStatus.PENDING


def test_every_item_must_be_answered_and_only_items_of_the_check(db_session, org, media_root):
    task = org.daily()
    data = submission_data(db_session, task, org.s1, MONDAY)
    data["answers"] = data["answers"][5:] + [{"item_code": "GEN-16", "result": "ok"}]
    with pytest.raises(ValidationFailed) as refused:
        service.submit_check(db_session, org.actor(org.leader), MONDAY, task.id, data, media_root=media_root)
    fields = refused.value.fields
    assert fields["answers.GEN-01"] == "请选择“符合”“隐患”或“不适用”" and len(fields) == 6
    assert "不属于本次检查" in fields["answers.GEN-16"]
    assert refused.value.message.startswith(
        "还有 6 项需要处理。第 1 项："
    ) and refused.value.message.endswith("等。")
    # Photos belong to 隐患 answers only.
    data = submission_data(db_session, task, org.s1, MONDAY)
    data["answers"][0]["photos"] = [jpeg()]
    with pytest.raises(ValidationFailed, match="只有判定为“隐患”"):
        service.submit_check(db_session, org.actor(org.leader), MONDAY, task.id, data, media_root=media_root)
    assert counts(db_session) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        (b"%PDF-1.4 not a picture", "无法识别的图片"),
        (b"\xff\xd8\xff" + b"0" * (MAX_BYTES + 1), "照片不能超过"),
    ],
)
def test_a_bad_photo_names_its_item(db_session, org, media_root, photo, message):
    task = org.daily()
    with pytest.raises(ValidationFailed) as refused:
        submit(
            db_session,
            org,
            org.leader,
            task,
            org.s1,
            MONDAY,
            media_root,
            hazards={"GEN-02": ("灭火器压力不足", [jpeg()]), "GEN-04": ("防护罩缺失", [jpeg(), photo])},
        )
    assert refused.value.message.startswith(f"第 {number(db_session, task, 'GEN-04')} 项的照片：")
    assert message in refused.value.message
    assert message in refused.value.fields["answers.GEN-04"]
    # The caller rolls back: the whole check goes, hazard of GEN-02 included.
    db_session.rollback()
    assert counts(db_session) == (0, 0, 0, 0)


def test_a_scan_older_than_four_hours_is_refused(db_session, org, media_root):
    task = org.daily()
    with pytest.raises(ValidationFailed, match="扫码已超过 4 小时"):
        submit(
            db_session,
            org,
            org.leader,
            task,
            org.s1,
            MONDAY,
            media_root,
            scanned_at=MONDAY - timedelta(hours=5),
        )
    with pytest.raises(ValidationFailed, match="扫码时间不正确"):
        submit(
            db_session,
            org,
            org.leader,
            task,
            org.s1,
            MONDAY,
            media_root,
            scanned_at=MONDAY + timedelta(hours=1),
        )
    assert counts(db_session)[0] == 0


# --- once only ----------------------------------------------------------------------------------


def test_the_same_key_or_task_again_returns_the_first_submission(db_session, org, media_root):
    task = org.daily()
    first = submit(
        db_session,
        org,
        org.leader,
        task,
        org.s1,
        MONDAY,
        media_root,
        hazards={"GEN-04": ("防护罩缺失", [jpeg()])},
    )
    again = submit(
        db_session,
        org,
        org.leader,
        task,
        org.s1,
        MONDAY + timedelta(minutes=1),
        media_root,
        hazards={"GEN-04": ("x", [jpeg()])},
    )
    other_key = submit(
        db_session,
        org,
        org.leader,
        task,
        org.s1,
        MONDAY + timedelta(minutes=2),
        media_root,
        idempotency_key="another-key-0123456789",
    )
    assert again.id == first.id and other_key.id == first.id
    assert counts(db_session) == (1, len(first.results), 1, 1)
    # The form opened again shows the submission instead.
    start = service.start_check(db_session, org.actor(org.leader), MONDAY, task.id, org.s1.token)
    assert start.submission is not None and start.submission.id == first.id


def test_another_leader_of_the_team_is_told_who_did_it(db_session, org, media_root):
    task = org.daily()
    submit(db_session, org, org.leader, task, org.s1, MONDAY, media_root)
    with pytest.raises(Conflict, match="该检查已由王班长于 11-23 10:00 提交"):
        submit(
            db_session,
            org,
            org.leader_b,
            task,
            org.s1,
            MONDAY,
            media_root,
            idempotency_key="second-leader-key-0001",
        )
    with pytest.raises(Conflict, match="王班长"):
        service.start_check(db_session, org.actor(org.leader_b), MONDAY, task.id, org.s1.token)
    # A key already used for another check is not silently taken for this one.
    weekly = org.task(CheckLevel.WEEKLY, unit_id=org.d1.id)
    with pytest.raises(Conflict, match="提交标识已被使用"):
        submit(db_session, org, org.head, weekly, org.s1, MONDAY, media_root)
    assert counts(db_session)[0] == 1


def test_closed_tasks_are_refused_with_their_reason(db_session, org, media_root):
    weekly = org.task(CheckLevel.WEEKLY, unit_id=org.d1.id)
    service.excuse_task(db_session, org.actor(org.officer), MONDAY, weekly.id, "本周停产检修")
    with pytest.raises(Conflict, match="已批准免检"):
        submit(db_session, org, org.head, weekly, org.s1, MONDAY, media_root)
    task = org.daily()
    service.sweep_overdue(db_session, task.grace_until + timedelta(minutes=1))
    with pytest.raises(Conflict, match="漏检"):
        service.start_check(db_session, org.actor(org.leader), MONDAY, task.id, org.s1.token)


# --- who may, where ------------------------------------------------------------------------------


def test_a_check_not_owed_or_at_the_wrong_point_is_refused(db_session, org, media_root):
    task = org.daily()
    with pytest.raises(PermissionDenied, match="不由您负责（班组日排查由本班组的班组长完成）"):
        submit(db_session, org, org.head, task, org.s1, MONDAY, media_root)
    with pytest.raises(PermissionDenied, match="不由您负责"):
        service.start_check(db_session, org.actor(org.worker), MONDAY, task.id, org.s1.token)
    with pytest.raises(Conflict, match="不能在点位「成品库东门」完成，请到本部门的排查点位扫码"):
        submit(db_session, org, org.leader, task, org.s2, MONDAY, media_root)
    assert counts(db_session)[0] == 0


def test_a_member_of_another_enterprise_is_refused(db_session, org, build, media_root):
    other = CheckOrg(build, name="郑州永昌食品有限公司")
    other.generate()
    task = org.daily()
    # Their own leader at our point, and our leader with their task at our point.
    with pytest.raises(PermissionDenied, match="您不是「郑州恒达铸造有限公司」的在册人员"):
        submit(db_session, org, other.leader, task, org.s1, MONDAY, media_root)
    with pytest.raises(NotFound, match="检查任务不存在"):
        submit(db_session, org, org.leader, other.daily(), org.s1, MONDAY, media_root)
    with pytest.raises(NotFound):
        submission_of_task(db_session, org.actor(other.manager), task.id)
    assert counts(db_session)[0] == 0


def test_an_unknown_or_revoked_point_is_a_chinese_not_found(db_session, org, media_root):
    task = org.daily()
    data = submission_data(db_session, task, org.s1, MONDAY, site_token="no-such-token-000")
    with pytest.raises(NotFound, match="二维码无效或已停用"):
        service.submit_check(db_session, org.actor(org.leader), MONDAY, task.id, data, media_root=media_root)
    org.s1.active = False
    db_session.flush()
    with pytest.raises(NotFound, match="已停用"):
        submit(db_session, org, org.leader, task, org.s1, MONDAY, media_root)
    with pytest.raises(NotFound, match="已停用"):
        service.start_check(db_session, org.actor(org.leader), MONDAY, task.id, org.s1.token)


def test_a_stale_or_forged_key_is_refused(db_session, org, media_root):
    with pytest.raises(ValidationFailed, match="页面已过期"):
        submit(db_session, org, org.leader, org.daily(), org.s1, MONDAY, media_root, idempotency_key="short")


# --- my checks ------------------------------------------------------------------------------------


def test_my_open_done_and_missed_checks(db_session, org, media_root):
    assert labels(my_open_tasks(db_session, org.leader.id, MONDAY)) == ["班组日排查"]
    assert labels(my_open_tasks(db_session, org.manager.id, MONDAY)) == ["经理月排查"]
    submit(db_session, org, org.leader, org.daily(), org.s1, MONDAY, media_root)
    tuesday = local(2026, 11, 24, 9)
    schedule_service.generate_tasks(db_session, tuesday)
    wednesday = local(2026, 11, 25, 9)
    schedule_service.generate_tasks(db_session, wednesday)
    service.sweep_overdue(db_session, wednesday)
    assert [t.period_start for t in my_open_tasks(db_session, org.leader.id, wednesday)] == [
        date(2026, 11, 25)
    ]
    assert [
        t.period_start for t in my_missed_tasks(db_session, org.leader.id, MONDAY - timedelta(days=30))
    ] == [date(2026, 11, 24)]
    done = my_submissions(db_session, org.leader.id, MONDAY - timedelta(days=1))
    assert [s.task.period_start for s in done] == [date(2026, 11, 23)]
    # The same check, seen by the co-leader, is theirs too (owed by the team's leaders).
    assert [t.period_start for t in my_missed_tasks(db_session, org.leader_b.id, MONDAY)] == [
        date(2026, 11, 24)
    ]
    assert my_submissions(db_session, org.leader_b.id, MONDAY - timedelta(days=1)) == []


# --- concurrency (PostgreSQL) --------------------------------------------------------------------


@pytest.mark.postgres_only
def test_two_leaders_submitting_at_once_make_one_submission(app, database_url, tmp_path):
    """Both leaders of a team submit the same check at the same instant from their own
    connections: the task's row lock lets one in; the other is told who did it."""
    setup_engine = create_engine(database_url)
    ids: dict[str, list[int]] = {"enterprises": [], "users": [], "towns": [], "standards": []}
    try:
        with Session(setup_engine) as session:
            before = set(session.scalars(select(Checklist.id).where(Checklist.enterprise_id.is_(None))))
            checklist_service.load_standard_checklists(session, MONDAY)
            ids["standards"] = sorted(
                set(session.scalars(select(Checklist.id).where(Checklist.enterprise_id.is_(None)))) - before
            )
            org = CheckOrg(Builders(session))
            org.generate()
            ids["enterprises"].append(org.enterprise.id)
            ids["towns"].append(org.enterprise.town_id)
            ids["users"] = list(
                session.scalars(
                    select(Membership.user_id).where(Membership.enterprise_id == org.enterprise.id)
                )
            )
            task_id = org.daily().id
            data = {
                name: submission_data(
                    session, org.daily(), org.s1, MONDAY, idempotency_key=f"{name}-key-0123456789"
                )
                for name in ("a", "b")
            }
            leaders = {"a": org.leader.id, "b": org.leader_b.id}
            session.commit()

        barrier = threading.Barrier(2)
        outcomes: dict[str, object] = {}

        def run(name: str) -> None:
            engine = create_engine(database_url)
            try:
                with Session(engine) as session:
                    actor = Builders(session).actor(session.get(User, leaders[name]))
                    barrier.wait(timeout=10)
                    submission = service.submit_check(
                        session, actor, MONDAY, task_id, data[name], media_root=tmp_path
                    )
                    session.commit()
                    outcomes[name] = submission.id
            except Conflict as exc:
                outcomes[name] = exc
            except BaseException as exc:  # reported below: a thread's failure must fail the test
                outcomes[name] = exc
            finally:
                engine.dispose()

        threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        conflicts = [o for o in outcomes.values() if isinstance(o, Conflict)]
        winners = [o for o in outcomes.values() if isinstance(o, int)]
        assert len(winners) == 1 and len(conflicts) == 1, outcomes
        assert "该检查已由" in conflicts[0].message
        with Session(setup_engine) as session:
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(CheckSubmission)
                    .where(CheckSubmission.task_id == task_id)
                )
                == 1
            )
            assert session.get(CheckTask, task_id).status is CheckTaskStatus.DONE
    finally:
        with Session(setup_engine) as session:
            enterprise_ids = ids["enterprises"]
            if enterprise_ids:
                session.execute(
                    delete(CheckSubmission).where(CheckSubmission.enterprise_id.in_(enterprise_ids))
                )
                session.execute(delete(Hazard).where(Hazard.enterprise_id.in_(enterprise_ids)))
                session.execute(delete(Enterprise).where(Enterprise.id.in_(enterprise_ids)))
            if ids["users"]:
                session.execute(
                    delete(OutboxMessage).where(OutboxMessage.recipient_user_id.in_(ids["users"]))
                )
                session.execute(delete(User).where(User.id.in_(ids["users"])))
            if ids["standards"]:
                session.execute(delete(Checklist).where(Checklist.id.in_(ids["standards"])))
            if ids["towns"]:
                session.execute(delete(Town).where(Town.id.in_(ids["towns"])))
            session.commit()
        setup_engine.dispose()
