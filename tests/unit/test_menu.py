"""The account menu: WeChat's limits (3 × 5 buttons, 4 / 8 Chinese characters), the fields
each button type needs, and that nothing is pushed when validation fails."""

from __future__ import annotations

import copy
import re

import pytest

from app.wechat.menu import MenuError, MenuKey, default_menu, name_width, push_menu, validate_menu
from tests.fixtures.fake_wechat_api import FakeWeChatClient

BASE = "https://ancha.example.cn"


def _menu() -> dict:
    return copy.deepcopy(default_menu(BASE))


def _sub(name: str, key: str) -> dict:
    return {"type": "click", "name": name, "key": key}


def test_default_menu_is_valid_and_has_the_agreed_buttons():
    menu = default_menu(BASE)
    validate_menu(menu)
    assert [b["name"] for b in menu["button"]] == ["排查", "隐患", "我的"]
    subs = {s["name"]: s for b in menu["button"] for s in b["sub_button"]}
    assert subs["扫码排查"] == {"type": "scancode_waitmsg", "name": "扫码排查", "key": "SCAN_CHECK"}
    assert subs["随手拍"] == {"type": "pic_photo_or_album", "name": "随手拍", "key": "REPORT_HAZARD"}
    assert subs["安全提示"]["key"] == MenuKey.TIPS and subs["使用帮助"]["key"] == MenuKey.HELP
    assert subs["我的任务"]["url"] == f"{BASE}/h5/tasks"
    assert subs["我的隐患"]["url"] == f"{BASE}/h5/hazards"
    assert subs["个人信息"]["url"] == f"{BASE}/h5/me"


@pytest.mark.parametrize(
    ("name", "width"),
    [("排查", 4), ("扫码排查", 8), ("AI助手", 6), ("Help", 4), ("ＡＢ", 4), ("安全 A", 6)],
)
def test_name_width_counts_chinese_and_full_width_as_two(name, width):
    assert name_width(name) == width


@pytest.mark.parametrize("name", ["排查", "扫码排查", "AI助手", "ABCDEFGH"])
def test_top_level_names_up_to_four_chinese_characters_pass(name):
    menu = _menu()
    menu["button"][0]["name"] = name
    validate_menu(menu)


@pytest.mark.parametrize("name", ["隐患排查治", "ABCDEFGHI", "安全ABCDE"])
def test_top_level_name_over_four_chinese_characters_is_refused_by_name(name):
    menu = _menu()
    menu["button"][1]["name"] = name
    with pytest.raises(MenuError, match=f"「{name}」.*最多 4 个汉字"):
        validate_menu(menu)


def test_sub_button_name_up_to_eight_chinese_characters_passes_nine_is_refused():
    menu = _menu()
    menu["button"][0]["sub_button"][1]["name"] = "本人本周排查任务"  # 8
    validate_menu(menu)
    menu["button"][0]["sub_button"][1]["name"] = "本人本周的排查任务"  # 9
    with pytest.raises(MenuError, match="「本人本周的排查任务」（「排查」的第 2 个子菜单）.*最多 8 个汉字"):
        validate_menu(menu)


def test_three_top_level_buttons_pass_four_are_refused():
    menu = _menu()
    validate_menu(menu)
    menu["button"].append({"type": "click", "name": "更多", "key": "MORE"})
    with pytest.raises(MenuError, match="一级菜单有 4 个.*最多允许 3 个"):
        validate_menu(menu)


def test_five_sub_buttons_pass_six_are_refused_naming_the_parent():
    menu = _menu()
    subs = menu["button"][2]["sub_button"]
    subs += [_sub("联系我们", "CONTACT"), _sub("意见反馈", "FEEDBACK")]
    assert len(subs) == 5
    validate_menu(menu)
    subs.append(_sub("关于", "ABOUT"))
    with pytest.raises(MenuError, match="一级菜单「我的」有 6 个子菜单.*最多允许 5 个"):
        validate_menu(menu)


def test_empty_menu_and_empty_sub_button_are_refused():
    with pytest.raises(MenuError, match="菜单为空"):
        validate_menu({"button": []})
    menu = _menu()
    menu["button"][1]["sub_button"] = []
    with pytest.raises(MenuError, match="一级菜单「隐患」：sub_button 为空"):
        validate_menu(menu)


