"""Notification outbox (SPEC C9): the public API every other app calls to tell a customer something.

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
outage and emergency notices.

Dispatch: `outbox_dispatch(*, now=None, limit=500, batch=50) -> DispatchResult` claims due rows
(`select_for_update(skip_locked=True)` on PostgreSQL), sends each through its channel backend and records
the outcome; failures retry after 1 min, 5 min, 30 min, 2 h, then the row is `dead` after the 5th attempt
(NOTIFY["MAX_ATTEMPTS"]); a PermanentError is dead at once. `gridcare notify_dispatch [--loop --interval N]`.

Transactional SMS (verification codes, kind `sms_code`): `transactional_sms_enqueue(*, kind, phone, context,
dedupe_key, now=None)` writes one SMS row to a phone number that need not be a customer's (no customer, no unit,
so no staff page lists it). It ignores the channel switches, quiet hours and opt-outs, and once sent its digits
are masked in the row (the development file backend still shows them).

Also here: `preference_update` (staff or the bound portal customer), `campaign_create` / `campaign_launch`.
"""

import json
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain, islice
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import TextNode, Variable, VariableNode
from django.utils import timezone
from django.utils.formats import localize
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.masking import mask_account_number, mask_codes, mask_hidden
from gridcare.core.permissions import Perm, Role
from gridcare.customers.models import Account, Customer
from gridcare.customers.services import PermissionDenied, _check_unit

from . import backends
from .choices import (
    DUE_STATUSES,
    OPT_OUT_KINDS,
    QUIET_HOURS_EXEMPT,
    TRANSACTIONAL_KINDS,
    CampaignStatus,
    Kind,
    NotificationStatus,
    NotifyChannel,
    SuppressReason,
)
from .defaults import default_templates
from .models import Campaign, NoticeTemplate, Notification, NotifyPreference, PendingNotice

log = logging.getLogger("gridcare.notify")

__all__ = [
    "notification_enqueue",
    "notifications_enqueue_bulk",
    "transactional_sms_enqueue",
    "outbox_dispatch",
    "preference_update",
    "campaign_create",
    "campaign_launch",
    "PermissionDenied",
]

CHUNK = 5000
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
DEFAULT_QUIET = (time(22, 0), time(8, 0))
CHANNEL_ORDER = (NotifyChannel.SMS, NotifyChannel.WECHAT, NotifyChannel.EMAIL)


# ---------------------------------------------------------------- rendering


class _MissingVariable(Exception):
    pass


class _StrictInvalid(str):
    """`string_if_invalid` that refuses instead of printing nothing: a template asking for a variable the
    context lacks is an error at enqueue time, not a blank in a customer's SMS. (`{% if x %}` still works.)"""

    def __contains__(self, item):
        return item == "%s"

    def __mod__(self, var):
        raise _MissingVariable(var)


# Plain text out (SMS, WeChat fields, e-mail text): no HTML escaping.
ENGINE = Engine(autoescape=False, string_if_invalid=_StrictInvalid("%s"), libraries={}, builtins=[])


def _plain(value: Any) -> Any:
    """Amounts with two decimals (half up), dates as 2026年11月9日, times as 2026年11月9日 14:05 (Beijing time)."""
    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return value


class _Fast:
    """A template made only of text and plain `{{ name }}` variables, rendered by joining strings.

    Most notices are like that; Django's renderer costs ~100 µs a template, which at a million bills is
    minutes. Anything else (tags, filters, dotted lookups) goes through Django's engine."""

    def __init__(self, parts: list[tuple[bool, str]]):
        self.parts = parts

    def render(self, ctx: "_RenderContext") -> str:
        values = ctx.values
        out = []
        for is_var, text in self.parts:
            if not is_var:
                out.append(text)
            elif text in values:
                v = values[text]
                out.append(v if isinstance(v, str) else str(localize(v)))
            else:
                raise _MissingVariable(text)
        return "".join(out)


