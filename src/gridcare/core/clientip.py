"""The client's IP address, behind trusted reverse proxies or not.

Behind a proxy `REMOTE_ADDR` is the proxy. `GRIDCARE_TRUSTED_PROXIES` lists the proxies (addresses or CIDR
networks, comma-separated): when the request comes from one of them, the client is the right-most address of
`X-Forwarded-For` that is not itself a trusted proxy. A header from anyone else is ignored, so a client cannot
choose its own address (and escape a per-IP rate limit) by sending X-Forwarded-For.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple:
    nets = []
    for item in spec:
        item = item.strip()
        if item:
            nets.append(ipaddress.ip_network(item, strict=False))
    return tuple(nets)


def _trusted(addr: str, nets: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip in net for net in nets)


def _valid(addr: str) -> bool:
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return False
    return True


def client_ip(request) -> str | None:
    """The address to rate-limit and audit: REMOTE_ADDR, or the forwarded client behind a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR") or None
    nets = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not remote or not nets or not _trusted(remote, nets):
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    for addr in reversed(forwarded):
        if not _valid(addr):
            return remote  # a garbled header: fall back to the proxy rather than trust part of it
        if not _trusted(addr, nets):
            return addr
    return forwarded[0] if forwarded else remote


def from_trusted_proxy(request) -> bool:
    """True when the request comes straight from one of GRIDCARE_TRUSTED_PROXIES (its headers may be believed)."""
    remote = request.META.get("REMOTE_ADDR") or ""
    nets = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    return bool(remote and nets and _trusted(remote, nets))
