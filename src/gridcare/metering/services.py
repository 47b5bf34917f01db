"""Writes for meter reading: routes, reads, and the exceptions queue. Each is atomic and audited."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record, diff, snapshot
from gridcare.core.permissions import Perm, Role
from gridcare.core.scoping import PermissionDenied, require_object, require_unit
from gridcare.customers.models import Account, Meter
from gridcare.org.models import SupplyUnit, User

from . import vee
from .choices import TRUSTED_STATUSES, ReadSource, ReadStatus
from .models import MeterRead, Route, RouteMembership
from .selectors import account_meter

__all__ = ["PermissionDenied"]

READ_FIELDS = [
    "meter_id",
    "account_id",
    "read_at",
    "total",
    "sharp",
    "peak",
    "flat",
    "valley",
    "reactive",
    "max_demand",
    "consumption",
    *vee.DERIVED,
    "source",
    "status",
    "flags",
]
ENTRY_SOURCES = (ReadSource.MANUAL, ReadSource.AMI, ReadSource.EXCHANGE_FINAL, ReadSource.EXCHANGE_INITIAL)
REGISTER_LABELS = {
    "total": "总",
    "sharp": "尖",
    "peak": "峰",
    "flat": "平",
    "valley": "谷",
    "reactive": "无功",
    "max_demand": "最大需量",
}


# ---------------------------------------------------------------- routes


@transaction.atomic
def route_create(*, actor: Actor, data: dict[str, Any]) -> Route:
    """A new reading route in a unit the actor manages."""
    errs: dict[str, list[str]] = {}
    code = str(data.get("code") or "").strip()
    name = str(data.get("name") or "").strip()
    if not code or len(code) > 32 or "\x00" in code:
        errs.setdefault("code", []).append(_("抄表段编号必填，最多32个字符"))
    elif Route.objects.filter(code=code).exists():
        errs.setdefault("code", []).append(_("抄表段编号 %(c)s 已存在") % {"c": code})
    if not name or len(name) > 100 or "\x00" in name:
        errs.setdefault("name", []).append(_("抄表段名称必填，最多100个字符"))
    try:
        day = int(data.get("reading_day"))
    except (TypeError, ValueError):
        day = 0
    if not 1 <= day <= 28:
        errs.setdefault("reading_day", []).append(_("抄表例日须为 1 到 28 之间的整数"))
    unit = (
        SupplyUnit.objects.filter(pk=data.get("unit_id")).first()
        if str(data.get("unit_id") or "").isdigit()
        else None
    )
    if unit is None:
        errs.setdefault("unit_id", []).append(_("供电单位不存在"))
    reader = None
    if data.get("reader_id") not in (None, ""):
        reader = User.objects.filter(pk=data["reader_id"], is_active=True).exclude(role=Role.CUSTOMER).first()
        if (
            reader is None
            or unit is None
            or reader.unit is None
            or not unit.path.startswith(reader.unit.path)
        ):
            errs.setdefault("reader_id", []).append(_("抄表员不存在或不属于该单位"))
    if errs:
        raise ValidationError(errs)
    require_unit(actor, unit.pk, Perm.METER_EDIT)
    route = Route.objects.create(
        code=code, name=name, unit=unit, reading_day=day, reader=reader, created_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="route.create",
        obj=route,
        unit_id=unit.pk,
        changes={"after": snapshot(route, ["code", "name", "unit_id", "reading_day", "reader_id"])},
    )
    return route


@transaction.atomic
def route_assign(*, actor: Actor, route: Route, account: Account, sequence: int) -> RouteMembership:
    """Put an account on a route at `sequence` (moving it off any other route: one route per account)."""
    require_object(actor, route, Perm.METER_EDIT)
    require_object(actor, account, Perm.METER_EDIT)
    if not account.unit.path.startswith(route.unit.path):
        raise ValidationError({"account_number": [_("户号不属于该抄表段的供电单位")]})
    if not isinstance(sequence, int) or sequence < 0:
        raise ValidationError({"sequence": [_("抄表顺序须为非负整数")]})
    existing = RouteMembership.objects.select_for_update().filter(account=account).first()
    before = snapshot(existing, ["route_id", "sequence"]) if existing else {}
    membership, _created = RouteMembership.objects.update_or_create(
        account=account, defaults={"route": route, "sequence": sequence}
    )
    audit_record(
        actor=actor,
        action="route.assign",
        obj=membership,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={
            "account_number": account.account_number,
            **diff(before, snapshot(membership, ["route_id", "sequence"])),
        },
    )
    return membership


# ---------------------------------------------------------------- reads: validation helpers


def clean_registers(
    data: dict[str, Any], *, digits: int, errors: dict[str, list[str]] | None = None
) -> dict[str, Decimal | None]:
    """Decimal register values (total required; TOU optional), each within the meter's range, 2 decimals."""
    errs: dict[str, list[str]] = errors if errors is not None else {}
    out: dict[str, Decimal | None] = {}
    span = Decimal(10) ** digits
    for name in vee.REGISTERS:
        raw = data.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            out[name] = None
            if name == "total":
                errs.setdefault(name, []).append(_("总示数必填"))
            continue
        try:
            if isinstance(raw, bool):
                raise InvalidOperation
            value = Decimal(str(raw).strip().replace(",", ""))
            if not value.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errs.setdefault(name, []).append(
                _("%(r)s示数必须是数字：%(v)s") % {"r": _(REGISTER_LABELS[name]), "v": str(raw)[:20]}
            )
            out[name] = None
            continue
        if value < 0:
            errs.setdefault(name, []).append(_("示数不能为负数"))
        elif value >= span:
            errs.setdefault(name, []).append(_("示数超出 %(d)d 位表的量程") % {"d": digits})
        elif value != value.quantize(vee.KWH):
            errs.setdefault(name, []).append(_("示数最多两位小数"))
        out[name] = (
            value.quantize(vee.KWH) if value.is_finite() and value == value.quantize(vee.KWH) else value
        )
    if errors is None and errs:
        raise ValidationError(errs)
    return out