class _Slow:
    def __init__(self, template):
        self.template = template

    def render(self, ctx: "_RenderContext") -> str:
        if ctx.django is None:
            ctx.django = Context(ctx.values, autoescape=False)
        return self.template.render(ctx.django)


class _RenderContext:
    def __init__(self, values: dict[str, Any]):
        self.values = values
        self.django = None


def _compile(source: str):
    """Compile with Django's engine (syntax errors surface here), then take the fast path when it can."""
    template = ENGINE.from_string(source)
    parts: list[tuple[bool, str]] = []
    for node in template.nodelist:
        if isinstance(node, TextNode):
            parts.append((False, node.s))
        elif (
            isinstance(node, VariableNode)
            and not node.filter_expression.filters
            and isinstance(node.filter_expression.var, Variable)
            and node.filter_expression.var.lookups is not None
            and len(node.filter_expression.var.lookups) == 1
            and not node.filter_expression.var.translate
        ):
            parts.append((True, node.filter_expression.var.lookups[0]))
        else:
            return _Slow(template)
    return _Fast(parts)


class _Templates:
    """The kind × channel templates, compiled once per enqueue call."""

    def __init__(self):
        # A kind's rows are read when it is first needed (a receipt reads its three, not all thirty-three).
        self._rows: dict[tuple[str, str], NoticeTemplate] = {}
        self._kinds: set[str] = set()
        self._compiled: dict[tuple[str, str], dict[str, Any]] = {}

    def _load(self, kind: str) -> None:
        defaults = default_templates()
        self._rows.update({k: v for k, v in defaults.items() if k[0] == kind})
        self._rows.update({(t.kind, t.channel): t for t in NoticeTemplate.objects.filter(kind=kind)})
        self._kinds.add(kind)

    def get(self, kind: str, channel: str) -> dict[str, Any]:
        key = (kind, channel)
        if key not in self._compiled:
            if kind not in self._kinds:
                self._load(kind)
            row = self._rows.get(key)
            if row is None:
                raise ValidationError(
                    {"kind": [_("缺少通知模板：%(kind)s / %(channel)s") % {"kind": kind, "channel": channel}]}
                )
            try:
                self._compiled[key] = {
                    "row": row,
                    "subject": _compile(row.subject),
                    "body": _compile(row.body),
                    "fields": {k: _compile(str(v)) for k, v in (row.wechat_fields or {}).items()},
                }
            except TemplateSyntaxError as exc:
                raise ValidationError(
                    {
                        "kind": [
                            _("通知模板有误（%(kind)s / %(channel)s）：%(err)s")
                            % {"kind": kind, "channel": channel, "err": exc}
                        ]
                    }
                ) from exc
        return self._compiled[key]

    def render(self, kind: str, channel: str, context: dict[str, Any]) -> tuple[str, str, dict]:
        t = self.get(kind, channel)
        ctx = _RenderContext({k: _plain(v) for k, v in context.items()})
        try:
            subject = t["subject"].render(ctx).strip()
            body = t["body"].render(ctx).strip()
            payload = {}
            if channel == NotifyChannel.WECHAT:
                payload = {
                    "template_id": t["row"].wechat_template_id,
                    "data": {k: f.render(ctx).strip() for k, f in t["fields"].items()},
                }
        except _MissingVariable as exc:
            raise ValidationError(
                {
                    "context": [
                        _("通知模板 %(kind)s / %(channel)s 需要变量 %(var)s")
                        % {"kind": kind, "channel": channel, "var": exc.args[0]}
                    ]
                }
            ) from None
        return subject[:200], body, payload


def notice_render(*, kind: str, channel: str, context: dict[str, Any]) -> tuple[str, str, dict]:
    """(subject, body, wechat payload) of one notice: for previews and tests."""
    return _Templates().render(kind, channel, context)


# ---------------------------------------------------------------- quiet hours


