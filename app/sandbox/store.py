"""Sandbox state, all in Redis (so it works on fakeredis and is shared by every process).

What WeChat would know about our account: virtual WeChat users (seeded from the database's
users with an openid on first use), issued access tokens, jsapi tickets, OAuth codes,
parametric QR tickets, the menu, temporary media, user tags; plus what the sandbox adds for
testing: injected faults, a global latency, and a per-openid log of every message the
service sent (`record_message`).

The message log is the one part that must outlive the process under `make run`, where Redis
is fakeredis in this process: there it is kept in a SQLite file of its own under instance/
(MessageLog, `SANDBOX_MESSAGE_LOG`), apart from the application's database and its
transactions; with a real Redis it stays in Redis, which keeps it.

Nothing here touches the database except the read-only import of users; the test harness
binds database sessions to one connection per test, so server threads must not rely on it.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis as redis_lib

log = logging.getLogger(__name__)

PREFIX = "ancha:sandbox"
MESSAGE_KINDS = frozenset({"passive_reply", "custom", "template", "mass"})
DEFAULT_TOKEN_TTL = 7200
# A token replaced by cgi-bin/token keeps working this long (official: 5 minutes).
TOKEN_OVERLAP_SECONDS = 300
# stable_token hands out a new token once less than this remains.
STABLE_RENEW_SECONDS = 300
OAUTH_CODE_TTL = 300
SNS_TOKEN_TTL = 7200
MEDIA_TTL = 3 * 86400
PERMANENT_QR_CAP = 100_000
MAX_TEMPORARY_QR_SECONDS = 2_592_000
DEFAULT_TEMPORARY_QR_SECONDS = 30
MASS_PER_USER_PER_MONTH = 4
MAX_TAGS = 100
MAX_TAGS_PER_USER = 20
RESERVED_TAGS = {2: "星标组"}
OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


class SandboxError(Exception):
    """A WeChat-style refusal (`errcode`, `errmsg`) raised by the fake API's rules."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class MessageLog:
    """The sandbox's message log in a SQLite file (durable across restarts, shared by the
    processes of one machine). Entries are {seq, kind, body, at} like the Redis log's."""

    _created: set[str] = set()
    _lock = threading.Lock()

    def __init__(self, path: str | Path):
        self.path = str(path)
        with self._lock:
            if self.path not in self._created:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                with self._connect() as connection:
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute(
                        "CREATE TABLE IF NOT EXISTS sandbox_messages ("
                        "seq INTEGER PRIMARY KEY AUTOINCREMENT, openid TEXT NOT NULL, "
                        "kind TEXT NOT NULL, body TEXT NOT NULL, at INTEGER NOT NULL)"
                    )
                    connection.execute(
                        "CREATE INDEX IF NOT EXISTS ix_sandbox_messages_openid ON sandbox_messages (openid, seq)"
                    )
                self._created.add(self.path)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def append(self, openid: str, kind: str, body: Any, at: int) -> dict[str, Any]:
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO sandbox_messages (openid, kind, body, at) VALUES (?, ?, ?, ?)",
                (openid, kind, json.dumps(body, ensure_ascii=False), at),
            )
            seq = int(cursor.lastrowid or 0)
        return {"seq": seq, "kind": kind, "body": body, "at": at}

    def entries(self, openid: str, after: int) -> list[dict[str, Any]]:
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT seq, kind, body, at FROM sandbox_messages WHERE openid = ? AND seq > ? ORDER BY seq",
                (openid, after),
            ).fetchall()
        return [{"seq": seq, "kind": kind, "body": json.loads(body), "at": at} for seq, kind, body, at in rows]