def history_consumption(
    *, account_id: int, before: datetime, exclude_pk: int | None = None, limit: int = 12
) -> list[Decimal]:
    """kWh of the account's trusted full periods before `before`, oldest first (for zero and spike)."""
    qs = (
        MeterRead.objects.filter(
            account_id=account_id, read_at__lt=before, status__in=TRUSTED_STATUSES, consumption__isnull=False
        )
        .exclude(source__in=[ReadSource.EXCHANGE_INITIAL, ReadSource.EXCHANGE_FINAL])
        .exclude(pk=exclude_pk)
        .order_by("-read_at")
        .values_list("consumption", flat=True)[:limit]
    )
    return list(reversed(list(qs)))


def estimate_history(*, account_id: int, before: datetime, limit: int = 24) -> list[tuple[int, Decimal]]:
    """(days, kWh) of the account's trusted periods before `before`, oldest first; days since the same
    meter's previous read, so the two halves of a meter exchange count with their own lengths."""
    rows = list(
        MeterRead.objects.filter(account_id=account_id, read_at__lt=before)
        .order_by("-read_at")
        .values("meter_id", "read_at", "consumption", "status", "source")[: limit * 2]
    )
    rows.reverse()
    last_at: dict[int, datetime] = {}
    out: list[tuple[int, Decimal]] = []
    for r in rows:
        prev_at = last_at.get(r["meter_id"])
        last_at[r["meter_id"]] = r["read_at"]
        if (
            prev_at is None
            or r["consumption"] is None
            or r["status"] not in TRUSTED_STATUSES
            or r["source"] == ReadSource.EXCHANGE_INITIAL
        ):
            continue
        out.append(
            (
                vee.days_between(timezone.localdate(prev_at), timezone.localdate(r["read_at"])),
                r["consumption"],
            )
        )
    return out[-limit:]


def _account_of(meter: Meter) -> Account:
    if meter.service_point_id is None:
        raise ValidationError({"meter": [_("电能表未装在任何计量点上，无法录入示数")]})
    return meter.service_point.account


def _previous(meter_id: int, before: datetime, exclude_pk: int | None = None) -> MeterRead | None:
    return (
        MeterRead.objects.filter(meter_id=meter_id, read_at__lt=before)
        .exclude(pk=exclude_pk)
        .order_by("-read_at")
        .first()
    )


