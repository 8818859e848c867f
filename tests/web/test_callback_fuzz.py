"""A bounded fuzz run of the callback's parser and endpoint (hypothesis, derandomized so a
CI run is reproducible). Whatever the body — random bytes, mangled XML, valid messages with
hostile field values, garbage in the AES envelope — the parser raises only its own
InboundError, and the endpoint answers 200 or a 4xx, never a 500 (a 5xx makes WeChat retry
a body that will never parse, and hides real faults in the logs)."""

from __future__ import annotations

import secrets
import string
import time
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.wechat.crypto import sign
from app.wechat.parsing import InboundError, decode_body, parse_inbound
from tests.web.test_wechat_callback import URL, encrypted_post, post, safe_mode  # noqa: F401 (fixture)

# Deterministic and bounded: the whole file runs in a few seconds and fails the same way twice.
BOUNDED = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text that XML 1.0 can carry (no control characters but tab/newline, no surrogates).
xml_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff") | st.sampled_from("\t\n"),
    max_size=300,
)
MSG_TYPES = ["text", "image", "voice", "video", "location", "link", "event", "shortvideo", "device_event", "x"]
EVENTS = [
    "subscribe",
    "unsubscribe",
    "SCAN",
    "LOCATION",
    "CLICK",
    "VIEW",
    "TEMPLATESENDJOBFINISH",
    "subscribe_msg_popup_event",
    "MASSSENDJOBFINISH",
    "nonsense",
]
FIELDS = ["Content", "EventKey", "MsgId", "Latitude", "Longitude", "Precision", "Status", "PicUrl", "MediaId", "List"]


@st.composite
def messages(draw) -> str:
    """A message shaped like WeChat's with any values: required fields present or not,
    extra and repeated fields, values in CDATA or escaped text, nested elements."""
    fields: list[tuple[str, str]] = []
    for name, value in (
        ("ToUserName", draw(st.sampled_from(["gh_ancha", ""]) | xml_text)),
        ("FromUserName", draw(st.sampled_from(["oFUZZ000000000000000000000000"]) | xml_text)),
        ("CreateTime", draw(st.sampled_from(["1733300000", "-1", "1e9", ""]) | st.integers(0, 2**40).map(str))),
        ("MsgType", draw(st.sampled_from(MSG_TYPES) | xml_text)),
    ):
        if draw(st.integers(0, 9)):  # now and then a required field is missing
            fields.append((name, value))
    if draw(st.booleans()):
        fields.append(("Event", draw(st.sampled_from(EVENTS) | xml_text)))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        fields.append((name, draw(xml_text)))
    parts = []
    for name, value in fields:
        if draw(st.booleans()) and "]]>" not in value:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
        elif draw(st.integers(0, 5)) == 0:
            parts.append(f"<{name}><item><Key>{escape(value)}</Key></item><item/></{name}>")
        else:
            parts.append(f"<{name}>{escape(value)}</{name}>")
    return f"<xml>{''.join(parts)}</xml>"


def mangled(body: str, cut: int, junk: str) -> str:
    """`body` cut short or with junk spliced in: what a broken proxy or an attacker sends."""
    at = cut % (len(body) + 1)
    return body[:at] + junk + body[at:]


bodies = st.one_of(
    messages(),
    st.builds(mangled, messages(), st.integers(0, 10_000), st.text(string.printable, max_size=12)),
    st.binary(max_size=2_000).map(lambda raw: raw.decode("latin-1")),
)


@BOUNDED
@given(raw=st.binary(max_size=4_000))
def test_any_bytes_either_parse_or_raise_inbound_error(raw):
    try:
        parse_inbound(decode_body(raw))
    except InboundError:
        pass


@BOUNDED
@given(body=bodies)
def test_any_text_either_parses_or_raises_inbound_error(body):
    try:
        inbound = parse_inbound(body)
    except InboundError:
        return
    # What parsed has the fields every handler relies on, as text.
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        assert isinstance(inbound.fields[name], str) and inbound.fields[name].strip()


@BOUNDED
@given(body=bodies | st.binary(max_size=2_000))
def test_the_plaintext_endpoint_never_answers_5xx(client, settings, body):
    answer = post(client, settings, body)
    assert answer.status_code in (200, 400, 403, 413), (answer.status_code, body)


@BOUNDED
@given(body=messages(), envelope=st.sampled_from(["safe", "compatible"]))
def test_the_aes_endpoint_never_answers_5xx(client, safe_mode, body, envelope):  # noqa: F811
    answer = encrypted_post(client, safe_mode, body, compatible=envelope == "compatible")
    assert answer.status_code in (200, 400, 403, 413), (answer.status_code, body)


@BOUNDED
@given(encrypt=st.text(string.ascii_letters + string.digits + "+/=", max_size=400) | xml_text)
def test_garbage_in_the_aes_envelope_is_refused_not_crashed(client, safe_mode, encrypt):  # noqa: F811
    # A correct msg_signature over the garbage, so the decryption itself is what is fuzzed.
    timestamp, nonce = str(int(time.time())), f"n-{secrets.token_hex(6)}"
    params = {
        "signature": sign(safe_mode.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(safe_mode.token, timestamp, nonce, encrypt.strip()),
    }
    body = f"<xml><ToUserName>gh_ancha</ToUserName><Encrypt>{escape(encrypt)}</Encrypt></xml>"
    answer = client.post(f"{URL}?{urlencode(params)}", data=body, content_type="text/xml")
    assert answer.status_code in (200, 400, 403, 413), (answer.status_code, encrypt)
