"""The leader lease: at most one active scheduler, through one Redis key.

`SET key token NX PX ttl` takes the lease; the holder renews it (compare-and-set on its own
token) well before it expires; a standby keeps trying `SET NX` and wins as soon as the key
is gone — released on a clean stop, or expired `ttl` after the holder died. The holder also
keeps a local deadline (monotonic clock, measured from *before* each Redis call): it treats
the lease as lost as soon as that deadline passes, even if Redis is unreachable and it
cannot hear otherwise, so two processes never both believe they hold it.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

DEFAULT_KEY = "ancha:scheduler:leader"


class LeaderLease:
    """One process's view of the lease. Not thread-safe: one thread drives it."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        key: str = DEFAULT_KEY,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError("the lease ttl must be positive")
        self.client = client
        self.key = key
        self.ttl = ttl
        self._clock = clock
        # Who holds it, readable by an operator: `redis-cli GET ancha:scheduler:leader`.
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._valid_until = 0.0

    @property
    def ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    def held(self) -> bool:
        """True while this process may act as the leader (its local deadline not passed)."""
        return self._clock() < self._valid_until

    def remaining(self) -> float:
        """Seconds left before the local deadline (0 when not held)."""
        return max(0.0, self._valid_until - self._clock())

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it. Raises redis.RedisError when Redis fails."""
        started = self._clock()
        if self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            self._valid_until = started + self.ttl
            return True
        return False

    def renew(self) -> bool:
        """Extend the lease by `ttl` if it is still ours. False when another process holds it
        or it expired (the local deadline is cleared). Raises redis.RedisError when Redis
        fails; the local deadline then stands, and `held()` says how long it still counts."""
        started = self._clock()
        if self._compare_and(lambda pipe: pipe.pexpire(self.key, self.ttl_ms)):
            self._valid_until = started + self.ttl
            return True
        self._valid_until = 0.0
        return False

    def release(self) -> None:
        """Give the lease up now (only if still ours), so a standby takes over at once.
        Never raises: on a Redis failure the lease simply expires."""
        self._valid_until = 0.0
        try:
            self._compare_and(lambda pipe: pipe.delete(self.key))
        except redis.RedisError as exc:
            log.warning("could not release the scheduler lease (it will expire): %s", exc)

    def _compare_and(self, command: Callable[[redis.client.Pipeline], object]) -> bool:
        """Run `command` in a MULTI only if the key still holds our token (WATCH: the MULTI
        fails if the key changes in between). Lua would do in one call, but the embedded
        in-process Redis has no scripting; WATCH works on both."""
        with self.client.pipeline() as pipe:
            try:
                pipe.watch(self.key)
                current = pipe.get(self.key)
                if current is None or _text(current) != self.token:
                    pipe.unwatch()
                    return False
                pipe.multi()
                command(pipe)
                # PEXPIRE / DEL answer 0 when the key vanished meanwhile.
                return bool(pipe.execute()[0])
            except redis.WatchError:
                return False


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
