"""The delayed answer to a spooled callback delivery (spool.py, replay.py): what the handler
would have replied, sent once the stores are back, as a customer-service message (the user
has just written to the account, so the 48 h window is open) and as a template otherwise.

Payload (replay.replay_one): action (what the user did, in Chinese), result (the reply text,
tags stripped), link (the reply's first link as a path, or None), received_at (ISO)."""

from __future__ import annotations

import re
from typing import Any

from app.notifications.kinds import CS_FIRST, Family, Field, Kind, Payload, constant, from_payload, time_of

DELAYED_REPLY = "callback_delayed_reply"
DEFAULT_LINK = "/h5/tasks"

_TAG = re.compile(r"<[^>]+>")
_HREF = re.compile(r"""<a\s[^>]*href=["']([^"']+)["']""", re.IGNORECASE)

_ACTIONS = {
    "subscribe": "关注公众号",
    "subscribe_scan": "扫码关注",
    "scan": "扫码",
    "scancode_push": "扫码",
    "scancode_waitmsg": "扫码",
    "click": "点击菜单",
}
_MESSAGES = {"text": "发送消息", "image": "发送图片", "voice": "发送语音", "video": "发送视频", "location": "发送位置"}


def action_label(msg_type: str, event: str | None) -> str:
    """What the user did, as they would say it."""
    if msg_type == "event":
        return _ACTIONS.get(event or "", "操作")
    return _MESSAGES.get(msg_type, "发送消息")


def payload_for(msg_type: str, event: str | None, reply: str, received_at: str, base_url: str) -> dict[str, Any]:
    """The notice's payload from the handler's reply text (WeChat text, may hold <a> links)."""
    found = _HREF.search(reply)
    link = None
    if found:
        href = found.group(1)
        base = base_url.rstrip("/")
        if href.startswith(base + "/"):
            link = href[len(base):]
        elif href.startswith("/"):
            link = href
    return {
        "action": action_label(msg_type, event),
        "result": _TAG.sub("", reply).strip(),
        "link": link,
        "received_at": received_at,
    }


def _link(payload: Payload) -> str:
    return payload.get("link") or DEFAULT_LINK


KINDS: tuple[Kind, ...] = (
    Kind(
        DELAYED_REPLY,
        "您的操作已处理",
        Family.SERVICE,
        (
            Field("thing1", "通知事项", constant("您的操作已处理")),
            Field("thing2", "您的操作", from_payload("action")),
            Field("thing3", "处理结果", from_payload("result")),
            Field("time4", "收到时间", time_of("received_at")),
        ),
        _link,
        foldable=False,
        channels=CS_FIRST,
    ),
)
