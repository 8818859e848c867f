"""The callback's offer on a dedicated Redis connection (RedisHolder.dedicated), which it
writes to and reads from directly, past redis-py's command layer."""

from __future__ import annotations

import pytest

from app.extensions import RedisHolder
from app.wechat.dedup import CachedReply, Deduplicator, Guard, OfferStatus

REPLY = CachedReply("<xml>hi</xml>", "application/xml; charset=utf-8")
GUARD_KEY = "test:dedup-connection:generation"


@pytest.fixture
def holder(redis_url, redis):
    if redis_url is None:
        pytest.skip("needs a Redis server")
    holder = RedisHolder()
    holder.init(redis_url)
    return holder


def offer(holder: RedisHolder, key: str, reply: CachedReply | None = REPLY):
    dedup = Deduplicator(holder.dedicated())
    return dedup.offer(key, reply, guard=Guard(GUARD_KEY, None, "g1"), writes=[("test:w", "1", 60)])


def test_offer_answers_then_holds_on_its_own_connection(holder, redis):
    assert offer(holder, "c1").status is OfferStatus.ANSWERED
    again = offer(holder, "c1", CachedReply("<xml>other</xml>", REPLY.content_type))
    assert again.status is OfferStatus.HELD and again.reply == REPLY
    assert redis.get("test:w") == b"1" and redis.get(GUARD_KEY) == b"g1"


def test_a_connection_dropped_by_the_server_is_reconnected(holder, redis):
    assert offer(holder, "c2").status is OfferStatus.ANSWERED
    mine = holder.dedicated().client_id()
    redis.client_kill_filter(_id=mine)
    assert offer(holder, "c3").status is OfferStatus.ANSWERED
    assert holder.dedicated().client_id() != mine


def test_a_script_flushed_from_redis_is_sent_whole(holder, redis):
    redis.script_flush()
    assert offer(holder, "c4").status is OfferStatus.ANSWERED
    assert offer(holder, "c5", None).status is OfferStatus.CLAIMED