def quiet_release(at: datetime, start: time, end: time) -> datetime | None:
    """When `at` falls inside the quiet period [start, end) local time, the end of that period; else None.

    22:00–08:00 wraps midnight: 22:00 and 07:59 are quiet, 08:00 and 21:59 are not."""
    if start == end:
        return None
    local = timezone.localtime(at)
    t = local.time()
    tz = local.tzinfo
    if start > end:  # wraps midnight
        if t >= start:
            day = local.date() + timedelta(days=1)
        elif t < end:
            day = local.date()
        else:
            return None
    elif start <= t < end:
        day = local.date()
    else:
        return None
    return datetime.combine(day, end, tzinfo=tz)


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


def _dispatch_on_commit() -> None:
    conf = settings.NOTIFY
    if conf.get("DISPATCH_ON_COMMIT") and all(b == "file" for b in conf["BACKENDS"].values()):
        transaction.on_commit(lambda: outbox_dispatch())


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


def _build_rows(items: list[dict], *, now: datetime, templates: _Templates, offset: int) -> list[tuple]:
    """Render each item on each of its customer's channels: one tuple per outbox row (COLUMNS order)."""
    customer_ids = list({int(it["customer_id"]) for it in items})
    customers = {
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
    accounts = {int(it["account_id"]): it["account_number"] for it in items if it.get("account_number")}
    account_ids = list({int(it["account_id"]) for it in items if it.get("account_id")} - set(accounts))
    if account_ids:
        accounts.update(Account.objects.filter(pk__any=account_ids).values_list("id", "account_number"))
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
        number = accounts.get(account_id, "")
        context = {
            "customer_name": c.name,
            "account_number": number,
            "account_masked": mask_account_number(number),
            **item["context"],
        }
        start = item.get("not_before") or now
        not_before = start
        if kind not in QUIET_HOURS_EXEMPT:
            q = (c.quiet_start, c.quiet_end) if c.quiet_start is not None else DEFAULT_QUIET
            ck = (start, *q)
            if ck not in release_cache:
                release_cache[ck] = quiet_release(start, *q) or start
            not_before = release_cache[ck]
        head = (c.id, account_id, c.unit_id, item.get("campaign_id"), kind)
        channels = _enabled_channels(c)
        if not channels:
            rows.append(
                (
                    *head,
                    "",
                    "",
                    "",
                    "",
                    {},
                    suppressed,
                    SuppressReason.NO_CHANNEL.value,
                    0,
                    not_before,
                    not_before,
                    "",
                    "",
                    None,
                    f"{key}:-",
                    now,
                )
            )
            continue
        opted_out = kind in OPT_OUT_KINDS and bool(c.greetings_opt_out)
        for ch in channels:
            try:
                subject, body, payload = templates.render(kind, ch, context)
            except ValidationError as exc:
                raise _item_error(offset + i, item, exc) from None
            recipient = _recipient(c, ch)
            reason = (
                SuppressReason.OPTED_OUT.value
                if opted_out
                else ("" if recipient else SuppressReason.NO_RECIPIENT.value)
            )
            rows.append(
                (
                    *head,
                    ch,
                    recipient,
                    subject,
                    body,
                    payload,
                    suppressed if reason else pending,
                    reason,
                    0,
                    not_before,
                    not_before,
                    "",
                    "",
                    None,
                    f"{key}:{ch}",
                    now,
                )
            )
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
                r = list(r)
                r[i_payload] = json.dumps(r[i_payload], ensure_ascii=False)
                for k in dt_cols:
                    if r[k] not in adapted:
                        adapted[r[k]] = adapt(r[k])
                    r[k] = adapted[r[k]]
                params.extend(r)
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
    templates = _Templates()

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
                _dispatch_on_commit()
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
        if written:
            _dispatch_on_commit()
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
    _subject, body, _payload = _Templates().render(kind, NotifyChannel.SMS, context)
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
        _dispatch_on_commit()
    return n


# ---------------------------------------------------------------- dispatch


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0


def _fail(n: Notification, now: datetime, error: str, permanent: bool) -> str:
    n.attempts += 1
    n.last_error = error[:2000]
    if permanent or n.attempts >= settings.NOTIFY["MAX_ATTEMPTS"]:
        n.status = NotificationStatus.DEAD
    else:
        n.status = NotificationStatus.RETRYING
        n.next_attempt_at = now + BACKOFF[min(n.attempts, len(BACKOFF)) - 1]
    return n.status


def _retries_respect_quiet_hours(rows: list[Notification]) -> None:
    """A retry that would fall in the customer's quiet hours waits for them to end (outage/emergency excepted)."""
    later = [n for n in rows if n.status == NotificationStatus.RETRYING and n.kind not in QUIET_HOURS_EXEMPT]
    if not later:
        return
    quiet = {
        cid: (qs, qe)
        for cid, qs, qe in NotifyPreference.objects.filter(
            customer_id__in={n.customer_id for n in later}
        ).values_list("customer_id", "quiet_start", "quiet_end")
    }
    for n in later:
        n.next_attempt_at = (
            quiet_release(n.next_attempt_at, *quiet.get(n.customer_id, DEFAULT_QUIET)) or n.next_attempt_at
        )


def outbox_dispatch(*, now: datetime | None = None, limit: int = 500, batch: int = 50) -> DispatchResult:
    """Send the due notices (status pending/retrying, next_attempt_at <= now), at most `limit` of them.

    Rows are claimed in batches inside a transaction with `select_for_update(skip_locked=True)` (PostgreSQL),
    sent, and their outcome written before the lock is released, so a second dispatcher skips them and a
    notice is never sent twice by two dispatchers. (A crash between a send and the commit sends it again:
    at-least-once, as every SMS gateway assumes.)"""
    result = DispatchResult()
    skip_locked = connection.features.has_select_for_update_skip_locked
    fields = ["status", "attempts", "next_attempt_at", "last_error", "provider_id", "sent_at"]
    while result.claimed < limit:
        when = now or timezone.now()
        with transaction.atomic():
            qs = Notification.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=when).order_by(
                "next_attempt_at", "id"
            )
            qs = qs.select_for_update(skip_locked=True) if skip_locked else qs.select_for_update()
            rows = list(qs[: min(batch, limit - result.claimed)])
            redacted = False
            if not rows:
                break
            result.claimed += len(rows)
            for n in rows:
                try:
                    n.provider_id = backends.backend_for(n.channel).send(n)[:128]
                except backends.PermanentError as exc:
                    _fail(n, when, str(exc), permanent=True)
                except backends.TemporaryError as exc:
                    _fail(n, when, str(exc), permanent=False)
                except Exception as exc:  # a backend bug must not stop the other notices
                    log.exception("notify backend crashed on %s", n.pk)
                    _fail(n, when, f"{type(exc).__name__}: {exc}", permanent=False)
                else:
                    n.attempts += 1
                    n.status, n.sent_at, n.last_error = NotificationStatus.SENT, when, ""
                    if n.kind in TRANSACTIONAL_KINDS:
                        # A verification code, once handed to the gateway, is not kept readable in the outbox.
                        n.body = mask_codes(n.body)
                        redacted = True
                if n.status == NotificationStatus.SENT:
                    result.sent += 1
                elif n.status == NotificationStatus.DEAD:
                    result.dead += 1
                else:
                    result.retrying += 1
            _retries_respect_quiet_hours(rows)
            Notification.objects.bulk_update(rows, [*fields, "body"] if redacted else fields)
    return result


