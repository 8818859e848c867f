"""The WeChat API client against the sandbox's fake WeChat API over real HTTP.

The test app is served on a loopback port by a background thread; every client here is a
separate `WeChatAPIClient` (as separate processes would be) sharing the test Redis.
"""

from __future__ import annotations

import io
import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine
from werkzeug.serving import make_server

from app.sandbox.store import SandboxStore
from app.wechat.client import (
    DEFAULT_TIMEOUT,
    NotFollowing,
    QuotaExceeded,
    SharedCredential,
    SystemBusy,
    TokenError,
    WeChatAPIClient,
    WeChatHTTPError,
    WeChatTimeout,
    get_wechat_client,
)

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture
def live(app, redis):
    """Base URL of the fake WeChat API served over HTTP on 127.0.0.1."""
    before = set(threading.enumerate())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sandbox/wx"
    finally:
        server.shutdown()
        server.server_close()
        # Let requests still running (a delayed fault after a client timeout) finish before
        # the next test flushes Redis under them.
        for leftover in set(threading.enumerate()) - before:
            leftover.join(5)


@pytest.fixture
def store(redis) -> SandboxStore:
    sandbox = SandboxStore(redis, user_source=lambda openid: [])
    sandbox.ensure_seeded()
    return sandbox


@pytest.fixture
def follower(store) -> str:
    return store.create_user(nickname="王班长")["openid"]


@pytest.fixture
def sent(monkeypatch):
    """Every HTTP request any requests session sends: (method, url, body)."""
    log: list[tuple[str, str, bytes | None]] = []
    original = requests.adapters.HTTPAdapter.send

    def recording_send(self, request, *args, **kwargs):
        body = request.body.encode() if isinstance(request.body, str) else request.body
        log.append((request.method, request.url, body))
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", recording_send)
    return log


def make_client(app, redis, base_url, **kwargs) -> WeChatAPIClient:
    settings = app.config["SETTINGS"]
    return WeChatAPIClient(
        settings.wechat_app_id, settings.wechat_app_secret, base_url=base_url, redis=redis, **kwargs
    )


def paths(log, suffix: str = "") -> list[str]:
    return [urlsplit(url).path for _, url, _ in log if urlsplit(url).path.endswith(suffix)]


def add_fault(base_url: str, **spec) -> dict:
    control = base_url.replace("/sandbox/wx", "/sandbox/api")
    response = requests.post(f"{control}/faults", json=spec, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()["fault"]


# --- every URL under the base URL ---------------------------------------------------------------


def test_every_request_goes_under_the_base_url(app, redis, live, follower, store, sent):
    client = make_client(app, redis, live)
    client.qrcode.create({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "site:abc"}}})
    ticket = client.qrcode.create(
        {"expire_seconds": 600, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "bind:x"}}}
    )
    image = client.qrcode.show(ticket)
    assert image.headers["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG")
    client.menu.create({"button": [{"type": "click", "name": "排查", "key": "CHECK"}]})
    client.menu.get()
    client.menu.delete()
    client.message.send_template(follower, "T" * 43, {"thing1": {"value": "炉前"}})
    client.message.send_text(follower, "你好")
    tag = client.tag.create("班组长")
    client.tag.tag_user(tag["id"], [follower])
    client.tag.get()
    client.tag.get_user_tag(follower)
    client.tag.get_tag_users(tag["id"])
    client.message.send_mass_text(tag["id"], "今日安全提示")
    client.user.get(follower)
    media = client.media.upload("image", io.BytesIO(PNG))
    assert client.media.download(media["media_id"]).content == PNG
    client.jsapi.get_jsapi_ticket()
    code = store.issue_oauth_code(follower, "snsapi_base")
    assert client.oauth_exchange_code(code)["openid"] == follower
    # wechatpy builds this one as an absolute https://api.weixin.qq.com URL; the fake has no
    # such endpoint (404), but the request still went to the base URL.
    with pytest.raises(WeChatHTTPError):
        client.customservice.get_accounts()

    assert len(sent) >= 20
    assert all(url.startswith(f"{live}/") for _, url, _ in sent), [u for _, u, _ in sent]
    assert f"{live}/cgi-bin/stable_token" in [url for _, url, _ in sent]
    assert client.media.get_url("m").startswith(f"{live}/cgi-bin/media/get?")
    assert client.qrcode.get_url(ticket).startswith(f"{live}/cgi-bin/showqrcode?ticket=")


