"""work-orders API of the 95598 service (issue 15). Mounted at /api/v1/ by gridcare/api.py."""

from ninja import Router

router = Router(tags=["work-orders"])
