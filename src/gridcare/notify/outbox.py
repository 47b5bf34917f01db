"""Notification outbox (SPEC C9), enqueue and dedupe: the public API every other app calls to tell a customer
something.

Enqueue (set-based; both fan out to the customer's enabled channels — Customer.notify_sms / notify_wechat /
notify_email — and write one outbox row per channel, or one `suppressed` row saying why nothing goes):

    notification_enqueue(*, kind, customer_id, account_id=None, context, dedupe_key, now=None) -> list[Notification]
    notifications_enqueue_bulk(items, *, now=None) -> int
        items: iterable of dicts {"kind", "customer_id", "account_id" (optional), "context", "dedupe_key"}
        returns how many new rows were written.

`kind` is a `choices.Kind` value. `context` is a dict for the kind's templates; the seeded templates use:

    bill_issued        period ("2026年10月"), amount, due_date
    due_reminder       amount, due_date
    overdue            amount, due_date
    disconnect_notice  amount, disconnect_date
    reconnection       (nothing more)
    payment_receipt    amount, paid_at
    refund             amount
    outage             reason, area, start, end
    outage_change      reason, area, start, end (the new times)
    outage_cancel      reason, area, start, end (the cancelled times)
    outage_restored    reason, area, end (restored at)
    emergency          text
    greeting           text

Every context also gets `customer_name`, `account_number` and `account_masked` (******0001, what SMS shows;
pass `account_id` for the account ones). Decimals are shown with two decimals (half up), dates as
2026年11月20日, aware datetimes as 2026年11月5日 09:07 Beijing time. Pass Decimal amounts, not floats.

`dedupe_key` (≤ 180 characters) names the event, e.g. "bill_issued:<bill id>", "receipt:<payment id>":
enqueuing the same key again (a retried job) writes nothing. A missing or broken template, or a variable
the template needs and the context lacks, raises ValidationError naming the item; nothing is written.

Call them inside the caller's transaction: the rows commit (or roll back) with the event. Quiet hours
(NotifyPreference, default 22:00–08:00 Asia/Shanghai) delay a notice to the end of the quiet period, except
outage (announce, change, cancel) and emergency notices.

Deferred (hot paths, e.g. a payment notification): `notice_row(...)` builds one unrendered `PendingNotice`
row the caller inserts with its own rows; `notices_render_pending(kinds=None, limit=CHUNK)` (a scheduled job)
renders them onto the channels later and deletes them.

Nothing here sends: `dispatch.outbox_dispatch` does, run by `gridcare notify_dispatch` every minute.

Transactional SMS (verification codes, kind `sms_code`): `transactional_sms_enqueue(*, kind, phone, context,
dedupe_key, now=None)` writes one SMS row to a phone number that need not be a customer's (no customer, no unit,
so no staff page lists it). It ignores the channel switches, quiet hours and opt-outs, and once sent its digits
are masked in the row (the development file backend still shows them).

Elsewhere in notify: `templates_render` (the wording), `preferences` (quiet hours, `preference_update`),
`dispatch` (sending and retries), `campaigns` (`campaign_create` / `campaign_launch`).
"""

import json
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time
from decimal import Decimal
from itertools import chain, islice
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.masking import mask_account_number
from gridcare.customers.models import Account, Customer

from .choices import (
    OPT_OUT_KINDS,
    QUIET_HOURS_EXEMPT,
    TRANSACTIONAL_KINDS,
    Kind,
    NotificationStatus,
    NotifyChannel,
    SuppressReason,
)
from .models import Notification, PendingNotice
from .preferences import DEFAULT_QUIET, quiet_release
from .templates_render import Templates

log = logging.getLogger("gridcare.notify")

CHUNK = 5000
CHANNEL_ORDER = (NotifyChannel.SMS, NotifyChannel.WECHAT, NotifyChannel.EMAIL)


# ---------------------------------------------------------------- enqueue


class _Recipient(NamedTuple):
    """What enqueue needs of a customer and their preference row (None fields: no preference row)."""

    id: int
    name: str
    unit_id: int
    phone: str
    email: str
    notify_sms: bool
    notify_wechat: bool
    notify_email: bool
    quiet_start: time | None
    quiet_end: time | None
    wechat_openid: str | None
    greetings_opt_out: bool | None


