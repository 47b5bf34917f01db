"""Mount point (issue 16): the signed terminal API; filled by its owner."""

from ninja import Router

router = Router(tags=["terminal"])
