"""The public 95598-style 户号 query, shared by the API and the portal page.

Unknown numbers, malformed numbers, closed accounts and name mismatches all get the same answer,
so the endpoint cannot be used to learn which 户号 exist. Rate-limited per client.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from gridcare.core import ratelimit
from gridcare.core.validators import ACCOUNT_NUMBER_RE

from .selectors import public_account_lookup


@dataclass(frozen=True)
class PublicQueryResult:
    status: int  # 200 found, 404 not found or mismatch, 429 rate-limited
    payload: dict
    account_id: int | None = None  # the account found (200 only), for callers that add to the payload
    extra: Any = None  # what a caller's own lookup read along (200 only; see `public_query`)


def not_found_payload() -> dict:
    return {"found": False, "message": _("未查询到匹配的户号信息，请核对户号和户名后重试")}


def _lookup(account_number: str) -> dict[str, Any] | None:
    return public_account_lookup(account_number, with_name=True)


def public_query(
    *,
    client_key: str,
    account_number: str,
    name: str | None = None,
    lookup: Callable[[str], dict[str, Any] | None] = _lookup,
) -> PublicQueryResult:
    """Count the query, then answer the masked account, or the one 404 for every miss.

    `lookup` reads the account by its well-formed number: `public_account_lookup(number, with_name=True)`, or a
    caller's own statement built on `selectors.public_lookup_sql` that reads more in the same round trip and
    returns it under `_extra` (handed back as `extra`, never sent out)."""
    conf = settings.GRIDCARE
    if not ratelimit.hit(
        "public_query", client_key, conf["PUBLIC_QUERY_RATE"], conf["PUBLIC_QUERY_WINDOW_SECONDS"]
    ):
        return PublicQueryResult(429, {"found": False, "message": _("查询过于频繁，请稍后再试")})
    account_number = (account_number or "").strip()
    if not ACCOUNT_NUMBER_RE.fullmatch(account_number):
        return PublicQueryResult(404, not_found_payload())
    row = lookup(account_number)
    if row is None or (name is not None and name.strip() != row.pop("_name")):
        return PublicQueryResult(404, not_found_payload())
    row.pop("_name", None)
    account_id = row.pop("_account_id")
    extra = row.pop("_extra", None)
    return PublicQueryResult(200, {"found": True, **row}, account_id, extra)
