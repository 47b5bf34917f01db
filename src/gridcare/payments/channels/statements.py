"""Each day's statement of the real channels, downloaded and reconciled (issue 13 §4, 对账).

`download_and_reconcile(day)` asks every configured channel for the day's statement
(alipay.data.dataservice.bill.downloadurl.query then the file; WeChat /v3/bill/tradebill then the file,
through `providers`) and feeds it to the existing reconciliation (`reconciliation.services.reconcile_import`)
over the whole company, since a merchant account takes payments for every unit. Unknown trades become
reconciliation exceptions as they do for an imported file; the same file again changes nothing; a corrected
one replaces the previous import. A channel that is down or answers garbage is reported for that channel and
the others go on (the job runs again the next day, and it can be started by hand for any past day).
"""

from __future__ import annotations

import logging
from datetime import date

from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.payments.reconciliation import services as recon

from . import providers
from .online import REAL_CHANNELS

logger = logging.getLogger("gridcare.payments")


def download_and_reconcile(
    day: date, *, channels: list[str] | None = None, actor: Actor | None = None, ctx=None
) -> dict:
    """Per channel: "not configured", the reconciliation's message, or the error. Raises nothing for one
    channel's failure; the job's result says which failed."""
    actor = actor or Actor(user=None, channel=Channel.SYSTEM, ip=None)
    wanted = [c for c in (channels or REAL_CHANNELS) if c in REAL_CHANNELS]
    if ctx is not None:
        ctx.set_total(len(wanted))
    out: dict[str, dict] = {}
    for i, channel in enumerate(wanted, start=1):
        provider = providers.get(channel)
        if provider is None or not provider.configured():
            out[channel] = {"state": "not_configured"}
        else:
            out[channel] = _one(provider, channel, day, actor)
        if ctx is not None:
            ctx.set_done(i)
    failed = [c for c, r in out.items() if r["state"] == "failed"]
    return {"date": day.isoformat(), "channels": out, "failed": failed}


def _one(provider, channel: str, day: date, actor: Actor) -> dict:
    try:
        data = provider.statement(day)
    except (providers.ChannelError, providers.ChannelRefused) as exc:
        logger.error("%s statement of %s not downloaded: %s", channel, day, exc)
        return {"state": "failed", "error": str(exc)[:300]}
    data = without_comments(data)
    try:
        result = recon.reconcile_import(
            actor=actor,
            channel=channel,
            statement_date=day,
            data=data,
            file_name=f"{channel}-{day.isoformat()}.csv",
        )
    except ValidationError as exc:
        logger.error(
            "%s statement of %s refused by the reconciliation: %s", channel, day, "; ".join(exc.messages)
        )
        return {"state": "failed", "error": "; ".join(exc.messages)[:300]}
    s = result.statement
    return {
        "state": "imported" if result.created else "unchanged",
        "statement_id": s.pk,
        "rows": s.row_count,
        "matched": s.matched_count,
        "exceptions": s.exceptions.filter(status="open").count(),
        "message": recon.import_message(result),
    }


def without_comments(data: bytes) -> bytes:
    """The statement without the lines starting with ``#`` (Alipay's title, totals and 导出时间 — the time of the
    download): the reconciliation skips them anyway, and without them the same day's statement downloaded twice
    is the same file (the import recognises a repeat by its SHA-256). ``#`` is ASCII and never the second byte of
    a GBK character, so the bytes can be split as they are."""
    lines = data.splitlines(keepends=True)
    return b"".join(line for line in lines if not line.lstrip().startswith(b"#"))
