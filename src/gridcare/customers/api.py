"""Customer-registry API: customers, accounts (户号), premises, service points, meters, topology.

Every read goes through `selectors` (unit scoping and role permission in one place) and every write
through `services` (permission, unit check, validation, audit row with channel "api").

Who gets what (see also `gridcare.core.api`):
- anonymous → 401 everywhere except `/public/...` (payments.channels.api.public) and `/health`;
- collection routes (`GET /customers`, `POST /customers`, `GET /topology/feeders`) → 403 with a
  message when the caller's role lacks the permission (customer-role users included); staff of
  another unit get only their own units' rows;
- routes naming an object → 404 when it is missing, outside the caller's units, or the caller's role
  may not do that action on it (e.g. a 95598 agent editing, a billing clerk installing without
  meter.edit) - the three are indistinguishable;
- `GET /customers/{id}?reveal=true` → 403 when the caller may see the customer but not unmasked
  personal data (customer.view_pii). With the permission every unmasked view writes an audit event
  `customer.view_pii`. Without `reveal` personal data is always masked (SPEC C1).
- `GET /customers/{id}/audit` shows personal data in the events' changes whole only to customer.view_pii
  roles, and then writes one `customer.view_pii` row for the request (as `GET /audit-events`).
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from ninja.errors import HttpError

from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    ErrorOut,
    PageParams,
    Text,
    api_actor,
    audit_event_row,
    paginate,
    require_object_perm,
    require_perm,
)
from gridcare.core.api import AuditEventOut as AuditEventSchema
from gridcare.core.audit import audit_pii_view_record
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import get_or_404

from . import selectors, services
from .choices import AccountStatus
from .models import Account, Customer, Meter, ServicePoint
from .schemas import (
    AccountCloseIn,
    AccountDetailOut,
    AccountOpenIn,
    AccountOut,
    AccountTransferIn,
    AreaDetailOut,
    AreaOut,
    AuditTimelineParams,
    CustomerDetailOut,
    CustomerFilter,
    CustomerIn,
    CustomerPage,
    CustomerPatch,
    FeederFilter,
    FeederPage,
    HoldingOut,
    MeterInstallIn,
    MeterOut,
    MeterPatch,
    PremiseOut,
    ServicePointOut,
)

router = Router()

# ---------------------------------------------------------------- shaping rows


def _unit(u) -> dict[str, Any]:
    return {"id": u.pk, "code": u.code, "name": u.name}


def _feeder(f) -> dict[str, Any]:
    return {"id": f.pk, "code": f.code, "name": f.name}


def _area(a) -> dict[str, Any]:
    return {"id": a.pk, "code": a.code, "name": a.name, "area_type": a.area_type}


def _customer_ref(c: Customer) -> dict[str, Any]:
    return {"id": c.pk, "name": selectors.masked_customer(c)["name"]}


def customer_row(c: Customer) -> dict[str, Any]:
    m = selectors.masked_customer(c)
    return {
        "id": c.pk,
        "kind": c.kind,
        "name": m["name"],
        "customer_class": c.customer_class,
        "segment": c.segment,
        "id_number": m["id_number"],
        "phone": m["phone"],
        "unit": _unit(c.unit),
        "account_numbers": [a.account_number for a in c.accounts.all()],
        "masked": True,
    }


def customer_detail_row(c: Customer, *, reveal: bool = False) -> dict[str, Any]:
    m = selectors.masked_customer(c, reveal=reveal)
    manager = c.customer_manager
    return {
        "id": c.pk,
        "kind": c.kind,
        "customer_class": c.customer_class,
        "segment": c.segment,
        **m,
        "unit": _unit(c.unit),
        "customer_manager": (
            {"id": manager.pk, "username": manager.username, "display_name": manager.display_name}
            if manager is not None
            else None
        ),
        "notify_sms": c.notify_sms,
        "notify_wechat": c.notify_wechat,
        "notify_email": c.notify_email,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "masked": not reveal,
    }


def account_row(a: Account) -> dict[str, Any]:
    return {
        "account_number": a.account_number,
        "status": a.status,
        "opened_on": a.opened_on,
        "closed_on": a.closed_on,
        "customer": _customer_ref(a.customer),
        "premise_id": a.premise_id,
        "address": a.premise.address,
        "unit": _unit(a.unit),
    }


def account_detail_row(a: Account) -> dict[str, Any]:
    return {
        **account_row(a),
        "service_points": [
            {
                "id": sp.pk,
                "voltage_level": sp.voltage_level,
                "contract_capacity_kva": sp.contract_capacity_kva,
                "tariff_code": sp.tariff_code,
                "meter_asset_numbers": [m.asset_number for m in sp.meters.all() if m.removed_on is None],
            }
            for sp in a.service_points.all()
        ],
    }


def meter_row(m: Meter, account_number: str | None = None) -> dict[str, Any]:
    if account_number is None and m.service_point_id is not None:
        account_number = m.service_point.account.account_number
    return {
        "asset_number": m.asset_number,
        "service_point_id": m.service_point_id,
        "account_number": account_number,
        "unit_id": m.unit_id,
        "digits": m.digits,
        "multiplier": m.multiplier,
        "has_tou": m.has_tou,
        "registers": m.registers,
        "installed_on": m.installed_on,
        "removed_on": m.removed_on,
        "in_service": m.removed_on is None,
    }


def area_row(a) -> dict[str, Any]:
    return {**_area(a), "capacity_kva": a.capacity_kva, "feeder": _feeder(a.feeder), "unit": _unit(a.unit)}


# ---------------------------------------------------------------- scoped look-ups built on the selectors


def _account(request, account_number: str, *, detail: bool = False) -> Account:
    qs = selectors.accounts_visible(user=request.user)
    if detail:
        qs = qs.prefetch_related(
            Prefetch(
                "service_points", queryset=ServicePoint.objects.order_by("id").prefetch_related("meters")
            )
        )
    return get_or_404(qs, account_number=account_number)


def _service_point(request, sp_id: int):
    qs = (
        selectors.service_points_visible(user=request.user)
        .select_related("premise", "unit", "transformer_area__feeder")
        .prefetch_related(Prefetch("meters", queryset=Meter.objects.order_by("installed_on", "id")))
    )
    return get_or_404(qs, pk=sp_id)


def _meter(request, asset_number: str) -> Meter:
    return get_or_404(selectors.meters_visible(user=request.user), asset_number=asset_number)


# ---------------------------------------------------------------- customers


@router.get("/customers", response={200: CustomerPage, **LIST_ERRORS}, tags=["customers"])
def customer_list(request, filters: Query[CustomerFilter], paging: Query[PageParams]):
    """Search customers of the caller's units (masked personal data)."""
    require_perm(request, Perm.CUSTOMER_VIEW)
    qs = selectors.customer_search(
        user=request.user,
        q=filters.q,
        customer_class=filters.customer_class or "",
        segment=filters.segment or "",
        unit_id=filters.unit_id,
    ).prefetch_related(
        Prefetch(
            "accounts",
            queryset=Account.objects.only("id", "customer_id", "account_number").order_by("account_number"),
        )
    )
    return paginate(qs, paging, customer_row)


