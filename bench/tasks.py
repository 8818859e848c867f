"""Check-task benchmark: task generation, the overdue sweep and the escalation job over a
district of 10 000 enterprises on PostgreSQL, each service measured in the same run as the
single set-based SQL statement that does the same work.

    .venv/bin/python bench/tasks.py [--enterprises 10000] [--repeat 5]

Uses its own database (BENCH_TASKS_DATABASE_URL, default ancha_bench_tasks on the local
server), recreated and migrated each run. Writes bench/results/tasks.json and prints a
Markdown table for docs/PERFORMANCE.md. Target (issue "Scan-to-check"): each service within
2× of its SQL statement.

The district: every enterprise has 5 departments of 3 teams and the default schedules
(15 daily, 5 weekly, 1 monthly = 21), so about 210 000 tasks are open on any working day.
The fixture is written with INSERT … SELECT, not through the per-enterprise service, and
checked against the service: one enterprise is set up by ensure_default_schedules and its
schedules must equal those of the bulk-built ones. The week is 23–29 November 2026 (no
holiday). Monday's checks: 90 % done, 5 % done late, 5 % never done. Each measured operation
runs in a transaction that is rolled back, alternating service and SQL, with VACUUM ANALYZE
in between so that neither inherits the other's dead rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.clock import LOCAL_TZ  # noqa: E402
from app.enterprises.schemas import uscc_check_digit  # noqa: E402
from app.hazard_reporting.checklists import service as checklists  # noqa: E402
from app.hazard_reporting.checks import service as checks  # noqa: E402
from app.hazard_reporting.checks.domain import CheckLevel, due_window, period_containing  # noqa: E402
from app.hazard_reporting.checks.models import CheckTask  # noqa: E402
from app.hazard_reporting.escalation.service import run_escalations  # noqa: E402
from app.hazard_reporting.schedules import service as schedules  # noqa: E402
from app.hazard_reporting.schedules.domain import ROUTINE_DEFAULTS  # noqa: E402
from app.hazard_reporting.schedules.models import CheckSchedule  # noqa: E402
from app.models import Base  # noqa: E402, F401  (every table mapped)

DB_URL = os.environ.get(
    "BENCH_TASKS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ancha_bench_tasks"
)
DEPARTMENTS = 5
TEAMS_PER_DEPARTMENT = 3
INDUSTRIES = ("metallurgy", "nonferrous", "building_materials", "machinery", "light_industry", "textile",
              "tobacco", "commerce")
TOPICS = ("dust_explosion", "confined_space", "ammonia_refrigeration", "metallurgical_gas", "molten_metal")


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


MONDAY, TUESDAY = date(2026, 11, 23), date(2026, 11, 24)
FIXTURE_AT = local(MONDAY, 6)
GENERATE_AT = local(TUESDAY, 6)  # Tuesday's daily checks are created
SWEEP_AT = local(TUESDAY, 6, 5)  # Monday's unfinished checks become missed
ESCALATE_AT = local(TUESDAY, 10)  # …and climb to their team leaders and department heads


# --- the fixture ---------------------------------------------------------------------------


def migrate() -> None:
    from alembic import command

    from app.cli import alembic_config
    from tests.conftest import recreate_postgres_database

    recreate_postgres_database(DB_URL)
    command.upgrade(alembic_config(DB_URL), "head")


def build_structure(session: Session, enterprises: int) -> None:
    """Town, enterprises, departments, teams, one person per seat and their memberships."""
    town_id = session.execute(
        text("INSERT INTO towns (code, name) VALUES ('B000001', '基准镇') RETURNING id")
    ).scalar_one()
    rows = []
    for n in range(1, enterprises + 1):
        first17 = f"91410108MB{n:07d}"
        flags = {topic: (n + i) % 4 == 0 for i, topic in enumerate(TOPICS)}
        rows.append({
            "uscc": first17 + uscc_check_digit(first17), "name": f"基准企业{n:05d}有限公司",
            "address": f"基准路{n}号", "town_id": town_id, "industry": INDUSTRIES[n % len(INDUSTRIES)],
            "scale": "above" if n % 3 else "below", "employee_count": 120, **flags,
        })
    enterprise_table = Base.metadata.tables["enterprises"]
    session.execute(enterprise_table.insert(), rows)
    session.execute(text(
        "INSERT INTO departments (enterprise_id, name) "
        "SELECT e.id, '车间' || n FROM enterprises e CROSS JOIN generate_series(1, :n) n ORDER BY e.id, n"
    ), {"n": DEPARTMENTS})
    session.execute(text(
        "INSERT INTO teams (department_id, name) "
        "SELECT d.id, d.name || '班组' || n FROM departments d CROSS JOIN generate_series(1, :n) n "
        "ORDER BY d.id, n"
    ), {"n": TEAMS_PER_DEPARTMENT})
    # One user per seat, keyed by an openid naming the seat: m/s<enterprise>, h<department>, l<team>.
    session.execute(text(
        "INSERT INTO users (display_name, phone, openid, subscribed, is_active) "
        "SELECT seat || '-' || id, '', 'bench-' || seat || id, true, true FROM ("
        "  SELECT 'm' AS seat, id FROM enterprises UNION ALL SELECT 's', id FROM enterprises"
        "  UNION ALL SELECT 'h', id FROM departments UNION ALL SELECT 'l', id FROM teams) seats ORDER BY seat, id"
    ))
    session.execute(text(
        "INSERT INTO memberships (user_id, enterprise_id, role, department_id, team_id, active) "
        "SELECT u.id, e.id, 'manager', NULL::integer, NULL::integer, true FROM enterprises e "
        "  JOIN users u ON u.openid = 'bench-m' || e.id "
        "UNION ALL SELECT u.id, e.id, 'safety_officer', NULL, NULL, true FROM enterprises e "
        "  JOIN users u ON u.openid = 'bench-s' || e.id "
        "UNION ALL SELECT u.id, d.enterprise_id, 'department_head', d.id, NULL, true FROM departments d "
        "  JOIN users u ON u.openid = 'bench-h' || d.id "
        "UNION ALL SELECT u.id, d.enterprise_id, 'team_leader', d.id, t.id, true FROM teams t "
        "  JOIN departments d ON d.id = t.department_id JOIN users u ON u.openid = 'bench-l' || t.id"
    ))


def bulk_schedules(session: Session, after_enterprise: int) -> None:
    """The default schedules of every enterprise after the first, in three INSERT … SELECT:
    the rows ensure_default_schedules writes (checked by `same_schedules`)."""
    for level, source in (
        (CheckLevel.DAILY, "FROM teams t JOIN departments d ON d.id = t.department_id"),
        (CheckLevel.WEEKLY, "FROM departments d"),
        (CheckLevel.MONTHLY, "FROM enterprises e"),
    ):
        spec = ROUTINE_DEFAULTS[level]
        timing = spec.timing
        enterprise, team, department = {
            CheckLevel.DAILY: ("d.enterprise_id", "t.id", "d.id"),
            CheckLevel.WEEKLY: ("d.enterprise_id", "NULL", "d.id"),
            CheckLevel.MONTHLY: ("e.id", "NULL", "NULL"),
        }[level]
        session.execute(text(
            "INSERT INTO check_schedules (enterprise_id, kind, level, slot, label, team_id, department_id, "
            "site_id, due_time, due_weekday, due_month_day, grace_minutes, workdays_only, starts_on, active) "
            f"SELECT {enterprise}, 'routine', :level, :slot, :label, {team}, {department}, NULL, :due_time, "
            f":due_weekday, :due_month_day, :grace, :workdays_only, :starts_on, true {source} "
            f"WHERE {enterprise} > :after ORDER BY 1"
        ), {
            "level": level.value, "slot": spec.slot, "label": spec.label, "due_time": timing.due_time,
            "due_weekday": timing.due_weekday, "due_month_day": timing.due_month_day,
            "grace": timing.grace_minutes, "workdays_only": timing.workdays_only, "starts_on": MONDAY,
            "after": after_enterprise,
        })


def schedule_shape(session: Session, enterprise_id: int) -> list[tuple[Any, ...]]:
    """An enterprise's schedules with units replaced by their position in the enterprise."""
    rows = session.execute(text(
        "SELECT s.kind, s.level, s.slot, s.label, s.due_time, s.due_weekday, s.due_month_day, "
        "s.grace_minutes, s.workdays_only, s.starts_on, s.active, s.site_id, "
        "t.name, d.name FROM check_schedules s LEFT JOIN teams t ON t.id = s.team_id "
        "LEFT JOIN departments d ON d.id = s.department_id WHERE s.enterprise_id = :e"
    ), {"e": enterprise_id}).all()
    return sorted(tuple(row) for row in rows)


