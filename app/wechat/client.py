"""The outbound WeChat API client.

`WeChatAPIClient` is wechatpy's `WeChatClient` (so `.qrcode`, `.menu`, `.message`, `.tag`,
`.user`, `.media`, `.jsapi`, `.template` … keep working) with the defects listed in
docs/WECHAT.md §3 fixed:

* every URL goes under the configured base URL, the token URL included (wechatpy hard-codes
  `https://api.weixin.qq.com/cgi-bin/token`, `showqrcode` and a few absolute URLs);
* the access token comes from `cgi-bin/stable_token` and is shared by every process through
  Redis with a refresh lock and its expiry stored next to it, so any process refreshes early
  and only one of them does (the jsapi_ticket the same way);
* on 40001/40014/42001 the client refreshes at most once and retries at most once per call,
  and only throws the stored token away if it is still the one that failed
  (compare-before-expire); wechatpy alone retries without bound;
* failures raise `WeChatAPIError` subclasses chosen by errcode, with a `category` and a
  `retryable` hint for the notifications dispatcher; every request has a timeout;
* mass sends filter by `tag_id` (wechatpy 1.8.18 still sends the obsolete `group_id`).

`get_wechat_client()` returns the client of the current app, built once from its settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

import redis as redis_lib
import requests
from wechatpy import WeChatClient
from wechatpy.client.api import WeChatJSAPI, WeChatMedia, WeChatMessage, WeChatQRCode
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

OFFICIAL_API_BASE_URL = "https://api.weixin.qq.com"
OFFICIAL_SHOWQRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode"
# Absolute URLs wechatpy builds itself; they are re-rooted under the configured base URL.
_OFFICIAL_API_ROOTS = ("https://api.weixin.qq.com/", "http://api.weixin.qq.com/")

# (connect, read) seconds. WeChat answers in well under a second; a hung call must not hold
# a web worker or a dispatcher slot for long.
DEFAULT_TIMEOUT = (3.05, 10.0)
# Refresh this long before expiry. stable_token hands out a new token once less than five
# minutes remain, so refreshing earlier would only get the same token back.
REFRESH_MARGIN_SECONDS = 300
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# stable_token with force_refresh=true: at most 20 per day and 30 s apart (docs/WECHAT.md
# §2.1). Keep well inside that so a misbehaving deployment cannot burn the day's allowance.
FORCE_REFRESH_SPACING_SECONDS = 30
FORCE_REFRESH_DAILY_BUDGET = 10
JS_API_LIST = ("scanQRCode", "chooseImage", "uploadImage", "getLocation")


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


class WeChatAPIError(WeChatClientException):
    """A failed WeChat API call.

    `errcode` is WeChat's code (None when no JSON answer arrived). `category` names the kind
    of failure and `retryable` says whether trying the same call later can succeed, so
    callers decide without knowing codes. Subclass of wechatpy's `WeChatClientException`.
    """

    category: ClassVar[str] = "api"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        errcode: int | None,
        errmsg: str | None,
        *,
        path: str = "",
        request: Any = None,
        response: Any = None,
    ):
        super().__init__(errcode, errmsg, client=None, request=request, response=response)
        self.path = path

    def __str__(self) -> str:
        where = f" on {self.path}" if self.path else ""
        return f"WeChat API error{where}: errcode={self.errcode} errmsg={self.errmsg}"


class TokenError(WeChatAPIError):
    """The access token was refused even after one refresh (40001, 40014, 42001, 41001)."""

    category = "token"
    retryable = True


class CredentialError(WeChatAPIError):
    """AppID/AppSecret wrong or frozen, or the server IP is not whitelisted: fix the settings."""

    category = "credentials"


class SystemBusy(WeChatAPIError):
    """WeChat answered -1 (system busy): retry with backoff."""

    category = "busy"
    retryable = True


class QuotaExceeded(WeChatAPIError):
    """45009: the daily quota of this API is used up; retry tomorrow (or after clear_quota)."""

    category = "quota"
    retryable = True


class RateLimited(WeChatAPIError):
    """45011: the per-minute limit was hit; retry after a short backoff."""

    category = "rate_limit"
    retryable = True


class RecipientError(WeChatAPIError):
    """The recipient cannot receive this message; retrying will not help."""

    category = "recipient"


class InvalidOpenid(RecipientError):
    """40003: the openid does not belong to this account."""


class NotFollowing(RecipientError):
    """43004: the user does not follow the account (unsubscribed)."""


class UserRefused(RecipientError):
    """43101 / 48002: the user refused this kind of message."""


class ServiceWindowClosed(WeChatAPIError):
    """45015 / 45047: outside the 48 h customer-service window or its quota; use a template."""

    category = "service_window"


class InvalidRequest(WeChatAPIError):
    """The request itself is wrong (template id, data, media id, menu, tag …): fix the payload."""

    category = "request"


class DuplicateRequest(WeChatAPIError):
    """45065: this clientmsgid was already used: the message went out before."""

    category = "duplicate"


class InvalidOAuthCode(WeChatAPIError):
    """40029 / 40163 / 42003: the OAuth code is unknown, used or expired."""

    category = "oauth_code"


class NotAuthorized(WeChatAPIError):
    """48001 / 48004: the account has no permission for this API (or it is banned)."""

    category = "permission"


class WeChatTransportError(WeChatAPIError):
    """No usable answer: connection failure, timeout or an HTTP error status."""

    category = "transport"
    retryable = True

    def __init__(self, message: str, *, path: str = "", request: Any = None, response: Any = None):
        super().__init__(None, message, path=path, request=request, response=response)


class WeChatTimeout(WeChatTransportError):
    """The request timed out (connect or read)."""


class WeChatHTTPError(WeChatTransportError):
    """WeChat (or a proxy in front of it) answered an HTTP error status."""

    def __init__(self, status: int, *, path: str = "", request: Any = None, response: Any = None):
        super().__init__(f"HTTP {status}", path=path, request=request, response=response)
        self.status = status


_ERRCODE_CLASSES: dict[int, type[WeChatAPIError]] = {
    -1: SystemBusy,
    40001: TokenError,
    40014: TokenError,
    42001: TokenError,
    41001: TokenError,
    40002: CredentialError,
    40013: CredentialError,
    40125: CredentialError,
    40164: CredentialError,
    40243: CredentialError,
    41002: CredentialError,
    41004: CredentialError,
    40003: InvalidOpenid,
    43004: NotFollowing,
    43101: UserRefused,
    48002: UserRefused,
    45009: QuotaExceeded,
    45011: RateLimited,
    45015: ServiceWindowClosed,
    45047: ServiceWindowClosed,
    45065: DuplicateRequest,
    40029: InvalidOAuthCode,
    40163: InvalidOAuthCode,
    42003: InvalidOAuthCode,
    48001: NotAuthorized,
    48004: NotAuthorized,
    **dict.fromkeys(
        (
            40004, 40005, 40006, 40007, 40008, 40015, 40016, 40017, 40018, 40019, 40020,
            40023, 40024, 40025, 40026, 40027, 40032, 40033, 40035, 40037, 40050, 40053,
            40054, 40055, 40130, 41005, 41006, 41009, 44002, 44004, 45002, 45056, 45057,
            45058, 45059, 45157, 45158, 45159, 46003, 46004, 47001, 47003,
        ),
        InvalidRequest,
    ),
}


def error_class_for(errcode: int) -> type[WeChatAPIError]:
    """The exception class for a WeChat errcode (WeChatAPIError for codes not listed)."""
    return _ERRCODE_CLASSES.get(errcode, WeChatAPIError)


def error_for(errcode: int, errmsg: str | None, **kwargs: Any) -> WeChatAPIError:
    """An instance of the class `error_class_for(errcode)`."""
    return error_class_for(errcode)(errcode, errmsg, **kwargs)


# ---------------------------------------------------------------------------------------
# A credential shared by every process through Redis
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stored:
    value: str
    expires_at: float
    refresh_at: float


class SharedCredential:
    """One expiring credential (access_token, jsapi_ticket) kept in Redis for all processes.

    `fetch(failed)` obtains a fresh `(value, expires_in)`; `failed` is the value WeChat just
    refused (None for a routine refresh). Only the holder of a Redis lock fetches; others
    wait for its result, or keep using the current value while it is still valid. The expiry
    is stored with the value, so every process refreshes `refresh_margin` seconds early.
    """

    def __init__(
        self,
        redis: redis_lib.Redis,
        key: str,
        fetch: Callable[[str | None], tuple[str, int]],
        *,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        lock_ttl: float = 20.0,
        wait_timeout: float = 20.0,
        poll_interval: float = 0.02,
        clock: Callable[[], float] = time.time,
    ):
        self._redis = redis
        self.key = key
        self.lock_key = f"{key}:lock"
        self._fetch = fetch
        self._margin = refresh_margin
        # Longer than a fetch can take (its timeout), so a live holder never loses the lock.
        self._lock_ttl_ms = int(lock_ttl * 1000)
        self._wait_timeout = wait_timeout
        self._poll = poll_interval
        self._clock = clock

    def get(self) -> str:
        """The current value, refreshed first when it is missing or about to expire.

        Raises whatever `fetch` raises, or TokenError when another process holds the lock
        and no value appears within `wait_timeout`.
        """
        stored = self._read()
        now = self._clock()
        if stored is not None and now < stored.refresh_at:
            return stored.value
        still_valid = stored.value if stored is not None and now < stored.expires_at else None
        return self._refresh(failed=None, fallback=still_valid, unconditional=False)

    def refresh(self, failed: str | None = None) -> str:
        """Replace the credential and return the new value.

        With `failed` (a value WeChat refused): it is removed only if it is still the stored
        one, and if another process has already stored a different valid value, that value
        is returned without fetching (compare-before-expire). Without `failed`: fetch now.
        """
        if failed is not None:
            self.invalidate(failed)
        return self._refresh(failed=failed, fallback=None, unconditional=failed is None)

    def invalidate(self, value: str) -> bool:
        """Delete the stored credential if (and only if) it is `value`. True if deleted."""
        return _delete_if(self._redis, self.key, lambda raw: _decode_stored(raw).value == value)

    def peek(self) -> str | None:
        """The stored value without refreshing (None when absent)."""
        stored = self._read()
        return stored.value if stored else None

    def _refresh(self, *, failed: str | None, fallback: str | None, unconditional: bool) -> str:
        deadline = time.monotonic() + self._wait_timeout
        while True:
            owner = secrets.token_hex(8)
            if self._redis.set(self.lock_key, owner, nx=True, px=self._lock_ttl_ms):
                try:
                    # Re-check under the lock: whoever held it before us may have refreshed.
                    stored = self._read()
                    if not unconditional and self._usable(stored, failed):
                        return stored.value  # type: ignore[union-attr]
                    value, expires_in = self._fetch(failed)
                    self._write(value, expires_in)
                    return value
                finally:
                    self._release(owner)
            if fallback is not None:
                # Someone else is renewing; the current value is still valid meanwhile.
                return fallback
            stored = self._read()
            if self._usable(stored, failed):
                return stored.value  # type: ignore[union-attr]
            if time.monotonic() >= deadline:
                raise TokenError(None, f"timed out waiting for another process to refresh {self.key}")
            time.sleep(self._poll)

    def _release(self, owner: str) -> None:
        # Only our own lock: if it expired and someone else took it, theirs stays.
        _delete_if(self._redis, self.lock_key, lambda raw: raw.decode() == owner)

    def _usable(self, stored: _Stored | None, failed: str | None) -> bool:
        if stored is None or stored.value == failed:
            return False
        now = self._clock()
        # After a refusal any other valid value will do; routinely it must also be fresh.
        return now < (stored.expires_at if failed is not None else stored.refresh_at)

    def _read(self) -> _Stored | None:
        raw = self._redis.get(self.key)
        return _decode_stored(raw) if raw else None

    def _write(self, value: str, expires_in: int) -> None:
        now = self._clock()
        expires_in = max(int(expires_in), 1)
        # Short-lived values (a platform answer near expiry) are renewed at half-life so a
        # margin longer than the lifetime cannot cause a fetch on every call.
        refresh_in = max(expires_in - self._margin, expires_in / 2)
        payload = {"value": value, "expires_at": now + expires_in, "refresh_at": now + refresh_in}
        self._redis.set(self.key, json.dumps(payload), ex=expires_in)


def _decode_stored(raw: bytes | str) -> _Stored:
    data = json.loads(raw)
    return _Stored(str(data["value"]), float(data["expires_at"]), float(data["refresh_at"]))


def _delete_if(redis: redis_lib.Redis, key: str, predicate: Callable[[bytes], bool]) -> bool:
    """Atomically delete `key` if its current value satisfies `predicate` (WATCH/MULTI,
    so it also works on fakeredis, which has no Lua without extra packages)."""
    with redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                raw = pipe.get(key)
                if raw is None or not predicate(raw if isinstance(raw, bytes) else str(raw).encode()):
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.delete(key)
                pipe.execute()
                return True
            except redis_lib.WatchError:
                continue  # changed under us: look again


# ---------------------------------------------------------------------------------------
# Sub-APIs whose wechatpy versions escape the base URL or are outdated
# ---------------------------------------------------------------------------------------


class _QRCodeAPI(WeChatQRCode):
    def show(self, ticket: str | dict[str, Any]) -> requests.Response:
        """The QR image for `ticket` (a `requests.Response`). Raises WeChatTransportError."""
        if isinstance(ticket, dict):
            ticket = ticket["ticket"]
        return self._client._send("GET", self._client.showqrcode_url, params={"ticket": ticket})

    def get_url(self, ticket: str | dict[str, Any]) -> str:  # type: ignore[override]
        """The URL of the QR image for `ticket` (under the base URL unless it is WeChat's)."""
        if isinstance(ticket, dict):
            ticket = ticket["ticket"]
        return f"{self._client.showqrcode_url}?ticket={quote(ticket, safe='')}"


class _MediaAPI(WeChatMedia):
    def get_url(self, media_id: str) -> str:
        """Download URL of temporary media (contains the current access token)."""
        return (
            f"{self._client.base_url}/cgi-bin/media/get?access_token={quote(self.access_token, safe='')}"
            f"&media_id={quote(media_id, safe='')}"
        )


class _MessageAPI(WeChatMessage):
    def _send_mass_message(self, group_or_users, msg_type, msg, is_to_all=False, preview=False,
                           send_ignore_reprint=0, client_msg_id=None):
        """Mass send by openid list (`message/mass/send`) or by tag (`message/mass/sendall`
        with `filter.tag_id`); wechatpy 1.8.18 sends the obsolete `group_id` instead."""
        if preview or isinstance(group_or_users, (tuple, list)):
            return super()._send_mass_message(
                group_or_users, msg_type, msg, is_to_all, preview, send_ignore_reprint, client_msg_id
            )
        data: dict[str, Any] = {
            "filter": {"is_to_all": bool(is_to_all)},
            "msgtype": msg_type,
            "send_ignore_reprint": send_ignore_reprint,
        }
        if not is_to_all:
            data["filter"]["tag_id"] = group_or_users
        if client_msg_id is not None:
            data["clientmsgid"] = client_msg_id
        data.update(msg)
        return self._post("message/mass/sendall", data=data)


class _JSAPI(WeChatJSAPI):
    def get_jsapi_ticket(self) -> str:
        """The jsapi_ticket, shared through Redis and renewed before it expires."""
        return self._client.jsapi_tickets.get()


# ---------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------


class WeChatAPIClient(WeChatClient):
    """wechatpy's WeChatClient with every URL under `base_url`, Redis-shared tokens, one
    bounded token retry and typed errors (see the module docstring)."""

    qrcode = _QRCodeAPI()
    media = _MediaAPI()
    message = _MessageAPI()
    jsapi = _JSAPI()

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        base_url: str,
        redis: redis_lib.Redis,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        key_prefix: str = "ancha:wechat",
        clock: Callable[[], float] = time.time,
    ):
        prefix = f"{key_prefix}:{appid}"
        super().__init__(
            appid,
            secret,
            session=RedisStorage(redis, prefix=prefix),
            timeout=timeout,
            auto_retry=False,  # our _request does the single bounded retry
        )
        self.base_url = base_url.rstrip("/")
        self.API_BASE_URL = f"{self.base_url}/cgi-bin/"
        # The QR image host is mp.weixin.qq.com in production; anywhere else (sandbox, a
        # proxy, a mock) it lives under the base URL like everything else.
        self.showqrcode_url = (
            OFFICIAL_SHOWQRCODE_URL
            if self.base_url == OFFICIAL_API_BASE_URL
            else f"{self.base_url}/cgi-bin/showqrcode"
        )
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self.access_tokens = SharedCredential(
            redis, f"{prefix}:access_token", self._fetch_access_token, clock=clock
        )
        self.jsapi_tickets = SharedCredential(
            redis, f"{prefix}:jsapi_ticket", self._fetch_jsapi_ticket, clock=clock
        )

    # -- tokens ----------------------------------------------------------------------

    @property
    def access_token(self) -> str:
        """The shared access token (fetched or renewed when needed)."""
        return self.access_tokens.get()

    def fetch_access_token(self) -> dict[str, Any]:
        """Fetch a new access token now (under the refresh lock) and store it for everyone."""
        return {"access_token": self.access_tokens.refresh()}

    def _fetch_access_token(self, failed: str | None) -> tuple[str, int]:
        force = failed is not None and may_force_refresh(self._redis, self._prefix, failed, self._clock())
        result = self._call_json(
            "POST",
            f"{self.base_url}/cgi-bin/stable_token",
            body={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": force,
            },
        )
        log.info("fetched access token via stable_token (force_refresh=%s)", force)
        return str(result["access_token"]), int(result.get("expires_in", 7200))

    def _fetch_jsapi_ticket(self, _failed: str | None) -> tuple[str, int]:
        result = self.jsapi.get_ticket("jsapi")
        return str(result["ticket"]), int(result.get("expires_in", 7200))

    # -- requests ----------------------------------------------------------------------

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        """Every wechatpy sub-API call lands here: resolve the URL under the base URL, add
        the shared access token, refresh and retry once on a token error, raise typed errors.
        """
        url = self._resolve_url(url_or_endpoint, kwargs.pop("api_base_url", None))
        params = dict(kwargs.pop("params", None) or {})
        result_processor = kwargs.pop("result_processor", None)
        if isinstance(kwargs.get("data"), dict):
            kwargs["data"] = json.dumps(kwargs["data"], ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8", **kwargs.get("headers", {})}
        files = kwargs.get("files")
        positions = _file_positions(files)
        caller_token = params.pop("access_token", None)
        token = caller_token or self.access_tokens.get()
        retried = False
        while True:
            response = self._send(method, url, params={**params, "access_token": token}, **kwargs)
            result = self._decode_result(response)
            errcode, errmsg = _errcode(result)
            if errcode in TOKEN_ERRCODES and not retried and caller_token is None:
                retried = True
                log.warning("access token refused (errcode %s) on %s; refreshing once", errcode, _path(url))
                token = self.access_tokens.refresh(failed=token)
                _rewind(positions)
                continue
            if errcode:
                raise error_for(errcode, errmsg, path=_path(url), request=response.request, response=response)
            return result_processor(result) if result_processor is not None else result

    def _call_json(self, method: str, url: str, *, params: dict[str, Any] | None = None,
                   body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A call that carries no access token (token endpoints, OAuth). Raises typed errors."""
        kwargs: dict[str, Any] = {"params": params or {}}
        if body is not None:
            kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        response = self._send(method, self._resolve_url(url, None), **kwargs)
        result = self._decode_result(response)
        if not isinstance(result, dict):
            raise WeChatTransportError("answer is not JSON", path=_path(url), response=response)
        errcode, errmsg = _errcode(result)
        if errcode:
            raise error_for(errcode, errmsg, path=_path(url), request=response.request, response=response)
        return result

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP request with a timeout. Raises WeChatTimeout, WeChatTransportError or
        WeChatHTTPError (status ≥ 400)."""
        kwargs.setdefault("timeout", self.timeout)
        path = _path(url)
        try:
            response = self._http.request(method=method.upper(), url=url, **kwargs)
        except requests.Timeout as exc:
            raise WeChatTimeout(f"timed out: {exc.__class__.__name__}", path=path) from exc
        except requests.RequestException as exc:
            raise WeChatTransportError(f"{exc.__class__.__name__}: {exc}", path=path) from exc
        if response.status_code >= 400:
            raise WeChatHTTPError(response.status_code, path=path, request=response.request, response=response)
        return response

    def _resolve_url(self, url_or_endpoint: str, api_base_url: str | None) -> str:
        """Absolute URL under `base_url` (official API hosts are re-rooted there).
        Raises ValueError for any other absolute URL: nothing may escape the base URL."""
        if url_or_endpoint.startswith(("http://", "https://")):
            url = url_or_endpoint
        else:
            url = f"{api_base_url or self.API_BASE_URL}{url_or_endpoint}"
        for root in _OFFICIAL_API_ROOTS:
            if url.startswith(root) and not url.startswith(f"{self.base_url}/"):
                url = f"{self.base_url}/{url[len(root):]}"
                break
        if not (url.startswith(f"{self.base_url}/") or url.startswith(self.showqrcode_url)):
            raise ValueError(f"refusing to call {_path(url)!r} outside the WeChat base URL")
        return url

    # -- OAuth and JS-SDK ----------------------------------------------------------------

    def oauth_exchange_code(self, code: str) -> dict[str, Any]:
        """Exchange an OAuth `code` (single use, 5 min) for {access_token, expires_in,
        refresh_token, openid, scope}. Raises InvalidOAuthCode, CredentialError, …"""
        return self._call_json(
            "GET",
            f"{self.base_url}/sns/oauth2/access_token",
            params={
                "appid": self.appid,
                "secret": self.secret,
                "code": code,
                "grant_type": "authorization_code",
            },
        )

    def jssdk_config(self, url: str, js_api_list: Iterable[str] = JS_API_LIST) -> dict[str, Any]:
        """The `wx.config` arguments for the page at `url` (its fragment is dropped before
        signing). Raises WeChatAPIError when the jsapi_ticket cannot be obtained."""
        page_url = strip_fragment(url)
        ticket = self.jsapi_tickets.get()
        nonce = secrets.token_hex(8)
        timestamp = int(self._clock())
        return {
            "appId": self.appid,
            "timestamp": timestamp,
            "nonceStr": nonce,
            "signature": jsapi_signature(ticket, nonce, timestamp, page_url),
            "jsApiList": list(js_api_list),
        }


def may_force_refresh(redis: redis_lib.Redis, prefix: str, failed: str, now: float) -> bool:
    """Whether the refresh after `failed` was refused should use stable_token's
    force_refresh=true.

    A normal stable_token call returns the platform's current token, which fixes the usual
    cases (our copy was stale). Only when that very token is refused a second time (the
    platform handed it back and it failed again) does forcing help. Forcing is spaced 30 s
    apart and budgeted per Beijing day, because it is limited to 20 a day and invalidates
    the token for every other user of the AppID.
    """
    digest = hashlib.sha256(failed.encode()).hexdigest()
    seen_key = f"{prefix}:access_token:refused"
    seen = redis.get(seen_key)
    if seen is None or seen.decode() != digest:
        redis.set(seen_key, digest, ex=3600)
        return False
    if not redis.set(f"{prefix}:access_token:force_guard", "1", nx=True, ex=FORCE_REFRESH_SPACING_SECONDS):
        return False
    day = time.strftime("%Y%m%d", time.gmtime(now + 8 * 3600))
    day_key = f"{prefix}:access_token:forced:{day}"
    used = int(redis.incr(day_key))
    redis.expire(day_key, 2 * 86400)
    if used > FORCE_REFRESH_DAILY_BUDGET:
        log.error("access token keeps being refused; today's force_refresh budget is used up")
        return False
    return True


def jsapi_signature(jsapi_ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """JS-SDK signature (附录1): sha1 of `jsapi_ticket=…&noncestr=…&timestamp=…&url=…`, keys
    in ASCII order, raw values without URL escaping, `url` without its fragment."""
    fields = {"jsapi_ticket": jsapi_ticket, "noncestr": noncestr, "timestamp": str(timestamp), "url": url}
    string1 = "&".join(f"{key}={fields[key]}" for key in sorted(fields))
    return hashlib.sha1(string1.encode("utf-8")).hexdigest()


def strip_fragment(url: str) -> str:
    """`url` without `#…` (WeChat signs the page URL without its fragment)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def _errcode(result: Any) -> tuple[int, str | None]:
    if not isinstance(result, dict):
        return 0, None
    if "base_resp" in result and isinstance(result["base_resp"], dict):
        result = {**result, **result["base_resp"]}
    try:
        errcode = int(result.get("errcode", 0) or 0)
    except (TypeError, ValueError):
        errcode = 0
    return errcode, result.get("errmsg")


def _path(url: str) -> str:
    # Paths only in errors and logs: query strings carry tokens and secrets.
    return urlsplit(url).path


def _file_positions(files: Any) -> list[tuple[Any, int]]:
    """Where each upload stream in a requests `files=` argument starts."""
    values = files.values() if isinstance(files, dict) else [item[1] for item in files or ()]
    positions = []
    for value in values:
        # A value is a file object or a (filename, fileobj[, content_type…]) tuple.
        fileobj = value[1] if isinstance(value, tuple) else value
        if hasattr(fileobj, "seek") and hasattr(fileobj, "tell"):
            positions.append((fileobj, fileobj.tell()))
    return positions


def _rewind(positions: list[tuple[Any, int]]) -> None:
    # The first attempt consumed the upload streams; the retry must send them again.
    for fileobj, position in positions:
        fileobj.seek(position)


# ---------------------------------------------------------------------------------------
# Per-app accessor
# ---------------------------------------------------------------------------------------

_EXTENSION_KEY = "ancha.wechat_client"
_build_lock = threading.Lock()


def get_wechat_client(app: Flask | None = None) -> WeChatAPIClient:
    """The WeChat client of `app` (default: the current app), built once from its settings.

    In the sandbox, when the base URL is this service's own fake API, requests to it are
    served in-process by the app (see `app.wechat.transport`), so the client works
    without a listening server and in tests.
    """
    if app is None:
        from flask import current_app

        app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = app.extensions.get(_EXTENSION_KEY)
    if client is None:
        with _build_lock:
            client = app.extensions.get(_EXTENSION_KEY)
            if client is None:
                client = build_wechat_client(app)
                app.extensions[_EXTENSION_KEY] = client
    return client


def build_wechat_client(app: Flask) -> WeChatAPIClient:
    """A new client from `app`'s settings (use `get_wechat_client` to share one)."""
    from app.extensions import redis_client

    settings = app.config["SETTINGS"]
    base_url = settings.wechat_api_base_url
    client = WeChatAPIClient(
        settings.wechat_app_id, settings.wechat_app_secret, base_url=base_url, redis=redis_client()
    )
    if settings.sandbox and base_url == f"{settings.PUBLIC_BASE_URL}/sandbox/wx":
        from app.wechat.transport import WSGITransport

        client._http.mount(f"{base_url}/", WSGITransport(app))
    return client