@router.get(
    "/customers/{customer_id}",
    response={200: CustomerDetailOut, 403: ErrorOut, **READ_ERRORS},
    tags=["customers"],
)
def customer_get(request, customer_id: int, reveal: bool = False):
    """One customer, masked; `reveal=true` unmasks for customer.view_pii roles and is audited."""
    customer = selectors.customer_get(user=request.user, pk=customer_id)
    if reveal:
        if not has_perm(request.user, Perm.CUSTOMER_VIEW_PII):
            raise HttpError(403, _("当前角色无权查看未脱敏的个人信息"))
        services.pii_reveal(actor=api_actor(request), customer=customer)
    return customer_detail_row(customer, reveal=reveal)


@router.post("/customers", response={201: CustomerDetailOut, **WRITE_ERRORS}, tags=["customers"])
def customer_create(request, payload: CustomerIn):
    """Create a customer file (客户档案)."""
    require_perm(request, Perm.CUSTOMER_EDIT)
    data = payload.model_dump()
    if data["unit_id"] is None:
        data["unit_id"] = request.user.unit_id
    customer = services.customer_create(actor=api_actor(request), data=data)
    return Status(201, customer_detail_row(selectors.customer_get(user=request.user, pk=customer.pk)))


@router.patch(
    "/customers/{customer_id}", response={200: CustomerDetailOut, **WRITE_ERRORS}, tags=["customers"]
)
def customer_update(request, customer_id: int, payload: CustomerPatch):
    """Change some fields of a customer file; only the fields sent are changed."""
    require_object_perm(request, Perm.CUSTOMER_EDIT)
    customer = selectors.customer_get(user=request.user, pk=customer_id)
    services.customer_update(
        actor=api_actor(request), customer=customer, data=payload.model_dump(exclude_unset=True)
    )
    return customer_detail_row(selectors.customer_get(user=request.user, pk=customer_id))


