"""Retry de-duplication for the callback (docs/WECHAT.md §1.3).

WeChat retries a delivery it got no answer for within 5 s, up to three times, and a retry
can arrive while the first request is still running. Every delivery must have one effect
and every answer to it the same bytes. The atomic step is a `SET key NX EX`
(check-then-write would let both through):

- `offer` is the callback's one round trip, made after its handler ran and before it
  commits. A delivery whose handler changed nothing offers its reply itself: the first
  offer stores it, every later or concurrent one gets that stored reply back. A delivery
  with effects to commit offers a pending *claim* instead; only the request whose claim
  was taken commits, then `store`s its reply, and any retry waits a bounded time for that
  reply (`acquire`). A request that fails before its effect is committed releases the claim
  so a later retry can do the work instead;
- the same script writes the caller's bookkeeping (`writes`) and checks a *guard*, the
  cache generation (app/cache.py): a handler that read cached rows under a generation that
  has moved meanwhile offers nothing and runs again;
- `acquire` claims a delivery or waits for its reply: the callback uses it when its offer
  found another delivery still pending.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis as redis_lib

from app.wechat.crypto import CallbackAuthError

PREFIX = "wechat:dedup:"
_PENDING = b"pending:"


@dataclass(frozen=True)
class CachedReply:
    """What was answered to a delivery: body and content type."""

    body: str
    content_type: str

    def dumps(self) -> bytes:
        return json.dumps({"body": self.body, "content_type": self.content_type}).encode()

    @classmethod
    def loads(cls, raw: bytes) -> CachedReply:
        data = json.loads(raw)
        return cls(body=data["body"], content_type=data["content_type"])


@dataclass(frozen=True)
class Claim:
    """Proof that this request owns a delivery and must process it."""

    redis_key: str
    marker: bytes


@dataclass(frozen=True)
class Guard:
    """A Redis key that must still hold `expected` for an offer to be made (no check when
    `expected` is None); set to `initial` when it holds nothing yet."""

    key: str
    expected: bytes | None
    initial: str


class OfferStatus(StrEnum):
    ANSWERED = "answered"  # our reply is the delivery's reply
    CLAIMED = "claimed"  # our claim is taken: commit, then store the reply
    HELD = "held"  # an earlier delivery holds it: its reply, or wait for it
    STALE = "stale"  # the guard moved: nothing was written, run again


@dataclass(frozen=True)
class Offer:
    """What an offer came to, and the guard's value at that moment."""

    status: OfferStatus
    guard_value: bytes | None
    claim: Claim | None = None  # CLAIMED
    reply: CachedReply | None = None  # HELD, when the holder has answered already


# KEYS: delivery, guard, writes…  ARGV: expected guard ('' = unchecked), initial guard,
# value to SET NX, its ttl, then (value, ttl) per write.
_OFFER = """
local guard = redis.call('GET', KEYS[2])
if not guard then
  guard = ARGV[2]
  redis.call('SET', KEYS[2], guard)
end
if ARGV[1] ~= '' and ARGV[1] ~= guard then
  return {'stale', guard}
end
local taken = redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[4])
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'EX', ARGV[2 * i])
end
if taken then
  return {'taken', guard}
end
return {'held', guard, redis.call('GET', KEYS[1])}
"""
_OFFER_SHA = hashlib.sha1(_OFFER.encode()).hexdigest()


def _call(conn: redis_lib.connection.AbstractConnection, *command: str | int | bytes) -> Any:
    """One command on `conn`, its reply read (an error reply raised)."""
    conn.send_command(*command)
    return conn.read_response()


