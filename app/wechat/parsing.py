"""Safe parsing of callback bodies into messages (docs/WECHAT.md §1.3–1.4).

Order of defences, cheapest first: a size cap, strict UTF-8, a refusal of any DOCTYPE or
ENTITY declaration before a parser sees the bytes (without a DTD expat knows no entity but
the five predefined ones, so nothing can expand or reach outside), then the shape: root
`<xml>`, the required fields with sane values. The body is parsed once, by expat through
ElementTree (C all the way, where xmltodict calls back into Python per node and
`wechatpy.parse_message` would parse the text a second time) into the dict shape that
xmltodict gives and wechatpy's message classes take. Known types become wechatpy message
objects; the subscription-notification events, which wechatpy 1.8.18 parses as
UnknownMessage, become `SubscriptionNotification`. Every failure raises `InboundError`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError, fromstring

from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage

MAX_BODY_BYTES = 64 * 1024
# A real openid is 28 characters; anything far longer is not from WeChat.
_MAX_ID_CHARS = 128
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)

SUBSCRIPTION_EVENTS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
}


class InboundError(Exception):
    """A body that is refused; `http_status` is the answer (4xx, never 5xx)."""

    http_status = 400


class BodyTooLarge(InboundError):
    http_status = 413


class ForbiddenMarkup(InboundError):
    """DOCTYPE/ENTITY declarations: never sent by WeChat, the vehicle of XML bombs and XXE."""


class MalformedBody(InboundError):
    """Not UTF-8, not well-formed XML, or not an `<xml>` document."""


class MissingField(InboundError):
    """A required field is absent or has an impossible value."""


def check_size(length: int | None) -> None:
    """Raise BodyTooLarge when `length` bytes exceed MAX_BODY_BYTES."""
    if length is not None and length > MAX_BODY_BYTES:
        raise BodyTooLarge(f"body larger than {MAX_BODY_BYTES} bytes")


def decode_body(body: bytes) -> str:
    """The body as text: at most MAX_BODY_BYTES of strict UTF-8 (all WeChat sends).

    Raises BodyTooLarge, MalformedBody."""
    check_size(len(body))
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody("body is not UTF-8") from exc


def parse_xml(text: str) -> dict[str, Any]:
    """The children of the `<xml>` root as a dict.

    Raises BodyTooLarge, ForbiddenMarkup, MalformedBody."""
    check_size(len(text.encode("utf-8")))
    if _DECLARATION.search(text):
        raise ForbiddenMarkup("DOCTYPE/ENTITY declarations are refused")
    if not text.strip():
        raise MalformedBody("empty body")
    try:
        # A str input is fed to expat as UTF-8 whatever the XML declaration claims.
        root = fromstring(text)
    except (ParseError, ValueError) as exc:
        raise MalformedBody(f"not well-formed XML: {exc}") from exc
    fields = _children(root) if root.tag == "xml" else None
    if not fields:
        raise MalformedBody("root element must be <xml> with children")
    return fields


def _children(element: Element) -> dict[str, Any]:
    """xmltodict's shape, attributes ignored: a leaf is its stripped text (None when
    blank), a parent the dict of its children, a repeated child a list."""
    fields: dict[str, Any] = {}
    for child in element:
        value: Any = _children(child) if len(child) else ((child.text or "").strip() or None)
        if child.tag not in fields:
            fields[child.tag] = value
        elif isinstance(previous := fields[child.tag], list):
            previous.append(value)
        else:
            fields[child.tag] = [previous, value]
    return fields


def encrypted_field(envelope: Mapping[str, Any]) -> str:
    """The `Encrypt` element of a compatible/safe-mode body. Raises MissingField."""
    value = envelope.get("Encrypt")
    if not isinstance(value, str) or not value.strip():
        raise MissingField("Encrypt is missing")
    return value.strip()


@dataclass(frozen=True)
class SubscriptionChoice:
    """One entry of a subscription-notification event's `List`."""

    template_id: str
    status: str = ""  # accept / reject (popup, change events)
    popup_scene: str = ""  # 1 = H5 page, 2 = article (popup event)
    msg_id: str = ""  # sent event
    error_code: str = ""  # sent event: 0 = delivered
    error_status: str = ""


