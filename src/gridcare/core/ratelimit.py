"""Fixed-window rate limiting on the Django cache (Redis in production, local memory in development).

On Redis a hit is one round trip on a connection of the thread's own (`_connection`): two commands in one
packet, create the window's counter with its expiry if absent, then increment it. On any other cache it is
Django's `add` then `incr`. Both count the same way: the n-th hit of a window sees n, and a client is over the
limit from hit `limit + 1` on.
"""

import os
import threading
import time
import weakref

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError


def client_key(request) -> str:
    """Rate limits count per client address (behind trusted proxies, the forwarded one)."""
    from .clientip import client_ip

    return client_ip(request) or "unknown"


_thread = threading.local()


def _connection(pool):
    """This thread's own connection to the pool's Redis server (made with the pool's settings), kept for the next
    hit. A hit is two replies read to the end, or the connection is dropped: nothing is ever left on it, so the
    pool's check of a borrowed connection for stray data (a poll on its socket, every time) is not needed, nor the
    pool's lock. One per thread and pool; a forked process makes its own."""
    pid = os.getpid()
    if getattr(_thread, "pid", None) != pid:
        _thread.pid, _thread.connections = pid, weakref.WeakKeyDictionary()
    conn = _thread.connections.get(pool)
    if conn is None:
        conn = _thread.connections[pool] = pool.connection_class(**pool.connection_kwargs)
    return conn


def _redis_count(backend: RedisCache, cache_key: str, timeout: int) -> int:
    key = backend.make_and_validate_key(cache_key)
    # `_cache` (Django's RedisCacheClient: the connection pool of this cache) is missing from django-stubs.
    conn = _connection(backend._cache.get_client(key, write=True).connection_pool)  # type: ignore[attr-defined]
    # The window's counter with its expiry unless it exists, then one more hit on it: both commands in one packet,
    # as `client.pipeline(transaction=False)` sends them, at a fraction of its Python cost (every public query
    # pays it).
    packet = conn.pack_commands([("SET", key, 0, "EX", timeout, "NX"), ("INCR", key)])

    def count() -> int:
        conn.send_packed_command(packet, check_health=False)
        conn.read_response()
        return int(conn.read_response())

    try:
        try:
            return count()
        except RedisConnectionError:
            # The server closed the idle connection (a restart, its idle timeout): once more on a new one, as the
            # pool does when it finds a borrowed connection dead.
            conn.disconnect()
            return count()
    except BaseException:
        conn.disconnect()  # whatever went wrong, no reply of ours may be left for the next hit to read
        raise


def hit(bucket: str, key: str, limit: int, window_seconds: int, now: float | None = None) -> bool:
    """Count one hit; False when the client is over `limit` in the current window."""
    window = int((now if now is not None else time.time()) // window_seconds)
    cache_key = f"rl:{bucket}:{key}:{window}"
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _redis_count(backend, cache_key, window_seconds + 1) <= limit
    if cache.add(cache_key, 1, timeout=window_seconds + 1):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window_seconds + 1)
        return True
    return count <= limit
