"""Outages API (quality): see docs/outages.md."""

from ninja import Router

router = Router(tags=["outages"])
