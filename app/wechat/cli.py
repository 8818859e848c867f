"""CLI of the WeChat gateway: `flask --app app wechat push-menu`."""

from __future__ import annotations

import json
from typing import Any

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from wechatpy.exceptions import WeChatClientException

from app.wechat.menu import MenuError, default_menu, push_menu, validate_menu


def wechat_client() -> Any:
    """The configured API client (the sandbox's fake API while the sandbox is on); imported
    here so that commands which do not talk to WeChat never build it."""
    from app.wechat.client import get_wechat_client

    return get_wechat_client()


def api_failure(exc: Exception, action: str, hint: str = "") -> click.ClickException:
    # The client reports transport failures as WeChatClientException without an errcode.
    if isinstance(exc, WeChatClientException) and exc.errcode is not None:
        why = f"微信返回错误码 {exc.errcode}：{exc.errmsg}"
    elif isinstance(exc, WeChatClientException):
        why = f"无法连接微信接口（{exc.errmsg}）"
    else:
        why = f"无法连接微信接口（{exc.__class__.__name__}: {exc}）"
    return click.ClickException(f"{action}失败：{why}。{hint}".rstrip())


# AppGroup: its commands run inside an app context, however they are invoked.
@click.group("wechat", cls=AppGroup, help="微信公众号：自定义菜单。")
def wechat_group() -> None:
    pass


@wechat_group.command("push-menu")
@click.option("--dry-run", is_flag=True, help="只校验并打印菜单 JSON，不推送到微信。")
def push_menu_command(dry_run: bool) -> None:
    """校验公众号菜单并推送到微信（菜单在客户端最多 5 分钟后刷新）。"""
    settings = current_app.config["SETTINGS"]
    menu = default_menu(settings.PUBLIC_BASE_URL)
    try:
        validate_menu(menu)
    except MenuError as exc:
        raise click.ClickException(f"菜单不符合微信规则：{exc}") from None
    if dry_run:
        click.echo(json.dumps(menu, ensure_ascii=False, indent=2))
        return
    try:
        push_menu(wechat_client(), menu)
    except (WeChatClientException, requests.RequestException) as exc:
        raise api_failure(exc, "推送菜单") from None
    target = "微信模拟器" if settings.sandbox else f"公众号 {settings.wechat_app_id}"
    names = "、".join(button["name"] for button in menu["button"])
    click.echo(f"菜单已推送到{target}：{names}。微信客户端最多 5 分钟后显示新菜单。")