def _next(read: MeterRead) -> MeterRead | None:
    return (
        MeterRead.objects.filter(meter_id=read.meter_id, read_at__gt=read.read_at).order_by("read_at").first()
    )


def registers_of(read: MeterRead | None) -> dict[str, Decimal | None] | None:
    return None if read is None else {r: getattr(read, r) for r in vee.REGISTERS}


def _refresh_next(read: MeterRead, meter: Meter, t: vee.Thresholds) -> None:
    """The following read's consumption depends on this read's registers: recompute it (its status stays)."""
    nxt = _next(read)
    if nxt is None or nxt.source == ReadSource.EXCHANGE_INITIAL:
        return
    kwh, _flags = vee.consumption(
        read.total, nxt.total, digits=meter.digits, multiplier=meter.multiplier, t=t
    )
    extra, _more = vee.derived(
        previous=registers_of(read),
        registers=registers_of(nxt),
        source=nxt.source,
        consumption_kwh=kwh,
        digits=meter.digits,
        multiplier=meter.multiplier,
        t=t,
    )
    MeterRead.objects.filter(pk=nxt.pk).update(consumption=kwh, **extra)


def _audit_read(actor: Actor, action: str, read: MeterRead, changes: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        action=action,
        obj=read,
        customer_id=read.account.customer_id,
        unit_id=read.unit_id,
        changes=changes,
    )


# ---------------------------------------------------------------- reads: entry


@transaction.atomic
def read_record(
    *,
    actor: Actor,
    meter: Meter,
    read_at: datetime,
    registers: dict[str, Any],
    source: str = ReadSource.MANUAL,
) -> MeterRead:
    """Record a register reading; VEE runs and a read breaking a rule is written as flagged.

    Refused (ValidationError, nothing written): non-numeric or out-of-range registers, a read not later than
    the meter's last read, a read in the future.
    """
    require_object(actor, meter, Perm.METER_EDIT)
    # Serialise reads of one meter so two entries cannot both pass the "later than the last read" check.
    meter = (
        Meter.objects.select_for_update(of=("self",))
        .select_related("service_point__account")
        .get(pk=meter.pk)
    )
    account = _account_of(meter)
    errs: dict[str, list[str]] = {}
    if source not in ENTRY_SOURCES:
        errs.setdefault("source", []).append(_("来源无效：应为 %(v)s") % {"v": "/".join(ENTRY_SOURCES)})
    clean = clean_registers(registers, digits=meter.digits, errors=errs)
    if read_at is None or timezone.is_naive(read_at):
        errs.setdefault("read_at", []).append(_("抄表时间必填，且须带时区"))
    elif read_at > timezone.now() + timedelta(minutes=5):
        errs.setdefault("read_at", []).append(_("抄表时间不能晚于当前时间"))
    if errs:
        raise ValidationError(errs)
    last = MeterRead.objects.filter(meter=meter).order_by("-read_at").first()
    if last is not None and read_at <= last.read_at:
        raise ValidationError(
            {
                "read_at": [
                    _("抄表时间 %(at)s 不晚于该表最近一次示数的时间 %(last)s：不能录入更早或重复的示数")
                    % {
                        "at": timezone.localtime(read_at).strftime("%Y-%m-%d %H:%M"),
                        "last": timezone.localtime(last.read_at).strftime("%Y-%m-%d %H:%M"),
                    }
                ]
            }
        )
    t = vee.thresholds()
    kwh, extra, flags = vee.evaluate_read(
        previous=registers_of(last),
        registers=clean,
        source=source,
        digits=meter.digits,
        multiplier=meter.multiplier,
        history=history_consumption(
            account_id=account.pk, before=read_at, limit=max(t.spike_window, t.zero_periods)
        ),
        t=t,
    )
    read = MeterRead.objects.create(
        meter=meter,
        account=account,
        unit_id=account.unit_id,
        read_at=read_at,
        consumption=kwh,
        source=source,
        status=ReadStatus.FLAGGED if flags else ReadStatus.VALID,
        flags=flags,
        created_at=timezone.now(),
        entered_by=actor.user if actor.user is not None and actor.user.is_authenticated else None,
        **clean,
        **extra,
    )
    _audit_read(actor, "meter_read.create", read, {"after": snapshot(read, READ_FIELDS)})
    return read


