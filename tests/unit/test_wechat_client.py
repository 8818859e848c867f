"""The WeChat API client without the app: signatures, errors, URL rules, the shared
credential (lock, compare-before-expire) on fakeredis, and request shapes through a
scripted transport."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

import fakeredis
import pytest
import requests
from requests.adapters import BaseAdapter
from wechatpy.client.api import WeChatJSAPI
from wechatpy.exceptions import WeChatClientException

from app.wechat.client import (
    DEFAULT_TIMEOUT,
    FORCE_REFRESH_DAILY_BUDGET,
    CredentialError,
    DuplicateRequest,
    InvalidOAuthCode,
    InvalidOpenid,
    InvalidRequest,
    NotFollowing,
    QuotaExceeded,
    RateLimited,
    ServiceWindowClosed,
    SharedCredential,
    SystemBusy,
    TokenError,
    UserRefused,
    WeChatAPIClient,
    WeChatAPIError,
    error_for,
    jsapi_signature,
    may_force_refresh,
    strip_fragment,
)

BASE = "http://mock.local/wx"

# 附录1 of the JS-SDK documentation (docs/WECHAT.md §2.10), verified against its sha1.
OFFICIAL_TICKET = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
OFFICIAL_NONCE = "Wm3WZYTPz0wzccnW"
OFFICIAL_TIMESTAMP = 1414587457
OFFICIAL_URL = "http://mp.weixin.qq.com?params=value"
OFFICIAL_SIGNATURE = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


@pytest.fixture
def fake_redis():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- JS-SDK signature ---------------------------------------------------------------------


def test_jsapi_signature_matches_the_official_example():
    assert jsapi_signature(OFFICIAL_TICKET, OFFICIAL_NONCE, OFFICIAL_TIMESTAMP, OFFICIAL_URL) == OFFICIAL_SIGNATURE


def test_jsapi_signature_agrees_with_wechatpy():
    ours = jsapi_signature("ticket-1", "abc", 1700000000, "https://a.example/h5/x?y=1&z=%E4%B8%AD")
    theirs = WeChatJSAPI().get_jsapi_signature("abc", "ticket-1", 1700000000, "https://a.example/h5/x?y=1&z=%E4%B8%AD")
    assert ours == theirs


def test_signature_covers_the_url_without_its_fragment():
    assert strip_fragment("https://a.example/h5/x?y=1#/route?z=2") == "https://a.example/h5/x?y=1"
    assert strip_fragment("https://a.example/h5/x") == "https://a.example/h5/x"


# --- Typed errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "cls", "category", "retryable"),
    [
        (-1, SystemBusy, "busy", True),
        (40001, TokenError, "token", True),
        (40014, TokenError, "token", True),
        (42001, TokenError, "token", True),
        (40013, CredentialError, "credentials", False),
        (40125, CredentialError, "credentials", False),
        (40164, CredentialError, "credentials", False),
        (40003, InvalidOpenid, "recipient", False),
        (43004, NotFollowing, "recipient", False),
        (43101, UserRefused, "recipient", False),
        (45009, QuotaExceeded, "quota", True),
        (45011, RateLimited, "rate_limit", True),
        (45015, ServiceWindowClosed, "service_window", False),
        (45047, ServiceWindowClosed, "service_window", False),
        (45065, DuplicateRequest, "duplicate", False),
        (40029, InvalidOAuthCode, "oauth_code", False),
        (40037, InvalidRequest, "request", False),
        (40007, InvalidRequest, "request", False),
        (47003, InvalidRequest, "request", False),
        (99999, WeChatAPIError, "api", False),
    ],
)
def test_errcodes_map_to_typed_errors(errcode, cls, category, retryable):
    error = error_for(errcode, "msg", path="/cgi-bin/x")
    assert type(error) is cls
    assert (error.errcode, error.errmsg, error.category, error.retryable) == (errcode, "msg", category, retryable)
    # Still wechatpy's exception, so code written against wechatpy keeps catching it.
    assert isinstance(error, WeChatClientException)
    assert "/cgi-bin/x" in str(error) and str(errcode) in str(error)


# --- Shared credential ------------------------------------------------------------------------


class CountingFetch:
    def __init__(self, delay: float = 0.0, expires_in: int = 7200):
        self.calls: list[str | None] = []
        self.delay = delay
        self.expires_in = expires_in
        self._lock = threading.Lock()

    def __call__(self, failed):
        with self._lock:
            self.calls.append(failed)
            n = len(self.calls)
        time.sleep(self.delay)
        return f"token-{n}", self.expires_in


def test_value_is_fetched_once_and_then_read_from_redis(fake_redis):
    fetch = CountingFetch()
    first = SharedCredential(fake_redis, "t:tok", fetch)
    other_process = SharedCredential(fake_redis, "t:tok", fetch)
    assert first.get() == "token-1"
    assert other_process.get() == "token-1"
    assert fetch.calls == [None]
    assert 0 < fake_redis.ttl("t:tok") <= 7200


def test_concurrent_refreshers_fetch_once(fake_redis):
    fetch = CountingFetch(delay=0.3)
    credentials = [SharedCredential(fake_redis, "t:tok", fetch) for _ in range(6)]
    barrier = threading.Barrier(len(credentials))
    results: list[str] = []

    def worker(credential):
        barrier.wait()
        results.append(credential.get())

    threads = [threading.Thread(target=worker, args=(c,)) for c in credentials]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert fetch.calls == [None]
    assert results == ["token-1"] * len(credentials)


def test_refresh_after_refusal_keeps_a_value_another_process_stored(fake_redis):
    fetch = CountingFetch()
    credential = SharedCredential(fake_redis, "t:tok", fetch)
    assert credential.get() == "token-1"
    # Another process already replaced the refused token with a good one.
    SharedCredential(fake_redis, "t:tok", lambda failed: ("token-from-elsewhere", 7200)).refresh()
    assert credential.invalidate("token-1") is False
    assert credential.refresh(failed="token-1") == "token-from-elsewhere"
    assert fetch.calls == [None]
    assert credential.peek() == "token-from-elsewhere"


def test_refresh_after_refusal_replaces_the_refused_value(fake_redis):
    fetch = CountingFetch()
    credential = SharedCredential(fake_redis, "t:tok", fetch)
    credential.get()
    assert credential.refresh(failed="token-1") == "token-2"
    assert fetch.calls == [None, "token-1"]


def test_invalidate_only_deletes_the_named_value(fake_redis):
    credential = SharedCredential(fake_redis, "t:tok", CountingFetch())
    credential.get()
    assert credential.invalidate("something-else") is False
    assert credential.peek() == "token-1"
    assert credential.invalidate("token-1") is True
    assert credential.peek() is None


def test_renewed_before_expiry_by_whichever_process_reads_it(fake_redis):
    clock = Clock()
    fetch = CountingFetch()
    credential = SharedCredential(fake_redis, "t:tok", fetch, clock=clock)
    credential.get()
    clock.now += 7200 - 301  # 301 s left: still fresh
    assert SharedCredential(fake_redis, "t:tok", fetch, clock=clock).get() == "token-1"
    clock.now += 2  # 299 s left: inside the margin
    assert SharedCredential(fake_redis, "t:tok", fetch, clock=clock).get() == "token-2"
    assert fetch.calls == [None, None]


def test_short_lived_values_are_renewed_at_half_life_not_on_every_call(fake_redis):
    clock = Clock()
    fetch = CountingFetch(expires_in=100)  # shorter than the 300 s margin
    credential = SharedCredential(fake_redis, "t:tok", fetch, clock=clock)
    credential.get()
    clock.now += 49
    credential.get()
    assert len(fetch.calls) == 1
    clock.now += 2
    credential.get()
    assert len(fetch.calls) == 2


def test_waiter_keeps_using_a_still_valid_value_while_another_process_renews(fake_redis):
    clock = Clock()
    fetch = CountingFetch()
    credential = SharedCredential(fake_redis, "t:tok", fetch, clock=clock, wait_timeout=5)
    credential.get()
    clock.now += 7200 - 100
    fake_redis.set("t:tok:lock", "someone-else", px=20_000)
    started = time.monotonic()
    assert credential.get() == "token-1"
    assert time.monotonic() - started < 1
    assert fetch.calls == [None]


def test_waiting_for_a_stuck_refresher_ends_with_a_token_error(fake_redis):
    fetch = CountingFetch()
    credential = SharedCredential(fake_redis, "t:tok", fetch, wait_timeout=0.2)
    fake_redis.set("t:tok:lock", "someone-else", px=20_000)
    with pytest.raises(TokenError):
        credential.get()
    assert fetch.calls == []


def test_the_lock_is_released_when_the_fetch_fails(fake_redis):
    def failing(_failed):
        raise CredentialError(40125, "invalid appsecret")

    credential = SharedCredential(fake_redis, "t:tok", failing)
    with pytest.raises(CredentialError):
        credential.get()
    assert fake_redis.get("t:tok:lock") is None


# --- force_refresh escalation -----------------------------------------------------------------


def test_force_refresh_only_when_the_same_token_is_refused_twice_and_within_budget(fake_redis):
    now = 1_800_000_000.0
    assert may_force_refresh(fake_redis, "p", "tok-a", now) is False  # first refusal: normal refresh
    assert may_force_refresh(fake_redis, "p", "tok-a", now) is True  # same token again: force
    assert may_force_refresh(fake_redis, "p", "tok-a", now) is False  # 30 s spacing
    fake_redis.delete("p:access_token:force_guard")
    assert may_force_refresh(fake_redis, "p", "tok-b", now) is False  # a different token: normal


def test_force_refresh_budget_per_day(fake_redis):
    now = 1_800_000_000.0
    may_force_refresh(fake_redis, "p", "tok", now)
    granted = 0
    for _ in range(FORCE_REFRESH_DAILY_BUDGET + 5):
        fake_redis.delete("p:access_token:force_guard")
        granted += may_force_refresh(fake_redis, "p", "tok", now)
    assert granted == FORCE_REFRESH_DAILY_BUDGET


# --- URLs -------------------------------------------------------------------------------------


def _client(fake_redis, base=BASE, **kw) -> WeChatAPIClient:
    return WeChatAPIClient("wxappid", "secret", base_url=base, redis=fake_redis, **kw)


def test_every_url_is_resolved_under_the_base_url(fake_redis):
    client = _client(fake_redis)
    assert client._resolve_url("user/info", None) == f"{BASE}/cgi-bin/user/info"
    # wechatpy's absolute URLs and per-API bases are re-rooted.
    assert client._resolve_url("https://api.weixin.qq.com/cgi-bin/token", None) == f"{BASE}/cgi-bin/token"
    assert (
        client._resolve_url("https://api.weixin.qq.com/customservice/kfaccount/add", None)
        == f"{BASE}/customservice/kfaccount/add"
    )
    assert client._resolve_url("getusersummary", "https://api.weixin.qq.com/datacube/") == f"{BASE}/datacube/getusersummary"
    assert client.showqrcode_url == f"{BASE}/cgi-bin/showqrcode"
    assert client.qrcode.get_url("gQ+a/b=") == f"{BASE}/cgi-bin/showqrcode?ticket=gQ%2Ba%2Fb%3D"
    with pytest.raises(ValueError):
        client._resolve_url("https://evil.example/cgi-bin/token", None)


def test_production_base_url_keeps_the_official_hosts(fake_redis):
    client = _client(fake_redis, base="https://api.weixin.qq.com")
    assert client._resolve_url("user/info", None) == "https://api.weixin.qq.com/cgi-bin/user/info"
    assert client.showqrcode_url == "https://mp.weixin.qq.com/cgi-bin/showqrcode"


# --- Request shapes through a scripted transport ----------------------------------------------


class ScriptedTransport(BaseAdapter):
    """Answers by path with scripted JSON (the last answer repeats); records every request."""

    def __init__(self, script: dict[str, list[dict]]):
        super().__init__()
        self.script = script
        self.sent: list[tuple[requests.PreparedRequest, dict]] = []

    def send(self, request, **kwargs):
        self.sent.append((request, kwargs))
        answers = self.script[urlsplit(request.url).path]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(answer).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass

    def paths(self) -> list[str]:
        return [urlsplit(r.url).path for r, _ in self.sent]


def _scripted_client(fake_redis, script) -> tuple[WeChatAPIClient, ScriptedTransport]:
    client = _client(fake_redis)
    transport = ScriptedTransport(script)
    client._http.mount(f"{BASE}/", transport)
    return client, transport


def test_persistent_token_error_means_one_refresh_one_retry_then_a_typed_error(fake_redis):
    client, transport = _scripted_client(
        fake_redis,
        {
            "/wx/cgi-bin/stable_token": [
                {"access_token": "tok-1", "expires_in": 7200},
                {"access_token": "tok-2", "expires_in": 7200},
            ],
            "/wx/cgi-bin/user/info": [{"errcode": 40001, "errmsg": "invalid credential"}],
        },
    )
    with pytest.raises(TokenError) as caught:
        client.user.get("openid-1")
    assert caught.value.errcode == 40001
    assert transport.paths() == [
        "/wx/cgi-bin/stable_token",
        "/wx/cgi-bin/user/info",
        "/wx/cgi-bin/stable_token",
        "/wx/cgi-bin/user/info",
    ]
    tokens = [parse_qs(urlsplit(r.url).query)["access_token"][0] for r, _ in transport.sent if "user/info" in r.url]
    assert tokens == ["tok-1", "tok-2"]


def test_every_request_carries_a_timeout_and_json_content_type(fake_redis):
    client, transport = _scripted_client(
        fake_redis,
        {
            "/wx/cgi-bin/stable_token": [{"access_token": "tok-1", "expires_in": 7200}],
            "/wx/cgi-bin/message/template/send": [{"errcode": 0, "errmsg": "ok", "msgid": 1}],
        },
    )
    client.message.send_template("openid-1", "T" * 43, {"thing1": {"value": "值"}})
    assert [kwargs["timeout"] for _, kwargs in transport.sent] == [DEFAULT_TIMEOUT, DEFAULT_TIMEOUT]
    request = transport.sent[-1][0]
    assert request.headers["Content-Type"].startswith("application/json")
    assert json.loads(request.body)["data"] == {"thing1": {"value": "值"}}


def test_stable_token_request_shape(fake_redis):
    client, transport = _scripted_client(
        fake_redis, {"/wx/cgi-bin/stable_token": [{"access_token": "tok-1", "expires_in": 7200}]}
    )
    assert client.access_token == "tok-1"
    request = transport.sent[0][0]
    assert request.method == "POST"
    assert json.loads(request.body) == {
        "grant_type": "client_credential",
        "appid": "wxappid",
        "secret": "secret",
        "force_refresh": False,
    }


def test_mass_send_by_tag_filters_on_tag_id(fake_redis):
    client, transport = _scripted_client(
        fake_redis,
        {
            "/wx/cgi-bin/stable_token": [{"access_token": "tok-1", "expires_in": 7200}],
            "/wx/cgi-bin/message/mass/sendall": [{"errcode": 0, "errmsg": "send job submission success", "msg_id": 1}],
        },
    )
    client.message.send_mass_text(105, "今日安全提示", client_msg_id="tip-1")
    body = json.loads(transport.sent[-1][0].body)
    assert body["filter"] == {"is_to_all": False, "tag_id": 105}
    assert body["clientmsgid"] == "tip-1"
    assert body["text"] == {"content": "今日安全提示"}
