"""core.ratelimit: the fixed window counts the same on Redis (one round trip of two commands, on a connection of the
thread's own) and on local memory."""

import socket
import uuid

import pytest
from django.core.cache import caches

from gridcare.core import ratelimit

REDIS = ("127.0.0.1", 6379)


def _redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5):
            return True
    except OSError:
        return False


def _locmem() -> dict:
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"rl-{uuid.uuid4().hex}"}


def _redis() -> dict:
    if not _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379: the Redis path of the rate limiter is not exercised")
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/15",
        "KEY_PREFIX": f"test-{uuid.uuid4().hex}",  # runs in parallel never share a counter
    }


@pytest.fixture(params=["locmem", "redis"])
def store(request, settings):
    settings.CACHES = {"default": _locmem() if request.param == "locmem" else _redis()}
    return request.param


T0 = 1_800_000_000.0  # a window start for a 60 s window (1,800,000,000 = 30,000,000 × 60)


def test_the_limit_allows_exactly_limit_hits_per_window(store):
    hits = [ratelimit.hit("b", "203.0.113.9", 3, 60, now=T0 + i) for i in range(5)]
    assert hits == [True, True, True, False, False]
    # another client and another bucket count apart
    assert ratelimit.hit("b", "203.0.113.10", 3, 60, now=T0 + 5)
    assert ratelimit.hit("other", "203.0.113.9", 3, 60, now=T0 + 5)


def test_the_next_window_starts_again(store):
    assert [ratelimit.hit("b", "k", 1, 60, now=T0 + 59) for _ in range(2)] == [True, False]
    assert ratelimit.hit("b", "k", 1, 60, now=T0 + 60)  # 60 s later: a new window


def test_the_redis_counter_expires_with_its_window(settings):
    settings.CACHES = {"default": _redis()}
    backend = caches["default"]
    ratelimit.hit("b", "k", 3, 60, now=T0)
    key = backend.make_and_validate_key(f"rl:b:k:{int(T0 // 60)}")
    client = backend._cache.get_client(key)
    # created with the window plus a second, never without an expiry (a forever counter would block for good)
    assert 0 < client.ttl(key) <= 61
    assert backend.get(f"rl:b:k:{int(T0 // 60)}") == 1  # stored as Django's cache reads it
    client.delete(key)


def test_an_error_reply_leaves_nothing_behind_for_the_next_hit(settings):
    # The window's key holds a list (not a counter): INCR answers WRONGTYPE after SET … NX answered nil. The hit
    # fails loudly, and the thread's connection must not hand that pending reply to the next hit.
    settings.CACHES = {"default": _redis()}
    backend = caches["default"]
    key = backend.make_and_validate_key(f"rl:b:wrong:{int(T0 // 60)}")
    client = backend._cache.get_client(key, write=True)
    client.rpush(key, "x")
    try:
        with pytest.raises(Exception, match="WRONGTYPE"):
            ratelimit.hit("b", "wrong", 3, 60, now=T0)
        # Another client's first, second, third and fourth hits count 1, 2, 3, 4 (over the limit of 3).
        assert [ratelimit.hit("b", "right", 3, 60, now=T0) for _ in range(4)] == [True, True, True, False]
    finally:
        client.delete(key, backend.make_and_validate_key(f"rl:b:right:{int(T0 // 60)}"))


def test_a_connection_the_server_dropped_is_made_again(settings):
    # Redis restarted or closed the idle connection: the next hit reconnects (redis-py's retry) and counts.
    settings.CACHES = {"default": _redis()}
    backend = caches["default"]
    assert ratelimit.hit("b", "k2", 3, 60, now=T0)
    key = backend.make_and_validate_key(f"rl:b:k2:{int(T0 // 60)}")
    client = backend._cache.get_client(key, write=True)
    conn = ratelimit._connection(client.connection_pool)
    conn.send_command("CLIENT", "ID")
    own_id = conn.read_response()
    client.execute_command("CLIENT", "KILL", "ID", own_id)  # from the cache's pool: another connection
    try:
        assert ratelimit.hit("b", "k2", 3, 60, now=T0)  # the second hit of the window
        assert backend.get(f"rl:b:k2:{int(T0 // 60)}") == 2
    finally:
        client.delete(key)
