"""A type-keyed registry of callback handlers.

Handlers are registered by message type (`text`, `image`, …), event name (`subscribe`,
`scan`, … lower-cased as wechatpy does), menu key (CLICK events) or text command. The most
specific match wins: a CLICK's key before the `click` event, a text command before `text`.

A handler takes (HandlerContext, message) and returns the reply text, or None for the
literal `success`. `dispatch` is the one place that keeps exceptions from reaching WeChat:
a DomainError becomes its (Chinese) message as the reply, anything else is logged and
answered with `success`; both mark the outcome failed so the caller rolls back. A store
outage (app/outages.py) is raised: that delivery is not answered here but spooled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import redis as redis_lib
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.outages import is_store_outage
from app.wechat.parsing import Inbound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandlerContext:
    """What a handler may use: the unit of work (opened on first use from `open_session`;
    the caller commits), Redis, the time, the public base URL for links, and the cache
    generation the lookups may trust (None: they read through, see app/wechat_inbound/lookups.py)."""

    open_session: Callable[[], Session]
    redis: redis_lib.Redis
    now: datetime
    base_url: str
    inbound: Inbound
    generation: bytes | None = None

    @cached_property
    def session(self) -> Session:
        # Lazy: a scan answered from the cache never needs one.
        return self.open_session()

    @property
    def openid(self) -> str:
        return self.inbound.openid

    def link(self, path: str) -> str:
        return f"{self.base_url}{path}"


Handler = Callable[[HandlerContext, Any], str | None]


@dataclass(frozen=True)
class Outcome:
    """The reply text (None → `success`) and whether the handler failed (→ roll back)."""

    reply: str | None
    failed: bool = False


def normalize_command(text: str) -> str:
    return text.strip().casefold()


class Router:
    def __init__(self) -> None:
        self._messages: dict[str, Handler] = {}
        self._events: dict[str, Handler] = {}
        self._clicks: dict[str, Handler] = {}
        self._commands: dict[str, Handler] = {}

    @staticmethod
    def _register(table: dict[str, Handler], keys: tuple[str, ...], what: str) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            for key in keys:
                if key in table:
                    raise ValueError(f"{what} {key!r} already has a handler")
                table[key] = handler
            return handler

        return decorator

    def message(self, *msg_types: str) -> Callable[[Handler], Handler]:
        """Handle plain messages of these MsgTypes."""
        return self._register(self._messages, tuple(t.lower() for t in msg_types), "message type")

    def event(self, *names: str) -> Callable[[Handler], Handler]:
        """Handle these events (names as wechatpy lower-cases them, e.g. `subscribe_scan`)."""
        return self._register(self._events, tuple(n.lower() for n in names), "event")

    def click(self, *keys: str) -> Callable[[Handler], Handler]:
        """Handle CLICK menu events with these EventKeys (case-sensitive, as configured)."""
        return self._register(self._clicks, tuple(keys), "menu key")

    def command(self, *words: str) -> Callable[[Handler], Handler]:
        """Handle text messages equal to one of `words` (trimmed, case-insensitive)."""
        return self._register(self._commands, tuple(normalize_command(w) for w in words), "command")

    def resolve(self, inbound: Inbound) -> Handler | None:
        """The handler for `inbound`, or None when nothing is registered for it."""
        message = inbound.message
        if inbound.msg_type == "event":
            if inbound.event == "click":
                key = getattr(message, "key", None) or ""
                return self._clicks.get(key) or self._events.get("click")
            return self._events.get(inbound.event)
        if inbound.msg_type == "text":
            content = getattr(message, "content", None) or ""
            return self._commands.get(normalize_command(content)) or self._messages.get("text")
        return self._messages.get(inbound.msg_type)

    def dispatch(self, ctx: HandlerContext) -> Outcome:
        """Run the handler for `ctx.inbound`; raises only what a store outage raises."""
        inbound = ctx.inbound
        try:
            handler = self.resolve(inbound)
            if handler is None:
                return Outcome(None)
            return Outcome(handler(ctx, inbound.message))
        except DomainError as exc:
            return Outcome(exc.message, failed=True)
        except Exception as exc:
            if is_store_outage(exc):
                raise  # the callback spools the delivery and replays it later
            log.exception("wechat handler failed for %s/%s", inbound.msg_type, inbound.event or "-")
            return Outcome(None, failed=True)
