"""Storm-proof fault intake (issue 15 §5): the public, portal and 95598 fault reports, the public form's phone proof
and the answer the caller hears.

Design (decided for issue 15):
- **Phone proof, stateless.** The public web form (and any anonymous caller of `POST /api/v1/fault-reports`)
  first proves the phone by an SMS code: `fault_code_send` sends one through the portal's codes
  (`gridcare.portal.codes`, purpose `fault_report`, with its per-phone and per-address sending limits), and
  `fault_code_verify` spends it and hands back a **phone token**: the phone signed with a timestamp
  (`django.core.signing`, salt of its own) valid GRIDCARE["FAULT_PHONE_TOKEN_SECONDS"] (2 h). Checking it on each
  report is an HMAC over a short string — no database read — so a storm of reports costs nothing there. A token is
  good for its phone only; expired, forged or another phone's tokens are refused (`PhoneTokenRefused`, 401).
  Staff (workorder.handle) and logged-in portal customers need no token: their login is the proof.
- **Rate limits.** Anonymous reports count per phone (FAULT_REPORTS_PER_PHONE an hour) and per client address
  (FAULT_REPORTS_PER_IP, `core.ratelimit.client_key`, which honours GRIDCARE_TRUSTED_PROXIES) on the cache;
  over either → `ReportRateLimited` (429), nothing written. Both buckets are counted on every try.
- **A short path.** `fault_report_create` runs a fixed number of statements whatever happens: one read of the
  account with every triage fact (holder, premise, transformer area, its newest live interruption, its prepaid
  balance: `account_triage`, the rule of `triage.triage_fault` in one round trip — a test keeps the two in
  agreement), one read of the fault rows of the policy table (with the root unit's id for a report without a
  unit), and then **one** statement on PostgreSQL that inserts the order, its deadlines, its `create` event and
  its audit row (each INSERT a CTE of it, the order's id taken from the first; `_RowSql` writes each row as the
  ORM would, worked out once per process): no transaction round trips, no savepoint. Elsewhere (SQLite) the same
  rows through the ORM in one transaction. The working-day calendar is read only when a fault rule counts
  working days (the defaults count minutes). The order number is the date and eight random digits, as
  `services.work_order_create` makes it; a clash (unique number) is retried with a new one. The commit stays
  synchronous: a caller told an order number keeps it.
- **Triage answer.** `outage`: the report is linked to the outage in progress and the caller is told its
  estimated restoration instead of a crew being sent; `arrears`: a prepaid account with no balance is told to
  pay (power comes back by itself); `dispatch`: a crew is promised within the arrival deadline (45 minutes in
  town). The order keeps its transformer area (from the account, or a staff caller's `transformer_area`) so the
  dispatcher board groups reports by area.
- An unidentified caller (no or unknown 户号) gives a phone and an address; without an area the commitment of
  the town (urban, the shortest) applies.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from gridcare.core import ratelimit
from gridcare.core.audit import Actor, audit_record
from gridcare.core.calendar import WorkCalendar
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Perm, is_customer
from gridcare.core.scoping import PermissionDenied, may_act_on_unit
from gridcare.core.validators import MOBILE_RE, validate_phone
from gridcare.outages.choices import OutageStatus

from .choices import AreaKind, DeadlineBasis, OrderChannel, OrderType, Priority, Step, Triage
from .deadlines import CHINA, Deadline, compute, whole_seconds
from .models import WorkOrder, WorkOrderDeadline, WorkOrderEvent
from .policies import rules_for
from .triage import TriageResult, triage_fault

PHONE_TOKEN_SALT = "gridcare.service.intake.phone_token"  # noqa: S105 (a signing salt, not a secret)
REPORT_WINDOW_SECONDS = 3600
# The commitment area of a transformer area's type (as services.work_order_create maps it).
AREA_OF_AREA_TYPE = {
    "centre": AreaKind.URBAN,
    "urban": AreaKind.URBAN,
    "rural": AreaKind.RURAL,
    "remote": AreaKind.REMOTE,
}
NUMBER_TRIES = 5


def _conf(key: str) -> int:
    return int(settings.GRIDCARE[key])


# ---------------------------------------------------------------- the phone proof


class PhoneTokenRefused(Exception):
    """An anonymous report without a valid phone token for its phone (the message says what to do)."""


class ReportRateLimited(Exception):
    """Too many anonymous reports from this phone or this client address in the current hour."""

    def __init__(self) -> None:
        super().__init__(_("报修过于频繁，请稍后再试；紧急情况请拨打 95598"))


@dataclass(frozen=True)
class PhoneToken:
    token: str
    expires_at: datetime


def _mobile(phone: str) -> str:
    """The phone of an SMS code: a mainland mobile number, normalised; else ValidationError({"phone"})."""
    try:
        value = validate_phone(phone)
    except ValidationError as e:
        raise ValidationError({"phone": e.messages}) from None
    if not MOBILE_RE.fullmatch(value):
        raise ValidationError({"phone": [_("请输入11位手机号码，用于接收短信验证码")]})
    return value


def fault_code_send(*, actor: Actor, phone: str, client_key: str, now: float | None = None) -> str:
    """Send a fault-report code to `phone` (the portal's codes and their sending limits); returns the normalised
    phone. Raises ValidationError({"phone"}) or `gridcare.portal.codes.CodeRateLimited`."""
    from gridcare.portal import codes
    from gridcare.portal.choices import CodePurpose

    phone = _mobile(phone)
    codes.code_send(
        actor=actor, purpose=CodePurpose.FAULT_REPORT, phone=phone, client_key=client_key, now=now
    )
    return phone


def fault_code_verify(*, actor: Actor, phone: str, code: str, now: float | None = None) -> PhoneToken:
    """Spend the code sent to `phone` and return its phone token; ValidationError({"phone"|"code"}) otherwise."""
    from gridcare.portal import codes
    from gridcare.portal.choices import CodePurpose

    phone = _mobile(phone)
    if not (code or "").strip():
        raise ValidationError({"code": [_("请输入短信验证码")]})
    codes.code_verify(actor=actor, purpose=CodePurpose.FAULT_REPORT, phone=phone, code=code, now=now)
    return phone_token_issue(phone, now=now)


class _Signer(signing.TimestampSigner):
    """A TimestampSigner whose clock can be set (tests issue tokens in the past)."""

    def __init__(self, at: float | None = None) -> None:
        super().__init__(salt=PHONE_TOKEN_SALT)
        self._at = at

    def timestamp(self) -> str:
        return signing.b62_encode(int(self._at if self._at is not None else time.time()))


def phone_token_issue(phone: str, *, now: float | None = None) -> PhoneToken:
    """A token proving `phone` (already verified) for GRIDCARE["FAULT_PHONE_TOKEN_SECONDS"] from `now`."""
    at = time.time() if now is None else now
    token = _Signer(at).sign(phone)
    return PhoneToken(token, datetime.fromtimestamp(int(at) + _conf("FAULT_PHONE_TOKEN_SECONDS"), tz=UTC))


def phone_token_check(token: str | None, phone: str, *, now: float | None = None) -> None:
    """Raise PhoneTokenRefused unless `token` was issued for `phone` and has not expired. No database read."""
    if not token:
        raise PhoneTokenRefused(_("请先通过短信验证码验证手机号（phone_token）后再报修"))
    try:
        # The plain Signer's check of the signature; the value is "phone:timestamp".
        value = signing.Signer.unsign(_Signer(), token)
        signed_phone, stamp = value.rsplit(":", 1)
        issued = signing.b62_decode(stamp)
    except (signing.BadSignature, ValueError):
        raise PhoneTokenRefused(_("手机验证凭证无效，请重新获取短信验证码")) from None
    if not secrets.compare_digest(signed_phone, phone):
        raise PhoneTokenRefused(_("手机验证凭证与报修电话不符，请用验证过的手机号报修"))
    age = (time.time() if now is None else now) - issued
    if age > _conf("FAULT_PHONE_TOKEN_SECONDS") or age < -60:
        raise PhoneTokenRefused(_("手机验证已过期，请重新获取短信验证码"))


def fault_report_allowed(*, phone: str, client_key: str, now: float | None = None) -> None:
    """Count one anonymous report against its phone and its client address; ReportRateLimited when either is over
    its hourly limit (both are counted, so a refused report still uses up the quota)."""
    allowed = [
        ratelimit.hit("fault_phone", phone, _conf("FAULT_REPORTS_PER_PHONE"), REPORT_WINDOW_SECONDS, now=now),
        ratelimit.hit("fault_ip", client_key, _conf("FAULT_REPORTS_PER_IP"), REPORT_WINDOW_SECONDS, now=now),
    ]
    if not all(allowed):
        raise ReportRateLimited


# ---------------------------------------------------------------- the report


@dataclass
class Intake:
    """What the caller is told: the order number, the triage and its message, the deadlines."""

    order_id: int
    number: str
    triage: str
    message: str
    est_restoration: datetime | None
    outage_number: str = ""
    deadlines: list[Deadline] = field(default_factory=list)


def anonymous_fault_report(
    *,
    actor: Actor,
    client_key: str,
    phone_token: str | None,
    phone: str,
    description: str,
    address: str = "",
    account_number: str | None = None,
    area: str | None = None,
    caller_name: str = "",
    now: datetime | None = None,
) -> Intake:
    """A report from a caller with no login (the public form, an anonymous API call): the phone is checked, then
    its token (PhoneTokenRefused), then the rate limits (ReportRateLimited), then the report is made (channel
    web). ValidationError({"phone"}) for a malformed phone, before any of them."""
    try:
        phone = validate_phone(phone)
    except ValidationError as e:
        raise ValidationError({"phone": e.messages}) from None
    phone_token_check(phone_token, phone)
    fault_report_allowed(phone=phone, client_key=client_key)
    return fault_report_create(
        actor=actor,
        channel=OrderChannel.WEB,
        phone=phone,
        description=description,
        address=address,
        account_number=account_number,
        area=area,
        caller_name=caller_name,
        now=now,
    )


def _err(field_name: str, message: str) -> ValidationError:
    return ValidationError({field_name: [message]})


def _new_number(received_at: datetime) -> str:
    # As services.work_order_create numbers orders: the China date and eight random digits.
    return f"{received_at.astimezone(CHINA):%Y%m%d}{secrets.randbelow(10**8):08d}"


def _clock(moment: datetime, now: datetime) -> str:
    local, today = moment.astimezone(CHINA), now.astimezone(CHINA).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    return _("%(m)d月%(d)d日 %(t)s") % {"m": local.month, "d": local.day, "t": f"{local:%H:%M}"}


def triage_message(result: TriageResult, *, arrival: Deadline | None, now: datetime) -> str:
    """The answer the caller hears for a triage outcome (Chinese, as 95598 words it)."""
    if result.outcome == Triage.OUTAGE:
        if result.est_restoration is not None:
            return _("您所在区域正在停电（停电编号 %(n)s），预计 %(t)s 恢复供电，无需重复报修") % {
                "n": result.outage_number,
                "t": _clock(result.est_restoration, now),
            }
        return _("您所在区域正在停电（停电编号 %(n)s），正在抢修，无需重复报修") % {"n": result.outage_number}
    if result.outcome == Triage.ARREARS:
        return _("您的预付费账户余额不足，已暂停供电，请缴费后自动复电，无需派员抢修")
    if arrival is None:
        return _("已派发抢修，抢修人员将尽快与您联系")
    if arrival.unit == "hours":
        within = _("%(n)d 小时") % {"n": arrival.amount}
    else:
        within = _("%(n)d 分钟") % {"n": arrival.amount}
    return _("已派发抢修，抢修人员承诺 %(w)s内到达现场") % {"w": within}


@lru_cache(maxsize=1)
def _account_sql() -> str:
    """The account of a report with its triage facts, one round trip: the holder, premise and transformer area; the
    newest live interruption among its frozen affected accounts (as `triage.triage_fault` reads it: an outage in
    progress whose interruption of the account has not ended, newest actual start first); and the latest balance
    estimate of its prepaid enrolment; and the fault rows of the policy table (`_policy_json`), so a report on a
    known account reads once. Table and column names come from the models."""
    from gridcare.customers.models import Account, Customer, Premise, TransformerArea
    from gridcare.outages.models import AffectedAccount, Interruption, OutageArea, OutageEvent
    from gridcare.payments.prepaid.models import PrepaidAccount, PrepaidEstimate

    def t(model) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    end = connection.ops.quote_name(Interruption._meta.get_field("end").column)
    return (
        "SELECT a.id, a.unit_id, a.customer_id, c.name, p.address, p.transformer_area_id, ta.area_type, "  # noqa: S608 (names from model metadata)
        f"x.event_id, e.number, ar.est_restoration, e.planned_end, pe.available, {_policy_json()} "
        f"FROM {t(Account)} a JOIN {t(Customer)} c ON c.id = a.customer_id "
        f"JOIN {t(Premise)} p ON p.id = a.premise_id JOIN {t(TransformerArea)} ta ON ta.id = p.transformer_area_id "
        f"LEFT JOIN {t(AffectedAccount)} x ON x.id = (SELECT x2.id FROM {t(AffectedAccount)} x2 "
        f"JOIN {t(OutageEvent)} e2 ON e2.id = x2.event_id JOIN {t(Interruption)} i2 ON i2.id = x2.interruption_id "
        f"WHERE x2.account_id = a.id AND e2.status = %s AND i2.{end} IS NULL ORDER BY e2.actual_start DESC LIMIT 1) "
        f"LEFT JOIN {t(OutageEvent)} e ON e.id = x.event_id LEFT JOIN {t(Interruption)} i ON i.id = x.interruption_id "
        f"LEFT JOIN {t(OutageArea)} ar ON ar.id = i.area_id "
        f"LEFT JOIN {t(PrepaidAccount)} pa ON pa.account_id = a.id AND pa.unenrolled_on IS NULL "
        f"LEFT JOIN {t(PrepaidEstimate)} pe ON pe.id = pa.last_estimate_id "
        "WHERE a.account_number = %s"
    )


def _aware(value) -> datetime | None:
    """A datetime column read by hand: aware as it comes from PostgreSQL, naive UTC text from SQLite."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class _Account:
    id: int
    unit_id: int
    customer_id: int
    holder: str
    address: str
    transformer_area_id: int
    area_type: str
    fault_policy: tuple  # the policy rows that can apply to its fault report (`_policy_where`)


def account_triage(account_number: str) -> tuple[_Account, TriageResult] | None:
    """The account of `account_number` and its triage (the rule of `triage.triage_fault`, read in one statement
    with the account: tests/service/test_intake.py checks the two agree); None for an unknown 户号."""
    with connection.cursor() as cur:
        cur.execute(_account_sql(), [OutageStatus.IN_PROGRESS.value, account_number])
        row = cur.fetchone()
    if row is None:
        return None
    event_id, event_number, area_est, planned_end, available, policy = row[7:]
    account = _Account(*row[:7], fault_policy=tuple(_policy_rows(policy)))
    if event_id is not None:
        return account, TriageResult(
            outcome=Triage.OUTAGE,
            outage_id=event_id,
            outage_number=event_number,
            est_restoration=_aware(area_est) or _aware(planned_end),
        )
    if available is not None and Decimal(str(available)) <= 0:
        return account, TriageResult(outcome=Triage.ARREARS, balance=Decimal(str(available)))
    return account, TriageResult(outcome=Triage.DISPATCH)


def _policy_where() -> str:
    """The policy rows that can give a fault report a deadline at receipt: its type's or every type's, no sub-type
    (a fault has none), counted from receipt (the others are added later). `policies.rules_for` picks among them
    by area as it does among all rows. The values are the contract's constants."""
    return f"order_type IN ('{OrderType.FAULT.value}', '') AND sub_type = '' AND basis = '{DeadlineBasis.RECEIVED.value}'"


POLICY_COLUMNS = "order_type, sub_type, area, name, amount, unit, basis"


def _policy_json() -> str:
    """A scalar subquery with the fault policy rows as one JSON array of arrays (PostgreSQL: json_agg, NULL for
    none; SQLite: json_group_array)."""
    from .models import SlaPolicy

    table = connection.ops.quote_name(SlaPolicy._meta.db_table)
    if connection.vendor == "postgresql":
        agg = f"json_agg(json_build_array({POLICY_COLUMNS}))"
    else:
        agg = f"json_group_array(json_array({POLICY_COLUMNS}))"
    return f"(SELECT {agg} FROM {table} WHERE {_policy_where()})"  # noqa: S608 (names from model metadata)


def _policy_rows(value) -> list[tuple]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return [tuple(row) for row in value]


@lru_cache(maxsize=2)
def _policy_sql(with_root: bool) -> str:
    """The fault rows of the policy table (and, for a report without a unit, the root unit's id on each row)."""
    from gridcare.org.models import SupplyUnit

    from .models import SlaPolicy

    root = ""
    if with_root:
        unit = connection.ops.quote_name(SupplyUnit._meta.db_table)
        root = f", (SELECT id FROM {unit} WHERE parent_id IS NULL ORDER BY id LIMIT 1)"  # noqa: S608
    return (
        f"SELECT {POLICY_COLUMNS}{root} "  # noqa: S608 (names from model metadata)
        f"FROM {connection.ops.quote_name(SlaPolicy._meta.db_table)} WHERE {_policy_where()}"
    )


def _fault_policy(with_root: bool) -> tuple[list, int | None]:
    """The policy rows that can apply to a fault report (`_policy_where`), and the root unit's id when asked for."""
    with connection.cursor() as cur:
        cur.execute(_policy_sql(with_root))
        rows = cur.fetchall()
    root = None
    if with_root:
        root = rows[0][7] if rows else _root_unit_id()
        rows = [r[:7] for r in rows]
    return rows, root


def _root_unit_id() -> int:
    from gridcare.org.models import SupplyUnit

    unit = SupplyUnit.objects.filter(parent__isnull=True).order_by("id").values_list("id", flat=True).first()
    if unit is None:
        raise _err("unit", _("系统中没有供电单位"))
    return unit


def fault_report_create(
    *,
    actor: Actor,
    channel: str,
    phone: str,
    description: str,
    address: str = "",
    account_number: str | None = None,
    area: str | None = None,
    caller_name: str = "",
    transformer_area_code: str | None = None,
    customer_user=None,
    now: datetime | None = None,
) -> Intake:
    """Register a fault report and triage it (see the module docstring): validate, find the account (an unknown
    one is allowed given a phone and an address), triage, compute the deadlines, write the order with its
    deadlines, `create` event and audit row. A staff actor needs workorder.handle on the order's unit
    (PermissionDenied otherwise); the caller checked who may report without a phone token. Refusals:
    ValidationError({field: [msg]}) naming the API's field, nothing written."""
    now = whole_seconds(now or timezone.now())
    try:
        phone = validate_phone(phone)
    except ValidationError as e:
        raise ValidationError({"phone": e.messages}) from None
    description = (description or "").strip()
    if not description:
        raise _err("description", _("请描述故障情况"))
    address = (address or "").strip()
    caller_name = (caller_name or "").strip()
    number = (account_number or "").strip()
    if area and area not in AreaKind.values:
        raise _err("area", _("未知的区域：%(v)s（urban、rural、remote）") % {"v": area})

    found = account_triage(number) if number else None
    account_id = customer_id = ta_id = unit_id = None
    area_type = None
    result: TriageResult | None = None
    if found is not None and customer_user is not None:
        from gridcare.customers.models import PortalBinding

        # A portal customer reports on their own 户号 only (else: phone and address, like an unidentified caller).
        if not PortalBinding.objects.filter(user=customer_user, account_id=found[0].id).exists():
            raise _err("account_number", _("户号 %(n)s 未绑定到您的账户") % {"n": number[:20]})
    if found is not None:
        account, result = found
        account_id, unit_id, customer_id = account.id, account.unit_id, account.customer_id
        ta_id, area_type = account.transformer_area_id, account.area_type
        address = address or account.address
        caller_name = caller_name or account.holder
    elif number and not address:
        raise _err("account_number", _("户号 %(n)s 不存在（故障报修可只留电话和地址）") % {"n": number[:20]})
    elif not address:
        raise _err("address", _("未提供户号时须填写故障地址"))
    if found is None and transformer_area_code:
        from gridcare.customers.models import TransformerArea

        ta = (
            TransformerArea.objects.filter(code=transformer_area_code.strip())
            .values_list("pk", "unit_id", "area_type")
            .first()
        )
        if ta is None:
            raise _err("transformer_area", _("台区 %(c)s 不存在") % {"c": transformer_area_code[:40]})
        ta_id, unit_id, area_type = ta
        result = triage_fault(account_id=None, transformer_area_id=ta_id, now=now)
    area = area or AREA_OF_AREA_TYPE.get(area_type or "", AreaKind.URBAN)

    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    staff = user is not None and not is_customer(user)
    if unit_id is None and staff:
        unit_id = user.unit_id
    if found is not None:
        rows = list(found[0].fault_policy)
    else:
        rows, root = _fault_policy(with_root=unit_id is None)
        unit_id = unit_id or root
    if staff and not may_act_on_unit(user, unit_id, Perm.WORKORDER_HANDLE):
        raise PermissionDenied()
    if result is None:  # neither an account nor a transformer area: nothing to look up
        result = TriageResult(outcome=Triage.DISPATCH)

    rules = [r for r in rules_for(rows, OrderType.FAULT, "", area) if r.basis == "received"]
    if result.outcome != Triage.DISPATCH:  # no crew is sent: no arrival to promise (nor to escalate)
        rules = [r for r in rules if r.name != "arrival"]
    calendar = WorkCalendar()
    if any(r.unit == "working_days" for r in rules):  # the defaults count minutes: no calendar to read
        year = now.astimezone(CHINA).year
        calendar = WorkCalendar.from_db(range(year, year + 3))
    planned = compute(rules, received_at=now, calendar=calendar)

    # The rows as column values (attnames): the order, its deadlines, its `create` event, its audit row.
    order = {
        "order_type": OrderType.FAULT.value,
        "channel": str(channel),
        "priority": Priority.NORMAL.value,
        "unit_id": unit_id,
        "account_id": account_id,
        "transformer_area_id": ta_id,
        "caller_name": caller_name[:50],
        "phone": phone[:20],
        "address": address[:200],
        "area": str(area),
        "description": description,
        "received_at": now,
        "created_at": timezone.now(),
        "created_by_id": user.pk if staff else None,
        "customer_user_id": customer_user.pk if customer_user is not None else None,
        "triage": str(result.outcome),
        "outage_id": result.outage_id,
    }
    deadlines = [
        {
            "name": d.name,
            "amount": d.amount,
            "unit": d.unit,
            "starts_at": d.starts_at,
            "due_at": d.due_at,
            "provisional": d.provisional,
        }
        for d in planned
    ]
    note = ""
    if result.outcome == Triage.OUTAGE:
        note = _("位于停电事件 %(n)s 范围内，已关联，不另派抢修") % {"n": result.outage_number}
    elif result.outcome == Triage.ARREARS:
        note = _("预付费账户余额不足，按欠费停电答复")
    if user is None:
        label = str(actor.channel)
    elif is_customer(user):
        label = _("客户")
    else:
        label = getattr(user, "display_name", "") or user.get_username()
    event = {
        "action": "create",
        "from_status": "",
        "to_status": Step.CREATED.value,
        "actor_id": user.pk if user is not None else None,
        "actor_label": label[:60],
        "at": now,
        "note": note,
        "data": {"channel": str(channel), "triage": str(result.outcome)},
    }
    audit = audit_record(
        actor=actor,
        action="workorder.create",
        object_type=WorkOrder._meta.label_lower,
        object_id="",
        customer_id=customer_id,
        unit_id=unit_id,
        changes={"type": OrderType.FAULT.value, "channel": str(channel)},
        save=False,
    )
    order_id, number = _write(order, deadlines, event, audit, now)
    arrival = next((d for d in planned if d.name == "arrival"), None)
    return Intake(
        order_id=order_id,
        number=number,
        triage=result.outcome,
        message=triage_message(result, arrival=arrival, now=now),
        est_restoration=result.est_restoration,
        outage_number=result.outage_number,
        deadlines=planned,
    )


# ---------------------------------------------------------------- writing the rows


def _write(
    order: dict, deadlines: list[dict], event: dict, audit: AuditEvent, now: datetime
) -> tuple[int, str]:
    """Insert the order and the rows beside it; returns the order's id and number. A clash of numbers retries."""
    for attempt in range(NUMBER_TRIES):
        order["number"] = number = _new_number(now)
        try:
            if connection.vendor == "postgresql":
                return _write_pg(order, deadlines, event, audit), number
            return _write_orm(order, deadlines, event, audit), number
        except IntegrityError:
            if attempt == NUMBER_TRIES - 1 or not WorkOrder.objects.filter(number=number).exists():
                raise  # not a clash of numbers (or five in a row): a real failure
    raise AssertionError("unreachable")  # pragma: no cover


def _write_orm(order: dict, deadlines: list[dict], event: dict, audit: AuditEvent) -> int:
    with transaction.atomic():
        row = WorkOrder(**order)
        with transaction.atomic():  # a savepoint: a clash of numbers leaves the outer transaction usable
            row.save(force_insert=True)
        WorkOrderDeadline.objects.bulk_create([WorkOrderDeadline(order_id=row.pk, **d) for d in deadlines])
        WorkOrderEvent(order_id=row.pk, **event).save(force_insert=True)
        audit.object_id = str(row.pk)
        audit.save(force_insert=True)
    return row.pk


def _literal(value) -> str | None:
    """The SQL literal of a field's default (a model's own constant, never input): NULL, a boolean, an integer or
    a string; None when it has to be a parameter. Fewer parameters keep the statement within psycopg's cache of
    parsed queries (at most 50 parameters)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):  # IntegerChoices members too
        return str(int(value))
    if isinstance(value, str):  # TextChoices members too
        return "'" + str(value).replace("'", "''") + "'"
    return None


class _RowSql:
    """How a new row of `model` is written by hand on PostgreSQL, worked out once per process: its column list,
    and per column a parameter from the caller's values (`given`), SQL from the caller (`sql`: the order's id),
    or the field's default — a fixed literal when it is NULL, '', false or 0, else a parameter (a callable default
    is called for each row). Values go through each field's `get_db_prep_save`, as the ORM sends them."""

    def __init__(self, model, given: frozenset[str], sql: frozenset[str] = frozenset()):
        self.table = connection.ops.quote_name(model._meta.db_table)
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        self.steps: list[tuple[str, object]] = []  # ("given", field) | ("sql", attname) | ("default", field)
        self.template: list[str] = []
        for f in fields:
            if f.attname in sql:
                self.steps.append(("sql", f.attname))
                self.template.append("{" + f.attname + "}")
            elif f.attname in given:
                self.steps.append(("given", f))
                self.template.append("%s")
            else:
                literal = None if f.has_default() and callable(f.default) else _literal(f.get_default())
                if literal is None:
                    self.steps.append(("default", f))
                    self.template.append("%s")
                else:
                    self.template.append(literal)
        missing = given - {f.attname for f in fields}
        if missing:  # pragma: no cover - a renamed field: fail loudly at the first report
            raise LookupError(f"{model.__name__} has no {sorted(missing)}")
        self.values_sql = "(" + ", ".join(self.template) + ")"

    def insert(self, rows: list[dict], sql: dict[str, str] | None = None) -> tuple[str, list]:
        params: list = []
        for values in rows:
            for kind, item in self.steps:
                if kind == "given":
                    params.append(item.get_db_prep_save(values[item.attname], connection))
                elif kind == "default":
                    params.append(item.get_db_prep_save(item.get_default(), connection))
        one = self.values_sql.format(**(sql or {})) if sql else self.values_sql
        return f"INSERT INTO {self.table} ({self.columns}) VALUES {', '.join([one] * len(rows))}", params  # noqa: S608


