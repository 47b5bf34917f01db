"""Outages API (indices): see docs/outages.md."""

from ninja import Router

router = Router(tags=["outages"])