def finish_mondays_checks(session: Session) -> None:
    """Monday's daily checks: 90 % done before 17:00, 5 % done late, 5 % never done."""
    due, grace_until = due_window(ROUTINE_DEFAULTS[CheckLevel.DAILY].timing, period_containing(CheckLevel.DAILY, MONDAY))
    session.execute(text(
        "UPDATE check_tasks SET status = CASE WHEN id % 20 = 1 THEN 'done_late' ELSE 'done' END, "
        "closed_at = CASE WHEN id % 20 = 1 THEN :late ELSE :early END "
        "WHERE period_start = :monday AND period_end = :monday AND id % 20 <> 0"
    ), {"monday": MONDAY, "early": due - timedelta(hours=1), "late": due + timedelta(minutes=30)})
    assert grace_until < SWEEP_AT


def bulk_hazards(session: Session) -> None:
    """One open general hazard per enterprise, assigned to a team leader: one in ten was
    due on Monday (overdue), the others are due on Tuesday night."""
    session.execute(text(
        "INSERT INTO hazards (enterprise_id, source, level, review_required, category, description, location, "
        "reporter_id, assignee_id, deadline, status, created_at, updated_at) "
        "SELECT e.id, 'adhoc', 'general', false, 'unsafe_condition', '皮带输送机尾轮防护罩缺失', '一号厂房', "
        "m.user_id, m.user_id, CASE WHEN e.id % 10 = 0 THEN :monday_end ELSE :tuesday_end END, 'assigned', "
        ":at, :at FROM enterprises e JOIN LATERAL (SELECT user_id FROM memberships "
        "WHERE enterprise_id = e.id AND role = 'team_leader' ORDER BY id LIMIT 1) m ON true"
    ), {"monday_end": local(MONDAY, 23, 59), "tuesday_end": local(TUESDAY, 23, 59), "at": FIXTURE_AT})


