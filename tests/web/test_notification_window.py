"""The callback records each user's last interaction and customer-service window, which the
dispatcher reads to choose between a customer-service text and a template message."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode

from app.clock import utcnow
from app.notifications.channels import last_interaction_at, open_windows
from app.wechat.crypto import sign

OPENID = "oWINDOW00000000000000000000"


def post(client, settings, msg_type: str, **fields: str):
    timestamp, nonce = str(int(time.time())), f"n-{secrets.token_hex(6)}"  # fresh, as WeChat sends
    query = urlencode({"signature": sign(settings.wechat_token, timestamp, nonce), "timestamp": timestamp,
                       "nonce": nonce})
    base = {"ToUserName": "gh_ancha", "FromUserName": OPENID, "CreateTime": timestamp, "MsgType": msg_type}
    body = "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in {**base, **fields}.items()) + "</xml>"
    return client.post(f"/wechat/callback?{query}", data=body, content_type="text/xml")


def test_a_message_opens_the_window_for_48_hours(client, app, redis):
    settings = app.config["SETTINGS"]
    before = utcnow()
    assert post(client, settings, "text", Content="你好", MsgId="1234567890123456").status_code == 200
    assert before - timedelta(seconds=1) <= last_interaction_at(redis, OPENID) <= utcnow()
    assert open_windows(redis, [OPENID], utcnow() + timedelta(hours=47)) == {OPENID}
    assert open_windows(redis, [OPENID], utcnow() + timedelta(hours=48, seconds=5)) == set()


def test_a_view_event_is_an_interaction_that_opens_no_window(client, app, redis):
    settings = app.config["SETTINGS"]
    post(client, settings, "event", Event="VIEW", EventKey="http://ancha.test/h5/tasks")
    assert last_interaction_at(redis, OPENID) is not None
    assert open_windows(redis, [OPENID], utcnow()) == set()


def test_a_scan_opens_it_for_a_minute_without_shortening_a_longer_one(client, app, redis):
    settings = app.config["SETTINGS"]
    post(client, settings, "event", Event="SCAN", EventKey="site:unknown", Ticket="t")
    assert open_windows(redis, [OPENID], utcnow() + timedelta(seconds=30)) == {OPENID}
    assert open_windows(redis, [OPENID], utcnow() + timedelta(minutes=2)) == set()
    post(client, settings, "text", Content="任务", MsgId="1234567890123457")
    post(client, settings, "event", Event="SCAN", EventKey="site:other", Ticket="t2")
    assert open_windows(redis, [OPENID], utcnow() + timedelta(hours=47)) == {OPENID}