def _enabled_channels(c: _Recipient) -> list[str]:
    flags = {
        NotifyChannel.SMS: c.notify_sms,
        NotifyChannel.WECHAT: c.notify_wechat,
        NotifyChannel.EMAIL: c.notify_email,
    }
    return [ch for ch in CHANNEL_ORDER if flags[ch]]


def _recipient(c: _Recipient, channel: str) -> str:
    if channel == NotifyChannel.SMS:
        return (c.phone or "").strip()
    if channel == NotifyChannel.EMAIL:
        return (c.email or "").strip()
    return (c.wechat_openid or "").strip()


def _item_error(index: int, item: dict, exc: ValidationError) -> ValidationError:
    label = _("第 %(n)s 条通知（%(key)s）") % {"n": index + 1, "key": item.get("dedupe_key", "")}
    return ValidationError({f: [f"{label}：{m}" for m in msgs] for f, msgs in exc.message_dict.items()})


KINDS = frozenset(Kind.values)


def _check_item(index: int, item: dict) -> None:
    key = item.get("dedupe_key")
    if (
        item.get("kind") in KINDS
        and isinstance(key, str)
        and 0 < len(key) <= 180
        and isinstance(item.get("context"), dict)
    ):
        return
    errs = {}
    if item.get("kind") not in KINDS:
        errs["kind"] = [_("未知的通知类型：%(k)s") % {"k": item.get("kind")}]
    if not isinstance(key, str) or not key or len(key) > 180:
        errs["dedupe_key"] = [_("去重键必须是不超过 180 个字符的非空字符串")]
    if not isinstance(item.get("context"), dict):
        errs["context"] = [_("上下文必须是字典")]
    raise _item_error(index, item, ValidationError(errs))


# Column order of the rows `_build_rows` makes and `_insert` writes.
COLUMNS = (
    "customer_id",
    "account_id",
    "unit_id",
    "campaign_id",
    "kind",
    "channel",
    "recipient",
    "subject",
    "body",
    "payload",
    "status",
    "suppressed_reason",
    "attempts",
    "not_before",
    "next_attempt_at",
    "last_error",
    "provider_id",
    "sent_at",
    "dedupe_key",
    "created_at",
)


def _recipients(items: list[dict]) -> dict[int, _Recipient]:
    """The items' customers with their channel switches and preferences, in one query."""
    customer_ids = list({int(it["customer_id"]) for it in items})
    return {
        r[0]: _Recipient(*r)
        for r in Customer.objects.filter(pk__any=customer_ids).values_list(
            "id",
            "name",
            "unit_id",
            "phone",
            "email",
            "notify_sms",
            "notify_wechat",
            "notify_email",
            "notify_preference__quiet_start",
            "notify_preference__quiet_end",
            "notify_preference__wechat_openid",
            "notify_preference__greetings_opt_out",
        )
    }


def _account_numbers(items: list[dict]) -> dict[int, str]:
    """户号 by account id: those the items carry, the others in one query."""
    accounts = {int(it["account_id"]): it["account_number"] for it in items if it.get("account_number")}
    account_ids = list({int(it["account_id"]) for it in items if it.get("account_id")} - set(accounts))
    if account_ids:
        accounts.update(Account.objects.filter(pk__any=account_ids).values_list("id", "account_number"))
    return accounts


def _row(
    head: tuple, channel: str, recipient: str, rendered: tuple, status: str, reason: str, not_before, key, now
):
    subject, body, payload = rendered
    return (
        *head,
        channel,
        recipient,
        subject,
        body,
        payload,
        status,
        reason,
        0,
        not_before,
        not_before,
        "",
        "",
        None,
        key,
        now,
    )


