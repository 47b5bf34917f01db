"""Writes for the customer registry. Each runs in one transaction and leaves its audit row."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record, diff, pii_view_record, snapshot
from gridcare.core.permissions import Perm, Role
from gridcare.core.scoping import PermissionDenied, require_object, require_unit, visible_unit_ids
from gridcare.core.validators import (
    validate_account_number,
    validate_id_number,
    validate_phone,
    validate_uscc,
)
from gridcare.org.models import SupplyUnit, User

from .choices import AccountStatus, CustomerClass, CustomerKind, HoldingReason, Segment, VoltageLevel
from .models import (
    Account,
    AccountHolding,
    Customer,
    Meter,
    PortalBinding,
    Premise,
    ServicePoint,
    TransformerArea,
)

CUSTOMER_FIELDS = [
    "kind",
    "name",
    "customer_class",
    "segment",
    "id_number",
    "phone",
    "phone2",
    "email",
    "unit_id",
    "customer_manager_id",
    "notify_sms",
    "notify_wechat",
    "notify_email",
]


__all__ = ["PermissionDenied"]  # re-exported: callers catch it from here

MAX_CAPACITY_KVA = Decimal("999999999.9")  # DecimalField(max_digits=10, decimal_places=1)
MAX_MULTIPLIER = 2_147_483_647


def _text(
    value: Any,
    field: str,
    errs: dict[str, list[str]],
    max_length: int,
    *,
    required: bool = False,
    label: str = "",
) -> str:
    """Trimmed text within the column's length, without NUL characters (PostgreSQL refuses them)."""
    text = "" if value is None else str(value).strip()
    if "\x00" in text:
        errs.setdefault(field, []).append(_("包含非法字符"))
    elif len(text) > max_length:
        errs.setdefault(field, []).append(_("不能超过 %(n)s 个字符") % {"n": max_length})
    elif required and not text:
        errs.setdefault(field, []).append(_("%(label)s不能为空") % {"label": label or field})
    return text


def _check_manager(actor: Actor, value: Any, errs: dict[str, list[str]]) -> int | None:
    """A customer manager must be an active staff user the actor can see (their unit subtree)."""
    if value in (None, ""):
        return None
    qs = User.objects.filter(pk=value, is_active=True).exclude(role=Role.CUSTOMER)
    if actor.user is not None:
        qs = qs.filter(unit_id__in=visible_unit_ids(actor.user))
    if not str(value).isdigit() or not qs.exists():
        errs.setdefault("customer_manager_id", []).append(_("客户经理不存在"))
        return None
    return int(value)