# ---------------------------------------------------------------- exceptions queue


def _lock_flagged(read: MeterRead) -> MeterRead:
    read = (
        MeterRead.objects.select_for_update(of=("self",)).select_related("meter", "account").get(pk=read.pk)
    )
    if read.status != ReadStatus.FLAGGED:
        raise ValidationError(
            {"status": [_("该示数不在异常待处理状态（当前：%(s)s）") % {"s": read.get_status_display()}]}
        )
    return read


@transaction.atomic
def read_accept(*, actor: Actor, read: MeterRead) -> MeterRead:
    """Accept a flagged read as it is (e.g. the customer really used that much)."""
    require_object(actor, read, Perm.METER_EDIT)
    read = _lock_flagged(read)
    read.status = ReadStatus.ACCEPTED
    read.save(update_fields=["status"])
    _audit_read(actor, "meter_read.accept", read, {"status": [ReadStatus.FLAGGED, ReadStatus.ACCEPTED]})
    return read


@transaction.atomic
def read_correct(*, actor: Actor, read: MeterRead, registers: dict[str, Any]) -> MeterRead:
    """Replace a flagged read's registers with corrected values; consumption and flags are recomputed."""
    require_object(actor, read, Perm.METER_EDIT)
    read = _lock_flagged(read)
    meter = read.meter
    clean = clean_registers(registers, digits=meter.digits)
    before = snapshot(read, READ_FIELDS)
    t = vee.thresholds()
    prev = _previous(meter.pk, read.read_at)
    kwh, extra, flags = vee.evaluate_read(
        previous=registers_of(prev),
        registers=clean,
        source=read.source,
        digits=meter.digits,
        multiplier=meter.multiplier,
        history=history_consumption(
            account_id=read.account_id, before=read.read_at, limit=max(t.spike_window, t.zero_periods)
        ),
        t=t,
    )
    for name, value in {**clean, **extra}.items():
        setattr(read, name, value)
    read.consumption, read.flags, read.status = kwh, flags, ReadStatus.CORRECTED
    read.save()
    _refresh_next(read, meter, t)
    _audit_read(actor, "meter_read.correct", read, diff(before, snapshot(read, READ_FIELDS)))
    return read


def _estimate_total(
    *, account_id: int, meter: Meter, prev: MeterRead, read_at: datetime, t: vee.Thresholds
) -> tuple[Decimal, Decimal]:
    days = vee.days_between(timezone.localdate(prev.read_at), timezone.localdate(read_at))
    kwh = vee.estimate_kwh(
        estimate_history(account_id=account_id, before=read_at, limit=t.estimate_window), days, t
    )
    if kwh is None:
        raise ValidationError({"__all__": [_("该户没有可用的历史电量，无法估算")]})
    total = vee.advance_register(prev.total, kwh, digits=meter.digits, multiplier=meter.multiplier)
    return total, kwh


