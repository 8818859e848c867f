"""Retry de-duplication for the callback (wechat.md §1.3).

WeChat retries a delivery it got no answer for within 5 s, up to three times, and a retry
can arrive while the first request is still running. So the first request *claims* the
delivery with an atomic `SET key NX EX` (check-then-write would let both through), runs
the handler once, and stores the exact reply it sent; any retry waits a bounded time for
that reply and answers with it, byte for byte. A request that fails before its effect is
committed releases the claim so a later retry can do the work instead.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import redis as redis_lib

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

    def acquire(self, key: str) -> Claim | CachedReply | None:
        """Claim delivery `key`, or get the reply already given to it.

        Returns a Claim (process it), a CachedReply (answer with it), or None when another
        request still holds the claim after `wait` seconds. Redis errors propagate."""
        redis_key = PREFIX + key
        deadline = time.monotonic() + self.wait
        while True:
            marker = _PENDING + secrets.token_hex(8).encode()
            if self.redis.set(redis_key, marker, nx=True, ex=self.claim_ttl):
                return Claim(redis_key, marker)
            value = self.redis.get(redis_key)
            if value is not None and not value.startswith(_PENDING):
                return CachedReply.loads(value)
            # Still pending (or released between SET and GET: the next SET NX takes it).
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll)

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
