"""Safe parsing of callback bodies: hostile XML is refused fast, known types become messages."""

from __future__ import annotations

import time

import pytest
from wechatpy.events import ScanEvent, SubscribeScanEvent, TemplateSendJobFinishEvent
from wechatpy.messages import ImageMessage, TextMessage

from app.wechat.parsing import (
    MAX_BODY_BYTES,
    BodyTooLarge,
    ForbiddenMarkup,
    MalformedBody,
    MissingField,
    SubscriptionNotification,
    decode_body,
    parse_inbound,
    parse_xml,
)

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""


def message(body: str, msg_type: str = "text", **extra: str) -> str:
    fields = {
        "ToUserName": "gh_account",
        "FromUserName": "o-user-1",
        "CreateTime": "1764295200",
        "MsgType": msg_type,
        **extra,
    }
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return f"<xml>{inner}{body}</xml>"


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entity_declarations_are_refused_quickly(document):
    started = time.perf_counter()
    with pytest.raises(ForbiddenMarkup):
        parse_xml(document)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "prefix",
    ["<!doctype xml>", "<! DOCTYPE xml>", '<!ENTITY x "y">', "<!DocType xml SYSTEM 'http://x/'>"],
)
def test_every_spelling_of_a_declaration_is_refused(prefix):
    with pytest.raises(ForbiddenMarkup):
        parse_xml(prefix + message(""))


def test_oversize_body_is_refused():
    with pytest.raises(BodyTooLarge):
        decode_body(b"<xml>" + b"a" * MAX_BODY_BYTES + b"</xml>")
    with pytest.raises(BodyTooLarge):
        parse_xml("<xml>" + "隐" * (MAX_BODY_BYTES // 3 + 1) + "</xml>")


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"<xml>", b"not xml at all", b"<xml><a></b></xml>", b"\xff\xfe<\x00x\x00", b"<root><a>1</a></root>", b"<xml>text</xml>"],
)
def test_malformed_bodies_are_refused(body):
    with pytest.raises(MalformedBody):
        parse_xml(decode_body(body))


@pytest.mark.parametrize("missing", ["ToUserName", "FromUserName", "CreateTime", "MsgType"])
def test_required_fields(missing):
    fields = {"ToUserName": "gh", "FromUserName": "o1", "CreateTime": "17", "MsgType": "text"}
    fields.pop(missing)
    body = "<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</xml>"
    with pytest.raises(MissingField):
        parse_inbound(body)


@pytest.mark.parametrize(
    "document",
    [
        message("", CreateTime="yesterday"),
        message("", msg_type="event"),  # no Event
        "<xml><ToUserName>gh</ToUserName><FromUserName><a>1</a></FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><FromUserName>o2</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
        message("", FromUserName="o" * 500),
        message("<MsgId><a>1</a></MsgId>"),
    ],
)
def test_impossible_field_values(document):
    with pytest.raises(MissingField):
        parse_inbound(document)


def test_known_types_become_wechatpy_messages():
    text = parse_inbound(message("<Content>帮助</Content><MsgId>42</MsgId>"))
    assert isinstance(text.message, TextMessage) and text.message.content == "帮助"
    image = parse_inbound(message("<PicUrl>http://x/p.jpg</PicUrl><MediaId>m-1</MediaId><MsgId>43</MsgId>", "image"))
    assert isinstance(image.message, ImageMessage) and image.message.media_id == "m-1"
    scan = parse_inbound(message("", "event", Event="SCAN", EventKey="site:abcdefgh12345678", Ticket="t"))
    assert isinstance(scan.message, ScanEvent) and scan.event == "scan"
    assert scan.message.scene_id == "site:abcdefgh12345678"
    follow = parse_inbound(message("", "event", Event="subscribe", EventKey="qrscene_bind:tok12345", Ticket="t"))
    assert isinstance(follow.message, SubscribeScanEvent) and follow.message.scene_id == "bind:tok12345"
    job = parse_inbound(message("<MsgID>200163836</MsgID><Status>success</Status>", "event", Event="TEMPLATESENDJOBFINISH"))
    assert isinstance(job.message, TemplateSendJobFinishEvent) and job.event == "templatesendjobfinish"


def test_subscription_popup_event_with_several_entries():
    body = (
        "<SubscribeMsgPopupEvent>"
        "<List><TemplateId>tpl-a</TemplateId><SubscribeStatusString>accept</SubscribeStatusString><PopupScene>2</PopupScene></List>"
        "<List><TemplateId>tpl-b</TemplateId><SubscribeStatusString>reject</SubscribeStatusString><PopupScene>2</PopupScene></List>"
        "</SubscribeMsgPopupEvent>"
    )
    inbound = parse_inbound(message(body, "event", Event="subscribe_msg_popup_event"))
    assert isinstance(inbound.message, SubscriptionNotification)
    assert inbound.message.source == "o-user-1"
    assert [(c.template_id, c.status, c.popup_scene) for c in inbound.message.choices] == [
        ("tpl-a", "accept", "2"),
        ("tpl-b", "reject", "2"),
    ]


