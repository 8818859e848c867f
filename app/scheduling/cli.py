"""`flask --app app scheduler …`: run the scheduler, list its jobs, run one job now."""

from __future__ import annotations

import logging
import signal

import click
from flask import current_app

from app.scheduling.jobs import JOBS, Cron, JobConfigError, resolve_jobs, run_job


@click.group("scheduler", help="Scheduled jobs (one active scheduler per deployment).")
def scheduler_group() -> None:
    pass


@scheduler_group.command("run")
def run() -> None:
    """Run the scheduler in the foreground: standby until it holds the Redis lease, then
    the active scheduler. SIGTERM / Ctrl-C stop it cleanly and hand the lease over."""
    from app.scheduling.runner import SchedulerRunner

    # APScheduler logs every run and every job added at INFO; the jobs log their own outcome.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        runner = SchedulerRunner(current_app._get_current_object())
    except JobConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: runner.request_stop())
    runner.run()


@scheduler_group.command("jobs")
def list_jobs() -> None:
    """List the jobs: id, trigger (Asia/Shanghai), misfire grace, description."""
    try:
        resolve_jobs(JOBS)
    except JobConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for spec in JOBS:
        if isinstance(spec.trigger, Cron):
            t = spec.trigger
            when = f"cron {t.minute} {t.hour} {t.day} {t.month} {t.day_of_week}"
        else:
            when = f"every {spec.trigger.seconds}s"
        when += " and at start" if spec.run_at_start else ""
        click.echo(f"{spec.id:<28} {when:<28} grace {spec.misfire_grace!s:<16} {spec.description}")


@scheduler_group.command("run-job")
@click.argument("job_id")
def run_one(job_id: str) -> None:
    """Run one job now in this process, whatever the lease (every job is idempotent)."""
    try:
        jobs = {job.spec.id: job for job in resolve_jobs(JOBS)}
    except JobConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if job_id not in jobs:
        raise click.ClickException(f"unknown job {job_id}; see `flask --app app scheduler jobs`")
    outcome = run_job(jobs[job_id])
    click.echo(f"{job_id}: {outcome.succeeded} ok, {outcome.failed} failed in {outcome.seconds:.2f}s")
    if outcome.failed:
        raise SystemExit(1)
