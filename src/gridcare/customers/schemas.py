"""Input and output shapes of the customer-registry API (django-ninja / Pydantic v2).

Inputs carry only types; the rules (ID check digit, phone, 户号 format, uniqueness, unit and area
existence) live in `services.py`, so the console and the API refuse the same things with the same words.
"""

from datetime import date, datetime
from decimal import Decimal

from ninja import Field, Schema

from gridcare.core.api import Text

from .choices import CustomerClass, Segment

# ---------------------------------------------------------------- references


class UnitRef(Schema):
    id: int
    code: str
    name: str


class StaffRef(Schema):
    id: int
    username: str
    display_name: str


class CustomerRef(Schema):
    id: int
    name: str = Field(..., description="脱敏后的名称（个人客户仅保留姓）")


class FeederRef(Schema):
    id: int
    code: str
    name: str


class AreaRef(Schema):
    id: int
    code: str
    name: str
    area_type: str


# ---------------------------------------------------------------- customers


class CustomerFilter(Schema):
    # The length limit (100) is checked by the search selector, so the 422 names it in Chinese.
    q: Text = Field(
        "",
        description="户号、姓名/名称（前缀）、手机号、手机尾号4位、证件号或用电地址（最多 100 个字符）",
        json_schema_extra={"maxLength": 100},
    )
    customer_class: CustomerClass | None = None
    segment: Segment | None = None
    unit_id: int | None = None


class CustomerOut(Schema):
    id: int
    kind: str
    name: str
    customer_class: str
    segment: str
    id_number: str
    phone: str
    unit: UnitRef
    account_numbers: list[str]
    masked: bool = Field(..., description="个人信息是否已脱敏")


class CustomerPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[CustomerOut]


class CustomerDetailOut(Schema):
    id: int
    kind: str
    name: str
    customer_class: str
    segment: str
    id_number: str
    phone: str
    phone2: str
    email: str
    unit: UnitRef
    customer_manager: StaffRef | None
    notify_sms: bool
    notify_wechat: bool
    notify_email: bool
    created_at: datetime
    updated_at: datetime
    masked: bool = Field(..., description="个人信息是否已脱敏；?reveal=true 且有权限时为 false")


class CustomerIn(Schema):
    kind: Text = Field(..., description="person（个人）/ organisation（单位）")
    name: Text
    customer_class: Text = Field(..., description="residential / commercial / large_industry / agricultural")
    segment: Text = Field(..., description="important / large / sme / household")
    id_number: Text = Field(..., description="个人：18位身份证号；单位：统一社会信用代码")
    phone: Text
    phone2: Text = ""
    email: Text = Field("", max_length=254)
    unit_id: int | None = Field(None, description="供电单位；省略时为当前用户所属单位")
    notify_sms: bool = True
    notify_wechat: bool = False
    notify_email: bool = False


class CustomerPatch(Schema):
    kind: Text | None = None
    name: Text | None = None
    customer_class: Text | None = None
    segment: Text | None = None
    id_number: Text | None = None
    phone: Text | None = None
    phone2: Text | None = None
    email: Text | None = Field(None, max_length=254)
    unit_id: int | None = None
    # Left out = unchanged; sent, true or false (null is refused with the field, not a database error).
    notify_sms: bool = None  # type: ignore[assignment]
    notify_wechat: bool = None  # type: ignore[assignment]
    notify_email: bool = None  # type: ignore[assignment]


class AuditTimelineParams(Schema):
    limit: int = Field(100, ge=1, le=500)


# ---------------------------------------------------------------- accounts


class ServicePointBrief(Schema):
    id: int
    voltage_level: str
    contract_capacity_kva: Decimal
    tariff_code: str
    meter_asset_numbers: list[str] = Field(..., description="在用电能表资产编号")


class AccountOut(Schema):
    account_number: str
    status: str
    opened_on: date
    closed_on: date | None
    customer: CustomerRef
    premise_id: int
    address: str
    unit: UnitRef


class AccountDetailOut(AccountOut):
    service_points: list[ServicePointBrief]


class AccountOpenIn(Schema):
    account_number: Text = Field(..., description="10位户号")
    address: Text = Field(..., max_length=200)
    transformer_area_id: int
    opened_on: date
    voltage_level: Text = Field("220V", description="220V / 380V / 10kV / 35kV / 110kV")
    # The column holds numeric(10, 1).
    contract_capacity_kva: Decimal = Field(Decimal("8"), max_digits=10, decimal_places=1)
    tariff_code: Text = Field("", max_length=32)


class AccountCloseIn(Schema):
    closed_on: date


class AccountTransferIn(Schema):
    new_customer_id: int
    effective_on: date


class HoldingOut(Schema):
    customer: CustomerRef
    valid_from: date
    valid_to: date | None
    reason: str


# ---------------------------------------------------------------- premises, service points, meters


class MeterOut(Schema):
    asset_number: str
    service_point_id: int | None
    account_number: str | None
    unit_id: int
    digits: int
    multiplier: int
    has_tou: bool
    registers: list[str]
    installed_on: date
    removed_on: date | None
    in_service: bool


MULTIPLIER_MAX = 2_147_483_647  # the column is a 32-bit integer


class MeterInstallIn(Schema):
    asset_number: Text = Field(..., description="1-24位字母或数字")
    digits: int = Field(6, description="表位数 4-10")
    multiplier: int = Field(1, le=MULTIPLIER_MAX, description="倍率")
    has_tou: bool = False
    installed_on: date


class MeterPatch(Schema):
    digits: int | None = None
    multiplier: int | None = Field(None, le=MULTIPLIER_MAX)
    has_tou: bool | None = None


class PremiseAccountRef(Schema):
    account_number: str
    status: str


class PremiseOut(Schema):
    id: int
    address: str
    unit: UnitRef
    transformer_area: AreaRef
    feeder: FeederRef
    accounts: list[PremiseAccountRef]
    service_point_ids: list[int]


class ServicePointOut(Schema):
    id: int
    account_number: str
    premise_id: int
    address: str
    unit: UnitRef
    transformer_area: AreaRef
    feeder: FeederRef
    voltage_level: str
    contract_capacity_kva: Decimal
    tariff_code: str
    meters: list[MeterOut] = Field(..., description="全部电能表（含已拆除），按装表日期")


# ---------------------------------------------------------------- topology


class FeederFilter(Schema):
    unit_id: int | None = None


class FeederOut(Schema):
    id: int
    code: str
    name: str
    voltage_level: str
    unit: UnitRef


class FeederPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[FeederOut]


class AreaOut(Schema):
    id: int
    code: str
    name: str
    area_type: str
    capacity_kva: Decimal
    feeder: FeederRef
    unit: UnitRef


class AreaDetailOut(AreaOut):
    service_point_count: int
    active_account_count: int


# ---------------------------------------------------------------- public 户号 query


class PublicFoundOut(Schema):
    found: bool = Field(..., description="true")
    account_number: str
    name: str = Field(..., description="脱敏户名")
    address: str = Field(..., description="脱敏用电地址")
    supply_unit: str


class PublicMessageOut(Schema):
    found: bool = Field(..., description="false")
    message: str
