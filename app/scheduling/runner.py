"""The scheduler process: an APScheduler 3 BackgroundScheduler built from the job data,
running only while this process holds the leader lease.

    standby ──SET NX wins──▶ active: scheduler started, lease renewed every heartbeat
       ▲                        │
       └── lease lost / Redis unreachable past the deadline / stop ◀┘  (scheduler shut down)

`flask --app app scheduler run` runs `SchedulerRunner.run()` in the foreground (one process
per host; any number of standbys); `start_background_scheduler(app)` runs the same loop in a
daemon thread for the embedded single-process `make run`. A standby takes over within the
lease ttl (10 s) after the active process dies, and at once after a clean stop (the lease is
released). Every job also checks the lease's local deadline before it starts, so a process
that was paused (GC, SIGSTOP, a frozen VM) and lost the lease meanwhile does not run it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from app.clock import LOCAL_TZ
from app.scheduling.jobs import JOBS, Cron, Interval, JobSpec, ResolvedJob, resolve_jobs, run_job
from app.scheduling.lease import DEFAULT_KEY, LeaderLease

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseTimings:
    """Seconds. The heartbeat renews well inside the ttl (three tries before it runs out);
    a standby polls often so it takes over soon after the lease frees."""

    ttl: float = 10.0
    heartbeat: float = 3.0
    poll: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat < self.ttl / 2:
            raise ValueError("the heartbeat must be shorter than half the lease ttl")
        if self.poll <= 0:
            raise ValueError("the standby poll interval must be positive")


def make_trigger(trigger: Interval | Cron) -> BaseTrigger:
    """The APScheduler trigger of a job's trigger data, in Asia/Shanghai."""
    if isinstance(trigger, Interval):
        return IntervalTrigger(seconds=trigger.seconds, timezone=LOCAL_TZ)
    return CronTrigger(
        minute=trigger.minute,
        hour=trigger.hour,
        day=trigger.day,
        month=trigger.month,
        day_of_week=trigger.day_of_week,
        timezone=LOCAL_TZ,
    )


def missed_at_start(trigger: BaseTrigger, grace: timedelta, now: datetime) -> bool:
    """Did `trigger` fire within the last `grace` before `now`? APScheduler keeps no history
    across restarts (memory job store), so a cron job due while no scheduler was active
    would otherwise wait a whole period; the job is idempotent, so running it once more
    after a hand-over is harmless."""
    fire = trigger.get_next_fire_time(None, now - grace)
    return fire is not None and fire <= now


def build_scheduler(jobs: Iterable[ResolvedJob], execute, now: datetime | None = None) -> BackgroundScheduler:
    """A BackgroundScheduler (not started) with one APScheduler job per job spec, each
    calling `execute(job)`: coalesced, at most one instance, the spec's misfire grace; run at
    once when the spec says so or a cron fire time was missed within the grace."""
    scheduler = BackgroundScheduler(timezone=LOCAL_TZ, job_defaults={"coalesce": True, "max_instances": 1})
    start = now or datetime.now(LOCAL_TZ)
    for job in jobs:
        spec = job.spec
        trigger = make_trigger(spec.trigger)
        at_start = spec.run_at_start or (
            isinstance(spec.trigger, Cron) and missed_at_start(trigger, spec.misfire_grace, start)
        )
        extra = {"next_run_time": start} if at_start else {}
        scheduler.add_job(
            execute,
            trigger=trigger,
            args=[job],
            id=spec.id,
            name=spec.description,
            misfire_grace_time=max(1, int(spec.misfire_grace.total_seconds())),
            coalesce=spec.coalesce,
            max_instances=spec.max_instances,
            replace_existing=True,
            **extra,
        )
    return scheduler


# The active scheduler's last heartbeat (Unix seconds), read by /metrics. Kept a day, so a
# scheduler that died long ago still shows how long ago.
HEARTBEAT_KEY = "ancha:scheduler:heartbeat"
HEARTBEAT_KEEP_SECONDS = 86_400


