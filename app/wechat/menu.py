"""The Official Account's custom menu (自定义菜单): the data, its validation, and the push.

The menu is kept in WeChat's own JSON shape (`{"button": [...]}`), so what is validated is
exactly what `cgi-bin/menu/create` receives. Limits (docs/WECHAT.md §2.3): at most 3
top-level buttons, each with at most 5 sub-buttons; a top-level name at most 4 Chinese
characters, a sub-button name at most 8. Names are measured in display width: a Chinese
(wide / full-width) character counts 2, any other character 1, so "4 Chinese characters"
means width 8 and mixed names such as "AI助手" are measured the way the phone truncates them.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Any, Protocol

MAX_TOP_BUTTONS = 3
MAX_SUB_BUTTONS = 5
# In display-width units (a Chinese character = 2): 4 and 8 Chinese characters.
MAX_TOP_NAME_WIDTH = 8
MAX_SUB_NAME_WIDTH = 16
# Field limits of the menu/create API itself (official menu documentation).
MAX_KEY_BYTES = 128
MAX_URL_BYTES = 1024


class MenuKey(StrEnum):
    """Event keys the menu sends; the callback router dispatches on these values."""

    SCAN_CHECK = "SCAN_CHECK"  # scancode_waitmsg: the scan result comes back to the server
    REPORT_HAZARD = "REPORT_HAZARD"  # pic_photo_or_album: the photo arrives as an image message
    MY_TASKS = "MY_TASKS"  # click variant of 我的任务 (the default menu opens the page instead)
    TIPS = "TIPS"
    HELP = "HELP"


# Button types of menu/create (docs/WECHAT.md §2.3) and the field each one requires.
_KEY_TYPES = frozenset(
    {
        "click",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    }
)
_MEDIA_TYPES = frozenset({"media_id", "view_limited"})
BUTTON_TYPES = _KEY_TYPES | _MEDIA_TYPES | {"view", "miniprogram"}


class MenuError(ValueError):
    """The menu breaks a WeChat rule; the message names the offending button (in Chinese)."""


class MenuClient(Protocol):
    """What pushing needs from a wechatpy `WeChatClient`: its `menu` sub-API."""

    @property
    def menu(self) -> Any: ...


def default_menu(base_url: str) -> dict[str, Any]:
    """The account menu, with H5 links under `base_url` (PUBLIC_BASE_URL, no trailing slash)."""
    return {
        "button": [
            {
                "name": "排查",
                "sub_button": [
                    {"type": "scancode_waitmsg", "name": "扫码排查", "key": MenuKey.SCAN_CHECK.value},
                    {"type": "view", "name": "我的任务", "url": f"{base_url}/h5/tasks"},
                ],
            },
            {
                "name": "隐患",
                "sub_button": [
                    {"type": "pic_photo_or_album", "name": "随手拍", "key": MenuKey.REPORT_HAZARD.value},
                    {"type": "view", "name": "我的隐患", "url": f"{base_url}/h5/hazards"},
                ],
            },
            {
                "name": "我的",
                "sub_button": [
                    {"type": "click", "name": "安全提示", "key": MenuKey.TIPS.value},
                    {"type": "view", "name": "个人信息", "url": f"{base_url}/h5/me"},
                    {"type": "click", "name": "使用帮助", "key": MenuKey.HELP.value},
                ],
            },
        ]
    }


def name_width(name: str) -> int:
    """Display width of a menu name: wide and full-width characters count 2, others 1."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in name)


def validate_menu(menu: dict[str, Any]) -> None:
    """Check `menu` against WeChat's menu rules. Raises MenuError naming the first bad button."""
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not buttons:
        raise MenuError("菜单为空：至少需要 1 个一级菜单。")
    if len(buttons) > MAX_TOP_BUTTONS:
        raise MenuError(f"一级菜单有 {len(buttons)} 个，微信最多允许 {MAX_TOP_BUTTONS} 个。")
    keys: dict[str, str] = {}
    for position, button in enumerate(buttons, start=1):
        label = _check_name(button, f"第 {position} 个一级菜单", MAX_TOP_NAME_WIDTH, "4 个汉字")
        subs = button.get("sub_button")
        if subs is None:
            _check_action(button, label, keys)
            continue
        if not isinstance(subs, list) or not subs:
            raise MenuError(f"一级菜单「{label}」：sub_button 为空，要么去掉它并设置按钮类型，要么至少放 1 个子菜单。")
        if len(subs) > MAX_SUB_BUTTONS:
            raise MenuError(f"一级菜单「{label}」有 {len(subs)} 个子菜单，微信最多允许 {MAX_SUB_BUTTONS} 个。")
        for sub_position, sub in enumerate(subs, start=1):
            sub_label = _check_name(
                sub, f"「{label}」的第 {sub_position} 个子菜单", MAX_SUB_NAME_WIDTH, "8 个汉字"
            )
            if "sub_button" in sub:
                raise MenuError(f"子菜单「{label} › {sub_label}」：微信菜单只有两级，子菜单不能再有子菜单。")
            _check_action(sub, f"{label} › {sub_label}", keys)


def push_menu(client: MenuClient, menu: dict[str, Any]) -> None:
    """Validate `menu` and create it on the account. Raises MenuError before any API call;
    wechatpy's WeChatClientException (errcode) if WeChat refuses it."""
    validate_menu(menu)
    client.menu.create(menu)


def _check_name(button: Any, where: str, max_width: int, limit_text: str) -> str:
    if not isinstance(button, dict):
        raise MenuError(f"{where}：不是一个按钮对象。")
    name = button.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MenuError(f"{where}：缺少名称。")
    if name_width(name) > max_width:
        raise MenuError(
            f"菜单「{name}」（{where}）名称过长：最多 {limit_text}（英文数字算半个），"
            f"当前相当于 {name_width(name) / 2:g} 个汉字。"
        )
    return name


def _check_action(button: dict[str, Any], label: str, keys: dict[str, str]) -> None:
    kind = button.get("type")
    if kind not in BUTTON_TYPES:
        raise MenuError(f"菜单「{label}」：按钮类型 {kind!r} 无效，可用类型：{'、'.join(sorted(BUTTON_TYPES))}。")
    if kind in _KEY_TYPES:
        key = button.get("key")
        if not isinstance(key, str) or not key:
            raise MenuError(f"菜单「{label}」：{kind} 类型的按钮必须设置 key。")
        if len(key.encode()) > MAX_KEY_BYTES:
            raise MenuError(f"菜单「{label}」：key 超过 {MAX_KEY_BYTES} 字节。")
        if key in keys:
            # The router dispatches on the key alone; two buttons with one key are ambiguous.
            raise MenuError(f"菜单「{label}」：key {key} 已被「{keys[key]}」使用，key 必须唯一。")
        keys[key] = label
    if kind in ("view", "miniprogram"):
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise MenuError(f"菜单「{label}」：{kind} 类型的按钮必须设置以 http:// 或 https:// 开头的 url。")
        if len(url.encode()) > MAX_URL_BYTES:
            raise MenuError(f"菜单「{label}」：url 超过 {MAX_URL_BYTES} 字节。")
    if kind == "miniprogram":
        for field in ("appid", "pagepath"):
            if not button.get(field):
                raise MenuError(f"菜单「{label}」：miniprogram 类型的按钮必须设置 {field}。")
    if kind in _MEDIA_TYPES and not button.get("media_id"):
        raise MenuError(f"菜单「{label}」：{kind} 类型的按钮必须设置 media_id。")