def _build_rows(items: list[dict], *, now: datetime, templates: Templates, offset: int) -> list[tuple]:
    """Render each item on each of its customer's channels: one tuple per outbox row (COLUMNS order)."""
    customers, accounts = _recipients(items), _account_numbers(items)
    release_cache: dict[tuple, datetime] = {}
    rows = []
    pending, suppressed = NotificationStatus.PENDING.value, NotificationStatus.SUPPRESSED.value
    for i, item in enumerate(items):
        c = customers.get(int(item["customer_id"]))
        if c is None:
            raise _item_error(offset + i, item, ValidationError({"customer_id": [_("客户不存在")]}))
        account_id = int(item["account_id"]) if item.get("account_id") else None
        if account_id is not None and account_id not in accounts:
            raise _item_error(offset + i, item, ValidationError({"account_id": [_("户号不存在")]}))
        kind, key = item["kind"], item["dedupe_key"]
        number = accounts.get(account_id, "") if account_id is not None else ""
        context = {
            "customer_name": c.name,
            "account_number": number,
            "account_masked": mask_account_number(number),
            **item["context"],
        }
        start = item.get("not_before") or now
        not_before = start
        if kind not in QUIET_HOURS_EXEMPT:
            q = (
                (c.quiet_start, c.quiet_end)
                if c.quiet_start is not None and c.quiet_end is not None  # a preference row has both
                else DEFAULT_QUIET
            )
            if (start, *q) not in release_cache:
                release_cache[(start, *q)] = quiet_release(start, *q) or start
            not_before = release_cache[(start, *q)]
        head = (c.id, account_id, c.unit_id, item.get("campaign_id"), kind)
        channels = _enabled_channels(c)
        if not channels:
            reason = SuppressReason.NO_CHANNEL.value
            rows.append(_row(head, "", "", ("", "", {}), suppressed, reason, not_before, f"{key}:-", now))
            continue
        opted_out = kind in OPT_OUT_KINDS and bool(c.greetings_opt_out)
        for ch in channels:
            try:
                rendered = templates.render(kind, ch, context)
            except ValidationError as exc:
                raise _item_error(offset + i, item, exc) from None
            recipient = _recipient(c, ch)
            reason = (
                SuppressReason.OPTED_OUT.value
                if opted_out
                else ("" if recipient else SuppressReason.NO_RECIPIENT.value)
            )
            status = suppressed if reason else pending
            rows.append(_row(head, ch, recipient, rendered, status, reason, not_before, f"{key}:{ch}", now))
    return rows


# PostgreSQL array types of COLUMNS, for the one-statement unnest insert.
PG_TYPES = (
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "integer",
    "timestamptz",
    "timestamptz",
    "text",
    "text",
    "timestamptz",
    "text",
    "timestamptz",
)


def _insert(rows: list[tuple]) -> None:
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING: a retried job's rows are skipped, not duplicated.

    Plain SQL rather than bulk_create: the ORM's per-value preparation costs more than rendering the notice.
    PostgreSQL gets one array per column (`unnest`), so a 5,000-row statement has 20 parameters, not
    100,000 for psycopg to parse; SQLite gets multi-row VALUES."""
    table = Notification._meta.db_table
    i_payload = COLUMNS.index("payload")
    dt_cols = [COLUMNS.index(c) for c in ("not_before", "next_attempt_at", "created_at")]
    cols = ", ".join(COLUMNS)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            names = [f"c{k}" for k in range(len(COLUMNS))]
            select = ", ".join(f"{n}::jsonb" if k == i_payload else n for k, n in enumerate(names))
            arrays = ", ".join(f"%s::{t}[]" for t in PG_TYPES)
            sql = (
                f"INSERT INTO {table} ({cols}) SELECT {select} FROM unnest({arrays}) AS u({', '.join(names)}) "  # noqa: S608 — constants only
                "ON CONFLICT (dedupe_key) DO NOTHING"
            )
            for start in range(0, len(rows), 5000):
                columns = [list(c) for c in zip(*rows[start : start + 5000], strict=True)]
                columns[i_payload] = [json.dumps(v, ensure_ascii=False) for v in columns[i_payload]]
                cur.execute(sql, columns)
            return
        adapt = connection.ops.adapt_datetimefield_value
        adapted: dict[datetime, Any] = {}
        one = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
        for start in range(0, len(rows), 500):
            part = rows[start : start + 500]
            params: list[Any] = []
            for r in part:
                row = list(r)
                row[i_payload] = json.dumps(row[i_payload], ensure_ascii=False)
                for k in dt_cols:
                    if row[k] not in adapted:
                        adapted[row[k]] = adapt(row[k])
                    row[k] = adapted[row[k]]
                params.extend(row)
            sql = f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(part))} ON CONFLICT (dedupe_key) DO NOTHING"  # noqa: S608
            cur.execute(sql, params)


def _existing_keys(keys: list[str]) -> set[str]:
    """Which of the callers' dedupe keys already have outbox rows (any channel)."""
    full = [f"{k}:{ch}" for k in keys for ch in ("-", *CHANNEL_ORDER)]
    table = Notification._meta.db_table
    found: list[str] = []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"SELECT dedupe_key FROM {table} WHERE dedupe_key = ANY(%s::text[])", [full])  # noqa: S608
            found = [r[0] for r in cur.fetchall()]
        else:
            for start in range(0, len(full), 2000):
                part = full[start : start + 2000]
                cur.execute(
                    f"SELECT dedupe_key FROM {table} WHERE dedupe_key IN ({', '.join(['%s'] * len(part))})",  # noqa: S608
                    part,
                )
                found.extend(r[0] for r in cur.fetchall())
    return {k.rsplit(":", 1)[0] for k in found}


