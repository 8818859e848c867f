"""The scheduler: the Redis leader lease (one active, standby takeover on release, expiry and
crash), jobs declared as data and resolved at start, coalesced misfires, jobs that give the
same result when run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from app.clock import LOCAL_TZ
from app.notifications.models import OutboxMessage
from app.scheduling.jobs import (
    JOBS,
    Cron,
    Interval,
    JobConfigError,
    resolve_jobs,
    run_job,
)
from app.scheduling.lease import LeaderLease
from app.scheduling.runner import (
    LeaseTimings,
    SchedulerRunner,
    build_scheduler,
    make_trigger,
    missed_at_start,
    start_background_scheduler,
)
from app.tips import service as tips
from app.tips.models import TipBroadcast
from tests.fixtures import scheduler_probe
from tests.fixtures.scheduler_probe import probe_job

ROOT = Path(__file__).resolve().parents[2]
FAST = LeaseTimings(ttl=1.5, heartbeat=0.3, poll=0.05)


@pytest.fixture
def key() -> str:
    return f"test:scheduler:{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def _clear_probe():
    scheduler_probe.RUNS.clear()
    yield
    scheduler_probe.RUNS.clear()


def wait_for(condition, timeout: float, step: float = 0.02) -> float | None:
    """Seconds until `condition()` held, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(step)
    return None


class Watch:
    """Samples two runners every few milliseconds and remembers whether both were ever active."""

    def __init__(self, *runners: SchedulerRunner):
        self.runners = runners
        self.overlap = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if sum(r.active for r in self.runners) > 1:
                self.overlap = True
            time.sleep(0.005)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# --- the lease -------------------------------------------------------------------------------------


def test_lease_is_exclusive_renewable_and_released_only_by_its_holder(redis, key):
    first, second = LeaderLease(redis, key=key, ttl=5), LeaderLease(redis, key=key, ttl=5)
    assert first.try_acquire() and first.held()
    assert not second.try_acquire() and not second.held()
    assert first.renew() and 4 < first.remaining() <= 5
    assert not second.renew()
    second.release()  # not theirs: nothing happens
    assert redis.get(key).decode() == first.token
    first.release()
    assert redis.get(key) is None and not first.held()
    assert second.try_acquire()
    assert not first.renew()  # lost for good: the other holds it


def test_an_expired_lease_goes_to_the_next_process(redis, key):
    first, second = LeaderLease(redis, key=key, ttl=0.3), LeaderLease(redis, key=key, ttl=0.3)
    assert first.try_acquire()
    assert wait_for(second.try_acquire, timeout=3) is not None
    assert not first.held() and not first.renew()


def test_held_follows_the_local_deadline_without_asking_redis(redis, key):
    now = [100.0]
    lease = LeaderLease(redis, key=key, ttl=10, clock=lambda: now[0])
    assert lease.try_acquire()
    now[0] += 9.9
    assert lease.held() and lease.remaining() == pytest.approx(0.1)
    now[0] += 0.2
    assert not lease.held() and lease.remaining() == 0


def test_timings_must_leave_room_to_renew():
    with pytest.raises(ValueError):
        LeaseTimings(ttl=2, heartbeat=1.5)
    with pytest.raises(ValueError):
        LeaseTimings(ttl=2, heartbeat=0.2, poll=0)


# --- two runners ----------------------------------------------------------------------------------


def test_only_one_of_two_runners_is_active_and_a_clean_stop_hands_over_at_once(app, redis, key):
    a = SchedulerRunner(app, [probe_job()], client=redis, timings=FAST, key=key)
    b = SchedulerRunner(app, [probe_job()], client=redis, timings=FAST, key=key)
    with Watch(a, b) as watch:
        a.start()
        assert a.wait_active(5)
        b.start()
        time.sleep(FAST.ttl * 2)  # several heartbeats: a keeps it, b stays standby
        assert a.active and not b.active and b.activations == 0
        assert redis.get(key).decode() == a.name
        assert scheduler_probe.RUNS, "the active scheduler runs its jobs"
        a.stop()
        took_over = wait_for(lambda: b.active, timeout=5)
        b.stop()
    assert took_over is not None and took_over < 1.0  # released: no need to wait for expiry
    assert not watch.overlap
    assert redis.get(key) is None


