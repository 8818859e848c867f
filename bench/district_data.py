"""A district at bench scale on PostgreSQL: 10 000 工贸 enterprises across the eight towns and
streets of 惠济区, a year of check tasks (≈ 5.8 million) and 200 000 hazards, written with
set-based SQL (INSERT … SELECT generate_series), not through the services.

    .venv/bin/python bench/district_data.py [--enterprises 10000] [--hazards 200000]

Uses its own database (BENCH_DISTRICT_DATABASE_URL, default ancha_bench_district on the
local server), recreated and migrated each run. Other benchmarks import `build_district` and
`NOW` (bench/oversight_dashboard.py; the 一企一档 benchmark).

The district, as of NOW (Wednesday 25 November 2026, 10:00 local):
- 8 towns; enterprise n in town n % 8, industries in turn, 60 % 规上 (scale above);
  standardization: 三级 for 55 %, 二级 for 5 % (certified on a day spread over the last
  four years, so about a quarter of the certificates have lapsed), none for the rest.
- each enterprise: one department with two teams, one QR site, one user (its manager), the
  routine schedules (two daily, one weekly, one monthly; ROUTINE_DEFAULTS' due times).
- tasks from 1 December 2025 to NOW: daily ones on Monday–Friday (this generator ignores
  holidays: the working calendar is not what is measured), weekly, monthly. Tasks whose grace
  has not run out are pending; the others are done / done late / missed / excused by a
  deterministic hash, each enterprise with its own miss rate (2–11 %), so towns differ.
- hazards: spread over the year, 2 % major; older than 30 days mostly closed; the rest open,
  some past their deadline.
- this ISO week: one check submission (Monday's daily check) for 8 in 9 enterprises.

Foreign-key triggers are switched off while loading (session_replication_role = replica,
needs a superuser): every reference is made by construction; the run checks a few at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.clock import LOCAL_TZ  # noqa: E402
from app.enterprises.schemas import uscc_check_digit  # noqa: E402
from app.hazard_reporting.checklists import service as checklists  # noqa: E402
from app.hazard_reporting.checks.domain import CheckLevel  # noqa: E402
from app.hazard_reporting.schedules.domain import ROUTINE_DEFAULTS  # noqa: E402
from app.models import Base  # noqa: E402

DB_URL = os.environ.get(
    "BENCH_DISTRICT_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ancha_bench_district"
)
# 惠济区: six streets and two towns (codes of the first three as in the demo).
TOWNS = (
    ("410108001", "长兴路街道"),
    ("410108101", "花园口镇"),
    ("410108102", "古荥镇"),
    ("410108002", "新城街道"),
    ("410108003", "迎宾路街道"),
    ("410108004", "刘寨街道"),
    ("410108005", "老鸦陈街道"),
    ("410108006", "大河路街道"),
)
INDUSTRIES = ("metallurgy", "nonferrous", "building_materials", "machinery", "light_industry", "textile",
              "tobacco", "commerce")
TOPICS = ("dust_explosion", "confined_space", "ammonia_refrigeration", "metallurgical_gas", "molten_metal")
FIRST_DAY = date(2025, 12, 1)
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=LOCAL_TZ).astimezone(UTC)
TODAY = date(2026, 11, 25)
THIS_MONDAY = date(2026, 11, 23)
TEAMS = 2


def migrate(url: str) -> None:
    from alembic import command

    from app.cli import alembic_config
    from tests.conftest import recreate_postgres_database

    recreate_postgres_database(url)
    command.upgrade(alembic_config(url), "head")


def build_structure(session: Session, enterprises: int) -> None:
    for code, name in TOWNS:
        session.execute(text("INSERT INTO towns (code, name) VALUES (:c, :n)"), {"c": code, "n": name})
    town_ids = [row[0] for row in session.execute(text("SELECT id FROM towns ORDER BY id"))]
    rows = []
    for n in range(1, enterprises + 1):
        first17 = f"91410108MD{n:07d}"
        flags = {topic: (n * 7 + i) % 5 == 0 for i, topic in enumerate(TOPICS)}
        level, certified = "none", None
        if n % 20 < 11:  # 55 % 三级
            level = "level3"
        elif n % 20 == 11:  # 5 % 二级
            level = "level2"
        if level != "none":
            certified = date.fromordinal(TODAY.toordinal() - (n * 37) % 1460)  # last four years
        rows.append({
            "uscc": first17 + uscc_check_digit(first17), "name": f"惠济区模拟企业{n:05d}有限公司",
            "address": f"惠济区模拟路{n}号", "town_id": town_ids[n % len(town_ids)],
            "industry": INDUSTRIES[n % len(INDUSTRIES)], "scale": "above" if n % 5 < 3 else "below",
            "employee_count": 20 + n % 300, "standardization_level": level, "standardization_date": certified,
            **flags,
        })
    session.execute(Base.metadata.tables["enterprises"].insert(), rows)
    session.execute(text(
        "INSERT INTO departments (enterprise_id, name) SELECT id, '生产部' FROM enterprises ORDER BY id"
    ))
    session.execute(text(
        "INSERT INTO teams (department_id, name) SELECT d.id, '生产' || n || '班' FROM departments d "
        "CROSS JOIN generate_series(1, :n) n ORDER BY d.id, n"
    ), {"n": TEAMS})
    session.execute(text(
        "INSERT INTO sites (enterprise_id, department_id, name, area, token, active) "
        "SELECT d.enterprise_id, d.id, '生产车间', '', 'bench' || lpad(d.enterprise_id::text, 27, '0'), true "
        "FROM departments d ORDER BY d.enterprise_id"
    ))
    session.execute(text(
        "INSERT INTO users (display_name, phone, openid, subscribed, is_active) "
        "SELECT '经理' || id, '', 'bench-m' || id, true, true FROM enterprises ORDER BY id"
    ))
    session.execute(text(
        "INSERT INTO memberships (user_id, enterprise_id, role, active) "
        "SELECT u.id, e.id, 'manager', true FROM enterprises e JOIN users u ON u.openid = 'bench-m' || e.id"
    ))


def build_schedules(session: Session) -> None:
    for level, source, enterprise, team, department in (
        (CheckLevel.DAILY, "FROM teams t JOIN departments d ON d.id = t.department_id", "d.enterprise_id", "t.id",
         "d.id"),
        (CheckLevel.WEEKLY, "FROM departments d", "d.enterprise_id", "NULL", "d.id"),
        (CheckLevel.MONTHLY, "FROM enterprises e", "e.id", "NULL", "NULL"),
    ):
        spec = ROUTINE_DEFAULTS[level]
        timing = spec.timing
        session.execute(text(
            "INSERT INTO check_schedules (enterprise_id, kind, level, slot, label, team_id, department_id, "
            "site_id, due_time, due_weekday, due_month_day, grace_minutes, workdays_only, starts_on, active) "
            f"SELECT {enterprise}, 'routine', :level, :slot, :label, {team}, {department}, NULL, :due_time, "
            f":due_weekday, :due_month_day, :grace, :workdays_only, :starts_on, true {source} ORDER BY 1"
        ), {
            "level": level.value, "slot": spec.slot, "label": spec.label, "due_time": timing.due_time,
            "due_weekday": timing.due_weekday, "due_month_day": timing.due_month_day,
            "grace": timing.grace_minutes, "workdays_only": timing.workdays_only, "starts_on": FIRST_DAY,
        })


# The status of a task whose grace has run out, from a hash of (schedule, period): 3 %
# excused, the enterprise's miss rate (2–11 %) missed, 5 % done late, the rest done.
_OUTCOME = (
    "CASE WHEN g.grace_until > :now THEN 'pending' "
    "WHEN g.h < 3 THEN 'excused' "
    "WHEN g.h < 5 + g.enterprise_id % 10 THEN 'missed' "
    "WHEN g.h < 10 + g.enterprise_id % 10 THEN 'done_late' ELSE 'done' END"
)


def build_tasks(session: Session, checklist: tuple[int, int]) -> int:
    """Every period from FIRST_DAY to NOW of every schedule, one INSERT … SELECT per month and
    level (progress and memory stay bounded)."""
    total = 0
    month = FIRST_DAY
    while month <= TODAY:
        nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        last = min(date.fromordinal(nxt.toordinal() - 1), TODAY)
        periods = {
            # (period_start, period_end, due day) per level
            "daily": "SELECT d::date AS ps, d::date AS pe, d::date AS dd FROM generate_series("
                     "CAST(:first AS date), CAST(:last AS date), interval '1 day') d WHERE extract(isodow FROM d) < 6",
            "weekly": "SELECT w::date AS ps, (w + interval '6 days')::date AS pe, "
                      "(w + (s_wd - 1) * interval '1 day')::date AS dd FROM generate_series("
                      "date_trunc('week', CAST(:first AS date)), CAST(:last AS date), interval '1 week') w "
                      "WHERE w::date >= CAST(:first AS date)",
            "monthly": "SELECT CAST(:first AS date) AS ps, "
                       "(date_trunc('month', CAST(:first AS date)) + interval '1 month - 1 day')::date AS pe, "
                       "(date_trunc('month', CAST(:first AS date)) + interval '1 month - 1 day')::date AS dd "
                       "WHERE extract(day FROM CAST(:first AS date)) = 1",
        }
        for level, series in periods.items():
            series = series.replace("s_wd", "coalesce(s.due_weekday, 5)")
            inserted = session.execute(text(
                "INSERT INTO check_tasks (schedule_id, enterprise_id, period_start, period_end, due_at, grace_until, "
                "status, checklist_id, checklist_version, created_at, closed_at) "
                "SELECT g.schedule_id, g.enterprise_id, g.ps, g.pe, g.due_at, g.grace_until, "
                f"{_OUTCOME}, :cl, :cv, g.ps::timestamp AT TIME ZONE 'Asia/Shanghai', "
                f"CASE ({_OUTCOME}) WHEN 'done' THEN g.due_at - interval '1 hour' "
                "WHEN 'done_late' THEN g.due_at + interval '30 minutes' "
                "WHEN 'missed' THEN g.grace_until + interval '5 minutes' WHEN 'excused' THEN g.due_at END "
                "FROM (SELECT s.id AS schedule_id, s.enterprise_id, p.ps, p.pe, "
                "  (p.dd + s.due_time) AT TIME ZONE 'Asia/Shanghai' AS due_at, "
                "  (p.dd + s.due_time) AT TIME ZONE 'Asia/Shanghai' + s.grace_minutes * interval '1 minute' "
                "    AS grace_until, "
                "  (s.id * 7919 + (p.ps - DATE '2000-01-01') * 104729) % 100 AS h "
                f"  FROM check_schedules s CROSS JOIN LATERAL ({series}) p WHERE s.level = :level) g "
                "WHERE g.ps <= :today"
            ), {"first": month, "last": last, "now": NOW, "level": level, "cl": checklist[0],
                "cv": checklist[1], "today": TODAY}).rowcount
            total += inserted
        print(f"  tasks {month:%Y-%m}: {total:,}", flush=True)
        month = nxt
    return total


def build_hazards(session: Session, hazards: int, enterprises: int) -> None:
    """`hazards` hazards spread over the year; 2 % major. Older than 30 days: 95 % closed,
    1 % rejected, the rest still rectifying (overdue). Newer: half closed, the rest open with a
    deadline that may have passed."""
    span = int((NOW - datetime.combine(FIRST_DAY, datetime.min.time(), LOCAL_TZ)).total_seconds())
    session.execute(text(
        "INSERT INTO hazards (enterprise_id, source, level, review_required, category, description, location, "
        "reporter_id, assignee_id, deadline, status, closed_at, created_at, updated_at) "
        "SELECT h.e, CASE WHEN h.n % 4 = 0 THEN 'adhoc' ELSE 'check' END, h.lvl, false, 'unsafe_condition', "
        "'皮带输送机尾轮防护罩缺失', '生产车间', u.id, u.id, h.deadline, h.status, "
        "CASE WHEN h.status IN ('closed', 'rejected') THEN h.created_at + (1 + h.n % 96) * interval '1 hour' END, "
        "h.created_at, h.created_at FROM ("
        "  SELECT n, e, created_at, lvl, "
        "    CASE WHEN lvl = 'major' THEN created_at + interval '30 days' "
        "      ELSE (date_trunc('day', created_at AT TIME ZONE 'Asia/Shanghai') + interval '1 day - 1 second') "
        "        AT TIME ZONE 'Asia/Shanghai' END AS deadline, "
        "    CASE WHEN created_at < :now - interval '30 days' THEN "
        "        CASE WHEN r < 95 THEN 'closed' WHEN r = 95 THEN 'rejected' "
        "             WHEN lvl = 'major' THEN 'supervising' ELSE 'rectifying' END "
        "      ELSE CASE WHEN r % 2 = 0 THEN 'closed' WHEN lvl = 'major' THEN 'supervising' "
        "             WHEN r % 3 = 0 THEN 'assigned' ELSE 'rectifying' END END AS status "
        "  FROM (SELECT n, 1 + (n * 7) % :enterprises AS e, "
        "      CAST(:first AS timestamptz) + ((n::bigint * 9973) % :span) * interval '1 second' AS created_at, "
        "      CASE WHEN n % 50 = 0 THEN 'major' ELSE 'general' END AS lvl, (n + n / 50) % 100 AS r "
        "    FROM generate_series(1, :count) n) x) h "
        "JOIN users u ON u.openid = 'bench-m' || h.e "
        "WHERE h.created_at < :now"
    ), {"now": NOW, "first": datetime.combine(FIRST_DAY, datetime.min.time(), LOCAL_TZ), "span": span,
        "count": hazards, "enterprises": enterprises})


def build_week_submissions(session: Session) -> int:
    """Monday's daily check of the first team, as submitted, for 8 enterprises in 9 (those
        whose Monday check is done or done late)."""
    return session.execute(text(
        "INSERT INTO check_submissions (task_id, enterprise_id, user_id, site_id, site_token, scanned_at, "
        "submitted_at, checklist_id, checklist_version, idempotency_key, status) "
        "SELECT t.id, t.enterprise_id, u.id, s.id, s.token, t.due_at - interval '70 minutes', "
        "t.due_at - interval '1 hour', t.checklist_id, t.checklist_version, 'bench-' || t.id, "
        "CASE t.status WHEN 'done' THEN 'on_time' ELSE 'late' END "
        "FROM check_tasks t JOIN check_schedules c ON c.id = t.schedule_id AND c.level = 'daily' "
        "JOIN teams tm ON tm.id = c.team_id AND tm.name = '生产1班' "
        "JOIN sites s ON s.enterprise_id = t.enterprise_id "
        "JOIN users u ON u.openid = 'bench-m' || t.enterprise_id "
        "WHERE t.period_start = :monday AND t.enterprise_id % 9 <> 0 AND t.status IN ('done', 'done_late')"
    ), {"monday": THIS_MONDAY}).rowcount


def build_district(url: str = DB_URL, enterprises: int = 10_000, hazards: int = 200_000) -> dict[str, Any]:
    """Recreate the database at `url` and fill it. Returns the counts and the time taken."""
    started = time.monotonic()
    migrate(url)
    engine = create_engine(url)
    with Session(engine) as session:
        session.execute(text("SET session_replication_role = replica"))
        checklists.load_standard_checklists(session, NOW)
        checklist = session.execute(text(
            "SELECT id, version FROM checklists WHERE enterprise_id IS NULL AND kind = 'inspection' "
            "AND version > 0 ORDER BY position, id LIMIT 1"
        )).one()
        build_structure(session, enterprises)
        build_schedules(session)
        tasks = build_tasks(session, tuple(checklist))
        build_hazards(session, hazards, enterprises)
        submissions = build_week_submissions(session)
        session.execute(text("SET session_replication_role = DEFAULT"))
        session.commit()
    vacuum(engine)
    with engine.connect() as conn:
        dangling = conn.scalar(text(
            "SELECT count(*) FROM check_tasks t LEFT JOIN check_schedules s ON s.id = t.schedule_id "
            "WHERE s.id IS NULL OR s.enterprise_id <> t.enterprise_id"
        ))
        if dangling:
            raise SystemExit(f"{dangling} tasks without their schedule")
        counts = {
            "enterprises": enterprises,
            "tasks": tasks,
            "hazards": conn.scalar(text("SELECT count(*) FROM hazards")),
            "submissions_this_week": submissions,
            "build_s": round(time.monotonic() - started, 1),
        }
    engine.dispose()
    return counts


def vacuum(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--hazards", type=int, default=200_000)
    args = parser.parse_args()
    print(build_district(DB_URL, args.enterprises, args.hazards))


if __name__ == "__main__":
    main()