def test_subscription_events_with_a_single_entry_are_normalised_to_a_list():
    change = parse_inbound(
        message(
            "<SubscribeMsgChangeEvent><List><TemplateId>tpl-a</TemplateId>"
            "<SubscribeStatusString>reject</SubscribeStatusString></List></SubscribeMsgChangeEvent>",
            "event",
            Event="subscribe_msg_change_event",
        )
    )
    assert [(c.template_id, c.status) for c in change.message.choices] == [("tpl-a", "reject")]
    sent = parse_inbound(
        message(
            "<SubscribeMsgSentEvent><List><TemplateId>tpl-a</TemplateId><MsgID>1700827132819554304</MsgID>"
            "<ErrorCode>0</ErrorCode><ErrorStatus>success</ErrorStatus></List></SubscribeMsgSentEvent>",
            "event",
            Event="subscribe_msg_sent_event",
        )
    )
    (choice,) = sent.message.choices
    assert (choice.msg_id, choice.error_code, choice.error_status) == ("1700827132819554304", "0", "success")


def test_subscription_event_without_entries_has_none():
    inbound = parse_inbound(message("", "event", Event="subscribe_msg_popup_event"))
    assert inbound.message.choices == ()


def test_dedup_keys():
    first = parse_inbound(message("<Content>a</Content><MsgId>1</MsgId>"))
    retry = parse_inbound(message("<Content>a</Content><MsgId>1</MsgId>", CreateTime="1764295299"))
    other = parse_inbound(message("<Content>a</Content><MsgId>2</MsgId>"))
    assert first.dedup_key == retry.dedup_key  # messages: by MsgId
    assert first.dedup_key != other.dedup_key

    click = parse_inbound(message("", "event", Event="CLICK", EventKey="HELP"))
    same_click = parse_inbound(message("", "event", Event="CLICK", EventKey="HELP"))
    other_key = parse_inbound(message("", "event", Event="CLICK", EventKey="TIPS"))
    later = parse_inbound(message("", "event", Event="CLICK", EventKey="HELP", CreateTime="1764295201"))
    assert click.dedup_key == same_click.dedup_key
    assert len({click.dedup_key, other_key.dedup_key, later.dedup_key}) == 3

    # Two template-job results for one user in the same second are two deliveries.
    job1 = parse_inbound(message("<MsgID>1</MsgID><Status>success</Status>", "event", Event="TEMPLATESENDJOBFINISH"))
    job2 = parse_inbound(message("<MsgID>2</MsgID><Status>success</Status>", "event", Event="TEMPLATESENDJOBFINISH"))
    assert job1.dedup_key != job2.dedup_key


# The callback parses a body once, with ElementTree, and builds wechatpy's message itself;
# these documents pin that it reads exactly what xmltodict and wechatpy.parse_message read.
SAME_AS_WECHATPY = [
    message("<Content><![CDATA[  帮助  ]]></Content><MsgId>42</MsgId>"),
    message("<Content></Content><MsgId>43</MsgId>"),
    message("<PicUrl>http://x/p.jpg?a=1&amp;b=2</PicUrl><MediaId>m-1</MediaId><MsgId>44</MsgId>", "image"),
    message("<Location_X>34.8</Location_X><Location_Y>113.6</Location_Y><Scale>15</Scale><Label>郑州</Label>", "location"),
    message("", "event", Event="SCAN", EventKey="site:abcdefgh12345678", Ticket="t"),
    message("", "event", Event="subscribe", EventKey="qrscene_bind:tok12345", Ticket="t"),
    message("", "event", Event="subscribe", EventKey="scanbarcode|EAN13|6900000000000"),
    message("", "event", Event="subscribe"),
    message("<EventKey></EventKey>", "event", Event="unsubscribe"),
    message("", "event", Event="CLICK", EventKey="TASKS"),
    message("", "event", Event="VIEW", EventKey="http://127.0.0.1/h5/me"),
    message("<Latitude>34.8</Latitude><Longitude>113.6</Longitude><Precision>30</Precision>", "event", Event="LOCATION"),
    message(
        "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>http://x/h5/scan/abcdefgh</ScanResult></ScanCodeInfo>",
        "event",
        Event="scancode_waitmsg",
        EventKey="SCAN",
    ),
    message("<MsgID>200163836</MsgID><Status>success</Status>", "event", Event="TEMPLATESENDJOBFINISH"),
    message("<Something>1</Something>", "shortvideo_unknown_kind"),
    message("", "device_text", Event="bind"),
    "<xml>\n  <ToUserName>gh</ToUserName>\n  <FromUserName>o1</FromUserName>\n  <CreateTime>1</CreateTime>\n"
    "  <MsgType>text</MsgType>\n  <Content>a]]&gt;b &lt;c&gt;</Content>\n  <MsgId>7</MsgId>\n</xml>",
]


@pytest.mark.parametrize("document", SAME_AS_WECHATPY)
def test_one_parse_reads_what_xmltodict_and_wechatpy_read(document):
    import wechatpy
    import xmltodict

    assert parse_xml(document) == xmltodict.parse(document)["xml"]
    ours, theirs = parse_inbound(document).message, wechatpy.parse_message(document)
    assert type(ours) is type(theirs)
    assert ours._data == theirs._data