class SandboxStore:
    """All sandbox state under one Redis key prefix (the message log in `message_log`, a
    SQLite file, when one is given)."""

    def __init__(
        self,
        redis: redis_lib.Redis,
        *,
        prefix: str = PREFIX,
        clock: Callable[[], float] = time.time,
        user_source: Callable[[str | None], list[dict[str, Any]]] | None = None,
        message_log: str | Path | None = None,
    ):
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self.message_log = MessageLog(message_log) if message_log else None
        # Where virtual users come from on first use: the database by default.
        self._user_source = user_source or database_users

    def _k(self, *parts: Any) -> str:
        return ":".join((self.prefix, *map(str, parts)))

    # -- settings of the fake ------------------------------------------------------------

    def config(self) -> dict[str, int]:
        """{"latency_ms": added to every fake API call, "token_ttl": lifetime of tokens}."""
        raw = {k.decode(): int(v) for k, v in self.redis.hgetall(self._k("config")).items()}
        return {"latency_ms": raw.get("latency_ms", 0), "token_ttl": raw.get("token_ttl", DEFAULT_TOKEN_TTL)}

    def set_config(self, *, latency_ms: int | None = None, token_ttl: int | None = None) -> dict[str, int]:
        """Change the latency (0–60000 ms) and/or token lifetime (1–7200 s). Raises ValueError."""
        if latency_ms is not None:
            if not 0 <= latency_ms <= 60_000:
                raise ValueError("latency_ms 须在 0 到 60000 之间")
            self.redis.hset(self._k("config"), "latency_ms", latency_ms)
        if token_ttl is not None:
            if not 1 <= token_ttl <= DEFAULT_TOKEN_TTL:
                raise ValueError("token_ttl 须在 1 到 7200 之间")
            self.redis.hset(self._k("config"), "token_ttl", token_ttl)
        return self.config()

    # -- virtual WeChat users ------------------------------------------------------------

    def ensure_seeded(self) -> None:
        """Import the database's users with an openid, once per sandbox (first use)."""
        if not self.redis.set(self._k("users", "seeded"), "1", nx=True):
            return
        for row in self._user_source(None):
            self._put_user_if_absent(row["openid"], row.get("nickname") or "微信用户", bool(row.get("subscribed")))

    def get_user(self, openid: str) -> dict[str, Any] | None:
        """The virtual user, or None. A database user with this openid that the sandbox has
        not seen yet (created after the first use) is imported on the way."""
        self.ensure_seeded()
        raw = self.redis.hget(self._k("users"), openid)
        if raw is not None:
            return json.loads(raw)
        for row in self._user_source(openid):
            self._put_user_if_absent(row["openid"], row.get("nickname") or "微信用户", bool(row.get("subscribed")))
            raw = self.redis.hget(self._k("users"), openid)
            return json.loads(raw) if raw else None
        return None

    def list_users(self) -> list[dict[str, Any]]:
        """Every virtual user, in creation order."""
        self.ensure_seeded()
        users = [json.loads(v) for v in self.redis.hvals(self._k("users"))]
        return sorted(users, key=lambda u: u["seq"])

    def create_user(
        self, *, openid: str | None = None, nickname: str = "微信用户", subscribed: bool = True
    ) -> dict[str, Any]:
        """A new virtual user (openid generated when omitted). Raises ValueError for a
        malformed openid, KeyError when it exists already."""
        self.ensure_seeded()
        openid = openid or new_openid()
        if not OPENID_RE.match(openid):
            raise ValueError("openid 只能包含字母、数字、- 和 _，长度 6–64")
        if not self._put_user_if_absent(openid, nickname, subscribed):
            raise KeyError(openid)
        return self.get_user(openid)  # type: ignore[return-value]

    def update_user(self, openid: str, **changes: Any) -> dict[str, Any]:
        """Change `nickname` and/or `subscribed` (following again records the time).
        Raises KeyError for an unknown openid."""
        if self.get_user(openid) is None:
            raise KeyError(openid)

        def change(user: dict[str, Any]) -> None:
            if "nickname" in changes:
                user["nickname"] = str(changes["nickname"])
            if "subscribed" in changes:
                subscribed = bool(changes["subscribed"])
                if subscribed and not user["subscribed"]:
                    user["subscribe_time"] = int(self.clock())
                user["subscribed"] = subscribed

        return self._mutate_user(openid, change)

    def _put_user_if_absent(self, openid: str, nickname: str, subscribed: bool) -> bool:
        user = {
            "openid": openid,
            "nickname": nickname,
            "subscribed": subscribed,
            "subscribe_time": int(self.clock()) if subscribed else 0,
            "tagid_list": [],
            "seq": int(self.redis.incr(self._k("users", "seq"))),
        }
        return bool(self.redis.hsetnx(self._k("users"), openid, json.dumps(user, ensure_ascii=False)))

    def _mutate_user(self, openid: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        key = self._k("users")
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.hget(key, openid)
                    if raw is None:
                        pipe.unwatch()
                        raise KeyError(openid)
                    user = json.loads(raw)
                    change(user)
                    pipe.multi()
                    pipe.hset(key, openid, json.dumps(user, ensure_ascii=False))
                    pipe.execute()
                    return user
                except redis_lib.WatchError:
                    continue

    # -- access tokens -------------------------------------------------------------------

    def issue_basic_token(self) -> tuple[str, int]:
        """cgi-bin/token: a new token; the previous one keeps working for 5 minutes."""
        ttl = self.config()["token_ttl"]
        token = self._new_token("basic", ttl)
        previous = self.redis.getset(self._k("token", "basic_current"), token)
        if previous is not None:
            self._revoke_token(previous.decode(), self.clock() + TOKEN_OVERLAP_SECONDS)
        return token, ttl

    def stable_token(self, force_refresh: bool) -> tuple[str, int]:
        """cgi-bin/stable_token: the same token while more than 5 minutes remain, else a new
        one; force_refresh=true always issues a new one and invalidates the previous."""
        key = self._k("token", "stable_current")
        ttl = self.config()["token_ttl"]
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    current = pipe.get(key)
                    current = current.decode() if current else None
                    if current and not force_refresh:
                        remaining = self._token_remaining(current)
                        if remaining > min(STABLE_RENEW_SECONDS, ttl // 2):
                            pipe.unwatch()
                            return current, remaining
                    token = self._new_token("stable", ttl)
                    pipe.multi()
                    pipe.set(key, token)
                    pipe.execute()
                    break
                except redis_lib.WatchError:
                    continue
        if current and force_refresh:
            self._revoke_token(current, self.clock())
        return token, ttl

    def check_token(self, token: str | None) -> int:
        """0 when `token` is valid; 41001 missing, 40001 unknown or revoked, 42001 expired."""
        if not token:
            return 41001
        raw = self.redis.get(self._k("token", token))
        if raw is None:
            return 40001
        record = json.loads(raw)
        now = self.clock()
        # A replaced token is "not latest" (40001) once its grace ends; otherwise it expires.
        if record.get("revoked_at") is not None and now >= record["revoked_at"]:
            return 40001
        return 42001 if now >= record["expires_at"] else 0

    def _new_token(self, kind: str, ttl: int) -> str:
        token = secrets.token_urlsafe(96)
        record = {"kind": kind, "expires_at": self.clock() + ttl, "revoked_at": None}
        # Kept an hour past expiry so a late caller gets 42001 (expired), not 40001.
        self.redis.set(self._k("token", token), json.dumps(record), ex=ttl + 3600)
        return token

    def _token_remaining(self, token: str) -> int:
        raw = self.redis.get(self._k("token", token))
        if raw is None:
            return 0
        record = json.loads(raw)
        end = min(record["expires_at"], record.get("revoked_at") or record["expires_at"])
        return max(int(end - self.clock()), 0)

    def _revoke_token(self, token: str, at: float) -> None:
        """`token` stops working at `at` (it was replaced by a newer one)."""
        key = self._k("token", token)
        raw = self.redis.get(key)
        if raw is None:
            return
        record = json.loads(raw)
        record["revoked_at"] = min(record.get("revoked_at") or at, at)
        self.redis.set(key, json.dumps(record), keepttl=True)

    # -- jsapi ticket --------------------------------------------------------------------

    def jsapi_ticket(self) -> tuple[str, int]:
        """The current jsapi_ticket and its remaining seconds (a new one when expired)."""
        key = self._k("jsapi_ticket")
        ttl = self.config()["token_ttl"]
        fresh = secrets.token_urlsafe(64)
        if self.redis.set(key, fresh, nx=True, ex=ttl):
            return fresh, ttl
        current = self.redis.get(key)
        remaining = self.redis.ttl(key)
        if current is None or remaining <= 0:
            self.redis.set(key, fresh, ex=ttl)
            return fresh, ttl
        return current.decode(), int(remaining)

    # -- OAuth ---------------------------------------------------------------------------

    def issue_oauth_code(self, openid: str, scope: str) -> str:
        """A single-use code for `openid`, valid for 5 minutes."""
        code = secrets.token_urlsafe(24)
        self.redis.set(self._k("oauth_code", code), json.dumps({"openid": openid, "scope": scope}), ex=OAUTH_CODE_TTL)
        return code

    def take_oauth_code(self, code: str) -> dict[str, Any] | None:
        """What `code` was issued for, consuming it (None when unknown, used or expired)."""
        if not code:
            return None
        raw = self.redis.getdel(self._k("oauth_code", code))
        return json.loads(raw) if raw else None

    def issue_sns_token(self, openid: str, scope: str) -> dict[str, Any]:
        """The answer of sns/oauth2/access_token for `openid`."""
        token = secrets.token_urlsafe(64)
        refresh = secrets.token_urlsafe(64)
        self.redis.set(self._k("sns_token", token), openid, ex=SNS_TOKEN_TTL)
        return {
            "access_token": token,
            "expires_in": SNS_TOKEN_TTL,
            "refresh_token": refresh,
            "openid": openid,
            "scope": scope,
        }

    # -- parametric QR codes -------------------------------------------------------------

    def create_qr(self, action_name: str, scene: dict[str, Any], expire_seconds: int | None) -> dict[str, Any]:
        """A QR ticket for `scene` ({"scene_id": int} or {"scene_str": str}, validated by
        the caller). Permanent codes for the same scene return the same ticket. Raises
        SandboxError 40053 once 100 000 permanent codes exist."""
        permanent = action_name.startswith("QR_LIMIT")
        scene_key = f"id:{scene['scene_id']}" if "scene_id" in scene else f"str:{scene['scene_str']}"
        if permanent:
            existing = self.redis.get(self._k("qr", "permanent", scene_key))
            if existing is not None:
                record = self.lookup_qr(existing.decode())
                if record is not None:
                    return record
            if int(self.redis.incr(self._k("qr", "permanent_count"))) > PERMANENT_QR_CAP:
                self.redis.decr(self._k("qr", "permanent_count"))
                raise SandboxError(40053, "invalid action info, permanent qrcode count exceeds 100000")
        ticket = "gQ" + base64.b64encode(secrets.token_bytes(46)).decode()
        code = secrets.token_urlsafe(16)
        url = f"http://weixin.qq.com/q/{code}"
        now = int(self.clock())
        record = {
            "ticket": ticket,
            "url": url,
            "action_name": action_name,
            "permanent": permanent,
            **scene,
            "created_at": now,
            "expire_seconds": None if permanent else expire_seconds,
            "expires_at": None if permanent else now + int(expire_seconds or 0),
        }
        ttl = None if permanent else int(expire_seconds or 0)
        self.redis.set(self._k("qr", "ticket", ticket), json.dumps(record, ensure_ascii=False), ex=ttl)
        self.redis.set(self._k("qr", "code", code), ticket, ex=ttl)
        if permanent:
            self.redis.set(self._k("qr", "permanent", scene_key), ticket)
        return record

    def lookup_qr(self, ticket_or_url: str) -> dict[str, Any] | None:
        """The QR record for a ticket, its `http://weixin.qq.com/q/<code>` URL or the code
        (None when unknown or expired): what a simulated scan resolves to."""
        value = (ticket_or_url or "").strip()
        if not value:
            return None
        raw = self.redis.get(self._k("qr", "ticket", value))
        if raw is None:
            code = value.rsplit("/q/", 1)[1] if "/q/" in value else value
            ticket = self.redis.get(self._k("qr", "code", code))
            raw = self.redis.get(self._k("qr", "ticket", ticket.decode())) if ticket else None
        return json.loads(raw) if raw else None

    # -- menu ----------------------------------------------------------------------------

    def set_menu(self, menu: dict[str, Any]) -> None:
        self.redis.set(self._k("menu"), json.dumps(menu, ensure_ascii=False))

    def get_menu(self) -> dict[str, Any] | None:
        raw = self.redis.get(self._k("menu"))
        return json.loads(raw) if raw else None

    def delete_menu(self) -> None:
        self.redis.delete(self._k("menu"))

    # -- temporary media -----------------------------------------------------------------

    def put_media(self, data: bytes, *, media_type: str = "image", filename: str = "media.jpg",
                  content_type: str = "image/jpeg") -> dict[str, Any]:
        """Keep `data` as temporary media for 3 days; returns {type, media_id, created_at}.
        The simulator uses this for photos a virtual user uploads (JS-SDK uploadImage)."""
        media_id = secrets.token_urlsafe(48)
        meta = {
            "type": media_type,
            "media_id": media_id,
            "created_at": int(self.clock()),
            "filename": filename,
            "content_type": content_type,
        }
        self.redis.set(self._k("media", media_id, "data"), data, ex=MEDIA_TTL)
        self.redis.set(self._k("media", media_id, "meta"), json.dumps(meta, ensure_ascii=False), ex=MEDIA_TTL)
        return {k: meta[k] for k in ("type", "media_id", "created_at")}

    def get_media(self, media_id: str) -> tuple[dict[str, Any], bytes] | None:
        """(meta, bytes) of temporary media, or None when unknown or older than 3 days."""
        if not media_id:
            return None
        raw = self.redis.get(self._k("media", media_id, "meta"))
        data = self.redis.get(self._k("media", media_id, "data"))
        if raw is None or data is None:
            return None
        return json.loads(raw), data

    # -- tags ----------------------------------------------------------------------------

    def tags(self) -> list[dict[str, Any]]:
        """Every tag with its follower count, reserved ones first."""
        counts: dict[int, int] = {}
        for user in self.list_users():
            for tag_id in user["tagid_list"]:
                counts[tag_id] = counts.get(tag_id, 0) + 1
        tags = [{"id": i, "name": n} for i, n in RESERVED_TAGS.items()]
        tags += sorted((json.loads(v) for v in self.redis.hvals(self._k("tags"))), key=lambda t: t["id"])
        return [{**t, "count": counts.get(t["id"], 0)} for t in tags]

    def tag(self, tag_id: int) -> dict[str, Any] | None:
        if tag_id in RESERVED_TAGS:
            return {"id": tag_id, "name": RESERVED_TAGS[tag_id]}
        raw = self.redis.hget(self._k("tags"), str(tag_id))
        return json.loads(raw) if raw else None

    def create_tag(self, name: str) -> dict[str, Any]:
        """A new tag. Raises SandboxError 45158 (name > 30 bytes), 45157 (duplicate),
        45056 (100 tags already)."""
        self._check_tag_name(name)
        existing = self.tags()
        if len(existing) - len(RESERVED_TAGS) >= MAX_TAGS:
            raise SandboxError(45056, "too many tags")
        # Tag ids of an account start at 100; 0, 1 and 2 are reserved.
        tag_id = int(self.redis.incr(self._k("tags", "seq"))) + 99
        tag = {"id": tag_id, "name": name}
        self.redis.hset(self._k("tags"), str(tag_id), json.dumps(tag, ensure_ascii=False))
        return tag

    def rename_tag(self, tag_id: int, name: str) -> None:
        """Raises SandboxError 45058 (reserved), 45159 (unknown), 45158, 45157."""
        self._require_custom_tag(tag_id)
        self._check_tag_name(name, ignore_id=tag_id)
        self.redis.hset(self._k("tags"), str(tag_id), json.dumps({"id": tag_id, "name": name}, ensure_ascii=False))

    def delete_tag(self, tag_id: int) -> None:
        """Delete a tag and untag its followers. Raises SandboxError 45058, 45159."""
        self._require_custom_tag(tag_id)
        for user in self.list_users():
            if tag_id in user["tagid_list"]:
                self._mutate_user(user["openid"], lambda u: u.update(tagid_list=[t for t in u["tagid_list"] if t != tag_id]))
        self.redis.hdel(self._k("tags"), str(tag_id))

    def tag_users(self, tag_id: int, openids: list[str], *, add: bool) -> None:
        """Add (or remove) `tag_id` on each openid. Raises SandboxError 45159 (unknown tag),
        40003 (unknown openid), 45059 (a user would have more than 20 tags)."""
        if self.tag(tag_id) is None:
            raise SandboxError(45159, "invalid tag id")
        users = []
        for openid in openids:
            user = self.get_user(openid)
            if user is None:
                raise SandboxError(40003, f"invalid openid {openid}")
            users.append(user)
        if add and any(tag_id not in u["tagid_list"] and len(u["tagid_list"]) >= MAX_TAGS_PER_USER for u in users):
            raise SandboxError(45059, "has fans tag overflow")

        def change(user: dict[str, Any]) -> None:
            tags = [t for t in user["tagid_list"] if t != tag_id]
            user["tagid_list"] = tags + [tag_id] if add else tags

        for user in users:
            self._mutate_user(user["openid"], change)

    def _check_tag_name(self, name: str, ignore_id: int | None = None) -> None:
        if not name or len(name.encode("utf-8")) > 30:
            raise SandboxError(45158, "tag name too long")
        if any(t["name"] == name and t["id"] != ignore_id for t in self.tags()):
            raise SandboxError(45157, "invalid tag name, tag name is duplicated")

    def _require_custom_tag(self, tag_id: int) -> None:
        if tag_id in (0, 1, 2):
            raise SandboxError(45058, "can't modify sys tag")
        if self.tag(tag_id) is None:
            raise SandboxError(45159, "invalid tag id")

    # -- mass sends ----------------------------------------------------------------------

    def claim_client_msg_id(self, client_msg_id: str) -> bool:
        """False when this clientmsgid was used within the last 24 hours (45065)."""
        return bool(self.redis.set(self._k("clientmsgid", client_msg_id), "1", nx=True, ex=86400))

    def count_mass_delivery(self, openid: str) -> bool:
        """Count one mass message for `openid` this month; False once they had 4 (service
        accounts: each follower receives at most 4 mass messages per month)."""
        month = time.strftime("%Y%m", time.gmtime(self.clock() + 8 * 3600))
        key = self._k("mass", openid, month)
        used = int(self.redis.incr(key))
        self.redis.expire(key, 40 * 86400)
        return used <= MASS_PER_USER_PER_MONTH

    def next_msg_id(self) -> int:
        return int(self.redis.incr(self._k("msgid"))) + 1_000_000_000

    def save_mass_job(self, msg_id: int, summary: dict[str, Any]) -> None:
        """Keep a mass send's counts (what MASSSENDJOBFINISH reports) for a day."""
        self.redis.set(self._k("mass_job", msg_id), json.dumps(summary), ex=86400)

    def mass_job(self, msg_id: int) -> dict[str, Any] | None:
        """{msg_id, total, filtered, sent, errors} of a mass send, or None."""
        raw = self.redis.get(self._k("mass_job", msg_id))
        return json.loads(raw) if raw else None

    # -- injected faults -----------------------------------------------------------------

    def add_fault(self, *, path: str, errcode: int | None = None, errmsg: str | None = None,
                  status: int | None = None, delay_ms: int | None = None, count: int | None = 1) -> dict[str, Any]:
        """Make the next `count` calls of `path` (e.g. "cgi-bin/message/template/send", or
        "*" for every path) wait `delay_ms` and/or answer `errcode` or HTTP `status`.
        `count=None` keeps the fault until `clear_faults`. Raises ValueError."""
        path = normalize_path(path)
        if not path:
            raise ValueError("path 不能为空")
        if errcode is None and status is None and delay_ms is None:
            raise ValueError("errcode、status、delay_ms 至少填写一项")
        if status is not None and not 400 <= status <= 599:
            raise ValueError("status 须在 400 到 599 之间")
        if delay_ms is not None and not 0 <= delay_ms <= 60_000:
            raise ValueError("delay_ms 须在 0 到 60000 之间")
        if count is not None and count < 1:
            raise ValueError("count 须为正整数，或为 null 表示直到清除")
        fault_id = int(self.redis.incr(self._k("faults", "seq")))
        fault = {
            "id": fault_id,
            "path": path,
            "errcode": errcode,
            "errmsg": errmsg,
            "status": status,
            "delay_ms": delay_ms,
            "count": count,
        }
        if count is not None:
            self.redis.set(self._k("faults", "left", fault_id), count)
        self.redis.hset(self._k("faults"), str(fault_id), json.dumps(fault))
        return fault

    def faults(self) -> list[dict[str, Any]]:
        """Active faults, oldest first, with how many uses are `left` (None: until cleared)."""
        faults = sorted((json.loads(v) for v in self.redis.hvals(self._k("faults"))), key=lambda f: f["id"])
        for fault in faults:
            left = self.redis.get(self._k("faults", "left", fault["id"]))
            fault["left"] = None if fault["count"] is None else max(int(left or 0), 0)
        return faults

    def clear_faults(self) -> None:
        for fault in self.faults():
            self.redis.delete(self._k("faults", "left", fault["id"]))
        self.redis.delete(self._k("faults"))

    def take_fault(self, path: str) -> dict[str, Any] | None:
        """The oldest fault matching `path`, using up one of its `count` (atomic DECR, so
        concurrent calls never use a fault more often than asked)."""
        path = normalize_path(path)
        for fault in sorted((json.loads(v) for v in self.redis.hvals(self._k("faults"))), key=lambda f: f["id"]):
            if fault["path"] not in (path, "*"):
                continue
            if fault["count"] is None:
                return fault
            left = int(self.redis.decr(self._k("faults", "left", fault["id"])))
            if left <= 0:
                self.redis.hdel(self._k("faults"), str(fault["id"]))
                self.redis.delete(self._k("faults", "left", fault["id"]))
            if left >= 0:
                return fault
        return None

    # -- what the service sent -----------------------------------------------------------

    def record_message(self, openid: str, kind: str, body: Any) -> dict[str, Any]:
        """Append to `openid`'s log. `kind` ∈ MESSAGE_KINDS; `body` must be JSON-able.
        Raises ValueError for another kind."""
        if kind not in MESSAGE_KINDS:
            raise ValueError(f"kind must be one of {sorted(MESSAGE_KINDS)}")
        if self.message_log is not None:
            return self.message_log.append(openid, kind, body, int(self.clock()))
        entry = {
            "seq": int(self.redis.incr(self._k("messages", "seq"))),
            "kind": kind,
            "body": body,
            "at": int(self.clock()),
        }
        self.redis.rpush(self._k("messages", openid), json.dumps(entry, ensure_ascii=False))
        return entry

    def messages(self, openid: str, *, after: int = 0) -> list[dict[str, Any]]:
        """Everything sent to `openid`, oldest first (only entries with seq > `after`)."""
        if self.message_log is not None:
            return self.message_log.entries(openid, after)
        entries = (json.loads(raw) for raw in self.redis.lrange(self._k("messages", openid), 0, -1))
        return [e for e in entries if e["seq"] > after]


def normalize_path(path: str) -> str:
    """"/sandbox/wx/cgi-bin/token" → "cgi-bin/token" (the form faults are keyed by)."""
    path = (path or "").strip().split("?", 1)[0].strip("/")
    return path.removeprefix("sandbox/wx/")


def new_openid() -> str:
    """A random 28-character openid like WeChat's."""
    return "o" + secrets.token_urlsafe(21)[:27]


def database_users(openid: str | None) -> list[dict[str, Any]]:
    """Users with an openid from the database ({openid, nickname, subscribed}); only
    `openid` when given. Empty when the database is unavailable: the sandbox then simply
    starts without imported users."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from app.accounts.models import User
    from app.extensions import db

    if db.engine is None:
        return []
    query = select(User.openid, User.display_name, User.subscribed).where(User.openid.is_not(None))
    if openid is not None:
        query = query.where(User.openid == openid)
    try:
        with db.new_session() as session:
            rows = session.execute(query.order_by(User.id)).all()
    except SQLAlchemyError:
        log.warning("sandbox could not read users from the database", exc_info=True)
        return []
    return [{"openid": o, "nickname": name, "subscribed": subscribed} for o, name, subscribed in rows]


def sandbox_store() -> SandboxStore:
    """The store on the app's Redis, with the message log file of the app's
    `SANDBOX_MESSAGE_LOG` config when set (`flask serve` on in-process Redis sets it)."""
    from flask import current_app, has_app_context

    from app.extensions import redis_client

    message_log = current_app.config.get("SANDBOX_MESSAGE_LOG") if has_app_context() else None
    return SandboxStore(redis_client(), message_log=message_log)


def record_message(openid: str, kind: str, body: Any) -> dict[str, Any]:
    """Log something the service sent to `openid` (kind: passive_reply, custom, template or
    mass). The fake API records custom/template/mass itself; the callback's reply observer
    (record_passive_reply) the passive replies. Raises ValueError for another kind."""
    return sandbox_store().record_message(openid, kind, body)


def record_passive_reply(openid: str, message: dict[str, Any]) -> None:
    """The callback's reply observer while the sandbox is on: log a passive reply sent to
    `openid` (the message without its two addresses), whoever posted to the callback."""
    record_message(openid, "passive_reply", message)
