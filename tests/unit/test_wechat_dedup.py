"""Retry de-duplication: one claim per delivery, retries get the stored reply."""

from __future__ import annotations

import threading
import time

import fakeredis
import pytest

from app.wechat.dedup import PREFIX, CachedReply, Claim, Deduplicator, Guard, OfferStatus

REPLY = CachedReply("<xml>hi</xml>", "application/xml; charset=utf-8")


@pytest.fixture
def client():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def test_first_delivery_claims_and_a_retry_gets_the_stored_reply(client):
    dedup = Deduplicator(client, wait=0.2)
    claim = dedup.acquire("k1")
    assert isinstance(claim, Claim)
    dedup.store(claim, REPLY)
    assert dedup.acquire("k1") == REPLY
    assert 0 < client.ttl(PREFIX + "k1") <= dedup.reply_ttl


def test_retry_waits_for_a_running_delivery(client):
    dedup = Deduplicator(client, wait=2.0, poll=0.01)
    claim = dedup.acquire("k2")

    def finish_later():
        time.sleep(0.2)
        dedup.store(claim, REPLY)

    worker = threading.Thread(target=finish_later)
    worker.start()
    started = time.monotonic()
    assert dedup.acquire("k2") == REPLY
    assert 0.15 < time.monotonic() - started < 2.0
    worker.join()


def test_wait_is_bounded(client):
    dedup = Deduplicator(client, wait=0.1, poll=0.01)
    assert isinstance(dedup.acquire("k3"), Claim)
    started = time.monotonic()
    assert dedup.acquire("k3") is None
    assert time.monotonic() - started < 0.5


def test_released_claim_lets_a_retry_do_the_work(client):
    dedup = Deduplicator(client, wait=0.1)
    claim = dedup.acquire("k4")
    dedup.release(claim)
    again = dedup.acquire("k4")
    assert isinstance(again, Claim) and again != claim


def test_release_never_drops_someone_elses_claim(client):
    dedup = Deduplicator(client, wait=0.1)
    stale = dedup.acquire("k5")
    client.delete(PREFIX + "k5")  # our claim expired …
    fresh = dedup.acquire("k5")  # … and another request took the delivery
    dedup.release(stale)
    assert client.get(PREFIX + "k5") == fresh.marker


def test_concurrent_claims_have_exactly_one_winner(client):
    dedup = Deduplicator(client, wait=0.0)
    barrier = threading.Barrier(8)
    results = []

    def contend():
        barrier.wait()
        results.append(dedup.acquire("k6"))

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(r, Claim) for r in results) == 1


# --- offer: the callback's one round trip ----------------------------------------------------

GUARD_KEY = "test:generation"


def guard(expected: bytes | None = None) -> Guard:
    return Guard(GUARD_KEY, expected, "initial")


def test_first_offer_answers_and_a_later_one_gets_that_reply(client):
    dedup = Deduplicator(client)
    first = dedup.offer("o1", REPLY, guard=guard())
    assert first.status is OfferStatus.ANSWERED and first.guard_value == b"initial"
    other = CachedReply("<xml>different</xml>", REPLY.content_type)
    again = dedup.offer("o1", other, guard=guard(b"initial"))
    assert again.status is OfferStatus.HELD and again.reply == REPLY
    assert 0 < client.ttl(PREFIX + "o1") <= dedup.reply_ttl


def test_an_offer_with_effects_claims_and_a_retry_finds_it_pending(client):
    dedup = Deduplicator(client, wait=0.1, poll=0.01)
    first = dedup.offer("o2", None, guard=guard())
    assert first.status is OfferStatus.CLAIMED and isinstance(first.claim, Claim)
    retry = dedup.offer("o2", REPLY, guard=guard())
    assert retry.status is OfferStatus.HELD and retry.reply is None  # pending: wait for it
    dedup.store(first.claim, REPLY)
    assert dedup.offer("o2", None, guard=guard()).reply == REPLY


def test_a_moved_guard_writes_nothing(client):
    dedup = Deduplicator(client)
    client.set(GUARD_KEY, "newer")
    stale = dedup.offer("o3", REPLY, guard=guard(b"older"), writes=[("test:w", "1", 60)])
    assert stale.status is OfferStatus.STALE and stale.guard_value == b"newer"
    assert client.get(PREFIX + "o3") is None and client.get("test:w") is None
    assert dedup.offer("o3", REPLY, guard=guard(b"newer")).status is OfferStatus.ANSWERED


def test_writes_ride_along_with_their_ttls(client):
    dedup = Deduplicator(client)
    dedup.offer("o4", REPLY, guard=guard(), writes=[("test:a", "1.5", 60), ("test:b", "x", 3600)])
    assert client.get("test:a") == b"1.5" and 0 < client.ttl("test:a") <= 60
    assert client.get("test:b") == b"x" and 60 < client.ttl("test:b") <= 3600


def test_concurrent_offers_store_one_reply(client):
    dedup = Deduplicator(client)
    replies = [CachedReply(f"<xml>{n}</xml>", REPLY.content_type) for n in range(8)]
    barrier = threading.Barrier(len(replies))
    outcomes = []

    def offer(reply):
        barrier.wait()
        outcomes.append((reply, dedup.offer("o5", reply, guard=guard())))

    threads = [threading.Thread(target=offer, args=(reply,)) for reply in replies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    winners = [reply for reply, outcome in outcomes if outcome.status is OfferStatus.ANSWERED]
    assert len(winners) == 1
    assert all(outcome.reply == winners[0] for _, outcome in outcomes if outcome.status is OfferStatus.HELD)


@pytest.mark.parametrize("reply", [None, REPLY], ids=["claim", "reply"])
def test_an_offer_resent_after_it_ran_is_still_ours(client, monkeypatch, reply):
    """The script ran but its answer was lost (a dropped connection); sent again, it finds
    its own value and takes the delivery instead of waiting on itself."""
    dedup = Deduplicator(client)
    marker = Claim(PREFIX + "o6", b"pending:0123456789abcdef")
    monkeypatch.setattr(dedup, "claim", lambda key: marker)
    first = dedup.offer("o6", reply, guard=guard())
    resent = dedup.offer("o6", reply, guard=guard())
    assert first.status is resent.status is (OfferStatus.CLAIMED if reply is None else OfferStatus.ANSWERED)
