"""Process-local caches of rarely changing rows, kept honest by a generation in Redis.

The WeChat callback answers most scans from memory: a site's token, name and enterprise and
a user's standing change a few times a year, and are read on every scan. Every process keeps
its own `LocalCache`; what keeps the copies true is one Redis key, the *generation*:

- `watch(Model, *attributes)` declares what a cache depends on. A transaction that inserts or
  deletes a row of a watched model, changes one of the watched attributes, or runs an ORM
  bulk INSERT/UPDATE/DELETE on the model writes a fresh random generation *after* its commit;
- a reader passes the generation it believes current (`seen_generation`, what this process
  last read) and a cache drops everything it holds when that differs from the one its
  entries were loaded under. The reader then checks its belief: the callback does it in the
  same atomic script that stores its reply (wechat/dedup.py), and runs the handler again
  when the generation had moved. An entry is tagged with the generation believed *before*
  loading, so a load that raced with a commit is dropped by the next check;
- entries also expire after `max_age` seconds: the bound on staleness should the generation
  write fail (Redis unreachable right after a commit), and nothing a user will wait for.

Values are only cached from a session that has not itself written watched rows in its open
transaction: what such a session reads may still be rolled back.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import redis as redis_lib
from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

log = logging.getLogger(__name__)

GENERATION_KEY = "ancha:cache:generation"
_CHANGED = "ancha_cache_changed"  # Session.info flag: watched rows written in this transaction

_watched: dict[type, frozenset[str]] = {}

V = TypeVar("V")
_MISSING = object()


def watch(model: type, *attributes: str) -> None:
    """Make commits that change `attributes` of `model` rows (or add/delete rows) move the
    generation. Raises ValueError for an attribute the model does not map."""
    mapped = inspect(model).attrs.keys()
    unknown = set(attributes) - set(mapped)
    if unknown:
        raise ValueError(f"{model.__name__} has no attributes {sorted(unknown)}")
    _watched[model] = _watched.get(model, frozenset()) | frozenset(attributes)


def _changes_watched(obj: Any, session: Session) -> bool:
    attributes = _watched.get(type(obj))
    if attributes is None:
        return False
    if obj in session.new or obj in session.deleted:
        return True
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in attributes)


_seen: bytes | None = None


def seen_generation() -> bytes | None:
    """The generation this process last read from Redis (None before the first read)."""
    return _seen


def note_generation(value: bytes | None) -> None:
    """Remember the generation just read from Redis; caches compare against it."""
    global _seen
    _seen = value


def new_generation() -> str:
    """A generation value nobody has seen: random, so that a Redis flush followed by a
    write can never bring back one that old entries were tagged with."""
    return secrets.token_hex(8)


def bump(client: redis_lib.Redis) -> None:
    """Move the generation. Failures are logged, not raised: the commit they follow has
    happened, and `max_age` bounds the staleness."""
    try:
        client.set(GENERATION_KEY, new_generation())
    except redis_lib.RedisError:
        log.warning("could not move the cache generation; cached lookups may lag for max_age", exc_info=True)


def can_cache_from(session: Session) -> bool:
    """Whether what `session` reads now is committed data, safe to keep past its transaction."""
    return not (session.info.get(_CHANGED) or session.new or session.dirty or session.deleted)


class LocalCache(Generic[V]):
    """A bounded map, private to this process, whose entries are valid for one generation and
    at most `max_age` seconds. Thread-safe (gthread workers share it)."""

    def __init__(self, max_entries: int = 20_000, max_age: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.max_entries = max_entries
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._generation: bytes | None | object = _MISSING
        self._entries: dict[Hashable, tuple[float, V]] = {}
        _caches.append(self)

    def get(
        self, generation: bytes | None, key: Hashable, load: Callable[[], V], *, keep: Callable[[], bool] = lambda: True
    ) -> V:
        """The value for `key` under `generation`, from memory or from `load()`; a loaded
        value is kept only if `keep()` says so after the load. Whatever `load` raises
        propagates."""
        now = self._clock()
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.max_age:
            return hit[1]
        value = load()
        if keep():
            with self._lock:
                if self._generation == generation:
                    if len(self._entries) >= self.max_entries:
                        # Oldest first: dicts keep insertion order.
                        del self._entries[next(iter(self._entries))]
                    self._entries[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation = _MISSING

    def __len__(self) -> int:
        return len(self._entries)


_caches: list[LocalCache[Any]] = []


def clear_all() -> None:
    """Empty every LocalCache of this process (tests roll back what caches may have seen)."""
    for cache in _caches:
        cache.clear()
    note_generation(None)


# --- moving the generation on commit -------------------------------------------------------


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    if _watched and any(
        _changes_watched(obj, session) for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and any(
        mapper.class_ in _watched for mapper in state.all_mappers
    ):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        from app.extensions import redis_client

        try:
            client = redis_client()
        except RuntimeError:  # no app (a bare script): no process-local caches to keep true
            return
        bump(client)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction settles the flag: a rolled-back savepoint leaves what
    # the enclosing transaction wrote before it, and that still needs its move on commit.
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)
