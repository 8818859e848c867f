"""The district dashboard (辖区概况) at bench scale: 10 000 enterprises, ≈5.8 M check tasks and
200 000 hazards on PostgreSQL (bench/district_data.py).

    .venv/bin/python bench/oversight_dashboard.py [--build] [--runs 15]

Without --build it reuses the database bench/district_data.py left (BENCH_DISTRICT_DATABASE_URL)
and migrates it to head. Then:
1. the cost of keeping the rollups: the nightly job (13 months) and the ten-minute job
   (current and previous month), timed, with the rows they hold;
2. server time of the pages, through the Flask test client (request in, HTML or .xlsx out:
   routing, session, queries, template), median and max of N runs after one warm-up, for the
   district (bureau admin) and one town (a bureau staff member bound to it);
3. EXPLAIN (ANALYZE, BUFFERS) of the slowest statements of one district page, captured from
   the request itself.
Writes bench/results/oversight_dashboard.json and prints Markdown for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.district_data import DB_URL, NOW, build_district  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
TARGET_MS = 300


def migrate(url: str) -> None:
    from alembic import command

    from app.cli import alembic_config

    command.upgrade(alembic_config(url), "head")


def keep_rollups(url: str) -> dict[str, Any]:
    from app.oversight.stats import service

    engine = create_engine(url)
    result: dict[str, Any] = {}
    with Session(engine) as session:
        started = time.monotonic()
        service.refresh_recent_year(session, NOW)
        session.commit()
        result["nightly_13_months_s"] = round(time.monotonic() - started, 2)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE stats_check_months"))
        conn.execute(text("VACUUM ANALYZE stats_hazard_months"))
    runs = []
    for _ in range(3):
        with Session(engine) as session:
            started = time.monotonic()
            service.refresh_rollups(session, NOW)
            session.commit()
            runs.append(time.monotonic() - started)
    result["ten_minute_2_months_s"] = round(statistics.median(runs), 2)
    with engine.connect() as conn:
        for table in ("stats_check_months", "stats_hazard_months"):
            result[f"{table}_rows"] = conn.scalar(text(f"SELECT count(*) FROM {table}"))
            result[f"{table}_mb"] = round(
                conn.scalar(text(f"SELECT pg_total_relation_size('{table}')")) / 2**20, 1
            )
        result["ix_check_tasks_due_at_mb"] = round(
            conn.scalar(text("SELECT pg_relation_size('ix_check_tasks_due_at')")) / 2**20, 1
        )
    engine.dispose()
    return result


def make_app(url: str):
    from app import create_app

    return create_app({
        "ANCHA_ENV": "testing",
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "PUBLIC_BASE_URL": "http://ancha.bench",
        "MEDIA_ROOT": "/tmp/ancha-bench-media",
    })


def bench_users(url: str) -> tuple[int, int, int]:
    """A bureau admin and a staff member bound to the first town (created once)."""
    from app.accounts.domain import BureauRole
    from app.accounts.models import BureauMembership, User
    from app.enterprises.models import Town

    engine = create_engine(url)
    with Session(engine) as session:
        ids = []
        for name, role in (("bench-admin", BureauRole.ADMIN), ("bench-staff", BureauRole.STAFF)):
            user = session.scalar(select(User).where(User.username == name))
            if user is None:
                user = User(display_name=name, username=name)
                session.add(user)
                session.flush()
                membership = BureauMembership(user_id=user.id, role=role)
                if role is BureauRole.STAFF:
                    membership.towns = [session.scalar(select(Town).order_by(Town.id))]
                session.add(membership)
            ids.append(user.id)
        town_id = session.scalar(select(Town.id).order_by(Town.id))
        session.commit()
    engine.dispose()
    return ids[0], ids[1], town_id


def timed(client, path: str, runs: int) -> dict[str, Any]:
    client.get(path)  # warm-up: template compiled, connection pooled
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return {"path": path, "median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


def explain_slowest(app, client, path: str, top: int = 4) -> list[dict[str, Any]]:
    from app.extensions import db

    engine = db.engine
    captured: list[tuple[float, str, Any]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):
        elapsed = (time.perf_counter() - conn.info["started"].pop()) * 1000
        captured.append((elapsed, statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    plans = []
    raw = engine.raw_connection()
    try:
        for elapsed, statement, parameters in sorted(captured, key=lambda c: -c[0])[:top]:
            cursor = raw.cursor()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plans.append({
                "ms": round(elapsed, 1),
                "sql": statement,
                "plan": "\n".join(row[0] for row in cursor.fetchall()),
            })
        raw.rollback()
    finally:
        raw.close()
    return [{"statements": len(captured), "total_ms": round(sum(c[0] for c in captured), 1)}, *plans]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="recreate the district first")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.build:
        results["district"] = build_district(DB_URL)
        print(results["district"], flush=True)
    else:
        migrate(DB_URL)
    results["rollups"] = keep_rollups(DB_URL)
    print(results["rollups"], flush=True)
    admin_id, staff_id, town_id = bench_users(DB_URL)

    import app.api.stats as stats_api
    from app.oversight.stats import console as stats_console

    stats_console.utcnow = lambda: NOW
    stats_api.utcnow = lambda: NOW
    app = make_app(DB_URL)
    pages = {}
    with app.test_client() as client:
        with client.session_transaction() as s:
            s["user_id"] = admin_id
        for name, path in (
            ("district dashboard", "/console/oversight/dashboard?month=2026-11"),
            ("district dashboard, a past month", "/console/oversight/dashboard?month=2026-06"),
            ("one town's dashboard (admin)", f"/console/oversight/dashboard?month=2026-11&town={town_id}"),
            ("district list: missed checks", "/console/oversight/lists/checks_missed?month=2026-11"),
            ("district list: overdue hazards", "/console/oversight/lists/hazards_overdue?month=2026-11"),
            ("district list: not checked this week", "/console/oversight/lists/unchecked_this_week"),
            ("district export (.xlsx)", "/console/oversight/dashboard.xlsx?month=2026-11"),
        ):
            pages[name] = timed(client, path, args.runs)
            print(name, pages[name], flush=True)
        results["explain"] = explain_slowest(app, client, "/console/oversight/dashboard?month=2026-11")
    with app.test_client() as client:
        with client.session_transaction() as s:
            s["user_id"] = staff_id
        pages["staff member's dashboard (one town)"] = timed(client, "/console/oversight/dashboard?month=2026-11", args.runs)
        print(pages["staff member's dashboard (one town)"], flush=True)
    results["pages"] = pages
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "oversight_dashboard.json").write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str))

    print("\n| page | median ms | max ms | target |")
    print("|---|---|---|---|")
    for name, r in pages.items():
        print(f"| {name} | {r['median_ms']} | {r['max_ms']} | {'met' if r['median_ms'] < TARGET_MS else 'MISSED'} |")
    summary, *plans = results["explain"]
    print(f"\nDistrict page: {summary['statements']} statements, {summary['total_ms']} ms in the database.")
    for plan in plans:
        print(f"\n-- {plan['ms']} ms\n{plan['sql']}\n{plan['plan']}")


if __name__ == "__main__":
    main()