# --- token errors -----------------------------------------------------------------------------


def test_a_fake_that_always_answers_40001_gets_one_refresh_and_one_retry(app, redis, live, follower, sent):
    client = make_client(app, redis, live)
    assert client.access_token  # warm up: the token every process shares
    add_fault(live, path="cgi-bin/user/info", errcode=40001, count=None)
    sent.clear()

    with pytest.raises(TokenError) as caught:
        client.user.get(follower)

    assert caught.value.errcode == 40001
    assert paths(sent) == ["/sandbox/wx/cgi-bin/user/info", "/sandbox/wx/cgi-bin/stable_token", "/sandbox/wx/cgi-bin/user/info"]
    token_request = next(body for _, url, body in sent if url.endswith("stable_token"))
    assert json.loads(token_request)["force_refresh"] is False

    # The platform handed the same token back and it failed again: the next call forces a
    # new one (still one refresh and one retry per call).
    sent.clear()
    with pytest.raises(TokenError):
        client.user.get(follower)
    assert paths(sent, "stable_token") == ["/sandbox/wx/cgi-bin/stable_token"]
    assert len(paths(sent, "user/info")) == 2
    assert json.loads(next(b for _, u, b in sent if u.endswith("stable_token")))["force_refresh"] is True


def test_a_token_refreshed_by_another_process_is_not_thrown_away(app, redis, live, follower, sent):
    client_a = make_client(app, redis, live)
    token_1 = client_a.access_token
    # A's next call is held 500 ms by the fake and then refused with 40001 …
    add_fault(live, path="cgi-bin/user/info", errcode=40001, delay_ms=500, count=1)
    outcome: dict = {}
    call = threading.Thread(target=lambda: outcome.setdefault("info", client_a.user.get(follower)))
    call.start()
    time.sleep(0.15)

    # … meanwhile process B force-refreshes (token_1 dies) and stores token_2.
    settings = app.config["SETTINGS"]

    def force_fetch(_failed):
        answer = requests.post(
            f"{live}/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": settings.wechat_app_id,
                "secret": settings.wechat_app_secret,
                "force_refresh": True,
            },
            timeout=5,
        ).json()
        return answer["access_token"], answer["expires_in"]

    token_2 = SharedCredential(redis, client_a.access_tokens.key, force_fetch).refresh()
    assert token_2 != token_1
    sent.clear()
    call.join(5)

    # A did not throw token_2 away or fetch a third token: it retried with token_2.
    assert outcome["info"]["openid"] == follower
    assert paths(sent, "stable_token") == []
    retried_with = parse_qs(urlsplit(sent[-1][1]).query)["access_token"][0]
    assert retried_with == token_2
    assert client_a.access_tokens.peek() == token_2


