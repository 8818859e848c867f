"""The working calendar on the real database: overrides change which daily checks are
generated, a day that becomes a rest day excuses (never deletes) its generated checks, the
arrangement import is idempotent and refuses a malformed file whole, the bureau admin is
reminded weekly from 1 December, and the CLI does the same as the console."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.accounts.domain import BureauRole
from app.clock import LOCAL_TZ
from app.errors import PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists import service as checklists
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.schedules import service as schedules
from app.hazard_reporting.work_calendar import service
from app.hazard_reporting.work_calendar.domain import ArrangementFileError, DaySource, YearBasis
from app.hazard_reporting.work_calendar.models import CalendarEvent, CalendarOverride, CalendarYear
from app.notifications.models import OutboxMessage
from tests.fixtures.checks import CheckOrg


def local(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


NOW = local(2026, 12, 4)

ARRANGEMENT_2027 = """date,workday,name
2027-01-01,否,元旦
2027-02-05,否,春节
2027-02-06,否,春节
2027-02-07,否,春节
2027-02-08,否,春节
2027-02-09,否,春节
2027-02-10,否,春节
2027-02-11,否,春节
2027-02-20,是,春节调休上班
""".encode()


@pytest.fixture
def org(build, db_session):
    checklists.load_standard_checklists(db_session, NOW)
    return CheckOrg(build)


@pytest.fixture
def admin(build):
    return build.actor(build.bureau_user(BureauRole.ADMIN))


def daily_days(session, org) -> list[date]:
    rows = session.scalars(
        select(CheckTask)
        .where(CheckTask.enterprise_id == org.enterprise.id)
        .order_by(CheckTask.period_start)
    )
    return sorted(
        {t.period_start for t in rows if t.schedule.level is CheckLevel.DAILY and t.schedule.team_id == org.t1.id}
    )


def daily_task(session, org, day: date) -> CheckTask:
    return org.task(CheckLevel.DAILY, day, unit_id=org.t1.id)


def test_the_fallback_skips_2027_new_year_and_spring_festival(db_session, org):
    org.generate(local(2027, 1, 1, 8))  # schedules start on Friday 2027-01-01 (元旦)
    schedules.generate_tasks(db_session, local(2027, 2, 12))
    days = daily_days(db_session, org)
    assert date(2027, 1, 1) not in days
    assert date(2027, 1, 4) in days
    for holiday in (5, 6, 7, 8, 9, 10):  # 除夕 to 初三, then art. 6 substitutes for the weekend
        assert date(2027, 2, holiday) not in days
    assert date(2027, 2, 4) in days and date(2027, 2, 11) in days


def test_an_override_turns_a_saturday_into_a_working_day_and_its_daily_checks_appear(db_session, org, admin):
    org.generate(NOW)
    saturday = date(2026, 12, 12)
    schedules.generate_tasks(db_session, local(2026, 12, 13))
    assert saturday not in daily_days(db_session, org)

    # The Saturday after next: not generated yet, so the override decides.
    later = date(2026, 12, 19)
    service.set_day(db_session, admin, NOW, later, True, "区内调休上班", "补 12 月 31 日")
    schedules.generate_tasks(db_session, local(2026, 12, 19, 7))
    assert later in daily_days(db_session, org)
    task = daily_task(db_session, org, later)
    assert task.status is CheckTaskStatus.PENDING
    day = service.work_calendar(db_session, later, later).day(later)
    assert (day.source, day.workday, day.name) == (DaySource.OVERRIDE, True, "区内调休上班")


def test_a_generated_daily_check_on_a_day_that_becomes_a_holiday_is_excused_not_deleted(db_session, org, admin):
    org.generate(NOW)  # Friday 2026-12-04: today's checks exist
    task = daily_task(db_session, org, date(2026, 12, 4))
    weekly = org.task(CheckLevel.WEEKLY, date(2026, 12, 4), unit_id=org.d1.id)
    before = db_session.scalar(select(func.count()).select_from(CheckTask))

    outcome = service.set_day(db_session, admin, NOW, date(2026, 12, 4), False, "区内停电", "供电检修")

    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(CheckTask)) == before  # nothing deleted
    task = db_session.get(CheckTask, task.id)
    assert task.status is CheckTaskStatus.EXCUSED
    assert "2026-12-04" in task.excuse_reason and "区内停电" in task.excuse_reason
    assert task.excused_by_id == admin.user_id and task.closed_at == NOW
    assert db_session.get(CheckTask, weekly.id).status is CheckTaskStatus.PENDING  # weekly untouched
    assert outcome.excused >= 2  # both teams' daily checks
    assert [c.day for c in outcome.changes] == [date(2026, 12, 4)]
    event = db_session.scalars(select(CalendarEvent).where(CalendarEvent.year == 2026)).one()
    assert event.actor_id == admin.user_id and "免检" in event.summary


def test_a_missed_check_is_excused_too_but_a_done_one_stays_done(db_session, org, admin):
    org.generate(local(2026, 12, 1))
    schedules.generate_tasks(db_session, local(2026, 12, 3))
    missed = daily_task(db_session, org, date(2026, 12, 1))
    done = daily_task(db_session, org, date(2026, 12, 2))
    missed.status = CheckTaskStatus.MISSED
    done.status = CheckTaskStatus.DONE
    db_session.flush()
    service.set_day(db_session, admin, NOW, date(2026, 12, 1), False, "补休")
    service.set_day(db_session, admin, NOW, date(2026, 12, 2), False, "补休")
    db_session.expire_all()
    assert db_session.get(CheckTask, missed.id).status is CheckTaskStatus.EXCUSED
    assert db_session.get(CheckTask, done.id).status is CheckTaskStatus.DONE


def test_a_day_already_past_cannot_become_a_working_day(db_session, admin):
    with pytest.raises(ValidationFailed, match="已经过去"):
        service.set_day(db_session, admin, NOW, date(2026, 11, 28), True, "补班")  # last Saturday
    assert db_session.scalar(select(func.count()).select_from(CalendarOverride)) == 0
    # Today and later are fine.
    service.set_day(db_session, admin, NOW, date(2026, 12, 5), True, "补班")  # tomorrow, Saturday


def test_removing_an_override_follows_the_rule_again(db_session, admin):
    service.set_day(db_session, admin, NOW, date(2027, 1, 1), True, "元旦上班")
    assert service.work_calendar(db_session, date(2027, 1, 1), date(2027, 1, 1)).is_workday(date(2027, 1, 1))
    service.clear_day(db_session, admin, NOW, date(2027, 1, 1))
    day = service.work_calendar(db_session, date(2027, 1, 1), date(2027, 1, 1)).day(date(2027, 1, 1))
    assert (day.workday, day.source, day.name) == (False, DaySource.STATUTORY_RULE, "元旦")
    with pytest.raises(ValidationFailed):
        service.clear_day(db_session, admin, NOW, date(2027, 1, 1))


def test_only_the_bureau_admin_changes_the_calendar(db_session, build, org):
    staff = build.actor(build.bureau_user(BureauRole.STAFF))
    for actor in (staff, org.actor(org.manager)):
        with pytest.raises(PermissionDenied):
            service.set_day(db_session, actor, NOW, date(2027, 1, 4), False, "x")
        with pytest.raises(PermissionDenied):
            service.import_arrangement(db_session, actor, NOW, service.read_arrangement(ARRANGEMENT_2027, "a.csv"))
    assert db_session.scalar(select(func.count()).select_from(CalendarOverride)) == 0


def test_importing_the_arrangement_is_idempotent_and_confirms_the_year(db_session, admin):
    rows = service.read_arrangement(ARRANGEMENT_2027, "2027.csv")
    dry = service.import_arrangement(db_session, admin, NOW, rows, dry_run=True)
    assert dry.count("create") == 9 and dry.outcome.dry_run
    assert db_session.scalar(select(func.count()).select_from(CalendarOverride)) == 0  # dry run wrote nothing

    first = service.import_arrangement(db_session, admin, NOW, rows)
    assert (first.count("create"), first.count("update"), first.count("unchanged")) == (9, 0, 0)
    assert db_session.get(CalendarYear, 2027).basis is YearBasis.ARRANGEMENT
    cal = service.work_calendar(db_session, date(2027, 1, 1), date(2027, 12, 31))
    assert cal.is_workday(date(2027, 2, 20))  # 调休上班 on a Saturday
    assert not cal.is_workday(date(2027, 2, 11))  # the arrangement's extra day
    # Days the file does not list follow the weekday now: 劳动节's rule days were not imported.
    assert cal.day(date(2027, 5, 3)).source is DaySource.WEEKDAY and cal.is_workday(date(2027, 5, 3))
    assert not cal.day(date(2027, 2, 11)).provisional

    second = service.import_arrangement(db_session, admin, NOW, service.read_arrangement(ARRANGEMENT_2027, "2027.csv"))
    assert (second.count("create"), second.count("update"), second.count("unchanged")) == (0, 0, 9)
    assert second.outcome.changes == []
    assert db_session.scalar(select(func.count()).select_from(CalendarOverride)) == 9


def test_a_yaml_arrangement_reads_the_same_as_the_csv(db_session, admin):
    text = "days:\n" + "".join(
        f"  - {{date: {line.split(',')[0]}, workday: {'true' if line.split(',')[1] == '是' else 'false'}, "
        f"name: {line.split(',')[2]}}}\n"
        for line in ARRANGEMENT_2027.decode().splitlines()[1:]
    )
    assert service.read_arrangement(text.encode(), "2027.yaml") == service.read_arrangement(ARRANGEMENT_2027, "2027.csv")


def test_a_malformed_file_is_refused_with_line_numbers_and_nothing_is_written(db_session, admin):
    bad = "date,workday,name\n2027-01-01,否,元旦\n2027-02-30,否,春节\n2027-02-06,也许,春节\n2027-01-01,否,元旦\n"
    with pytest.raises(ArrangementFileError) as info:
        service.read_arrangement(bad.encode(), "bad.csv")
    assert [line for line, _ in info.value.problems] == [3, 4, 5]
    assert "第 3 行" in info.value.message and "第 2 行" in info.value.problems[2][1]
    yaml_bad = "- {date: 2027-01-01, workday: false}\n- {date: 2027-13-01, workday: false}\n- 7\n"
    with pytest.raises(ArrangementFileError) as info:
        service.read_arrangement(yaml_bad.encode(), "bad.yaml")
    assert [line for line, _ in info.value.problems] == [2, 3]
    for content in (b"\xff\xfe\x00garbage", b"x" * (64 * 1024 + 1), b""):
        with pytest.raises(ArrangementFileError):
            service.read_arrangement(content, "f.csv")
    assert db_session.scalar(select(func.count()).select_from(CalendarOverride)) == 0


def test_an_import_that_would_make_a_past_day_a_working_day_writes_nothing(db_session, admin):
    rows = service.read_arrangement(b"date,workday,name\n2026-11-29,\xe6\x98\xaf,x\n2027-01-01,\xe5\x90\xa6,y\n", "a.csv")
    with pytest.raises(ValidationFailed, match="2026-11-29"):
        service.import_arrangement(db_session, admin, NOW, rows)
    assert db_session.scalar(select(func.count()).select_from(CalendarOverride)) == 0
    assert db_session.scalar(select(func.count()).select_from(CalendarYear)) == 0


def test_confirm_and_reopen_a_year(db_session, admin, org):
    service.confirm_year(db_session, admin, NOW, 2027)
    assert db_session.get(CalendarYear, 2027).basis is YearBasis.RULE
    cal = service.work_calendar(db_session, date(2027, 1, 1), date(2027, 1, 1))
    assert not cal.day(date(2027, 1, 1)).provisional and not cal.is_workday(date(2027, 1, 1))
    with pytest.raises(ValidationFailed):
        service.confirm_year(db_session, admin, NOW, 2027)
    with pytest.raises(ValidationFailed, match="官方"):
        service.confirm_year(db_session, admin, NOW, 2026)
    service.reopen_year(db_session, admin, NOW, 2027)
    assert db_session.get(CalendarYear, 2027) is None


def test_reopening_an_imported_year_brings_the_rule_back_and_excuses_its_checks(db_session, admin, org):
    service.import_arrangement(db_session, admin, NOW, service.read_arrangement(ARRANGEMENT_2027, "a.csv"))
    # Generated on 2027-05-03 (a working day by the arrangement) …
    org.generate(local(2027, 5, 3, 8))
    task = daily_task(db_session, org, date(2027, 5, 3))
    # … then the confirmation is withdrawn: 劳动节's substitute day is a rest day by rule again.
    service.reopen_year(db_session, admin, local(2027, 5, 3, 9), 2027)
    db_session.expire_all()
    assert db_session.get(CheckTask, task.id).status is CheckTaskStatus.EXCUSED


def bureau_notices(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == service.REMINDER_KIND)))


def test_bureau_admins_get_one_reminder_a_week_from_december_while_next_year_is_provisional(db_session, build):
    admin_user = build.bureau_user(BureauRole.ADMIN)
    build.bureau_user(BureauRole.STAFF)
    assert service.remind_unconfirmed(db_session, local(2026, 11, 30)) == 0
    assert service.remind_unconfirmed(db_session, local(2026, 12, 1, 9)) == 1  # Tuesday
    assert service.remind_unconfirmed(db_session, local(2026, 12, 4, 9)) == 0  # same ISO week
    assert service.remind_unconfirmed(db_session, local(2026, 12, 7, 9)) == 1  # next Monday
    notices = bureau_notices(db_session)
    assert {n.recipient_user_id for n in notices} == {admin_user.id}
    assert notices[0].payload["years"] == [2027]

    service.confirm_year(db_session, build.actor(admin_user), local(2026, 12, 8), 2027)
    assert service.remind_unconfirmed(db_session, local(2026, 12, 14, 9)) == 0
    assert len(bureau_notices(db_session)) == 2


def test_cli_import_is_idempotent_and_refuses_a_bad_file(app, db_session, build, tmp_path):
    build.bureau_user(BureauRole.ADMIN, user=build.user(username="calendar_admin"))
    good = tmp_path / "2027.csv"
    good.write_bytes(ARRANGEMENT_2027)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["calendar", "import", str(good), "--user", "calendar_admin", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "9 created" in dry.output
    assert db_session.scalar(select(func.count()).select_from(CalendarOverride)) == 0
    first = runner.invoke(args=["calendar", "import", str(good), "--user", "calendar_admin"])
    assert first.exit_code == 0 and "9 created" in first.output, first.output
    again = runner.invoke(args=["calendar", "import", str(good), "--user", "calendar_admin"])
    assert "0 created, 0 updated, 9 unchanged" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_text("date,workday,name\n2027-01-01,否,元旦\n2027-02-30,否,x\n", encoding="utf-8")
    refused = runner.invoke(args=["calendar", "import", str(bad), "--user", "calendar_admin"])
    assert refused.exit_code == 1 and "第 3 行" in refused.output
    show = runner.invoke(args=["calendar", "show", "2027"])
    assert "2027-02-20\twork\t春节调休上班\toverride" in show.output


def test_importing_days_of_a_published_year_overrides_them_but_confirms_nothing(db_session, admin):
    rows = service.read_arrangement("date,workday,name\n2026-12-31,否,区内停产\n".encode(), "a.csv")
    service.import_arrangement(db_session, admin, NOW, rows)
    assert db_session.get(CalendarYear, 2026) is None
    cal = service.work_calendar(db_session, date(2026, 12, 30), date(2026, 12, 31))
    assert not cal.is_workday(date(2026, 12, 31))
    assert cal.day(date(2026, 12, 30)).source is DaySource.OFFICIAL  # the rest stays official
