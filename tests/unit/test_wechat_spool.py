"""The callback's durable spool and the delayed answer's payload."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import pytest

from app.wechat.parsing import parse_inbound
from app.wechat_inbound.notices import DEFAULT_LINK, action_label, payload_for
from app.wechat_inbound.spool import Spool, tells_user

AT = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)


def _xml(msg_type: str, **fields: str) -> str:
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return f"<xml><ToUserName>gh</ToUserName><FromUserName>oA</FromUserName><CreateTime>1</CreateTime><MsgType>{msg_type}</MsgType>{inner}</xml>"


def test_a_spooled_delivery_is_kept_privately_and_read_back_oldest_first(tmp_path):
    spool = Spool(tmp_path / "spool")
    later = spool.put(received_at=AT + timedelta(seconds=1), timestamp="2", nonce="b", raw=b"<xml>2</xml>", text="二")
    first = spool.put(received_at=AT, timestamp="1", nonce="a", raw=b"<xml>1</xml>", text="一")
    assert spool.pending() == [first, later]
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    item = spool.load(first)
    assert (item.received_at, item.timestamp, item.nonce, item.raw, item.text) == (AT, "1", "a", b"<xml>1</xml>", "一")
    assert not list((tmp_path / "spool").glob(".*.tmp"))
    spool.done(first)
    assert spool.pending() == [later]


def test_a_rejected_delivery_is_moved_aside_with_its_reason(tmp_path):
    spool = Spool(tmp_path)
    path = spool.put(received_at=AT, timestamp="1", nonce="a", raw=b"x", text="x")
    moved = spool.reject(path, "refused: replayed nonce")
    assert spool.pending() == [] and moved.exists()
    assert (tmp_path / "rejected" / f"{path.name}.reason").read_text().strip() == "refused: replayed nonce"


def test_a_file_that_is_not_a_spooled_delivery_is_refused(tmp_path):
    bad = tmp_path / "20261205T000000000000-bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        Spool(tmp_path).load(bad)


def test_an_unwritable_spool_raises_instead_of_pretending(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        Spool(tmp_path / "file" / "spool").put(received_at=AT, timestamp="1", nonce="a", raw=b"x", text="x")


@pytest.mark.parametrize(
    ("xml", "told"),
    [
        (_xml("text", Content="任务", MsgId="1"), True),
        (_xml("event", Event="subscribe"), True),
        (_xml("event", Event="SCAN", EventKey="site:x"), True),
        (_xml("event", Event="LOCATION", Latitude="34.8", Longitude="113.6", Precision="10"), False),
        (_xml("event", Event="unsubscribe"), False),
    ],
)
def test_only_deliveries_the_user_waits_on_get_the_busy_text(xml, told):
    assert tells_user(parse_inbound(xml)) is told


def test_the_delayed_answer_keeps_the_reply_s_first_link_as_a_path():
    reply = '您已扫描点位「炉前」。\n<a href="http://ancha.test/h5/scan/abc">点此开始排查</a>'
    payload = payload_for("event", "scan", reply, AT.isoformat(), "http://ancha.test")
    assert payload == {"action": "扫码", "result": "您已扫描点位「炉前」。\n点此开始排查", "link": "/h5/scan/abc",
                       "received_at": AT.isoformat()}
    assert payload_for("text", None, "好的", AT.isoformat(), "http://ancha.test")["link"] is None
    assert DEFAULT_LINK.startswith("/h5/")
    assert action_label("event", "location") == "操作" and action_label("image", None) == "发送图片"
