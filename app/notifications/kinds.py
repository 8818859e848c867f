"""Message kinds as data: what each notice says, to whom it may be folded or held, and how
it is laid out as a WeChat template message and as a customer-service text.

Template rules since 2023-05-04 (docs/WECHAT.md §2.4): `first`, `remark` and colours are
not shown, so everything essential is in keyword fields, each at most 20 characters with no
line break; longer values are cut here with "…" rather than by WeChat.

Kinds of one family share their keyword keys, so an account (limited to 25 templates) can
serve a whole family with one template: the template id is read from
`WECHAT_TEMPLATE_<KIND>`, else `WECHAT_TEMPLATE_<FAMILY>` (see config.settings).

The kinds themselves are declared by the features that send them (`notices.py` in each) and
registered by app/notices.py; payload shapes are documented beside each declaration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from app.clock import LOCAL_TZ
from app.notifications.domain import Channel

MAX_KEYWORD_LENGTH = 20
ELLIPSIS = "…"
MISSING = "—"
# A customer-service text is at most 2048 bytes (UTF-8).
MAX_TEXT_BYTES = 2048
_LINE_BREAKS = re.compile(r"[\s\u2028\u2029]+")

Payload = Mapping[str, Any]


class Family(StrEnum):
    """Kinds with one keyword layout (one template can serve them all)."""

    HAZARD = "hazard"
    CHECK = "check"
    TIP = "tip"
    DIGEST = "digest"
    CALENDAR = "calendar"
    BULLETIN = "bulletin"
    SERVICE = "service"  # the account's own answers (a delayed reply)


@dataclass(frozen=True)
class Field:
    """One keyword field: its template key, its label, and its value from the payload."""

    key: str
    label: str
    value: Callable[[Payload], Any]


@dataclass(frozen=True)
class Kind:
    """One kind of notice.

    `urgent` notices are never held in quiet hours nor folded into a digest (also those whose
    payload `urgent_when` holds for, see `is_urgent`); `foldable` ones may be folded for a
    digest-only recipient. `channels` in order of preference: a customer-service message is
    only used inside the recipient's service window, the template always works."""

    name: str
    title: str
    family: Family
    fields: tuple[Field, ...]
    link: Callable[[Payload], str]
    urgent: bool = False
    foldable: bool = True
    channels: tuple[Channel, ...] = (Channel.TEMPLATE,)
    urgent_when: Callable[[Payload], bool] | None = None

    @property
    def setting(self) -> str:
        """The environment variable naming this kind's template id."""
        return f"WECHAT_TEMPLATE_{self.name.upper()}"


@dataclass(frozen=True)
class Rendered:
    """A notice ready to send: template keyword data, the deep link, and the same content
    as one customer-service text."""

    data: dict[str, dict[str, str]]
    url: str
    text: str


# --- value helpers -----------------------------------------------------------------------


def keyword(value: Any) -> str:
    """A keyword value WeChat shows as sent: one line, at most 20 characters ("…" marks a
    cut), MISSING for nothing."""
    text = _one_line(value)
    if not text:
        return MISSING
    if len(text) > MAX_KEYWORD_LENGTH:
        return text[: MAX_KEYWORD_LENGTH - 1].rstrip() + ELLIPSIS
    return text


def _one_line(value: Any) -> str:
    if value is None:
        return ""
    return _LINE_BREAKS.sub(" ", str(value)).strip()


def local_time(value: Any) -> str | None:
    """An ISO timestamp (or datetime) as local "YYYY-MM-DD HH:MM"; None when absent or
    unreadable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def local_date(value: Any) -> str | None:
    """An ISO date (or date) as "M月D日"; None when absent or unreadable."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return None
    if not isinstance(value, date):
        return None
    return f"{value.month}月{value.day}日"


# --- field values from a payload (for the features' kind declarations) ------------------


def from_payload(name: str) -> Callable[[Payload], Any]:
    return lambda payload: payload.get(name)


def time_of(name: str, default: str = MISSING) -> Callable[[Payload], Any]:
    return lambda payload: local_time(payload.get(name)) or default


def constant(text: str) -> Callable[[Payload], Any]:
    return lambda _payload: text


def count_of(name: str, unit: str, label: str) -> Callable[[Payload], str]:
    return lambda payload: f"{label}{int(payload.get(name) or 0)}{unit}"


def fixed_link(path: str) -> Callable[[Payload], str]:
    return lambda _payload: path


# Customer-service message first (inside the recipient's window), else the template.
CS_FIRST = (Channel.CUSTOM, Channel.TEMPLATE)

# Every registered kind, by name. The features declare their kinds (hazards/notices.py,
# escalation/notices.py, tips/notices.py, work_calendar/notices.py) and app/notices.py
# registers them all; the platform knows none of them by itself.
KINDS: dict[str, Kind] = {}


def register(*kinds: Kind) -> None:
    """Make `kinds` known to enqueue and the dispatcher. Registering the same kind again is
    harmless. Raises ValueError for another kind under a name already taken."""
    for kind in kinds:
        known = KINDS.setdefault(kind.name, kind)
        if known is not kind:
            raise ValueError(f"two notification kinds are called {kind.name!r}")


def get_kind(name: str) -> Kind:
    """The kind called `name`. Raises KeyError for an unknown kind."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(
            f"unknown notification kind {name!r}; declare it in its feature's notices.py and register it in app/notices.py"
        ) from None


def is_urgent(kind: Kind, payload: Payload) -> bool:
    """Urgent: the kind says so, or its `urgent_when` does for this payload (a notice about a
    major hazard)."""
    return kind.urgent or (kind.urgent_when is not None and bool(kind.urgent_when(payload)))


def render(kind: Kind, payload: Payload, base_url: str) -> Rendered:
    """The template data (every value a valid keyword), the absolute deep link under
    `base_url`, and the customer-service text (title, one line per field, the link)."""
    url = f"{base_url.rstrip('/')}{kind.link(payload)}"
    data: dict[str, dict[str, str]] = {}
    lines = [f"【{kind.title}】"]
    for field in kind.fields:
        value = field.value(payload)
        data[field.key] = {"value": keyword(value)}
        if field.key != "thing1":  # thing1 repeats the title
            lines.append(f"{field.label}：{_one_line(value) or MISSING}")
    link = f'<a href="{url}">查看详情</a>'
    return Rendered(data=data, url=url, text=_fit_text(lines, link))


def _fit_text(lines: list[str], link: str) -> str:
    """Join lines and the link within MAX_TEXT_BYTES, shortening the longest line first."""
    while True:
        text = "\n".join([*lines, link])
        excess = len(text.encode("utf-8")) - MAX_TEXT_BYTES
        if excess <= 0:
            return text
        longest = max(range(len(lines)), key=lambda i: len(lines[i]))
        if len(lines[longest]) <= 2:
            # Nothing left to shorten (an absurdly long link): cut the bytes.
            return text.encode("utf-8")[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore")
        # CJK characters are 3 bytes; cut a little more than needed and mark it.
        keep = max(len(lines[longest]) - excess // 3 - 2, 1)
        lines[longest] = lines[longest][:keep] + ELLIPSIS
