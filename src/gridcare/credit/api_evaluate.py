"""Credit API (issue 17) — filled by its part."""

from ninja import Router

router = Router(tags=["credit"])