@router.get(
    "/customers/{customer_id}/accounts", response={200: list[AccountOut], **READ_ERRORS}, tags=["accounts"]
)
def customer_accounts(request, customer_id: int):
    """The accounts a customer holds now (past holdings: `/accounts/{n}/holdings`)."""
    customer = selectors.customer_get(user=request.user, pk=customer_id)
    qs = selectors.accounts_visible(user=request.user).filter(customer=customer).order_by("account_number")
    return [account_row(a) for a in qs]


@router.get(
    "/customers/{customer_id}/audit",
    response={200: list[AuditEventSchema], **READ_ERRORS},
    tags=["customers", "audit"],
)
def customer_audit(request, customer_id: int, params: Query[AuditTimelineParams]):
    """The customer's timeline of audited events, newest first (requires audit.view)."""
    require_object_perm(request, Perm.AUDIT_VIEW)
    customer = selectors.customer_get(user=request.user, pk=customer_id)
    reveal = has_perm(request.user, Perm.CUSTOMER_VIEW_PII)  # personal data in the changes only for them
    events = selectors.customer_timeline(user=request.user, customer=customer, limit=params.limit)
    if reveal:  # shown whole: audited, one row for the request
        audit_pii_view_record(actor=api_actor(request), events=events, source="api.customer_audit")
    return [audit_event_row(e, reveal=reveal) for e in events]


# ---------------------------------------------------------------- accounts


@router.get("/accounts/{account_number}", response={200: AccountDetailOut, **READ_ERRORS}, tags=["accounts"])
def account_get(request, account_number: Text):
    """One account (户号) with its service points and meters in service."""
    return account_detail_row(_account(request, account_number, detail=True))


@router.post(
    "/customers/{customer_id}/accounts", response={201: AccountDetailOut, **WRITE_ERRORS}, tags=["accounts"]
)
def account_open(request, customer_id: int, payload: AccountOpenIn):
    """Move-in (立户): premise, account, service point and first holding in one step."""
    require_object_perm(request, Perm.CUSTOMER_EDIT)
    customer = selectors.customer_get(user=request.user, pk=customer_id)
    account = services.account_open(actor=api_actor(request), customer=customer, **payload.model_dump())
    return Status(201, account_detail_row(_account(request, account.account_number, detail=True)))


@router.post(
    "/accounts/{account_number}/close", response={200: AccountDetailOut, **WRITE_ERRORS}, tags=["accounts"]
)
def account_close(request, account_number: Text, payload: AccountCloseIn):
    """Move-out (销户) with an effective date; history is kept."""
    require_object_perm(request, Perm.CUSTOMER_EDIT)
    account = _account(request, account_number)
    services.account_close(actor=api_actor(request), account=account, closed_on=payload.closed_on)
    return account_detail_row(_account(request, account_number, detail=True))


@router.post(
    "/accounts/{account_number}/transfer", response={200: AccountDetailOut, **WRITE_ERRORS}, tags=["accounts"]
)
def account_transfer(request, account_number: Text, payload: AccountTransferIn):
    """Change of owner (过户) to another customer of the caller's units from `effective_on`."""
    require_object_perm(request, Perm.CUSTOMER_EDIT)
    account = _account(request, account_number)
    try:
        new_customer = selectors.customer_get(user=request.user, pk=payload.new_customer_id)
    except Http404:
        raise ValidationError({"new_customer_id": [_("新户主不存在")]}) from None
    services.account_transfer(
        actor=api_actor(request),
        account=account,
        new_customer=new_customer,
        effective_on=payload.effective_on,
    )
    return account_detail_row(_account(request, account_number, detail=True))


@router.get(
    "/accounts/{account_number}/holdings", response={200: list[HoldingOut], **READ_ERRORS}, tags=["accounts"]
)
def account_holdings(request, account_number: Text):
    """Who held the account from when to when (立户/过户 history), oldest first."""
    account = _account(request, account_number)
    return [
        {
            "customer": _customer_ref(h.customer),
            "valid_from": h.valid_from,
            "valid_to": h.valid_to,
            "reason": h.reason,
        }
        for h in account.holdings.select_related("customer").order_by("valid_from", "id")
    ]


# ---------------------------------------------------------------- premises, service points, meters


