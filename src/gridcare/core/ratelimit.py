"""Fixed-window rate limiting on the Django cache (Redis in production, local memory in development).

On Redis a hit is one round trip (a pipeline: create the window's counter with its expiry if absent, then
increment it); on any other cache it is Django's `add` then `incr`. Both count the same way: the n-th hit of
a window sees n, and a client is over the limit from hit `limit + 1` on.
"""

import time

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache


def client_key(request) -> str:
    """Rate limits count per client address (behind trusted proxies, the forwarded one)."""
    from .clientip import client_ip

    return client_ip(request) or "unknown"


def _redis_count(backend: RedisCache, cache_key: str, timeout: int) -> int:
    key = backend.make_and_validate_key(cache_key)
    # `_cache` (Django's RedisCacheClient: the connection pool of this cache) is missing from django-stubs.
    client = backend._cache.get_client(key, write=True)  # type: ignore[attr-defined]
    pipe = client.pipeline(transaction=False)
    pipe.set(key, 0, ex=timeout, nx=True)  # the window's counter, with its expiry, unless it exists
    pipe.incr(key)
    return int(pipe.execute()[1])


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
