"""`flask --app app notifications …`: run the outbox dispatcher, build the daily digests."""

from __future__ import annotations

import json
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup


@click.group("notifications", cls=AppGroup, help="The outbox: dispatcher and daily digests.")
def notifications_group() -> None:
    pass


@notifications_group.command("dispatch")
@click.option("--once", is_flag=True, help="Send everything due now, then exit.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Rows claimed at a time.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Sends in flight at once.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Seconds to wait when nothing is due.")
def dispatch(once: bool, batch_size: int | None, concurrency: int | None, interval: float) -> None:
    """Send the outbox through the WeChat API. Runs until SIGTERM/SIGINT (the batch in hand
    is finished and recorded first); several may run at once on PostgreSQL."""
    from app.notifications.dispatcher import Dispatcher

    overrides = {}
    if batch_size is not None:
        overrides["batch_size"] = batch_size
    if concurrency is not None:
        overrides["concurrency"] = concurrency
    dispatcher = Dispatcher.for_app(current_app._get_current_object(), **overrides)  # type: ignore[attr-defined]
    try:
        if once:
            stats = dispatcher.drain()
        else:
            stop = threading.Event()

            def request_stop(signum: int, _frame: object) -> None:
                click.echo(f"received signal {signum}; stopping after the current batch", err=True)
                stop.set()

            signal.signal(signal.SIGTERM, request_stop)
            signal.signal(signal.SIGINT, request_stop)
            stats = dispatcher.run(stop, idle_interval=interval)
    finally:
        dispatcher.close()
    click.echo(json.dumps(stats.as_dict()))
