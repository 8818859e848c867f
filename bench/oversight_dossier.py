"""一企一档 benchmark: the server time of one enterprise's file page in a district of 10 000
enterprises and ≈ 5.8 million check tasks on PostgreSQL, and the plan of every statement the
page runs (EXPLAIN, flagging a sequential scan of a large table).

    .venv/bin/python bench/oversight_dossier.py [--build] [--repeat 20]

The district comes from bench/district_data.py (`build_district`), in its own database
(BENCH_DOSSIER_DATABASE_URL, default ancha_bench_dossier on the local server), built on the
first run or with --build. On top of it this benchmark gives the measured enterprises a full
file — 3 departments of 2 teams, 20 posts with 3 較大危险因素 each, 150 members with their
add/bind events, an event history for each of their hazards, a retired site, the bureau's supervision of its major hazards — and the
district 12 released tip broadcasts with one receipt per user (120 000 receipts).

Measured: GET /console/enterprises/<id>/dossier through the Flask test client as the bureau
admin (the whole request: scope, queries, template), `--repeat` times on each of 5
enterprises after 2 warm-up requests each; median and p95 per enterprise. Target: < 300 ms.
Writes bench/results/oversight_dossier.json and prints a Markdown table for
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.district_data import NOW, build_district  # noqa: E402

DB_URL = os.environ.get(
    "BENCH_DOSSIER_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ancha_bench_dossier"
)
REDIS_URL = os.environ.get("BENCH_DOSSIER_REDIS_URL", "redis://127.0.0.1:6379/3")
MEASURED = (17, 2503, 5000, 7777, 9999)  # enterprise ids (ids are 1 … 10 000 in a fresh build)
TARGET_MS = 300
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
# Tables that grow with the district: a sequential scan of any of them is a finding.
LARGE_TABLES = (
    "check_tasks", "check_schedules", "check_submissions", "hazards", "hazard_events", "major_hazard_plans",
    "memberships", "member_events", "users", "sites", "departments", "teams", "posts", "post_hazard_factors",
    "tip_receipts", "enterprises",
)


def database_exists(url: str) -> bool:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"))
    with admin.connect() as conn:
        found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
    admin.dispose()
    if not found:
        return False
    engine = create_engine(url)
    with engine.connect() as conn:
        enterprises = conn.scalar(text("SELECT to_regclass('enterprises') IS NOT NULL"))
        count = conn.scalar(text("SELECT count(*) FROM enterprises")) if enterprises else 0
    engine.dispose()
    return count >= 10_000


def enrich(url: str) -> dict[str, Any]:
    """The measured enterprises' full files and the district's tip broadcasts (idempotent:
    skipped when the bench admin already exists)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if conn.scalar(text("SELECT id FROM users WHERE username = 'bench_bureau'")):
            admin_id = conn.scalar(text("SELECT id FROM users WHERE username = 'bench_bureau'"))
            engine.dispose()
            return {"admin_id": admin_id}
        admin_id = conn.scalar(text(
            "INSERT INTO users (display_name, phone, username, subscribed, is_active) "
            "VALUES ('区安监局管理员', '', 'bench_bureau', false, true) RETURNING id"
        ))
        conn.execute(text("INSERT INTO bureau_memberships (user_id, role) VALUES (:u, 'bureau_admin')"), {"u": admin_id})
        for eid in MEASURED:
            enrich_enterprise(conn, eid)
        for n in range(12):
            tip_id = conn.scalar(text(
                "INSERT INTO tips (kind, title, summary, body, months, audience, signature, position, active) "
                "VALUES ('custom', :t, :s, :b, '[]', '{}', '', 0, true) RETURNING id"
            ), {"t": f"第{n + 1}期安全提示", "s": "摘要", "b": "正文"})
            broadcast_id = conn.scalar(text(
                "INSERT INTO tip_broadcasts (tip_id, status, audience, send_at, recipient_count, released_at) "
                "VALUES (:tip, 'released', '{}', :at, 0, :at) RETURNING id"
            ), {"tip": tip_id, "at": NOW - (12 - n) * 30 * DAY})
            conn.execute(text(
                "INSERT INTO tip_receipts (broadcast_id, user_id, created_at, read_at, acknowledged_at) "
                "SELECT :b, id, :at, CASE WHEN id % 3 <> 0 THEN :at END, CASE WHEN id % 2 = 0 THEN :at END "
                "FROM users WHERE openid IS NOT NULL"
            ), {"b": broadcast_id, "at": NOW - (12 - n) * 30 * DAY + HOUR})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return {"admin_id": admin_id}