@router.get("/premises/{premise_id}", response={200: PremiseOut, **READ_ERRORS}, tags=["premises"])
def premise_get(request, premise_id: int):
    """A premise (用电地址) with its accounts and service points."""
    qs = (
        selectors.premises_visible(user=request.user)
        .select_related("unit", "transformer_area__feeder")
        .prefetch_related(
            Prefetch(
                "accounts",
                queryset=Account.objects.only("id", "premise_id", "account_number", "status").order_by(
                    "account_number"
                ),
            ),
            "service_points",
        )
    )
    p = get_or_404(qs, pk=premise_id)
    return {
        "id": p.pk,
        "address": p.address,
        "unit": _unit(p.unit),
        "transformer_area": _area(p.transformer_area),
        "feeder": _feeder(p.transformer_area.feeder),
        "accounts": [{"account_number": a.account_number, "status": a.status} for a in p.accounts.all()],
        "service_point_ids": sorted(sp.pk for sp in p.service_points.all()),
    }


@router.get("/service-points/{sp_id}", response={200: ServicePointOut, **READ_ERRORS}, tags=["premises"])
def service_point_get(request, sp_id: int):
    """A service point (计量点) with every meter it has had."""
    sp = _service_point(request, sp_id)
    return {
        "id": sp.pk,
        "account_number": sp.account.account_number,
        "premise_id": sp.premise_id,
        "address": sp.premise.address,
        "unit": _unit(sp.unit),
        "transformer_area": _area(sp.transformer_area),
        "feeder": _feeder(sp.transformer_area.feeder),
        "voltage_level": sp.voltage_level,
        "contract_capacity_kva": sp.contract_capacity_kva,
        "tariff_code": sp.tariff_code,
        "meters": [meter_row(m, sp.account.account_number) for m in sp.meters.all()],
    }


@router.get("/meters/{asset_number}", response={200: MeterOut, **READ_ERRORS}, tags=["meters"])
def meter_get(request, asset_number: Text):
    return meter_row(_meter(request, asset_number))


@router.post("/service-points/{sp_id}/meters", response={201: MeterOut, **WRITE_ERRORS}, tags=["meters"])
def meter_install(request, sp_id: int, payload: MeterInstallIn):
    """Install a meter (装表); a meter in service there is removed the same day (换表)."""
    require_object_perm(request, Perm.METER_EDIT)
    sp = _service_point(request, sp_id)
    meter = services.meter_install(actor=api_actor(request), service_point=sp, data=payload.model_dump())
    return Status(201, meter_row(_meter(request, meter.asset_number)))


@router.patch("/meters/{asset_number}", response={200: MeterOut, **WRITE_ERRORS}, tags=["meters"])
def meter_update(request, asset_number: Text, payload: MeterPatch):
    """Correct a meter's digits, multiplier (倍率) or TOU flag."""
    require_object_perm(request, Perm.METER_EDIT)
    meter = _meter(request, asset_number)
    services.meter_update(actor=api_actor(request), meter=meter, data=payload.model_dump(exclude_unset=True))
    return meter_row(_meter(request, asset_number))


# ---------------------------------------------------------------- topology


@router.get("/topology/feeders", response={200: FeederPage, **LIST_ERRORS}, tags=["topology"])
def feeder_list(request, filters: Query[FeederFilter], paging: Query[PageParams]):
    """Feeders (线路) of the caller's units."""
    require_perm(request, Perm.TOPOLOGY_VIEW)
    qs = selectors.feeders_visible(user=request.user)
    if filters.unit_id is not None:
        qs = qs.filter(unit_id=filters.unit_id)
    return paginate(
        qs.order_by("code"),
        paging,
        lambda f: {**_feeder(f), "voltage_level": f.voltage_level, "unit": _unit(f.unit)},
    )


@router.get(
    "/topology/feeders/{feeder_id}/areas", response={200: list[AreaOut], **READ_ERRORS}, tags=["topology"]
)
def feeder_areas(request, feeder_id: int):
    """Transformer areas (台区) fed by one feeder."""
    feeder = get_or_404(selectors.feeders_visible(user=request.user), pk=feeder_id)
    return [
        area_row(a) for a in selectors.areas_visible(user=request.user).filter(feeder=feeder).order_by("code")
    ]


@router.get("/topology/areas/{area_id}", response={200: AreaDetailOut, **READ_ERRORS}, tags=["topology"])
def area_get(request, area_id: int):
    """One transformer area with how many service points and active accounts it feeds."""
    area = get_or_404(selectors.areas_visible(user=request.user), pk=area_id)
    return {
        **area_row(area),
        "service_point_count": selectors.service_points_visible(user=request.user)
        .filter(transformer_area=area)
        .count(),
        "active_account_count": selectors.accounts_visible(user=request.user)
        .filter(premise__transformer_area=area, status=AccountStatus.ACTIVE)
        .count(),
    }
