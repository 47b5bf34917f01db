"""Mount point (issue 16); filled by its owner."""

from ninja import Router

router = Router(tags=["hall"])