_MUTED: ContextVar[bool] = ContextVar("gridcare_notices_muted", default=False)


def notices_are_muted() -> bool:
    """Whether the caller runs inside `notices_muted()` (for enqueue paths of their own, e.g. a transactional SMS
    that a backfill must not send either)."""
    return _MUTED.get()


@contextmanager
def notices_muted():
    """Enqueue nothing inside this block: for backfills of past events (a legacy data migration, the demo's
    year of history), where telling customers today about last spring's bill would be wrong."""
    token = _MUTED.set(True)
    try:
        yield
    finally:
        _MUTED.reset(token)


def notifications_enqueue_bulk(
    items: Iterable[dict], *, now: datetime | None = None, keys_are_new: bool = False
) -> int:
    """Enqueue many notices set-based (see the module docstring); returns how many new rows were written.

    `keys_are_new`: the caller knows no row has these dedupe keys yet (a receipt for the payment it just
    created), so the lookup that spares re-rendering a retried job is skipped — the insert still ignores a
    conflicting key. An item may carry `account_number` (with `account_id`) to spare the account lookup.

    A call of at most CHUNK items renders everything before its single insert, so a bad item raises before
    anything is written and no savepoint is needed inside the caller's transaction (two round trips less on
    the payment path); a larger call runs in its own savepoint so that it is all or nothing."""
    if _MUTED.get():
        return 0
    now = now or timezone.now()
    items = iter(items)
    head = list(islice(items, CHUNK + 1))
    if not head:
        return 0
    templates = Templates()

    def render(chunk: list[dict], offset: int) -> list[tuple]:
        if keys_are_new:
            fresh = chunk
        else:
            # Rows of keys already enqueued are skipped before rendering (a retried job costs one query).
            seen = _existing_keys([str(it["dedupe_key"]) for it in chunk])
            fresh = [it for it in chunk if str(it["dedupe_key"]) not in seen]
        return _build_rows(fresh, now=now, templates=templates, offset=offset) if fresh else []

    if len(head) <= CHUNK:
        # One chunk: everything is checked and rendered before the one INSERT statement (atomic by itself).
        for i, item in enumerate(head):
            _check_item(i, item)
        rows = render(head, 0)
        if rows:
            # No savepoint: nothing can fail here but the database itself, which fails the caller's
            # transaction anyway; outside one, this is the insert's own transaction.
            with transaction.atomic(savepoint=False):
                _insert(rows)
        return len(rows)
    written = 0
    with transaction.atomic():
        chunk: list[dict] = []
        offset = 0
        for item in chain(head, items):
            _check_item(offset + len(chunk), item)
            chunk.append(item)
            if len(chunk) >= CHUNK:
                rows = render(chunk, offset)
                if rows:
                    _insert(rows)
                written += len(rows)
                offset += len(chunk)
                chunk = []
        if chunk:
            rows = render(chunk, offset)
            if rows:
                _insert(rows)
            written += len(rows)
    return written


def notification_enqueue(
    *,
    kind: str,
    customer_id: int,
    account_id: int | None = None,
    context: dict[str, Any],
    dedupe_key: str,
    now: datetime | None = None,
) -> list[Notification]:
    """Enqueue one notice to one customer on each enabled channel; returns its outbox rows (new or existing)."""
    notifications_enqueue_bulk(
        [
            {
                "kind": kind,
                "customer_id": customer_id,
                "account_id": account_id,
                "context": context,
                "dedupe_key": dedupe_key,
            }
        ],
        now=now,
    )
    keys = [f"{dedupe_key}:{ch}" for ch in ("-", *CHANNEL_ORDER)]
    return list(Notification.objects.filter(dedupe_key__in=keys).order_by("id"))