@dataclass(frozen=True)
class SubscriptionNotification:
    """subscribe_msg_popup_event / subscribe_msg_change_event / subscribe_msg_sent_event,
    shaped like a wechatpy event (`type`, `event`, `source`, `target`, `time`, `id`)."""

    event: str
    source: str
    target: str
    time: int
    choices: tuple[SubscriptionChoice, ...]
    type: str = "event"
    id: int = 0


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _subscription(fields: Mapping[str, Any], event: str) -> SubscriptionNotification:
    container = fields.get(SUBSCRIPTION_EVENTS[event])
    entries = container.get("List") if isinstance(container, dict) else None
    # xmltodict yields a dict for one <List> and a list for several.
    if isinstance(entries, dict):
        entries = [entries]
    choices = tuple(
        SubscriptionChoice(
            template_id=_text(entry.get("TemplateId")),
            status=_text(entry.get("SubscribeStatusString")),
            popup_scene=_text(entry.get("PopupScene")),
            msg_id=_text(entry.get("MsgID")),
            error_code=_text(entry.get("ErrorCode")),
            error_status=_text(entry.get("ErrorStatus")),
        )
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and _text(entry.get("TemplateId"))
    )
    return SubscriptionNotification(
        event=event,
        source=fields["FromUserName"],
        target=fields["ToUserName"],
        time=int(fields["CreateTime"]),
        choices=choices,
    )


@dataclass(frozen=True)
class Inbound:
    """A parsed callback message: the raw fields and the typed message."""

    fields: Mapping[str, Any]
    message: Any

    @property
    def openid(self) -> str:
        return self.fields["FromUserName"]

    @property
    def msg_type(self) -> str:
        return self.fields["MsgType"].lower()

    @property
    def event(self) -> str:
        """The lower-cased event name as wechatpy classifies it ('' for plain messages):
        a `subscribe` carrying `qrscene_…` is `subscribe_scan`."""
        typed = getattr(self.message, "event", None)
        if isinstance(typed, str) and typed:
            return typed.lower()
        return _text(self.fields.get("Event")).lower()

    @property
    def dedup_key(self) -> str:
        """Identity of one delivery for retry de-duplication (docs/WECHAT.md §1.3).

        Messages: MsgId. Events: FromUserName + CreateTime + Event + EventKey, plus MsgID when
        present, so two template-job results for one user in the same second stay distinct."""
        f = self.fields
        msg_id = _text(f.get("MsgId"))
        if msg_id and self.msg_type != "event":
            raw = f"msg|{f['FromUserName']}|{msg_id}"
        else:
            raw = "|".join(
                (
                    "evt",
                    f["FromUserName"],
                    f["CreateTime"],
                    self.event,
                    _text(f.get("EventKey")),
                    _text(f.get("MsgID")) or msg_id,
                )
            )
        # Hashed: EventKey may be a long URL and Redis keys should stay short.
        return hashlib.sha256(raw.encode()).hexdigest()[:40]


def _require(fields: Mapping[str, Any], name: str, max_chars: int = _MAX_ID_CHARS) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
        raise MissingField(f"{name} is missing or invalid")
    return value


def parse_inbound(xml_text: str) -> Inbound:
    """Parse a (decrypted) message, validate its required fields, build the typed message.

    Raises BodyTooLarge, ForbiddenMarkup, MalformedBody, MissingField."""
    fields = parse_xml(xml_text)
    _require(fields, "ToUserName")
    _require(fields, "FromUserName")
    create_time = _require(fields, "CreateTime", 12)
    if not (create_time.isascii() and create_time.isdigit()):
        raise MissingField("CreateTime is not a number")
    msg_type = _require(fields, "MsgType", 32).lower()
    if msg_type == "event":
        event = _require(fields, "Event", 64).lower()
        if event in SUBSCRIPTION_EVENTS:
            return Inbound(fields, _subscription(fields, event))
    for optional in ("MsgId", "MsgID", "EventKey"):
        if fields.get(optional) is not None and not isinstance(fields[optional], str):
            raise MissingField(f"{optional} is not text")
    return Inbound(fields, typed_message(fields))


def typed_message(fields: Mapping[str, Any]) -> Any:
    """The wechatpy message object for parsed `fields`, classified as
    `wechatpy.parse_message` does (a follow through a QR code is `subscribe_scan` with the
    `qrscene_` prefix cut from EventKey) without parsing the text a second time."""
    message = dict(fields)  # wechatpy rewrites Event/EventKey of a follow through a QR code
    msg_type = message["MsgType"].lower()
    if msg_type != "event" and not msg_type.startswith("device_"):
        return MESSAGE_TYPES.get(msg_type, UnknownMessage)(message)
    event = message["Event"].lower() if "Event" in message else None
    if msg_type.startswith("device_"):
        event = msg_type if event is None else f"device_{event}"
    event_key = message.get("EventKey")
    if event == "subscribe" and event_key:
        if event_key.startswith(("scanbarcode|", "scanimage|")):
            event = message["Event"] = "subscribe_scan_product"
        elif event_key.startswith("qrscene_"):
            event = message["Event"] = "subscribe_scan"
            message["EventKey"] = event_key[len("qrscene_") :]
    return EVENT_TYPES.get(event, UnknownMessage)(message)
