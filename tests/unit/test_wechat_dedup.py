"""Retry de-duplication: one claim per delivery, retries get the stored reply."""

from __future__ import annotations

import threading
import time

import fakeredis
import pytest

from app.wechat.dedup import PREFIX, CachedReply, Claim, Deduplicator

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