class _Unreachable:
    """A Redis client whose every call fails, as during a network partition."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise redis_lib.ConnectionError("network is unreachable")

        return fail


def test_a_runner_cut_off_from_redis_steps_down_before_the_standby_takes_over(app, redis, key):
    a = SchedulerRunner(app, [probe_job()], client=redis, timings=FAST, key=key)
    b = SchedulerRunner(app, [probe_job()], client=redis, timings=FAST, key=key)
    with Watch(a, b) as watch:
        a.start()
        assert a.wait_active(5)
        b.start()
        time.sleep(0.5)
        a.lease.client = _Unreachable()  # a can neither renew nor release: the key must expire
        cut_at = time.monotonic()
        stepped_down = wait_for(lambda: not a.active, timeout=5)
        took_over = wait_for(lambda: b.active, timeout=5)
        total = time.monotonic() - cut_at
        runs_before = len(scheduler_probe.RUNS)
        a.stop()
        b.stop()
    assert stepped_down is not None and stepped_down <= FAST.ttl + 1.0
    assert took_over is not None
    # The key expired ttl after a's last renewal: b waited for it, and not much longer.
    assert FAST.ttl - FAST.heartbeat - 0.2 <= total <= FAST.ttl + 2.0
    assert not watch.overlap
    assert runs_before >= 2  # a ran the job at start, then b at its start


def test_a_job_is_skipped_when_the_lease_is_no_longer_held(app, redis, key):
    runner = SchedulerRunner(app, [probe_job()], client=redis, timings=FAST, key=key)
    runner._execute(runner.jobs[0])  # never acquired
    assert scheduler_probe.RUNS == []
    assert runner.lease.try_acquire()
    runner._execute(runner.jobs[0])
    assert len(scheduler_probe.RUNS) == 1


@pytest.mark.slow
def test_killing_the_active_process_lets_the_standby_take_over_within_the_lease(redis_url, key, tmp_path):
    """Two scheduler processes against real Redis; SIGKILL the active one."""
    if redis_url is None:
        pytest.skip("needs a real Redis server shared by two processes")
    client = redis_lib.Redis.from_url(redis_url)
    ttl = 3.0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.fixtures.scheduler_probe", redis_url, key, str(ttl)]

    def holder() -> int | None:
        value = client.get(key)
        return int(value.decode().split(":")[1]) if value else None

    def runs() -> list[int]:
        return [int(entry.split()[0]) for entry in (e.decode() for e in client.lrange(f"{key}:runs", 0, -1))]

    log = tmp_path / "second.log"
    first = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    second = None
    try:
        assert wait_for(lambda: holder() == first.pid, timeout=30, step=0.05) is not None
        with open(log, "wb") as output:
            second = subprocess.Popen(command, cwd=ROOT, env=env, stderr=output)
        standing_by = wait_for(lambda: b"is standby" in log.read_bytes(), timeout=30, step=0.05)
        assert standing_by is not None, log.read_text()
        time.sleep(ttl)  # several of the first one's renewals: the second one stays standby
        assert second.poll() is None and holder() == first.pid
        assert set(runs()) == {first.pid}
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        took_over = wait_for(lambda: holder() == second.pid, timeout=ttl + 10, step=0.05)
        assert took_over is not None, "the standby never took over"
        assert ttl - ttl / 5 - 0.5 <= took_over <= ttl + 3, took_over
        assert wait_for(lambda: second.pid in runs(), timeout=5, step=0.05) is not None
        order = runs()
        assert set(order) == {first.pid, second.pid}
        # Never both: every run of the first precedes every run of the second.
        assert order == sorted(order, key=lambda pid: pid == second.pid)
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
        assert client.get(key) is None, "a clean stop releases the lease"
        assert time.monotonic() - killed_at < 30
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
        client.delete(key, f"{key}:runs")


# --- jobs as data ----------------------------------------------------------------------------------


def test_every_declared_job_resolves_and_ids_are_stable():
    resolved = resolve_jobs(JOBS)
    assert [j.spec.id for j in resolved] == [
        "checks.generate_tasks",
        "checks.sweep_overdue",
        "calendar.remind_unconfirmed",
        "notifications.daily_digests",
        "tips.propose_monthly",
        "tips.release_due",
        "oversight.refresh_stats",
        "oversight.refresh_stats_year",
        "tips.send_mass",
        "wechat.replay_spool",
        "tips.sync_tags",
    ]
    by_id = {j.spec.id: j for j in resolved}
    assert by_id["tips.release_due"].items is tips.due_broadcast_ids
    assert by_id["tips.release_due"].service is tips.release_broadcast
    assert all(j.spec.coalesce and j.spec.max_instances == 1 for j in resolved)
    assert by_id["checks.generate_tasks"].spec.run_at_start
    assert by_id["oversight.refresh_stats"].spec.run_at_start  # the dashboard reads its rollups


@pytest.mark.parametrize(
    "path, message",
    [
        ("app.notifications.nonexistent:build", "cannot import app.notifications.nonexistent"),
        ("app.notifications.service:build_weekly_digests", "has no function build_weekly_digests"),
        ("app.notifications.service", "is not 'package.module:function'"),
    ],
)
def test_a_job_that_cannot_be_resolved_stops_the_scheduler_at_start(app, redis, key, path, message):
    with pytest.raises(JobConfigError, match=message):
        SchedulerRunner(app, [*JOBS, probe_job(path, id="broken")], client=redis, key=key)


def test_duplicate_job_ids_are_refused():
    with pytest.raises(JobConfigError, match="duplicate job id probe.record"):
        resolve_jobs([probe_job(), probe_job()])


def test_the_scheduler_is_built_from_the_data(app):
    start = datetime(2027, 6, 1, 9, 0, tzinfo=LOCAL_TZ)  # an hour after the monthly proposals
    scheduler = build_scheduler(resolve_jobs(JOBS), lambda job: None, now=start)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {spec.id for spec in JOBS}
    for spec in JOBS:
        job = jobs[spec.id]
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == int(spec.misfire_grace.total_seconds())
        assert str(job.trigger.timezone) == "Asia/Shanghai"
    assert jobs["tips.release_due"].trigger.interval == timedelta(minutes=1)
    # Run at start: task generation and escalations always; the digests and the monthly
    # proposals because 08:00 (on the 1st) passed within their grace.
    assert jobs["checks.generate_tasks"].next_run_time == start
    assert jobs["checks.sweep_overdue"].next_run_time == start
    assert jobs["tips.propose_monthly"].next_run_time == start
    assert jobs["notifications.daily_digests"].next_run_time == start
    # Not started yet: the others get their first fire time from the trigger at start.
    assert getattr(jobs["tips.release_due"], "next_run_time", None) is None


def test_a_scheduler_started_at_night_builds_no_digest_and_sends_no_reminder_before_morning(app):
    night = datetime(2027, 6, 2, 1, 0, tzinfo=LOCAL_TZ)
    scheduler = build_scheduler(resolve_jobs(JOBS), lambda job: None, now=night)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert jobs["checks.generate_tasks"].next_run_time == night
    for job_id in ("notifications.daily_digests", "calendar.remind_unconfirmed"):
        first_run = getattr(jobs[job_id], "next_run_time", None)
        assert first_run is None or first_run > night


def test_missed_cron_runs_are_caught_up_only_within_the_grace():
    monthly = make_trigger(Cron(minute="0", hour="8", day="1"))
    first = datetime(2027, 6, 1, 8, 0, tzinfo=LOCAL_TZ)
    assert missed_at_start(monthly, timedelta(days=7), first + timedelta(hours=2))
    assert missed_at_start(monthly, timedelta(days=7), first)
    assert not missed_at_start(monthly, timedelta(days=7), first + timedelta(days=8))
    assert not missed_at_start(monthly, timedelta(days=7), first - timedelta(minutes=1) + timedelta(days=30))
    daily = make_trigger(Cron(minute="0", hour="8"))
    assert missed_at_start(daily, timedelta(hours=4), datetime(2027, 6, 5, 11, 59, tzinfo=LOCAL_TZ))
    assert not missed_at_start(daily, timedelta(hours=4), datetime(2027, 6, 5, 12, 1, tzinfo=LOCAL_TZ))
    assert not missed_at_start(daily, timedelta(hours=4), datetime(2027, 6, 5, 7, 59, tzinfo=LOCAL_TZ))


@pytest.mark.parametrize("coalesce, runs", [(True, 1), (False, 4)])
def test_missed_runs_are_coalesced_into_one(coalesce, runs):
    """A scheduler that could not run a job for four intervals (paused: a long GC, a busy
    host) runs a coalescing job once when it can again; without coalescing it would catch
    up every missed run still within the grace."""
    spec = probe_job(
        trigger=Interval(60), misfire_grace=timedelta(hours=1), run_at_start=False, coalesce=coalesce
    )
    calls: list[float] = []
    scheduler = build_scheduler(resolve_jobs([spec]), lambda job: calls.append(time.monotonic()))
    scheduler.start(paused=True)
    try:
        # Due 190 s ago: fire times at -190, -130, -70 and -10 s were missed.
        scheduler.modify_job(spec.id, next_run_time=datetime.now(LOCAL_TZ) - timedelta(seconds=190))
        scheduler.resume()
        assert wait_for(lambda: len(calls) >= runs, timeout=5) is not None
        time.sleep(0.3)  # any further catch-up run would happen now; the next fire is 50 s away
    finally:
        scheduler.shutdown(wait=True)
    assert len(calls) == runs


# --- running jobs ----------------------------------------------------------------------------------


def test_a_failing_item_is_logged_and_the_others_still_run(db_session, caplog):
    job = resolve_jobs(
        [
            probe_job(
                "tests.fixtures.scheduler_probe:fail_on_two",
                items="tests.fixtures.scheduler_probe:three_items",
            )
        ]
    )[0]
    outcome = run_job(job, datetime(2027, 6, 1, tzinfo=UTC))
    assert (outcome.succeeded, outcome.failed) == (2, 1)
    assert [item for item, _ in scheduler_probe.RUNS] == [1, 3]
    assert "item 2 failed" in caplog.text and "item 2 is broken" in caplog.text


def test_a_failing_plain_job_is_rolled_back_and_reported(db_session, caplog):
    job = resolve_jobs([probe_job("tests.fixtures.scheduler_probe:fail_on_two")])[0]
    outcome = run_job(job, datetime(2027, 6, 1, tzinfo=UTC))  # called without an item: TypeError
    assert (outcome.succeeded, outcome.failed) == (0, 1)
    assert "job probe.record failed" in caplog.text


def test_the_tip_jobs_give_the_same_result_when_run_twice(db_session, build):
    jobs = {j.spec.id: j for j in resolve_jobs(JOBS)}
    town = build.town()
    enterprise = build.enterprise(town=town, confined_space=True)
    for _ in range(3):
        build.member(enterprise, "worker")
    tips.load_tip_library(db_session)
    db_session.commit()
    june_first = datetime(2027, 6, 1, 8, 0, tzinfo=LOCAL_TZ).astimezone(UTC)

    first = run_job(jobs["tips.propose_monthly"], june_first)
    second = run_job(jobs["tips.propose_monthly"], june_first + timedelta(hours=3))
    assert len(first.result) == 13 and second.result == []
    assert db_session.scalar(select(func.count()).select_from(TipBroadcast)) == 13

    admin = build.actor(build.bureau_user("bureau_admin"))
    draft = db_session.scalar(select(TipBroadcast).order_by(TipBroadcast.id).limit(1))
    tips.schedule_broadcast(
        db_session, admin, june_first, draft.id, {"towns": [town.id], "send_at": june_first.isoformat(), "requires_ack": True}
    )
    db_session.commit()
    released = run_job(jobs["tips.release_due"], june_first + timedelta(minutes=1))
    again = run_job(jobs["tips.release_due"], june_first + timedelta(minutes=2))
    assert (released.succeeded, released.failed) == (1, 0)
    assert (again.succeeded, again.failed) == (0, 0)  # nothing due any more
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_task_generation_and_the_sweep_with_escalations_give_the_same_result_when_run_twice(
    db_session, build
):
    from app.hazard_reporting.checklists import service as checklists
    from app.hazard_reporting.checks.models import CheckTask
    from app.hazard_reporting.schedules import service as schedules

    jobs = {j.spec.id: j for j in resolve_jobs(JOBS)}
    checklists.load_standard_checklists(db_session, datetime(2027, 6, 1, tzinfo=UTC))
    enterprise = build.enterprise()
    department = build.department(enterprise)
    build.member(enterprise, "team_leader", team_id=build.team(department).id)
    schedules.ensure_default_schedules(db_session, datetime(2027, 6, 1, tzinfo=UTC), enterprise.id)
    db_session.commit()
    monday = datetime(2027, 6, 7, 9, 0, tzinfo=LOCAL_TZ).astimezone(UTC)
    first = run_job(jobs["checks.generate_tasks"], monday)
    tasks = db_session.scalar(select(func.count()).select_from(CheckTask))
    second = run_job(jobs["checks.generate_tasks"], monday)
    assert first.result.created == tasks > 0 and second.result.created == 0
    assert db_session.scalar(select(func.count()).select_from(CheckTask)) == tasks
    later = monday + timedelta(days=40)
    swept = run_job(jobs["checks.sweep_overdue"], later)
    notices = db_session.scalar(select(func.count()).select_from(OutboxMessage))
    again = run_job(jobs["checks.sweep_overdue"], later)
    assert swept.result.missed_tasks == tasks and notices == swept.result.total_notices
    assert again.result.missed_tasks == 0 and again.result.total_notices == 0
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == notices


def test_the_embedded_scheduler_runs_in_a_background_thread(app, redis, key):
    """`make run`: the same lease and runner in a daemon thread of the web process."""
    embedded = start_background_scheduler(app, [probe_job()], timings=FAST, key=key)
    try:
        assert embedded.wait_active(5)
        assert wait_for(lambda: len(scheduler_probe.RUNS) >= 1, timeout=5) is not None
        assert redis.get(key).decode() == embedded.name
    finally:
        embedded.stop()
    assert not embedded.active and redis.get(key) is None


def test_the_scheduler_commands(app, db_session):
    cli = app.test_cli_runner()
    listed = cli.invoke(args=["scheduler", "jobs"])
    assert listed.exit_code == 0
    for spec in JOBS:
        assert spec.id in listed.output
    assert "cron 0 8 1 * *" in listed.output and "every 600s and at start" in listed.output
    assert cli.invoke(args=["tips", "load"]).exit_code == 0
    ran = cli.invoke(args=["scheduler", "run-job", "tips.propose_monthly"])
    assert ran.exit_code == 0 and "tips.propose_monthly: 1 ok, 0 failed" in ran.output
    unknown = cli.invoke(args=["scheduler", "run-job", "tips.nothing"])
    assert unknown.exit_code != 0 and "unknown job tips.nothing" in unknown.output