# ---------------------------------------------------------------- preferences


def _parse_time(value: Any, field: str, errs: dict) -> time | None:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        errs[field] = [_("时间格式应为 HH:MM")]
        return None


def _check_customer_actor(actor: Actor, customer: Customer) -> None:
    """Staff with customer.edit in the customer's unit, or the portal customer bound to one of its accounts."""
    user = actor.user
    if user is not None and getattr(user, "role", None) == Role.CUSTOMER:
        if not user.is_active or not customer.accounts.filter(bindings__user=user).exists():
            raise PermissionDenied
        return
    _check_unit(actor, customer.unit_id, Perm.CUSTOMER_EDIT)


def preference_update(
    *,
    actor: Actor,
    customer_id: int,
    notify_sms: bool,
    notify_wechat: bool,
    notify_email: bool,
    quiet_start: Any,
    quiet_end: Any,
    wechat_openid: str = "",
    greetings_opt_out: bool = False,
    now: datetime | None = None,
) -> NotifyPreference:
    """Set a customer's channels, quiet hours, WeChat openid and greeting opt-out (audited)."""
    now = now or timezone.now()
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise PermissionDenied
    _check_customer_actor(actor, customer)
    errs: dict[str, list[str]] = {}
    qs, qe = _parse_time(quiet_start, "quiet_start", errs), _parse_time(quiet_end, "quiet_end", errs)
    openid = (wechat_openid or "").strip()
    if len(openid) > 64 or any(not (ch.isalnum() or ch in "-_") for ch in openid):
        errs["wechat_openid"] = [_("微信用户标识格式不正确")]
    if notify_wechat and not openid:
        errs["wechat_openid"] = [_("开通微信通知需要填写微信用户标识")]
    if notify_email and not customer.email:
        errs["notify_email"] = [_("客户没有登记电子邮箱，不能开通邮件通知")]
    if errs:
        raise ValidationError(errs)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        pref, _created = NotifyPreference.objects.select_for_update().get_or_create(
            customer=customer, defaults={"updated_at": now}
        )
        before = {
            "notify_sms": customer.notify_sms,
            "notify_wechat": customer.notify_wechat,
            "notify_email": customer.notify_email,
            "quiet_start": pref.quiet_start.isoformat("minutes"),
            "quiet_end": pref.quiet_end.isoformat("minutes"),
            "wechat_openid": pref.wechat_openid,
            "greetings_opt_out": pref.greetings_opt_out,
        }
        after = {
            "notify_sms": bool(notify_sms),
            "notify_wechat": bool(notify_wechat),
            "notify_email": bool(notify_email),
            "quiet_start": qs.isoformat("minutes"),
            "quiet_end": qe.isoformat("minutes"),
            "wechat_openid": openid,
            "greetings_opt_out": bool(greetings_opt_out),
        }
        Customer.objects.filter(pk=customer.pk).update(
            notify_sms=after["notify_sms"],
            notify_wechat=after["notify_wechat"],
            notify_email=after["notify_email"],
            updated_at=now,
        )
        pref.quiet_start, pref.quiet_end, pref.wechat_openid = qs, qe, openid
        pref.greetings_opt_out, pref.updated_at = after["greetings_opt_out"], now
        pref.save()
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if "wechat_openid" in changes:
            changes["wechat_openid"] = [mask_hidden(before["wechat_openid"]), mask_hidden(openid)]
        audit_record(
            actor=actor,
            action="notify.preference_update",
            obj=pref,
            customer_id=customer.pk,
            unit_id=customer.unit_id,
            changes=changes,
        )
    return pref


