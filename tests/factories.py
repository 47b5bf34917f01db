"""Factories for tests: a small unit tree, staff of every role, customers with accounts and meters."""

from datetime import date
from decimal import Decimal

import factory
from django.utils import timezone

from gridcare.core.permissions import Role
from gridcare.core.validators import id_check_digit, uscc_check_char
from gridcare.customers.choices import (
    AccountStatus,
    AreaType,
    CustomerClass,
    CustomerKind,
    HoldingReason,
    Segment,
)
from gridcare.customers.models import (
    Account,
    AccountHolding,
    Customer,
    Feeder,
    Meter,
    Premise,
    ServicePoint,
    TransformerArea,
)
from gridcare.org.models import SupplyUnit, User

PASSWORD = "Test-pass-2026"


def make_unit(code: str, name: str, level: str, parent: SupplyUnit | None = None) -> SupplyUnit:
    return SupplyUnit.objects.create(
        code=code, name=name, level=level, parent=parent, path=f"{parent.path if parent else ''}{code}."
    )


def valid_id_number(seq: int, birth: str = "19850612", region: str = "110105") -> str:
    first17 = f"{region}{birth}{seq % 1000:03d}"
    return first17 + id_check_digit(first17)


def valid_uscc(seq: int) -> str:
    first17 = f"91110105{seq:09d}"
    return first17 + uscc_check_char(first17)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.COUNTER_CLERK
    display_name = factory.Sequence(lambda n: f"员工{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class FeederFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feeder

    code = factory.Sequence(lambda n: f"F{n:04d}")
    name = factory.Sequence(lambda n: f"10kV城关{n}线")


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TransformerArea

    code = factory.Sequence(lambda n: f"T{n:05d}")
    name = factory.Sequence(lambda n: f"城关{n}号台区")
    feeder = factory.SubFactory(FeederFactory, unit=factory.SelfAttribute("..unit"))
    area_type = AreaType.URBAN


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    kind = CustomerKind.PERSON
    name = factory.Sequence(lambda n: f"张{'三四五六七八'[n % 6]}{n}")
    customer_class = CustomerClass.RESIDENTIAL
    segment = Segment.HOUSEHOLD
    id_number = factory.Sequence(lambda n: valid_id_number(n))
    phone = factory.Sequence(lambda n: f"138{n:08d}")
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


def make_account(
    customer: Customer,
    number: str,
    area: TransformerArea,
    address: str = "城关镇人民路1号",
    tou: bool = False,
) -> Account:
    """An account with its premise, service point, holding and meter, all in the area's unit."""
    premise = Premise.objects.create(address=address, unit=area.unit, transformer_area=area)
    account = Account.objects.create(
        account_number=number,
        customer=customer,
        premise=premise,
        unit=area.unit,
        status=AccountStatus.ACTIVE,
        opened_on=date(2020, 1, 1),
    )
    AccountHolding.objects.create(
        account=account, customer=customer, valid_from=date(2020, 1, 1), reason=HoldingReason.MOVE_IN
    )
    sp = ServicePoint.objects.create(
        premise=premise,
        account=account,
        unit=area.unit,
        transformer_area=area,
        voltage_level="220V",
        contract_capacity_kva=Decimal("8"),
        tariff_code="RES-TIER",
    )
    Meter.objects.create(
        asset_number=f"M{number}",
        service_point=sp,
        unit=area.unit,
        installed_on=date(2020, 1, 1),
        has_tou=tou,
    )
    return account
