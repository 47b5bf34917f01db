"""Fixed-window rate limiting on the Django cache (Redis in production, local memory in development)."""

import time

from django.core.cache import cache


def client_key(request) -> str:
    """Rate limits count per client address (behind trusted proxies, the forwarded one)."""
    from .clientip import client_ip

    return client_ip(request) or "unknown"


def hit(bucket: str, key: str, limit: int, window_seconds: int, now: float | None = None) -> bool:
    """Count one hit; False when the client is over `limit` in the current window."""
    window = int((now if now is not None else time.time()) // window_seconds)
    cache_key = f"rl:{bucket}:{key}:{window}"
    if cache.add(cache_key, 1, timeout=window_seconds + 1):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window_seconds + 1)
        return True
    return count <= limit