# ---------------------------------------------------------------- campaigns


def campaign_customers(campaign: Campaign):
    """The customers a campaign goes to: its unit's subtree, filtered by segment and class when set."""
    from gridcare.org.models import SupplyUnit

    path = SupplyUnit.objects.filter(pk=campaign.unit_id).values_list("path", flat=True).first() or "\x00"
    qs = Customer.objects.filter(unit__path__startswith=path)
    if campaign.segment:
        qs = qs.filter(segment=campaign.segment)
    if campaign.customer_class:
        qs = qs.filter(customer_class=campaign.customer_class)
    return qs


def campaign_create(
    *,
    actor: Actor,
    name: str,
    unit_id: int,
    text: str,
    scheduled_at: datetime | None = None,
    segment: str = "",
    customer_class: str = "",
    now: datetime | None = None,
) -> Campaign:
    """A draft greeting campaign for a segment of the customers of `unit_id`'s subtree (notify.campaign)."""
    from gridcare.customers.choices import CustomerClass, Segment
    from gridcare.org.models import SupplyUnit

    now = now or timezone.now()
    if not SupplyUnit.objects.filter(pk=unit_id).exists():
        raise ValidationError({"unit_id": [_("供电单位不存在")]})
    _check_unit(actor, unit_id, Perm.NOTIFY_CAMPAIGN)
    errs: dict[str, list[str]] = {}
    name, text = (name or "").strip(), (text or "").strip()
    if not name or len(name) > 100:
        errs["name"] = [_("活动名称不能为空且不超过 100 个字符")]
    if not text or len(text) > 300:
        errs["text"] = [_("问候内容不能为空且不超过 300 个字符")]
    if "\x00" in name + text:
        errs["text"] = [_("包含非法字符")]
    if segment and segment not in Segment.values:
        errs["segment"] = [_("未知的客户分群：%(v)s") % {"v": segment}]
    if customer_class and customer_class not in CustomerClass.values:
        errs["customer_class"] = [_("未知的用电类别：%(v)s") % {"v": customer_class}]
    if scheduled_at is not None and timezone.is_naive(scheduled_at):
        errs["scheduled_at"] = [_("计划发送时间须带时区")]
    if errs:
        raise ValidationError(errs)
    user = actor.user if actor.user is not None and actor.user.is_authenticated else None
    with transaction.atomic():
        c = Campaign.objects.create(
            name=name,
            kind=Kind.GREETING,
            unit_id=unit_id,
            segment=segment or "",
            customer_class=customer_class or "",
            text=text,
            scheduled_at=scheduled_at or now,
            created_by=user,
            created_at=now,
        )
        audit_record(
            actor=actor,
            action="notify.campaign_create",
            obj=c,
            unit_id=unit_id,
            changes={
                "name": name,
                "segment": segment,
                "customer_class": customer_class,
                "scheduled_at": c.scheduled_at.isoformat(),
            },
        )
    return c