def enrich_enterprise(conn, eid: int) -> None:
    at = NOW - 200 * DAY
    for d in range(3):
        dep = conn.scalar(text(
            "INSERT INTO departments (enterprise_id, name) VALUES (:e, :n) RETURNING id"
        ), {"e": eid, "n": f"车间{d + 1}"})
        for t in range(2):
            conn.execute(text("INSERT INTO teams (department_id, name) VALUES (:d, :n)"), {"d": dep, "n": f"{d + 1}车间{t + 1}班"})
    for p in range(20):
        post = conn.scalar(text(
            "INSERT INTO posts (enterprise_id, name, risks, precautions, emergency_measures) "
            "VALUES (:e, :n, '机械伤害、触电、粉尘', '上锁挂牌，穿戴防护用品', '停机断电，报告班组长') RETURNING id"
        ), {"e": eid, "n": f"岗位{p + 1}"})
        for f in range(3):
            conn.execute(text(
                "INSERT INTO post_hazard_factors (post_id, name, measures, position) VALUES (:p, :n, '每班检查', :i)"
            ), {"p": post, "n": f"较大危险因素{f + 1}", "i": f})
    conn.execute(text(
        "UPDATE sites SET active = false, updated_at = :at WHERE enterprise_id = :e"
    ), {"e": eid, "at": NOW - 10 * DAY})
    conn.execute(text(
        "INSERT INTO sites (enterprise_id, name, area, token, active, created_at, updated_at) "
        "SELECT :e, '点位' || n, '厂区', 'bd' || :e || 'x' || n, true, :at, :at FROM generate_series(1, 12) n"
    ), {"e": eid, "at": at})
    roles = ("worker", "team_leader", "department_head", "safety_officer", "enterprise_admin")
    for m in range(150):
        user = conn.scalar(text(
            "INSERT INTO users (display_name, phone, openid, subscribed, is_active, created_at, updated_at) "
            "VALUES (:n, '', :o, true, true, :at, :at) RETURNING id"
        ), {"n": f"员工{eid}-{m}", "o": None if m % 7 == 0 else f"o-dossier-{eid}-{m}", "at": at})
        membership = conn.scalar(text(
            "INSERT INTO memberships (user_id, enterprise_id, role, active, created_at, updated_at) "
            "VALUES (:u, :e, :r, true, :at, :at) RETURNING id"
        ), {"u": user, "e": eid, "r": roles[0] if m >= 10 else roles[m % len(roles)], "at": at})
        conn.execute(text(
            "INSERT INTO member_events (membership_id, user_id, kind, reason, at) "
            "VALUES (:m, :u, 'added', '', :a), (:m, :u, 'bound', '', :b)"
        ), {"m": membership, "u": user, "a": at + m * HOUR, "b": at + m * HOUR + DAY})
    conn.execute(text(
        "INSERT INTO hazard_events (hazard_id, actor_id, at, action, from_status, to_status, data) "
        "SELECT h.id, NULL, h.created_at, 'report', NULL, 'reported', '{}' FROM hazards h WHERE h.enterprise_id = :e"
    ), {"e": eid})
    conn.execute(text(
        "INSERT INTO hazard_events (hazard_id, actor_id, at, action, from_status, to_status, data) "
        "SELECT h.id, NULL, h.closed_at, 'verify', 'rectified', 'closed', '{}' FROM hazards h "
        "WHERE h.enterprise_id = :e AND h.closed_at IS NOT NULL"
    ), {"e": eid})
    conn.execute(text(
        "INSERT INTO major_hazard_plans (hazard_id, milestones, supervised_at, supervising_unit) "
        "SELECT id, '[]', created_at + interval '2 days', '惠济区应急管理局' FROM hazards "
        "WHERE enterprise_id = :e AND level = 'major'"
    ), {"e": eid})


def settings() -> dict[str, str]:
    return {
        "ANCHA_ENV": "development",
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "WECHAT_SANDBOX": "0",
        "PUBLIC_BASE_URL": "http://ancha.bench",
    }