@lru_cache(maxsize=1)
def _row_sql() -> dict[str, _RowSql]:
    audit_given = frozenset(f.attname for f in AuditEvent._meta.concrete_fields if not f.primary_key) - {
        "object_id"
    }
    return {
        "order": _RowSql(
            WorkOrder,
            frozenset(
                {
                    "number",
                    "order_type",
                    "channel",
                    "priority",
                    "unit_id",
                    "account_id",
                    "transformer_area_id",
                    "caller_name",
                    "phone",
                    "address",
                    "area",
                    "description",
                    "received_at",
                    "created_at",
                    "created_by_id",
                    "customer_user_id",
                    "triage",
                    "outage_id",
                }
            ),
        ),
        "deadline": _RowSql(
            WorkOrderDeadline,
            frozenset({"name", "amount", "unit", "starts_at", "due_at", "provisional"}),
            frozenset({"order_id"}),
        ),
        "event": _RowSql(
            WorkOrderEvent,
            frozenset(
                {"action", "from_status", "to_status", "actor_id", "actor_label", "at", "note", "data"}
            ),
            frozenset({"order_id"}),
        ),
        "audit": _RowSql(AuditEvent, audit_given, frozenset({"object_id"})),
    }


def _write_pg(order: dict, deadlines: list[dict], event: dict, audit: AuditEvent) -> int:
    """One statement: the order's INSERT first (RETURNING its id), the others as CTEs reading that id. Atomic by
    itself, so no transaction is opened; inside a caller's transaction a savepoint keeps a clash recoverable."""
    rows = _row_sql()
    of_order = {"order_id": "(SELECT id FROM o)"}
    order_sql, params = rows["order"].insert([order])
    parts = [("o", order_sql + " RETURNING id", params)]
    if deadlines:
        parts.append(("d", *rows["deadline"].insert(deadlines, of_order)))
    parts.append(("e", *rows["event"].insert([event], of_order)))
    audit_values = {f.attname: getattr(audit, f.attname) for f in AuditEvent._meta.concrete_fields}
    parts.append(("a", *rows["audit"].insert([audit_values], {"object_id": "(SELECT id::text FROM o)"})))
    # Every part is an INSERT made by _RowSql from model metadata, its values parameters or fixed literals.
    sql = "WITH " + ", ".join(f"{name} AS ({part})" for name, part, _p in parts) + " SELECT id FROM o"  # noqa: S608
    args = [v for _n, _s, p in parts for v in p]

    def run() -> int:
        with connection.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0]

    if connection.in_atomic_block:
        with transaction.atomic():
            return run()
    return run()