def campaign_launch(*, actor: Actor, campaign_id: int, now: datetime | None = None) -> Campaign:
    """Enqueue the campaign's greeting to every customer of its segment, once: a second launch changes nothing."""
    now = now or timezone.now()
    c = Campaign.objects.filter(pk=campaign_id).first()
    if c is None:
        raise PermissionDenied
    _check_unit(actor, c.unit_id, Perm.NOTIFY_CAMPAIGN)
    with transaction.atomic():
        c = Campaign.objects.select_for_update().get(pk=campaign_id)
        if c.status == CampaignStatus.LAUNCHED:
            return c
        ids = campaign_customers(c).order_by("id").values_list("id", flat=True)
        send_at = max(c.scheduled_at, now)
        counted = [0]  # the recipients, counted while they are walked (no second scan of the subtree)

        def items():
            for cid in ids.iterator(chunk_size=CHUNK):
                counted[0] += 1
                yield {
                    "kind": c.kind,
                    "customer_id": cid,
                    "context": {"text": c.text},
                    "dedupe_key": f"campaign:{c.pk}:{cid}",
                    "campaign_id": c.pk,
                    "not_before": send_at,
                }

        notifications_enqueue_bulk(items(), now=now)
        c.recipients = counted[0]
        c.status, c.launched_at = CampaignStatus.LAUNCHED, now
        c.save(update_fields=["recipients", "status", "launched_at"])
        audit_record(
            actor=actor,
            action="notify.campaign_launch",
            obj=c,
            unit_id=c.unit_id,
            changes={"recipients": c.recipients},
        )
    return c


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
