"""CLI of the sites' codes: `flask --app app qr posters <enterprise>` — A4 posters (PNG per
site and one PDF) with each site's WeChat QR and plain-URL QR."""

from __future__ import annotations

from pathlib import Path

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from app.enterprises.models import Enterprise, Site
from app.wechat.cli import api_failure, wechat_client


@click.group("qr", cls=AppGroup, help="排查点位二维码与海报。")
def qr_group() -> None:
    pass


@qr_group.command("posters")
@click.argument("enterprise")
@click.option(
    "--url-only",
    is_flag=True,
    help="不申请微信带参数二维码，只印网址二维码（公众号无此接口权限时使用）。",
)
def posters_command(enterprise: str, url_only: bool) -> None:
    """为企业的每个启用点位生成 A4 海报 PNG 和一份 A4 PDF。

    ENTERPRISE 为企业 ID、统一社会信用代码或完整企业名称。
    文件写入 MEDIA_ROOT/posters/<企业 ID>/。
    """
    from app.clock import utcnow
    from app.enterprises.posters import FontNotFound, find_cjk_font, write_enterprise_posters
    from app.enterprises.site_codes import plan_site_codes
    from app.extensions import db

    settings = current_app.config["SETTINGS"]
    try:
        # Before any WeChat call: no point spending permanent codes on posters we cannot draw.
        font = find_cjk_font()
    except FontNotFound as exc:
        raise click.ClickException(str(exc)) from None
    with db.new_session() as session:
        target = find_enterprise(session, enterprise)
        sites = list(
            session.scalars(
                select(Site).where(Site.enterprise_id == target.id, Site.active.is_(True)).order_by(Site.id)
            )
        )
        if not sites:
            raise click.ClickException(f"“{target.name}”还没有启用的排查点位，请先在控制台添加点位。")
        client = None if url_only else wechat_client()
        try:
            # Commit each new code at once: it has used up quota and must never be lost.
            plan = plan_site_codes(
                session,
                sites,
                base_url=settings.PUBLIC_BASE_URL,
                now=utcnow(),
                client=client,
                on_created=lambda _site: session.commit(),
            )
        except (WeChatClientException, requests.RequestException) as exc:
            session.rollback()
            raise api_failure(
                exc, "申请微信带参数二维码", "已申请到的二维码已保存；可稍后重试，或加 --url-only 只印网址二维码。"
            ) from None
        session.commit()
        out_dir = Path(settings.MEDIA_ROOT) / "posters" / str(target.id)
        pngs, pdf = write_enterprise_posters(target, plan.codes, out_dir, font=font)

    click.echo(f"企业：{target.name}（ID {target.id}），启用点位 {len(sites)} 个")
    if url_only:
        click.echo("已按 --url-only 只印网址二维码（扫码直接打开排查页面）。")
    else:
        click.echo(f"微信带参数二维码：新申请 {plan.created} 个，沿用已保存的 {plan.reused} 个。")
    if plan.notice:
        click.echo(f"注意：{plan.notice}")
    click.echo("海报（A4，每个点位一张）：")
    for site_codes, path in zip(plan.codes, pngs, strict=True):
        kind = "微信二维码 + 备用网址码" if site_codes.wechat_url else "网址二维码"
        click.echo(f"  {site_codes.site.name}（{kind}）：{path}")
    click.echo(f"打印用 PDF（A4，{len(pngs)} 页）：{pdf}")


def find_enterprise(session: Session, ref: str) -> Enterprise:
    """The enterprise named by `ref`: its id, its USCC, or its exact name. Raises
    click.ClickException if none or (by name) several match."""
    ref = ref.strip()
    if ref.isdigit():
        found = session.get(Enterprise, int(ref))
        if found is not None:
            return found
    found = session.scalar(select(Enterprise).where(Enterprise.uscc == ref.upper()))
    if found is not None:
        return found
    by_name = list(session.scalars(select(Enterprise).where(Enterprise.name == ref).order_by(Enterprise.id)))
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        choices = "；".join(f"ID {e.id}（{e.uscc}）" for e in by_name)
        raise click.ClickException(f"有 {len(by_name)} 家企业名为“{ref}”，请改用企业 ID 或统一社会信用代码：{choices}")
    raise click.ClickException(f"找不到企业“{ref}”：请使用企业 ID、统一社会信用代码或完整的企业名称。")