def clean_customer_data(
    data: dict[str, Any], *, errors: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """Normalise and validate customer fields; raises ValidationError({field: [msg]})."""
    errs: dict[str, list[str]] = errors if errors is not None else {}
    out = dict(data)

    def bad(field: str, msg: str) -> None:
        errs.setdefault(field, []).append(str(msg))

    out["name"] = _text(out.get("name"), "name", errs, 100, required=True, label=_("客户名称"))
    if out.get("kind") not in CustomerKind.values:
        bad("kind", _("客户类型无效：应为 %(v)s") % {"v": "/".join(CustomerKind.values)})
    if out.get("customer_class") not in CustomerClass.values:
        bad("customer_class", _("用电类别无效：应为 %(v)s") % {"v": "/".join(CustomerClass.values)})
    if out.get("segment") not in Segment.values:
        bad("segment", _("客户分群无效：应为 %(v)s") % {"v": "/".join(Segment.values)})
    try:
        if out.get("kind") == CustomerKind.ORGANISATION:
            out["id_number"] = validate_uscc(out.get("id_number") or "")
        else:
            out["id_number"] = validate_id_number(out.get("id_number") or "")
    except ValidationError as e:
        bad("id_number", e.messages[0])
    try:
        out["phone"] = validate_phone(out.get("phone") or "")
    except ValidationError as e:
        bad("phone", e.messages[0])
    if out.get("phone2"):
        try:
            out["phone2"] = validate_phone(out["phone2"])
        except ValidationError as e:
            bad("phone2", e.messages[0])
    else:
        out["phone2"] = ""
    email = _text(out.get("email"), "email", errs, 254)
    if email and ("@" not in email or "." not in email.split("@")[-1]):
        bad("email", _("电子邮箱格式错误"))
    out["email"] = email
    if errors is None and errs:
        raise ValidationError(errs)
    return out


def _unit_or_error(unit_id: Any, errs: dict[str, list[str]]) -> SupplyUnit | None:
    unit = SupplyUnit.objects.filter(pk=unit_id).first() if unit_id not in (None, "") else None
    if unit is None:
        errs.setdefault("unit_id", []).append(_("供电单位不存在"))
    return unit


@transaction.atomic
def customer_create(*, actor: Actor, data: dict[str, Any]) -> Customer:
    errs: dict[str, list[str]] = {}
    clean = clean_customer_data(data, errors=errs)
    _unit_or_error(clean.get("unit_id"), errs)
    clean["customer_manager_id"] = _check_manager(actor, clean.get("customer_manager_id"), errs)
    if errs:
        raise ValidationError(errs)
    require_unit(actor, int(clean["unit_id"]), Perm.CUSTOMER_EDIT)
    now = timezone.now()
    customer = Customer(
        created_at=now, updated_at=now, **{k: clean.get(k) for k in CUSTOMER_FIELDS if k in clean}
    )
    customer.save()
    audit_record(
        actor=actor,
        action="customer.create",
        obj=customer,
        customer_id=customer.pk,
        unit_id=customer.unit_id,
        changes={"after": snapshot(customer, CUSTOMER_FIELDS)},
    )
    return customer


@transaction.atomic
def customer_update(*, actor: Actor, customer: Customer, data: dict[str, Any]) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    require_object(actor, customer, Perm.CUSTOMER_EDIT)
    before = snapshot(customer, CUSTOMER_FIELDS)
    merged = {**before, **{k: v for k, v in data.items() if k in CUSTOMER_FIELDS}}
    errs: dict[str, list[str]] = {}
    clean = clean_customer_data(merged, errors=errs)
    if clean.get("customer_manager_id") != before["customer_manager_id"]:
        clean["customer_manager_id"] = _check_manager(actor, clean.get("customer_manager_id"), errs)
    if clean["unit_id"] != customer.unit_id:
        _unit_or_error(clean["unit_id"], errs)
        if not errs:
            require_unit(actor, int(clean["unit_id"]), Perm.CUSTOMER_EDIT)
    if errs:
        raise ValidationError(errs)
    for k in CUSTOMER_FIELDS:
        setattr(customer, k, clean[k])
    customer.updated_at = timezone.now()
    customer.save()
    changes = diff(before, snapshot(customer, CUSTOMER_FIELDS))
    if changes:
        audit_record(
            actor=actor,
            action="customer.update",
            obj=customer,
            customer_id=customer.pk,
            unit_id=customer.unit_id,
            changes=changes,
        )
    return customer


@dataclass
class ServicePointSpec:
    voltage_level: str = VoltageLevel.V220
    contract_capacity_kva: Decimal = Decimal("8")
    tariff_code: str = ""


def _decimal(
    value: Any, field: str, errs: dict[str, list[str]], minimum: Decimal = Decimal("0")
) -> Decimal | None:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errs.setdefault(field, []).append(_("必须是数字"))
        return None
    if not d.is_finite() or d <= minimum:
        errs.setdefault(field, []).append(_("必须大于 %(m)s") % {"m": minimum})
        return None
    if d > MAX_CAPACITY_KVA:
        errs.setdefault(field, []).append(_("数值过大"))
        return None
    return d


@transaction.atomic
def account_open(
    *,
    actor: Actor,
    customer: Customer,
    account_number: str,
    address: str,
    transformer_area_id: Any,
    opened_on: date,
    voltage_level: str = VoltageLevel.V220,
    contract_capacity_kva: Any = "8",
    tariff_code: str = "",
) -> Account:
    """Move-in (立户): a premise, the account on it, its service point and the first holding."""
    errs: dict[str, list[str]] = {}
    try:
        account_number = validate_account_number(account_number)
        if Account.objects.filter(account_number=account_number).exists():
            errs.setdefault("account_number", []).append(_("户号 %(n)s 已存在") % {"n": account_number})
    except ValidationError as e:
        errs.setdefault("account_number", []).append(e.messages[0])
    address = _text(address, "address", errs, 200, required=True, label=_("用电地址"))
    tariff_code = _text(tariff_code, "tariff_code", errs, 32)
    area = (
        TransformerArea.objects.filter(pk=transformer_area_id).first()
        if str(transformer_area_id or "").isdigit()
        else None
    )
    if area is None:
        errs.setdefault("transformer_area_id", []).append(_("台区不存在"))
    if voltage_level not in VoltageLevel.values:
        errs.setdefault("voltage_level", []).append(_("电压等级无效"))
    capacity = _decimal(contract_capacity_kva, "contract_capacity_kva", errs)
    if errs:
        raise ValidationError(errs)
    require_object(actor, customer, Perm.CUSTOMER_EDIT)
    require_object(actor, area, Perm.CUSTOMER_EDIT)
    premise = Premise.objects.create(address=address, unit_id=area.unit_id, transformer_area=area)
    try:
        with transaction.atomic():
            account = Account.objects.create(
                account_number=account_number,
                customer=customer,
                premise=premise,
                unit_id=area.unit_id,
                status=AccountStatus.ACTIVE,
                opened_on=opened_on,
            )
    except IntegrityError:
        raise ValidationError({"account_number": [_("户号 %(n)s 已存在") % {"n": account_number}]}) from None
    sp = ServicePoint.objects.create(
        premise=premise,
        account=account,
        unit_id=area.unit_id,
        transformer_area=area,
        voltage_level=voltage_level,
        contract_capacity_kva=capacity,
        tariff_code=tariff_code or "",
    )
    AccountHolding.objects.create(
        account=account, customer=customer, valid_from=opened_on, reason=HoldingReason.MOVE_IN
    )
    audit_record(
        actor=actor,
        action="account.open",
        obj=account,
        customer_id=customer.pk,
        unit_id=account.unit_id,
        changes={
            "after": {
                "account_number": account_number,
                "address": address,
                "opened_on": opened_on.isoformat(),
                "transformer_area": area.pk,
                "service_point": sp.pk,
            }
        },
    )
    return account


@transaction.atomic
def account_close(*, actor: Actor, account: Account, closed_on: date) -> Account:
    """Move-out (销户) with an effective date; the holding is closed, nothing is deleted."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    require_object(actor, account, Perm.CUSTOMER_EDIT)
    if account.status == AccountStatus.CLOSED:
        raise ValidationError({"account": [_("户号已销户")]})
    if closed_on < account.opened_on:
        raise ValidationError({"closed_on": [_("销户日期不能早于立户日期")]})
    holding = account.holdings.filter(valid_to__isnull=True).first()
    if holding and closed_on < holding.valid_from:
        raise ValidationError({"closed_on": [_("销户日期不能早于当前户主的起始日期")]})
    if holding:
        holding.valid_to = closed_on
        holding.save(update_fields=["valid_to"])
    account.status = AccountStatus.CLOSED
    account.closed_on = closed_on
    account.save(update_fields=["status", "closed_on"])
    audit_record(
        actor=actor,
        action="account.close",
        obj=account,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={"status": ["active", "closed"], "closed_on": [None, closed_on.isoformat()]},
    )
    return account


@transaction.atomic
def account_transfer(
    *, actor: Actor, account: Account, new_customer: Customer, effective_on: date
) -> Account:
    """Change of owner (过户): the old holding ends the day before, the new one starts on `effective_on`."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    require_object(actor, account, Perm.CUSTOMER_EDIT)
    require_object(actor, new_customer, Perm.CUSTOMER_EDIT)
    if account.status != AccountStatus.ACTIVE:
        raise ValidationError({"account": [_("已销户的户号不能过户")]})
    if new_customer.pk == account.customer_id:
        raise ValidationError({"new_customer_id": [_("新户主与当前户主相同")]})
    current = account.holdings.filter(valid_to__isnull=True).first()
    if current and effective_on <= current.valid_from:
        raise ValidationError(
            {"effective_on": [_("过户日期必须晚于当前户主的起始日期 %(d)s") % {"d": current.valid_from}]}
        )
    old_customer_id = account.customer_id
    if current:
        current.valid_to = effective_on
        current.save(update_fields=["valid_to"])
    AccountHolding.objects.create(
        account=account, customer=new_customer, valid_from=effective_on, reason=HoldingReason.TRANSFER
    )
    # The previous holder's portal users must not see the new holder's data: their bindings end here.
    dropped = list(PortalBinding.objects.filter(account=account).values_list("user_id", flat=True))
    if dropped:
        PortalBinding.objects.filter(account=account).delete()
        audit_record(
            actor=actor,
            action="portal.unbind",
            obj=account,
            customer_id=old_customer_id,
            unit_id=account.unit_id,
            changes={"reason": "transfer", "users": dropped},
        )
    account.customer = new_customer
    account.save(update_fields=["customer"])
    change = {"customer": [old_customer_id, new_customer.pk], "effective_on": effective_on.isoformat()}
    for cid in {old_customer_id, new_customer.pk}:
        audit_record(
            actor=actor,
            action="account.transfer",
            obj=account,
            customer_id=cid,
            unit_id=account.unit_id,
            changes=change,
        )
    return account


METER_FIELDS = [
    "asset_number",
    "service_point_id",
    "unit_id",
    "digits",
    "multiplier",
    "has_tou",
    "installed_on",
    "removed_on",
]


def _clean_meter(data: dict[str, Any], errs: dict[str, list[str]]) -> dict[str, Any]:
    out = dict(data)
    asset = str(out.get("asset_number") or "").strip()
    if not asset or len(asset) > 24 or not asset.isascii() or not asset.isalnum():
        errs.setdefault("asset_number", []).append(_("资产编号必须是1-24位字母或数字"))
    out["asset_number"] = asset
    try:
        digits = int(6 if out.get("digits") in (None, "") else out["digits"])
        if not 4 <= digits <= 10:
            raise ValueError
        out["digits"] = digits
    except (TypeError, ValueError):
        errs.setdefault("digits", []).append(_("表位数必须是4到10之间的整数"))
    try:
        mult = int(1 if out.get("multiplier") in (None, "") else out["multiplier"])
        if not 1 <= mult <= MAX_MULTIPLIER:
            raise ValueError
        out["multiplier"] = mult
    except (TypeError, ValueError):
        errs.setdefault("multiplier", []).append(_("倍率必须是正整数"))
    out["has_tou"] = bool(out.get("has_tou"))
    return out


@transaction.atomic
def meter_install(*, actor: Actor, service_point: ServicePoint, data: dict[str, Any]) -> Meter:
    """Install a meter at a service point; a meter already there is removed on the same day (换表)."""
    errs: dict[str, list[str]] = {}
    clean = _clean_meter(data, errs)
    installed_on = clean.get("installed_on")
    if not isinstance(installed_on, date):
        errs.setdefault("installed_on", []).append(_("装表日期无效"))
    if clean["asset_number"] and Meter.objects.filter(asset_number=clean["asset_number"]).exists():
        errs.setdefault("asset_number", []).append(_("资产编号 %(n)s 已存在") % {"n": clean["asset_number"]})
    if errs:
        raise ValidationError(errs)
    require_object(actor, service_point, Perm.METER_EDIT)
    for old in Meter.objects.select_for_update().filter(service_point=service_point, removed_on__isnull=True):
        old.removed_on = installed_on
        old.save(update_fields=["removed_on"])
        audit_record(
            actor=actor,
            action="meter.remove",
            obj=old,
            customer_id=service_point.account.customer_id,
            unit_id=old.unit_id,
            changes={"removed_on": [None, installed_on.isoformat()]},
        )
    meter = Meter.objects.create(
        asset_number=clean["asset_number"],
        service_point=service_point,
        unit_id=service_point.unit_id,
        digits=clean["digits"],
        multiplier=clean["multiplier"],
        has_tou=clean["has_tou"],
        installed_on=installed_on,
    )
    audit_record(
        actor=actor,
        action="meter.install",
        obj=meter,
        customer_id=service_point.account.customer_id,
        unit_id=meter.unit_id,
        changes={"after": snapshot(meter, METER_FIELDS)},
    )
    return meter


@transaction.atomic
def meter_update(*, actor: Actor, meter: Meter, data: dict[str, Any]) -> Meter:
    meter = Meter.objects.select_for_update().get(pk=meter.pk)
    require_object(actor, meter, Perm.METER_EDIT)
    before = snapshot(meter, METER_FIELDS)
    errs: dict[str, list[str]] = {}
    editable = {k: data[k] for k in ("digits", "multiplier", "has_tou") if k in data}
    clean = _clean_meter({**before, **editable}, errs)
    if errs:
        raise ValidationError(errs)
    for k in ("digits", "multiplier", "has_tou"):
        setattr(meter, k, clean[k])
    meter.save(update_fields=["digits", "multiplier", "has_tou"])
    changes = diff(before, snapshot(meter, METER_FIELDS))
    if changes:
        customer_id = meter.service_point.account.customer_id if meter.service_point_id else None
        audit_record(
            actor=actor,
            action="meter.update",
            obj=meter,
            customer_id=customer_id,
            unit_id=meter.unit_id,
            changes=changes,
        )
    return meter


def pii_reveal(*, actor: Actor, customer: Customer) -> None:
    """Each unmasked view of personal data is itself audited."""
    require_object(actor, customer, Perm.CUSTOMER_VIEW_PII)
    audit_record(
        actor=actor,
        action="customer.view_pii",
        obj=customer,
        customer_id=customer.pk,
        unit_id=customer.unit_id,
    )


def customer_export_record(
    *, actor: Actor, query: dict[str, str], fmt: str, unmasked: bool, customer_ids=()
) -> None:
    """An export of a search result is a bulk read of personal data: it leaves an audit row. An unmasked
    export is also an unmasked view of the exported customers' phones and ID numbers: one customer.view_pii
    row listing them (`customer_ids`, the export's rows)."""
    unit_id = getattr(actor.user, "unit_id", None)
    audit_record(
        actor=actor,
        action="customer.export",
        object_type="customers.customer",
        unit_id=unit_id,
        changes={"query": query, "format": fmt, "unmasked": unmasked},
    )
    if unmasked:
        ids = list(customer_ids)
        pii_view_record(
            actor=actor,
            source="console.customer_export",
            object_type="customers.customer",
            object_ids=ids,
            customer_ids=ids,
            unit_id=unit_id,
        )


def customer_export_download_record(*, actor: Actor, job_id: int, rows: int | None) -> None:
    """Downloading an export job's file is when the personal data leaves: one audit row per download."""
    audit_record(
        actor=actor,
        action="customer.export_download",
        object_type="jobs.job",
        object_id=job_id,
        unit_id=getattr(actor.user, "unit_id", None),
        changes={"job": job_id, "rows": rows},
    )