def transactional_sms_enqueue(
    *, kind: str, phone: str, context: dict[str, Any], dedupe_key: str, now: datetime | None = None
) -> Notification:
    """Enqueue one transactional SMS (a verification code) to a phone number, which need not be a customer's.

    Unlike customer notices it ignores the channel switches, quiet hours and opt-outs: it is due at once and
    its retries are not delayed either (the kind is in QUIET_HOURS_EXEMPT). Not muted by `notices_muted`.
    The row carries no customer or unit, so no staff page lists it. Call inside the caller's transaction."""
    if kind not in TRANSACTIONAL_KINDS:
        raise ValidationError({"kind": [_("未知的通知类型：%(k)s") % {"k": kind}]})
    phone = (phone or "").strip()
    if not phone or len(phone) > 20:
        raise ValidationError({"phone": [_("缺少接收号码/地址")]})
    if not dedupe_key or len(dedupe_key) > 180:
        raise ValidationError({"dedupe_key": [_("去重键必须是不超过 180 个字符的非空字符串")]})
    now = now or timezone.now()
    _subject, body, _payload = Templates().render(kind, NotifyChannel.SMS, context)
    with transaction.atomic():
        n, _created = Notification.objects.get_or_create(
            dedupe_key=f"{dedupe_key}:{NotifyChannel.SMS}",
            defaults={
                "kind": kind,
                "channel": NotifyChannel.SMS,
                "recipient": phone,
                "body": body,
                "status": NotificationStatus.PENDING,
                "not_before": now,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
    return n


# ---------------------------------------------------------------- deferred notices (rendered off the request)


def _encode(value: Any) -> Any:
    # JSON keeps no Decimal or datetime; the templates format them by type, so tag them.
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, raw),) = value.items()
        if tag == "$decimal":
            return Decimal(raw)
        if tag == "$datetime":
            return datetime.fromisoformat(raw)
        if tag == "$date":
            return date.fromisoformat(raw)
    return value


def notice_row(
    *,
    kind: str,
    customer_id: int,
    account_id: int | None = None,
    account_number: str = "",
    context: dict[str, Any],
    dedupe_key: str,
    now: datetime | None = None,
) -> PendingNotice | None:
    """A notice asked for without rendering it: the `PendingNotice` row (unsaved; the caller inserts it with
    its own rows, in its transaction), which `notices_render_pending` (a scheduled job) renders and fans out
    later. For hot paths (a payment notification). A bad item raises ValidationError; None when muted."""
    if _MUTED.get():
        return None
    _check_item(0, {"kind": kind, "context": context, "dedupe_key": dedupe_key})
    return PendingNotice(
        kind=kind,
        customer_id=customer_id,
        account_id=account_id,
        account_number=account_number,
        context={k: _encode(v) for k, v in context.items()},
        dedupe_key=dedupe_key,
        created_at=now or timezone.now(),
    )


def notices_render_pending(*, kinds: Iterable[str] | None = None, limit: int = CHUNK) -> int:
    """Render up to `limit` pending notices (oldest first; of `kinds` when given) onto their customers'
    channels and delete them, in one transaction; returns how many were handled. Safe to run in several
    workers at once (rows are claimed with SKIP LOCKED on PostgreSQL) and to retry (dedupe keys). A notice
    whose template no longer renders is logged and dropped, never blocking the others."""
    with transaction.atomic():
        qs = PendingNotice.objects.order_by("id")
        if kinds is not None:
            qs = qs.filter(kind__in=list(kinds))
        rows = list(qs.select_for_update(skip_locked=True)[:limit])
        if not rows:
            return 0
        items = [
            {
                "kind": p.kind,
                "customer_id": p.customer_id,
                "account_id": p.account_id,
                **({"account_number": p.account_number} if p.account_number else {}),
                "context": {k: _decode(v) for k, v in p.context.items()},
                "dedupe_key": p.dedupe_key,
            }
            for p in rows
        ]
        try:
            notifications_enqueue_bulk(items)
        except ValidationError:
            for item in items:  # find the bad one(s): the others still go
                try:
                    with transaction.atomic():
                        notifications_enqueue_bulk([item])
                except ValidationError as exc:
                    log.error("pending notice %s dropped: %s", item["dedupe_key"], "; ".join(exc.messages))
        PendingNotice.objects.filter(pk__in=[p.pk for p in rows]).delete()
    return len(rows)