def measure(repeat: int, admin_id: int) -> dict[str, Any]:
    from app import create_app
    from app.extensions import db
    from app.oversight.dossier import console as dossier_console

    dossier_console.utcnow = lambda: NOW  # the district's clock
    app = create_app(settings())
    statements: list[tuple[str, Any]] = []
    capture = {"on": False}

    @event.listens_for(db.engine, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if capture["on"]:
            statements.append((statement, parameters))

    client = app.test_client()
    with client.session_transaction() as session:
        session["user_id"] = admin_id
    results = {}
    for eid in MEASURED:
        url = f"/console/enterprises/{eid}/dossier"
        for _ in range(2):
            response = client.get(url)
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        times.sort()
        results[eid] = {
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            "max_ms": round(times[-1], 1),
            "bytes": len(response.data),
        }
    capture["on"] = True
    client.get(f"/console/enterprises/{MEASURED[2]}/dossier")
    capture["on"] = False
    plans = explain(app, statements)
    return {"pages": results, "statements": len(statements), "plans": plans}


def _scans(plan: str) -> list[str]:
    return sorted({
        line.strip().removeprefix("->").strip().split("  (")[0]
        for line in plan.splitlines()
        if "Scan" in line and " on " in line
    })


def _large_seq_scans(scans: list[str]) -> list[str]:
    return [s for s in scans if s.startswith("Seq Scan on") and s.split(" on ")[1].split()[0] in LARGE_TABLES]


def explain(app, statements) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE) of every statement of one page view: its time, the scans the
    planner chose, the sequential scans of large tables among them — and, planned again with
    sequential scans disabled, any that remain: those have no index to use at all (the
    planner may rightly prefer a sequential scan of a table that is still small here)."""
    from app.extensions import db

    out = []
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters))
            conn.exec_driver_sql("SET enable_seqscan = off")
            forced = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            conn.exec_driver_sql("RESET enable_seqscan")
            scans = _scans(plan)
            took = next((line for line in plan.splitlines() if line.startswith("Execution Time")), "")
            out.append({
                "sql": " ".join(statement.split())[:160],
                "execution_ms": float(took.split(":")[1].split()[0]) if took else None,
                "scans": scans,
                "seq_scans_of_large_tables": _large_seq_scans(scans),
                "no_index_path": _large_seq_scans(_scans(forced)),
            })
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="rebuild the district first")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    built = None
    if args.build or not database_exists(DB_URL):
        built = build_district(DB_URL)
        print("built", built)
    admin = enrich(DB_URL)
    result = measure(args.repeat, admin["admin_id"])
    result["district"] = built
    engine = create_engine(DB_URL)
    with engine.connect() as conn:
        result["rows"] = {
            table: conn.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608 (our own names)
            for table in ("enterprises", "check_tasks", "hazards", "hazard_events", "memberships", "tip_receipts")
        }
    engine.dispose()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "oversight_dossier.json").write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    print("| enterprise | median | p95 | max | page size |")
    print("|---|---|---|---|---|")
    for eid, r in result["pages"].items():
        print(f"| {eid} | {r['median_ms']} ms | {r['p95_ms']} ms | {r['max_ms']} ms | {r['bytes'] // 1024} KiB |")
    slow = sorted(result["plans"], key=lambda p: -(p["execution_ms"] or 0))[:5]
    print(f"\n{result['statements']} statements per page view; slowest (EXPLAIN ANALYZE):")
    for p in slow:
        print(f"- {p['execution_ms']} ms  {p['scans']}  {p['sql'][:110]}")
    total = sum(p["execution_ms"] or 0 for p in result["plans"])
    print(f"SQL execution time of the page's statements together: {total:.1f} ms")
    seq = sorted({s for p in result["plans"] for s in p["seq_scans_of_large_tables"]})
    print("sequential scans the planner chose (tables small in this district):", seq or "none")
    missing = [(p["no_index_path"], p["sql"][:90]) for p in result["plans"] if p["no_index_path"]]
    print("statements with no index path on a large table:", missing or "none")
    print("rows:", result["rows"])
    worst = max(r["p95_ms"] for r in result["pages"].values())
    print(f"\nworst p95 {worst} ms — target < {TARGET_MS} ms: {'met' if worst < TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
