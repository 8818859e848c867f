"""`flask --app app wechat replay-spool`: replay the callback deliveries spooled during a
store outage (run from a timer on every web host; the scheduler runs it too)."""

from __future__ import annotations

import click

from app.wechat_inbound.replay import replay_spool


@click.command("replay-spool")
def replay_spool_command() -> None:
    """重放数据库或 Redis 中断期间暂存的微信消息。"""
    report = replay_spool()
    click.echo(f"已处理 {report.replayed} 条，拒绝 {report.rejected} 条，仍在等待 {report.waiting} 条。")
    if report.waiting:
        raise SystemExit(1)