def test_top_level_button_without_sub_buttons_is_an_action_and_is_checked_as_one():
    menu = _menu()
    menu["button"][2] = {"type": "click", "name": "帮助", "key": "HELP_TOP"}
    validate_menu(menu)
    menu["button"][2] = {"type": "click", "name": "帮助"}
    with pytest.raises(MenuError, match="「帮助」：click 类型的按钮必须设置 key"):
        validate_menu(menu)


@pytest.mark.parametrize(
    ("button", "message"),
    [
        ({"type": "scancode_waitmsg", "name": "扫一扫"}, "「排查 › 扫一扫」：scancode_waitmsg 类型的按钮必须设置 key"),
        ({"type": "view", "name": "网页"}, "「排查 › 网页」：view 类型的按钮必须设置以 http:// 或 https:// 开头的 url"),
        ({"type": "view", "name": "网页", "url": "/h5/me"}, "「排查 › 网页」：view 类型"),
        ({"type": "hover", "name": "悬停", "key": "X"}, "「排查 › 悬停」：按钮类型 'hover' 无效"),
        ({"type": "media_id", "name": "图文"}, "「排查 › 图文」：media_id 类型的按钮必须设置 media_id"),
        (
            {"type": "miniprogram", "name": "小程序", "url": "https://a.cn", "appid": "wx1"},
            "「排查 › 小程序」：miniprogram 类型的按钮必须设置 pagepath",
        ),
        ({"type": "click", "name": "长键", "key": "K" * 129}, "「排查 › 长键」：key 超过 128 字节"),
        ({"name": "", "type": "click", "key": "E"}, "「排查」的第 3 个子菜单：缺少名称"),
    ],
)
def test_each_button_type_needs_its_fields(button, message):
    menu = _menu()
    menu["button"][0]["sub_button"].append(button)
    with pytest.raises(MenuError, match=re.escape(message)):
        validate_menu(menu)


def test_a_key_may_be_used_once_because_the_router_dispatches_on_it():
    menu = _menu()
    menu["button"][2]["sub_button"].append(_sub("今日提示", "TIPS"))
    with pytest.raises(MenuError, match="「我的 › 今日提示」：key TIPS 已被「我的 › 安全提示」使用"):
        validate_menu(menu)


def test_sub_buttons_cannot_nest():
    menu = _menu()
    menu["button"][0]["sub_button"][0]["sub_button"] = [_sub("三级", "THIRD")]
    with pytest.raises(MenuError, match="「排查 › 扫码排查」：微信菜单只有两级"):
        validate_menu(menu)


def test_push_sends_exactly_the_validated_menu():
    client = FakeWeChatClient()
    menu = _menu()
    push_menu(client, menu)
    assert client.menu.calls == [menu]


def test_push_does_not_call_wechat_when_the_menu_is_invalid():
    client = FakeWeChatClient()
    menu = _menu()
    menu["button"][0]["name"] = "隐患排查治理"
    with pytest.raises(MenuError):
        push_menu(client, menu)
    assert client.menu.calls == []


def test_the_help_text_names_only_places_the_menu_has():
    """Issue 12: the help promised 我的任务/我的隐患 under 我的, which the menu does not have."""
    from datetime import UTC, datetime

    from app.wechat_inbound.handlers import help_text
    from app.wechat_inbound.router import HandlerContext

    ctx = HandlerContext(open_session=lambda: None, redis=None, now=datetime.now(UTC), base_url=BASE, inbound=None)
    text = help_text(ctx)
    menu = default_menu(BASE)
    buttons = {(b["name"], s["name"]): s for b in menu["button"] for s in b["sub_button"]}
    places = re.findall(r"菜单“([^”›]+) › ([^”]+)”", text)
    assert len(places) >= 4 and set(places) <= set(buttons)
    for top, sub, url in re.findall(r"菜单“([^”›]+) › ([^”]+)”（<a href=\"([^\"]+)\">", text):
        assert buttons[(top, sub)]["url"] == url
    [mine] = re.findall(r"菜单“我的”下有(.+?)。", text)
    named = re.findall(r"“([^”]+)”", mine)
    assert named and {("我的", name) for name in named} <= set(buttons)
    assert {name for top, name in buttons if top == "我的"} == set(named)
