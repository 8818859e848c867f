"""Bulletin benchmark: the month's facts of a 10 000-enterprise district on PostgreSQL (what
drafting a district-wide monthly bulletin reads), with EXPLAIN of its check-task query.

    .venv/bin/python bench/bulletins.py [--enterprises 10000] [--repeat 5]

The district is bench/tasks.py's (5 departments of 3 teams and the default schedules per
enterprise, one open hazard each, one in ten overdue) on its own database
(BENCH_BULLETINS_DATABASE_URL, default ancha_bench_bulletins, recreated each run); Monday
23 November's daily tasks are then copied to every other day of November 2026 with one
INSERT … SELECT (95 % done, 5 % done late or missed), so the month holds about 4.5 million
check tasks. Measured: `queries.month_facts` for the district (three grouped queries) and
`service.draft_monthly` (facts, rule, entries, text) in a rolled-back transaction; medians
and bests. Writes bench/results/bulletins.json and prints a Markdown table and the plan.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault(
    "BENCH_TASKS_DATABASE_URL",
    os.environ.get("BENCH_BULLETINS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ancha_bench_bulletins"),
)

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.accounts.domain import Actor, BureauRole  # noqa: E402
from app.hazard_reporting.checks.models import CheckTask  # noqa: E402
from app.oversight.bulletins import queries, service  # noqa: E402
from app.oversight.bulletins.domain import Month  # noqa: E402
from bench import tasks as district  # noqa: E402

NOVEMBER = Month(2026, 11)
DRAFTED_AT = district.local(date(2026, 12, 3), 9)


def fill_the_month(session: Session) -> int:
    """Monday's daily tasks copied to every other day of November (one INSERT … SELECT)."""
    result = session.execute(text(
        "INSERT INTO check_tasks (schedule_id, enterprise_id, period_start, period_end, due_at, grace_until, "
        "status, checklist_id, checklist_version, created_at, closed_at) "
        "SELECT t.schedule_id, t.enterprise_id, d::date, d::date, t.due_at + (d::date - :monday) * interval '1 day', "
        "t.grace_until + (d::date - :monday) * interval '1 day', "
        "CASE WHEN (t.id + extract(day from d)::int) % 20 = 0 THEN 'missed' "
        "     WHEN (t.id + extract(day from d)::int) % 20 = 1 THEN 'done_late' ELSE 'done' END, "
        "t.checklist_id, t.checklist_version, t.created_at, t.due_at + (d::date - :monday) * interval '1 day' "
        "FROM check_tasks t CROSS JOIN generate_series(date '2026-11-01', date '2026-11-30', interval '1 day') d "
        "WHERE t.period_start = :monday AND t.period_end = :monday AND d::date <> :monday "
        "ON CONFLICT DO NOTHING"
    ), {"monday": district.MONDAY})
    session.commit()
    return result.rowcount


def timed(engine, work, repeat: int) -> tuple[list[float], object]:
    runs, result = [], None
    for _ in range(repeat):
        with Session(engine) as session:
            started = time.perf_counter()
            result = work(session)
            runs.append(time.perf_counter() - started)
            session.rollback()
    return runs, result


def explain(engine) -> str:
    """EXPLAIN ANALYZE of the two grouped queries of month_facts, as run for the district."""
    out = []
    for name, statement in (
        ("check tasks", queries.check_counts(NOVEMBER, None, DRAFTED_AT)),
        ("hazards", queries.hazard_counts(NOVEMBER, None, DRAFTED_AT)),
    ):
        compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect() as conn:
            plan = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))
            out.append(f"-- {name}\n" + "\n".join(row[0] for row in plan))
    return "\n\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="measure the district built by the last run")
    args = parser.parse_args()

    engine = create_engine(district.DB_URL)
    if args.reuse:
        fixture = {"enterprises": args.enterprises, "reused": True}
    else:
        district.migrate()
        fixture = district.build_fixture(engine, args.enterprises)
        with Session(engine) as session:
            fixture["november_copies"] = fill_the_month(session)
        district.vacuum(engine)
    with Session(engine) as session:
        fixture["check_tasks"] = session.scalar(select(func.count()).select_from(CheckTask))
    print(f"fixture: {fixture}", flush=True)

    facts_runs, facts = timed(engine, lambda s: queries.month_facts(s, NOVEMBER, None, DRAFTED_AT), args.repeat)
    admin = Actor(user_id=1, bureau_role=BureauRole.ADMIN)
    draft_runs, bulletin = timed(
        engine,
        lambda s: (b := service.draft_monthly(s, admin, DRAFTED_AT, {"month": NOVEMBER.key, "town_id": ""}), b.figures)[1],
        args.repeat,
    )
    plan = explain(engine)
    summary = {
        "fixture": fixture,
        "month_facts_s": {"median": round(statistics.median(facts_runs), 3), "best": round(min(facts_runs), 3),
                          "all": [round(v, 3) for v in facts_runs]},
        "draft_monthly_s": {"median": round(statistics.median(draft_runs), 3), "best": round(min(draft_runs), 3),
                            "all": [round(v, 3) for v in draft_runs]},
        "enterprises_with_facts": len(facts),
        "figures": bulletin,
        "plan": plan,
    }
    out_dir = ROOT / "bench/results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "bulletins.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    print()
    print("| operation | rows | s (median / best) |")
    print("|---|---|---|")
    print(f"| `month_facts`, district, November | {fixture['check_tasks']} tasks, {args.enterprises} enterprises "
          f"| {summary['month_facts_s']['median']} / {summary['month_facts_s']['best']} |")
    print(f"| `draft_monthly`, district, November | {bulletin.get('warned')} warned, {bulletin.get('praised')} praised "
          f"| {summary['draft_monthly_s']['median']} / {summary['draft_monthly_s']['best']} |")
    print()
    print(plan)


if __name__ == "__main__":
    main()