def test_two_processes_refreshing_at_once_fetch_one_token(app, redis, live, follower, store, sent):
    store.set_config(latency_ms=300)  # a slow token endpoint widens the race
    clients = [make_client(app, redis, live), make_client(app, redis, live)]
    barrier = threading.Barrier(4)
    results: list[str] = []

    def worker(client):
        barrier.wait()
        results.append(client.user.get(follower)["openid"])

    threads = [threading.Thread(target=worker, args=(clients[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert results == [follower] * 4
    assert paths(sent, "stable_token") == ["/sandbox/wx/cgi-bin/stable_token"]
    assert clients[0].access_tokens.peek() == clients[1].access_tokens.peek()


def test_token_expiry_is_honoured_and_renewed_early(app, redis, live, follower, sent):
    client = make_client(app, redis, live)
    old = client.access_token
    with time_machine.travel(time.time() + 7201):
        direct = requests.get(f"{live}/cgi-bin/user/info", params={"access_token": old, "openid": follower}, timeout=5)
        assert direct.json()["errcode"] == 42001
        sent.clear()
        assert client.user.get(follower)["openid"] == follower
    # Renewed before the call (its stored expiry had passed), not after a refusal.
    assert paths(sent) == ["/sandbox/wx/cgi-bin/stable_token", "/sandbox/wx/cgi-bin/user/info"]
    assert client.access_tokens.peek() != old


def test_jsapi_ticket_is_fetched_once_for_all_processes(app, redis, live, sent):
    first, second = make_client(app, redis, live), make_client(app, redis, live)
    ticket = first.jsapi.get_jsapi_ticket()
    assert second.jsapi.get_jsapi_ticket() == ticket
    config = second.jssdk_config("http://ancha.test/h5/check?x=1#top")
    assert len(paths(sent, "ticket/getticket")) == 1
    assert config["appId"] == app.config["SETTINGS"].wechat_app_id


# --- injected faults ----------------------------------------------------------------------------


def test_fault_errcodes_become_typed_errors_for_count_calls(app, redis, live, follower):
    client = make_client(app, redis, live)
    add_fault(live, path="cgi-bin/message/template/send", errcode=-1, count=2)
    for _ in range(2):
        with pytest.raises(SystemBusy) as caught:
            client.message.send_template(follower, "T" * 43, {"thing1": {"value": "x"}})
        assert caught.value.retryable
    assert client.message.send_template(follower, "T" * 43, {"thing1": {"value": "x"}})["errcode"] == 0

    add_fault(live, path="/sandbox/wx/cgi-bin/message/template/send", errcode=45009)
    with pytest.raises(QuotaExceeded):
        client.message.send_template(follower, "T" * 43, {"thing1": {"value": "x"}})


def test_fault_http_status(app, redis, live, follower):
    client = make_client(app, redis, live)
    add_fault(live, path="cgi-bin/user/info", status=502)
    with pytest.raises(WeChatHTTPError) as caught:
        client.user.get(follower)
    assert caught.value.status == 502 and caught.value.category == "transport"
    assert client.user.get(follower)["subscribe"] == 1


def test_fault_delay_beyond_the_timeout_is_a_timeout(app, redis, live, follower):
    client = make_client(app, redis, live, timeout=(1, 0.3))
    assert client.access_token  # warm up
    add_fault(live, path="*", delay_ms=1000)
    started = time.monotonic()
    with pytest.raises(WeChatTimeout):
        client.user.get(follower)
    assert time.monotonic() - started < 0.9


def test_real_errcodes_reach_the_caller(app, redis, live, store):
    client = make_client(app, redis, live)
    unfollowed = store.create_user(subscribed=False)["openid"]
    with pytest.raises(NotFollowing) as caught:
        client.message.send_template(unfollowed, "T" * 43, {"thing1": {"value": "x"}})
    assert caught.value.errcode == 43004 and caught.value.category == "recipient"


def test_an_upload_retried_after_a_token_error_sends_the_whole_file_again(app, redis, live, sent):
    client = make_client(app, redis, live)
    assert client.access_token  # warm up
    add_fault(live, path="cgi-bin/media/upload", errcode=40001, count=1)
    media = client.media.upload("image", io.BytesIO(PNG))
    assert len(paths(sent, "media/upload")) == 2
    assert client.media.download(media["media_id"]).content == PNG


# --- the app's own client in the sandbox ----------------------------------------------------------


def test_the_apps_client_reaches_its_own_fake_api_in_process(app, redis, store, follower, sent):
    client = get_wechat_client(app)
    # PUBLIC_BASE_URL (http://ancha.test) does not resolve: the sandbox transport answers.
    assert client.base_url == "http://ancha.test/sandbox/wx"
    assert client.user.get(follower)["openid"] == follower
    assert sent == []  # nothing went over the network
    store.add_fault(path="cgi-bin/user/info", delay_ms=800)
    client.timeout = (0.2, 0.2)
    try:
        with pytest.raises(WeChatTimeout):
            client.user.get(follower)
    finally:
        client.timeout = DEFAULT_TIMEOUT
        # The abandoned call still runs in its thread; let it end before Redis is flushed.
        for worker in threading.enumerate():
            if worker.name == "sandbox-wsgi":
                worker.join(5)