def build_fixture(engine: Engine, enterprises: int) -> dict[str, Any]:
    started = time.monotonic()
    with Session(engine) as session:
        build_structure(session, enterprises)
        checklists.load_standard_checklists(session, FIXTURE_AT)
        schedules.ensure_default_schedules(session, FIXTURE_AT, 1)  # the reference enterprise
        bulk_schedules(session, after_enterprise=1)
        reference, bulk = schedule_shape(session, 1), schedule_shape(session, 2)
        if reference != bulk:
            raise SystemExit(f"bulk schedules differ from the service's:\n{reference}\n{bulk}")
        generated = schedules.generate_tasks(session, FIXTURE_AT)
        finish_mondays_checks(session)
        bulk_hazards(session)
        session.commit()
    vacuum(engine)
    with Session(engine) as session:
        counts = {
            "enterprises": enterprises,
            "schedules": session.scalar(select(func.count()).select_from(CheckSchedule)),
            "monday_tasks": generated.created,
            "memberships": session.scalar(text("SELECT count(*) FROM memberships")),
        }
    counts["fixture_s"] = round(time.monotonic() - started, 1)
    return counts


def vacuum(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


# --- the equivalent single statements ------------------------------------------------------


def sql_generate(session: Session) -> int:
    """Tuesday's daily tasks: one INSERT … SELECT … ON CONFLICT DO NOTHING."""
    timing = ROUTINE_DEFAULTS[CheckLevel.DAILY].timing
    due_at, grace_until = due_window(timing, period_containing(CheckLevel.DAILY, TUESDAY))
    return session.execute(text(
        "INSERT INTO check_tasks (schedule_id, enterprise_id, period_start, period_end, due_at, grace_until, "
        "status, checklist_id, checklist_version, created_at) "
        "SELECT s.id, s.enterprise_id, :day, :day, :due_at, :grace_until, 'pending', c.id, c.version, :now "
        "FROM check_schedules s JOIN checklists c ON c.enterprise_id = s.enterprise_id AND c.kind = 'inspection' "
        "WHERE s.active AND s.level = 'daily' AND s.starts_on <= :day AND c.version > 0 "
        "ON CONFLICT (schedule_id, period_start) DO NOTHING"
    ), {"day": TUESDAY, "due_at": due_at, "grace_until": grace_until, "now": GENERATE_AT}).rowcount


def sql_sweep(session: Session) -> int:
    """Monday's unfinished checks: one UPDATE … WHERE."""
    return session.execute(text(
        "UPDATE check_tasks SET status = 'missed', closed_at = :now WHERE status = 'pending' AND grace_until < :now"
    ), {"now": SWEEP_AT}).rowcount


# --- measuring -----------------------------------------------------------------------------


def measure(engine: Engine, work: Callable[[Session], Any]) -> tuple[float, Any]:
    """Seconds `work` takes in a fresh transaction, rolled back."""
    with Session(engine) as session:
        session.execute(text("SELECT 1"))  # the connection is checked out before the clock starts
        started = time.perf_counter()
        result = work(session)
        session.flush()
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed, result


def compare(
    engine: Engine, repeat: int, service: Callable[[Session], Any], statement: Callable[[Session], Any]
) -> dict[str, Any]:
    """Median and best of `repeat` alternating runs of the service and the statement."""
    times: dict[str, list[float]] = {"service": [], "sql": []}
    rows: dict[str, Any] = {}
    for _ in range(repeat):
        for name, work in (("service", service), ("sql", statement)):
            elapsed, result = measure(engine, work)
            times[name].append(elapsed)
            rows[name] = result
            vacuum(engine)
    service_s, sql_s = statistics.median(times["service"]), statistics.median(times["sql"])
    return {
        "service_s": round(service_s, 3),
        "sql_s": round(sql_s, 3),
        "ratio": round(service_s / sql_s, 2),
        "best_ratio": round(min(times["service"]) / min(times["sql"]), 2),
        "rows": rows,
        "all_s": {k: [round(v, 3) for v in vs] for k, vs in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    migrate()
    engine = create_engine(DB_URL)
    fixture = build_fixture(engine, args.enterprises)
    print(f"fixture: {fixture}", flush=True)

    generate = compare(
        engine, args.repeat,
        lambda s: schedules.generate_tasks(s, GENERATE_AT).created,
        sql_generate,
    )
    print(f"generate: {generate}", flush=True)

    # The rest happens on Tuesday morning: its tasks exist.
    with Session(engine) as session:
        schedules.generate_tasks(session, GENERATE_AT)
        session.commit()
    vacuum(engine)
    with Session(engine) as session:
        open_tasks = session.scalar(select(func.count()).select_from(CheckTask).where(CheckTask.status == "pending"))
    sweep = compare(engine, args.repeat, lambda s: len(checks.sweep_overdue(s, SWEEP_AT)), sql_sweep)
    print(f"sweep over {open_tasks} open tasks: {sweep}", flush=True)

    first_runs, repeat_runs = [], []
    for _ in range(args.repeat):
        elapsed, result = measure(engine, lambda s: run_escalations(s, ESCALATE_AT))
        first_runs.append(elapsed)
        vacuum(engine)
    written = result
    with Session(engine) as session:
        run_escalations(session, ESCALATE_AT)
        session.commit()
    vacuum(engine)
    for _ in range(args.repeat):
        elapsed, again = measure(engine, lambda s: run_escalations(s, ESCALATE_AT + timedelta(minutes=5)))
        repeat_runs.append(elapsed)
    escalate = {
        "first_run_s": round(statistics.median(first_runs), 3),
        "first_run_notices": written.notices,
        "first_run_missed": written.missed_tasks,
        "repeat_run_s": round(statistics.median(repeat_runs), 3),
        "repeat_run_notices": again.total_notices,
        "all_s": {"first": [round(v, 3) for v in first_runs], "repeat": [round(v, 3) for v in repeat_runs]},
    }
    print(f"escalate: {escalate}", flush=True)

    summary = {"fixture": fixture, "open_tasks": open_tasks, "generate": generate, "sweep": sweep,
               "escalate": escalate, "repeat": args.repeat}
    out_dir = ROOT / "bench/results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "tasks.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    print()
    print("| operation | rows | service s (median / best) | single SQL statement s (median / best) "
          "| ratio (median / best) |")
    print("|---|---|---|---|---|")
    for label, result in ((f"generate one day's tasks ({fixture['schedules']} schedules)", generate),
                          (f"sweep overdue ({open_tasks} open tasks)", sweep)):
        print(f"| {label} | {result['rows']['service']} | {result['service_s']:.3f} / {min(result['all_s']['service']):.3f} "
              f"| {result['sql_s']:.3f} / {min(result['all_s']['sql']):.3f} | {result['ratio']:.2f}× / {result['best_ratio']:.2f}× |")
    print(f"| run_escalations, first run (sweep + notices) | {written.total_notices} notices | "
          f"{escalate['first_run_s']:.3f} / {min(first_runs):.3f} | — | — |")
    print(f"| run_escalations, 5 min later (nothing new) | {again.total_notices} notices | "
          f"{escalate['repeat_run_s']:.3f} / {min(repeat_runs):.3f} | — | — |")


if __name__ == "__main__":
    main()