class SchedulerRunner:
    """Standby until it holds the lease, then the active scheduler until it loses it or is
    stopped. Raises JobConfigError at construction when a job cannot be resolved."""

    def __init__(
        self,
        app: Flask | None,
        jobs: Iterable[JobSpec] = JOBS,
        *,
        client: redis.Redis | None = None,
        timings: LeaseTimings = LeaseTimings(),
        key: str = DEFAULT_KEY,
    ) -> None:
        self.jobs = resolve_jobs(jobs)
        self.app = app
        if client is None:
            from app.extensions import redis_client

            client = redis_client()
        self.timings = timings
        self.lease = LeaderLease(client, key=key, ttl=timings.ttl)
        self._stop = threading.Event()
        self._active = threading.Event()
        self._thread: threading.Thread | None = None
        self.activations = 0  # how often this runner became active (logs, tests)

    @property
    def name(self) -> str:
        return self.lease.token

    @property
    def active(self) -> bool:
        """Leading now: the scheduler runs and the lease's local deadline has not passed (a
        heartbeat thread delayed past it has lost the lease even before it notices)."""
        return self._active.is_set() and self.lease.held()

    def wait_active(self, timeout: float) -> bool:
        return self._active.wait(timeout)

    # --- lifecycle ---------------------------------------------------------------------------

    def run(self) -> None:
        """Block until `stop()`: stand by, lead while holding the lease, stand by again."""
        log.info("scheduler %s started (standby until it holds the lease)", self.name)
        told_standby = redis_down = False
        while not self._stop.is_set():
            try:
                acquired = self.lease.try_acquire()
            except redis.RedisError as exc:
                if not redis_down:  # once per outage, not once per poll
                    log.warning("scheduler %s: Redis unavailable (%s); retrying", self.name, exc)
                redis_down, acquired = True, False
            else:
                redis_down = False
            if acquired:
                told_standby = False
                self._lead()
                continue
            if not told_standby:
                log.info("scheduler %s is standby: another process holds the lease", self.name)
                told_standby = True
            self._stop.wait(self.timings.poll)
        log.info("scheduler %s stopped", self.name)

    def start(self) -> threading.Thread:
        """Run `run()` in a daemon thread; returns it."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._thread = threading.Thread(target=self.run, name="ancha-scheduler", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop cleanly: running jobs finish, the lease is released (a standby takes over at
        once), and the background thread (if any) is joined."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def request_stop(self) -> None:
        """Ask `run()` to return (signal handlers: no joining there)."""
        self._stop.set()

    # --- while active --------------------------------------------------------------------------

    def _lead(self) -> None:
        scheduler = build_scheduler(self.jobs, self._execute)
        scheduler.start()
        self.activations += 1
        self._active.set()
        log.info("scheduler %s is active: %s", self.name, ", ".join(j.spec.id for j in self.jobs))
        try:
            self._beat()
            while not self._stop.wait(self.timings.heartbeat):
                try:
                    if not self.lease.renew():
                        log.error("scheduler %s lost the lease to another process; stepping down", self.name)
                        return
                    self._beat()
                except redis.RedisError as exc:
                    log.warning("scheduler %s could not renew the lease: %s", self.name, exc)
                if self.lease.remaining() <= self.timings.heartbeat:
                    # The next renewal would come too late to be sure nobody else took over.
                    log.error("scheduler %s cannot renew the lease in time; stepping down", self.name)
                    return
        finally:
            self._active.clear()
            # A clean stop lets running jobs finish; losing the lease must not wait for them.
            scheduler.shutdown(wait=self._stop.is_set())
            self.lease.release()

    def _beat(self) -> None:
        """Record that the active scheduler is alive now (wall clock, for /metrics: the lease
        itself only tells that somebody held it within its ttl). Never raises: a missed beat
        shows as an older heartbeat, which is the truth."""
        try:
            self.lease.client.set(HEARTBEAT_KEY, f"{time.time():.3f}", ex=HEARTBEAT_KEEP_SECONDS)
        except redis.RedisError as exc:
            log.warning("scheduler %s could not record its heartbeat: %s", self.name, exc)

    def _execute(self, job: ResolvedJob) -> None:
        if not self.lease.held():
            log.warning("job %s skipped: scheduler %s no longer holds the lease", job.spec.id, self.name)
            return
        with self.app.app_context() if self.app is not None else nullcontext():
            run_job(job)


def start_background_scheduler(
    app: Flask,
    jobs: Iterable[JobSpec] = JOBS,
    *,
    timings: LeaseTimings = LeaseTimings(),
    key: str = DEFAULT_KEY,
) -> SchedulerRunner:
    """Run the scheduler inside this process (the embedded `make run`): the same lease and
    jobs as `scheduler run`, in a daemon thread, stopped cleanly at interpreter exit. Returns
    the runner (call `stop()` to end it earlier). Raises JobConfigError when a job cannot be
    resolved."""
    runner = SchedulerRunner(app, jobs, timings=timings, key=key)
    runner.start()
    atexit.register(runner.stop, 10.0)
    return runner