class Deduplicator:
    """Claims deliveries and caches their replies in Redis.

    `claim_ttl` bounds how long a crashed request blocks its retries; `reply_ttl` outlives
    WeChat's retry span; `wait` keeps a retry's own answer well inside WeChat's 5 s."""

    def __init__(
        self,
        client: redis_lib.Redis,
        *,
        claim_ttl: int = 20,
        reply_ttl: int = 60,
        wait: float = 3.0,
        poll: float = 0.05,
    ):
        self.redis = client
        self.claim_ttl = claim_ttl
        self.reply_ttl = reply_ttl
        self.wait = wait
        self.poll = poll

    def claim(self, key: str) -> Claim:
        """A claim on delivery `key` with a fresh marker, not yet taken."""
        return Claim(PREFIX + key, _PENDING + secrets.token_hex(8).encode())

    def offer(
        self,
        key: str,
        reply: CachedReply | None,
        *,
        guard: Guard,
        writes: Sequence[tuple[str, str, int]] = (),
    ) -> Offer:
        """One round trip (a Lua script, atomic): unless `guard` moved, offer `reply` for
        delivery `key` — or, when `reply` is None, a pending claim — and SET each
        (key, value, ttl) of `writes`. Redis errors propagate."""
        claim = self.claim(key)
        value = claim.marker if reply is None else reply.dumps()
        ttl = self.claim_ttl if reply is None else self.reply_ttl
        flat: list[str | int | bytes] = [guard.expected or "", guard.initial, value, ttl]
        for _key, write_value, write_ttl in writes:
            flat += [write_value, write_ttl]
        keys = [claim.redis_key, guard.key, *(write[0] for write in writes)]
        result = self._run_offer(keys, flat)
        status, current = result[0], result[1]
        if status == b"stale":
            return Offer(OfferStatus.STALE, current)
        held = result[2] if len(result) > 2 else None
        # Held by our own value: the script was resent after a lost reply, and had run.
        if status == b"taken" or held == value:
            if reply is None:
                return Offer(OfferStatus.CLAIMED, current, claim=claim)
            return Offer(OfferStatus.ANSWERED, current)
        cached = CachedReply.loads(held) if held is not None and not held.startswith(_PENDING) else None
        return Offer(OfferStatus.HELD, current, reply=cached)

    def _run_offer(self, keys: list[str], args: list[str | int | bytes]) -> Any:
        """Run the offer script: EVALSHA, and EVAL once when Redis lacks it (NOSCRIPT).

        A client with a connection of its own (`RedisHolder.dedicated`) is written to and
        read from directly: redis-py's command layer (retry, observability, pre-flight
        checks) costs as much CPU as the round trip itself. A dropped connection is
        reconnected and the script sent once more; other Redis errors propagate."""
        conn = getattr(self.redis, "connection", None)
        try:
            if conn is None:
                return self.redis.evalsha(_OFFER_SHA, len(keys), *keys, *args)
            try:
                return _call(conn, "EVALSHA", _OFFER_SHA, len(keys), *keys, *args)
            except (redis_lib.exceptions.ConnectionError, redis_lib.exceptions.TimeoutError):
                conn.disconnect()  # a dropped connection: the next send connects afresh
                return _call(conn, "EVALSHA", _OFFER_SHA, len(keys), *keys, *args)
        except redis_lib.exceptions.NoScriptError:
            return self.redis.eval(_OFFER, len(keys), *keys, *args)  # and Redis keeps it

    def acquire(self, key: str) -> Claim | CachedReply | None:
        """Claim delivery `key`, or get the reply already given to it.

        Returns a Claim (process it), a CachedReply (answer with it), or None when another
        request still holds the claim after `wait` seconds. Redis errors propagate."""
        claim = self.claim(key)
        deadline = time.monotonic() + self.wait
        while not self.redis.set(claim.redis_key, claim.marker, nx=True, ex=self.claim_ttl):
            value = self.redis.get(claim.redis_key)
            if value is not None and not value.startswith(_PENDING):
                return CachedReply.loads(value)
            # Still pending (or released between SET and GET: the next SET NX takes it).
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll)
        return claim

    def store(self, claim: Claim, reply: CachedReply) -> None:
        """Record the reply given for the claimed delivery (replaces the pending marker)."""
        self.redis.set(claim.redis_key, reply.dumps(), ex=self.reply_ttl)

    def release(self, claim: Claim) -> None:
        """Drop our claim (only ours: a claim that expired and was retaken stays)."""
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(claim.redis_key)
                if pipe.get(claim.redis_key) == claim.marker:
                    pipe.multi()
                    pipe.delete(claim.redis_key)
                    pipe.execute()
                else:
                    pipe.unwatch()
            except redis_lib.WatchError:
                # Someone changed the key meanwhile: it is no longer our pending marker.
                pass


_NONCE = "ancha:wechat:nonce:"


class ReplayedNonce(CallbackAuthError):
    """A signed (timestamp, nonce) seen before with a different body."""


def check_fresh_nonce(client: redis_lib.Redis, timestamp: str, nonce: str, body: bytes, window: int) -> None:
    """Remember which body came with this signed (timestamp, nonce). The signature covers
    token, timestamp and nonce only, so a captured URL could otherwise carry any body — any
    openid — until the timestamp goes stale. The same body again (WeChat's own retry) is
    let through to the dedup cache. Raises ReplayedNonce."""
    key = f"{_NONCE}{timestamp}:{nonce}"
    digest = hashlib.sha256(body).hexdigest()
    # Twice the timestamp window: a URL stays signed-and-fresh for `window` either side.
    if client.set(key, digest, nx=True, ex=2 * window + 60):
        return
    seen = client.get(key)
    if seen is not None and (seen.decode() if isinstance(seen, bytes) else seen) != digest:
        raise ReplayedNonce("timestamp and nonce already used with another body")
