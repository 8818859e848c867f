"""Issue 12 item 7.6: /sandbox/api/messages lists passive replies however the message reached
/wechat/callback, and under `make run` (in-process Redis) the log survives a restart."""

from __future__ import annotations

from datetime import timedelta

import fakeredis

from app.clock import utcnow
from app.sandbox.store import SandboxStore
from app.wechat_inbound import callback as callback_module
from tests.web.test_wechat_callback import message, post, reply_content

OPENID = "oDIRECT00000000000000000000"


def messages(client, openid):
    response = client.get("/sandbox/api/messages", query_string={"openid": openid})
    assert response.status_code == 200
    return response.json["messages"]


def test_a_reply_to_a_message_posted_straight_to_the_callback_is_listed(client, settings):
    response = post(client, settings, message(OPENID, "text", Content="帮助"))
    content = reply_content(response)
    [logged] = messages(client, OPENID)
    assert logged["kind"] == "passive_reply"
    assert logged["body"]["MsgType"] == "text" and logged["body"]["Content"] == content
    assert "ToUserName" not in logged["body"]


def test_success_answers_are_not_listed_and_a_retry_is_listed_once(client, settings, monkeypatch):
    post(client, settings, message(OPENID, "event", Event="unsubscribe"))
    assert messages(client, OPENID) == []
    body = message(OPENID, "text", Content="帮助", MsgId="9876543210")
    first = post(client, settings, body)
    # WeChat retries after 5 s; the retry is answered from the cache, not shown again.
    later = utcnow() + timedelta(seconds=5)
    monkeypatch.setattr(callback_module, "utcnow", lambda: later)
    retry = post(client, settings, body)
    assert retry.get_data() == first.get_data()
    assert [m["kind"] for m in messages(client, OPENID)] == ["passive_reply"]


def test_under_make_run_the_callbacks_replies_are_kept_in_the_log_file(app, client, settings, tmp_path, monkeypatch):
    log_file = tmp_path / "sandbox-messages.sqlite3"
    monkeypatch.setitem(app.config, "SANDBOX_MESSAGE_LOG", str(log_file))
    content = reply_content(post(client, settings, message(OPENID, "text", Content="帮助")))
    # A restart: a new in-process Redis (empty), the same file.
    restarted = SandboxStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), message_log=log_file)
    [kept] = restarted.messages(OPENID)
    assert kept["kind"] == "passive_reply" and kept["body"]["Content"] == content
    assert messages(client, OPENID) == [kept]


def test_the_log_file_keeps_order_kinds_and_after(tmp_path):
    path = tmp_path / "log.sqlite3"
    store = SandboxStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), message_log=path, clock=lambda: 1000.0)
    first = store.record_message("oAAAAAAA", "passive_reply", {"MsgType": "text", "Content": "你好"})
    store.record_message("oBBBBBBB", "custom", {"msgtype": "text"})
    third = store.record_message("oAAAAAAA", "template", {"template_id": "t"})
    again = SandboxStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), message_log=path)
    assert [m["kind"] for m in again.messages("oAAAAAAA")] == ["passive_reply", "template"]
    assert again.messages("oAAAAAAA", after=first["seq"]) == [third]
    assert again.messages("oAAAAAAA")[0] == {**first, "at": 1000}
