"""LocalCache: entries live for one generation, at most max_age, at most max_entries."""

from __future__ import annotations

import pytest

from app.cache import LocalCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def loader(value, calls):
    def load():
        calls.append(value)
        return value

    return load


def test_a_hit_does_not_load_again(clock):
    cache, calls = LocalCache(clock=clock), []
    assert cache.get(b"g1", "k", loader(1, calls)) == 1
    assert cache.get(b"g1", "k", loader(2, calls)) == 1
    assert calls == [1]


def test_another_generation_drops_everything(clock):
    cache, calls = LocalCache(clock=clock), []
    cache.get(b"g1", "a", loader("a1", calls))
    cache.get(b"g1", "b", loader("b1", calls))
    assert cache.get(b"g2", "a", loader("a2", calls)) == "a2"
    assert len(cache) == 1  # "b" went with g1
    assert cache.get(b"g2", "a", loader("a3", calls)) == "a2"


def test_entries_expire_after_max_age(clock):
    cache, calls = LocalCache(max_age=60, clock=clock), []
    cache.get(b"g", "k", loader(1, calls))
    clock.now += 59
    assert cache.get(b"g", "k", loader(2, calls)) == 1
    clock.now += 2
    assert cache.get(b"g", "k", loader(3, calls)) == 3


def test_the_oldest_entry_makes_room(clock):
    cache, calls = LocalCache(max_entries=2, clock=clock), []
    for key in "abc":
        cache.get(b"g", key, loader(key, calls))
    assert len(cache) == 2
    assert cache.get(b"g", "a", loader("a again", calls)) == "a again"
    assert cache.get(b"g", "c", loader("c again", calls)) == "c"


def test_values_are_kept_only_when_keep_says_so(clock):
    cache, calls = LocalCache(clock=clock), []
    assert cache.get(b"g", "k", loader(1, calls), keep=lambda: False) == 1
    assert cache.get(b"g", "k", loader(2, calls)) == 2
    assert calls == [1, 2]


def test_a_failing_load_stores_nothing(clock):
    cache = LocalCache(clock=clock)

    def broken():
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        cache.get(b"g", "k", broken)
    assert len(cache) == 0
