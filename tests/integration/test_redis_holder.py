"""RedisHolder.dedicated: the callback's client with a connection of its own per thread."""

from __future__ import annotations

import os
import threading

import pytest

from app.extensions import RedisHolder


@pytest.fixture
def holder(redis_url):
    holder = RedisHolder()
    holder.init(redis_url)
    return holder


def test_in_process_redis_shares_the_one_client():
    holder = RedisHolder()
    holder.init(None)
    assert holder.dedicated() is holder()


def test_one_connection_per_thread_kept_across_calls(holder, redis_url):
    if redis_url is None:
        pytest.skip("needs a Redis server")
    first = holder.dedicated()
    assert holder.dedicated() is first and first is not holder()
    assert first.ping() and first.connection is not None
    others: list = []
    thread = threading.Thread(target=lambda: others.append(holder.dedicated()))
    thread.start()
    thread.join()
    assert others[0] is not first
    # Both hold connections of the shared pool (one pool, its limits and settings).
    assert others[0].connection_pool is first.connection_pool is holder().connection_pool


def test_a_forked_worker_gets_its_own_connection(holder, redis_url, monkeypatch):
    if redis_url is None:
        pytest.skip("needs a Redis server")
    parent = holder.dedicated()
    parent.ping()
    pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: pid + 1)
    child = holder.dedicated()
    assert child is not parent and child.connection is not parent.connection


def test_reinitialising_the_holder_drops_the_old_clients(holder, redis_url):
    if redis_url is None:
        pytest.skip("needs a Redis server")
    before = holder.dedicated()
    holder.init(redis_url)
    assert holder.dedicated() is not before
