"""Payment channel adapters (`base.Provider`) by channel: `get("alipay")`, `get("wechat")`.

`register(channel, factory)` plugs another one in (a bank, a wallet) without touching the services."""

from __future__ import annotations

from collections.abc import Callable

from .base import ChannelError, ChannelRefused, OrderRequest, Placement, Provider, RefundAnswer, Trade

__all__ = [
    "ChannelError",
    "ChannelRefused",
    "OrderRequest",
    "Placement",
    "Provider",
    "RefundAnswer",
    "Trade",
    "get",
    "register",
]

_factories: dict[str, Callable[[], Provider]] = {}


def register(channel: str, factory: Callable[[], Provider]) -> None:
    _factories[channel] = factory


def get(channel: str) -> Provider | None:
    """The adapter of `channel`, or None when the channel has none (counter, bank files …)."""
    if not _factories:
        from . import alipay, wechatpay

        register(alipay.AlipayProvider.channel, alipay.AlipayProvider)
        register(wechatpay.WechatPayProvider.channel, wechatpay.WechatPayProvider)
    factory = _factories.get(channel)
    return factory() if factory else None