def _estimate_registers(
    *, account_id: int, meter: Meter, prev: MeterRead, read_at: datetime, kwh: Decimal, t: vee.Thresholds
) -> dict[str, Decimal | None]:
    """TOU and reactive registers and kWh of an estimated read: the estimate is split by the shares of the
    trusted history (the same window as the kWh estimate), and each register advanced by its share.
    Registers the previous read lacks, or without history, stay empty."""
    out: dict[str, Decimal | None] = {
        r: None for r in ("sharp", "peak", "flat", "valley", "reactive", "max_demand")
    }
    out.update(dict.fromkeys(vee.DERIVED))
    rows = list(
        MeterRead.objects.filter(
            account_id=account_id, read_at__lt=read_at, status__in=TRUSTED_STATUSES, consumption__gt=0
        )
        .exclude(source=ReadSource.EXCHANGE_INITIAL)
        .order_by("-read_at")
        .values("consumption", *vee.DERIVED)[: t.estimate_window]
    )

    def advance(register: str, amount: Decimal) -> Decimal:
        return vee.advance_register(
            getattr(prev, register), amount, digits=meter.digits, multiplier=meter.multiplier
        )

    tou_rows = [
        r
        for r in rows
        if all(r[vee.TOU_KWH[p]] is not None for p in vee.TOU_REGISTERS if getattr(prev, p) is not None)
    ]
    present = [p for p in vee.TOU_REGISTERS if getattr(prev, p) is not None]
    if present and tou_rows:
        shares = {p: sum((r[vee.TOU_KWH[p]] or Decimal(0) for r in tou_rows), Decimal(0)) for p in present}
        for p, v in vee.estimate_split(kwh, shares).items():
            out[vee.TOU_KWH[p]] = v
            out[p] = advance(p, v)
    kvarh_rows = [r for r in rows if r["kvarh"] is not None]
    if prev.reactive is not None and kvarh_rows:
        ratio = sum((r["kvarh"] for r in kvarh_rows), Decimal(0)) / sum(
            (r["consumption"] for r in kvarh_rows), Decimal(0)
        )
        out["kvarh"] = (kwh * ratio).quantize(vee.KWH)
        out["reactive"] = advance("reactive", out["kvarh"])
    return out


@transaction.atomic
def read_estimate(*, actor: Actor, read: MeterRead) -> MeterRead:
    """Replace a flagged read by an estimate from history (average daily kWh × days since the previous read)."""
    require_object(actor, read, Perm.METER_EDIT)
    read = _lock_flagged(read)
    meter = read.meter
    prev = _previous(meter.pk, read.read_at)
    if prev is None:
        raise ValidationError({"__all__": [_("该表没有更早的示数，无法估算")]})
    before = snapshot(read, READ_FIELDS)
    t = vee.thresholds()
    total, kwh = _estimate_total(
        account_id=read.account_id, meter=meter, prev=prev, read_at=read.read_at, t=t
    )
    read.total, read.consumption = total, kwh
    for name, value in _estimate_registers(
        account_id=read.account_id, meter=meter, prev=prev, read_at=read.read_at, kwh=kwh, t=t
    ).items():
        setattr(read, name, value)
    read.status, read.source = ReadStatus.ESTIMATED, ReadSource.ESTIMATED
    read.save()
    _refresh_next(read, meter, t)
    _audit_read(actor, "meter_read.estimate", read, diff(before, snapshot(read, READ_FIELDS)))
    return read


@transaction.atomic
def read_estimate_missing(*, actor: Actor, account: Account, period_end: date) -> MeterRead:
    """An estimated read at 00:00 (Beijing time) of `period_end` for an account nobody could read."""
    require_object(actor, account, Perm.METER_EDIT)
    meter = account_meter(account)
    if meter is None:
        raise ValidationError({"account_number": [_("该户没有在用的电能表")]})
    meter = Meter.objects.select_for_update().get(pk=meter.pk)
    read_at = timezone.make_aware(datetime.combine(period_end, time(0, 0)))
    if MeterRead.objects.filter(meter=meter, read_at__gte=read_at).exists():
        raise ValidationError({"period_end": [_("该表在本期末或之后已有示数，无需估算")]})
    prev = _previous(meter.pk, read_at)
    if prev is None:
        raise ValidationError({"__all__": [_("该表没有更早的示数，无法估算")]})
    t = vee.thresholds()
    total, kwh = _estimate_total(account_id=account.pk, meter=meter, prev=prev, read_at=read_at, t=t)
    extra = _estimate_registers(account_id=account.pk, meter=meter, prev=prev, read_at=read_at, kwh=kwh, t=t)
    read = MeterRead.objects.create(
        meter=meter,
        account=account,
        unit_id=account.unit_id,
        read_at=read_at,
        total=total,
        consumption=kwh,
        source=ReadSource.ESTIMATED,
        status=ReadStatus.ESTIMATED,
        flags=[],
        created_at=timezone.now(),
        entered_by=actor.user if actor.user is not None and actor.user.is_authenticated else None,
        **extra,
    )
    read.account = account
    _audit_read(actor, "meter_read.estimate_missing", read, {"after": snapshot(read, READ_FIELDS)})
    return read
