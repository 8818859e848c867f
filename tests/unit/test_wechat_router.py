"""The handler registry, its error policy, and the meaning of scanned codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.errors import NotFound
from app.wechat.parsing import parse_inbound
from app.wechat_inbound.router import HandlerContext, Router
from app.wechat_inbound.scenes import Scene, SceneKind, parse_scene, scene_from_scan_result

TOKEN = "AbCdEfGh_-12345678"


def inbound(msg_type: str, **fields: str):
    base = {"ToUserName": "gh", "FromUserName": "o1", "CreateTime": "1764295200", "MsgType": msg_type, **fields}
    return parse_inbound("<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in base.items()) + "</xml>")


def ctx_for(message) -> HandlerContext:
    return HandlerContext(
        open_session=lambda: None, redis=None, now=datetime(2026, 11, 28, tzinfo=UTC), base_url="http://t", inbound=message
    )


@pytest.fixture
def router():
    r = Router()

    @r.event("click")
    def any_click(ctx, message):
        return "any click"

    @r.click("HELP")
    def help_click(ctx, message):
        return "help click"

    @r.command("帮助", "HELP")
    def help_command(ctx, message):
        return "help command"

    @r.message("text")
    def text(ctx, message):
        return "text"

    @r.event("scan")
    def refused(ctx, message):
        raise NotFound("二维码无效")

    @r.message("image")
    def broken(ctx, message):
        raise RuntimeError("bug")

    return r


def test_most_specific_handler_wins(router):
    assert router.dispatch(ctx_for(inbound("event", Event="CLICK", EventKey="HELP"))).reply == "help click"
    assert router.dispatch(ctx_for(inbound("event", Event="CLICK", EventKey="NEW_KEY"))).reply == "any click"
    assert router.dispatch(ctx_for(inbound("text", Content=" help ", MsgId="1"))).reply == "help command"
    assert router.dispatch(ctx_for(inbound("text", Content="帮助", MsgId="2"))).reply == "help command"
    assert router.dispatch(ctx_for(inbound("text", Content="你好", MsgId="3"))).reply == "text"


def test_unregistered_types_answer_success(router):
    outcome = router.dispatch(ctx_for(inbound("voice", MediaId="m", MsgId="4")))
    assert outcome.reply is None and not outcome.failed


def test_domain_error_becomes_the_reply_and_fails_the_unit_of_work(router):
    outcome = router.dispatch(ctx_for(inbound("event", Event="SCAN", EventKey="x")))
    assert outcome.reply == "二维码无效" and outcome.failed


def test_unexpected_error_is_swallowed_as_success(router, caplog):
    outcome = router.dispatch(ctx_for(inbound("image", MediaId="m", MsgId="5")))
    assert outcome.reply is None and outcome.failed
    assert "wechat handler failed" in caplog.text


def test_a_key_cannot_be_registered_twice(router):
    with pytest.raises(ValueError):
        router.click("HELP")(lambda ctx, message: None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"site:{TOKEN}", Scene(SceneKind.SITE, TOKEN)),
        (f"bind:{TOKEN}", Scene(SceneKind.BIND, TOKEN)),
        (f" site:{TOKEN} ", Scene(SceneKind.SITE, TOKEN)),
        ("site:", None),
        ("site:short", None),
        ("site:has space inside", None),
        ("other:abcdefghijkl", None),
        ("12345", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_scene(value, expected):
    assert parse_scene(value) == expected


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (f"https://ancha.example.cn/h5/scan/{TOKEN}", Scene(SceneKind.SITE, TOKEN)),
        (f"http://127.0.0.1:5000/h5/scan/{TOKEN}?from=poster", Scene(SceneKind.SITE, TOKEN)),
        (f"bind:{TOKEN}", Scene(SceneKind.BIND, TOKEN)),
        ("http://weixin.qq.com/q/02abcdefg", None),
        ("EAN_13,6901234567892", None),
        (f"https://x/h5/scan/{TOKEN}extra!", None),
    ],
)
def test_scene_from_scan_result(result, expected):
    assert scene_from_scan_result(result) == expected
