"""`gridcare seed` and `gridcare demo_logins`: a deterministic, valid, realistic demo county."""

import re
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from gridcare.core.models import AuditEvent
from gridcare.core.permissions import STAFF_ROLES, Role
from gridcare.core.validators import validate_id_number, validate_uscc
from gridcare.customers import demo
from gridcare.customers.choices import (
    AccountStatus,
    AreaType,
    CustomerClass,
    CustomerKind,
    HoldingReason,
    Segment,
    VoltageLevel,
)
from gridcare.customers.models import (
    Account,
    AccountHolding,
    Customer,
    Meter,
    PortalBinding,
    Premise,
    ServicePoint,
    TransformerArea,
)
from gridcare.org.choices import UnitLevel
from gridcare.org.models import SupplyUnit, User

N = 300


def seed(n: int = N, s: int = 7, **flags) -> str:
    out = StringIO()
    call_command("seed", customers=n, seed=s, stdout=out, **flags)
    return out.getvalue()


def snapshot() -> list[tuple]:
    """What determinism promises: the same names, numbers and ID numbers, in the same order."""
    customers = list(
        Customer.objects.order_by("id").values_list("name", "id_number", "phone", "customer_class")
    )
    accounts = list(
        Account.objects.order_by("id").values_list("account_number", "customer__id_number", "status")
    )
    meters = list(Meter.objects.order_by("id").values_list("asset_number", "multiplier", "has_tou"))
    addresses = list(Premise.objects.order_by("id").values_list("address", flat=True))
    return [customers, accounts, meters, addresses]


def table_counts() -> dict[str, int]:
    models = [
        Customer,
        Account,
        AccountHolding,
        Premise,
        ServicePoint,
        Meter,
        TransformerArea,
        User,
        AuditEvent,
    ]
    return {m.__name__: m.objects.count() for m in models}


@pytest.fixture
def seeded(db):
    output = seed()
    return output


@pytest.mark.django_db
class TestSeed:
    def test_creates_n_customers_each_with_account_premise_service_point_meter_holding(self, seeded):
        assert Customer.objects.count() == N
        assert not Customer.objects.filter(accounts__isnull=True).exists()
        accounts = Account.objects.count()
        assert N <= accounts <= N * 1.2
        assert Premise.objects.count() == accounts
        assert ServicePoint.objects.count() == accounts
        assert Meter.objects.count() == accounts
        assert not Account.objects.filter(holdings__isnull=True).exists()
        assert "Seeded 300 customers" in seeded

    def test_identity_numbers_are_valid(self, seeded):
        persons = Customer.objects.filter(kind=CustomerKind.PERSON).values_list("id_number", flat=True)
        orgs = Customer.objects.filter(kind=CustomerKind.ORGANISATION).values_list("id_number", flat=True)
        assert persons and orgs
        for value in persons:
            assert validate_id_number(value) == value
        for value in orgs:
            assert validate_uscc(value) == value
        assert len(set(persons)) == len(persons)
        phones = Customer.objects.values_list("phone", flat=True)
        assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)

    def test_account_numbers_are_ten_digits_unique_and_encode_the_station(self, seeded):
        rows = list(Account.objects.values_list("account_number", "unit__code"))
        numbers = [n for n, _ in rows]
        assert all(re.fullmatch(r"\d{10}", n) for n in numbers)
        assert len(set(numbers)) == len(numbers)
        prefix = {s.code: s.prefix for s in demo.STATIONS}
        assert all(n.startswith(prefix[code]) for n, code in rows)
        assets = list(Meter.objects.values_list("asset_number", flat=True))
        assert len(set(assets)) == len(assets)

    def test_organisation_and_topology(self, seeded):
        assert SupplyUnit.objects.filter(level=UnitLevel.COMPANY).count() == 1
        assert SupplyUnit.objects.filter(level=UnitLevel.BUREAU).count() == 3
        for bureau in SupplyUnit.objects.filter(level=UnitLevel.BUREAU):
            assert 3 <= bureau.children.count() <= 4
            assert bureau.halls.exists()
            assert all(hall.counters.exists() for hall in bureau.halls.all())
        assert set(TransformerArea.objects.values_list("area_type", flat=True)) == set(AreaType.values)
        for area in TransformerArea.objects.select_related("feeder"):
            assert area.feeder.unit_id == area.unit_id
            assert area.feeder.voltage_level == VoltageLevel.KV10
        # Premises, accounts, service points and meters sit in the station of their area.
        assert not Premise.objects.exclude(unit_id=models_f("transformer_area__unit_id")).exists()
        assert not ServicePoint.objects.exclude(unit_id=models_f("account__unit_id")).exists()

    def test_every_staff_role_has_a_demo_login_with_the_demo_password(self, seeded):
        for role in STAFF_ROLES:
            user = User.objects.filter(role=role).first()
            assert user is not None, role
            assert user.unit_id is not None
        admin = User.objects.get(username="admin")
        assert admin.unit.level == UnitLevel.COMPANY and admin.role == Role.ADMIN
        assert User.objects.get(username="clerk").unit.level == UnitLevel.BUREAU
        for username, *_ in demo.DEMO_STAFF:
            assert User.objects.get(username=username).check_password(demo.DEMO_PASSWORD)
        # One hash for all: the password was hashed once.
        assert User.objects.filter(role__in=STAFF_ROLES).values("password").distinct().count() == 1

    def test_proportions_are_roughly_realistic(self, db):
        seed(3000, 11)
        by_class = Counter(Customer.objects.values_list("customer_class", flat=True))
        n = sum(by_class.values())
        assert 0.84 <= by_class[CustomerClass.RESIDENTIAL] / n <= 0.92
        assert 0.06 <= by_class[CustomerClass.COMMERCIAL] / n <= 0.13
        assert 0.005 <= by_class[CustomerClass.LARGE_INDUSTRY] / n <= 0.02
        assert 0.01 <= by_class[CustomerClass.AGRICULTURAL] / n <= 0.03
        assert Customer.objects.filter(segment=Segment.IMPORTANT).exists()
        residential = ServicePoint.objects.filter(account__customer__customer_class=CustomerClass.RESIDENTIAL)
        tou = residential.filter(tariff_code="RES-TIER-TOU").count() / residential.count()
        assert 0.2 <= tou <= 0.4
        assert not residential.exclude(voltage_level=VoltageLevel.V220, contract_capacity_kva=8).exists()
        # History: some accounts closed (moved out), some changed owner (过户) with the first holding closed.
        assert Account.objects.filter(status=AccountStatus.CLOSED, closed_on__isnull=False).exists()
        transferred = AccountHolding.objects.filter(reason=HoldingReason.TRANSFER).select_related("account")
        assert transferred.exists()
        for holding in transferred:
            first, second = list(holding.account.holdings.order_by("valid_from"))
            assert first.reason == HoldingReason.MOVE_IN and first.valid_to == second.valid_from
            assert second.customer_id == holding.account.customer_id != first.customer_id

    def test_service_points_and_meters_follow_the_customer_class(self, db):
        seed(2000, 5)
        for sp in ServicePoint.objects.select_related("account__customer").prefetch_related("meters"):
            meter = sp.meters.get()
            klass = sp.account.customer.customer_class
            assert meter.digits in (6, 8)
            assert meter.has_tou == (sp.tariff_code.endswith("TOU") or sp.tariff_code == "LI-TWO-PART")
            if sp.voltage_level == VoltageLevel.KV10:
                assert 315 <= sp.contract_capacity_kva <= 5000 and meter.multiplier >= 30
            else:
                assert meter.multiplier == 1
            if klass == CustomerClass.LARGE_INDUSTRY:
                assert sp.voltage_level == VoltageLevel.KV10
            expected = {
                CustomerClass.RESIDENTIAL: {"RES-TIER", "RES-TIER-TOU"},
                CustomerClass.COMMERCIAL: {"COM-FLAT", "COM-TOU"},
                CustomerClass.LARGE_INDUSTRY: {"LI-TWO-PART"},
                CustomerClass.AGRICULTURAL: {"AGR-FLAT"},
            }[klass]
            assert sp.tariff_code in expected
        # Large and important customers have a customer manager of their own bureau.
        big = Customer.objects.filter(segment__in=[Segment.LARGE, Segment.IMPORTANT]).select_related(
            "customer_manager", "unit"
        )
        assert big.exists()
        for customer in big:
            assert customer.customer_manager.role == Role.CUSTOMER_MANAGER
            assert customer.customer_manager.unit_id == customer.unit.parent_id
        assert not Customer.objects.filter(segment=Segment.HOUSEHOLD, customer_manager__isnull=False).exists()

    def test_portal_demo_user_is_bound_to_an_account_whose_phone_matches(self, seeded):
        user = User.objects.get(username=demo.PORTAL_DEMO_PHONE)
        assert user.role == Role.CUSTOMER and user.unit_id is None
        assert user.check_password(demo.DEMO_PASSWORD)
        binding = PortalBinding.objects.select_related("account__customer").get(user=user)
        assert binding.account.status == AccountStatus.ACTIVE
        assert binding.account.customer.phone[-4:] == user.phone[-4:] == demo.PORTAL_DEMO_PHONE[-4:]

    def test_one_audit_event_summarises_the_run(self, seeded):
        events = AuditEvent.objects.filter(action="demo.seed")
        assert events.count() == 1
        event = events.get()
        assert event.channel == "job"
        assert event.changes["customers"] == N and event.changes["seed"] == 7
        assert AuditEvent.objects.count() == 1

    def test_if_empty_leaves_everything_unchanged(self, seeded):
        before = table_counts()
        output = seed(50, 1, if_empty=True)
        assert "already there" in output
        assert table_counts() == before

    def test_second_run_refuses_and_writes_nothing(self, seeded):
        before = table_counts()
        with pytest.raises(CommandError, match="exist already"):
            seed(50, 1)
        assert table_counts() == before

    def test_same_seed_gives_the_same_data_and_reset_replaces_it(self, seeded):
        first = snapshot()
        seed(reset=True)
        assert Customer.objects.count() == N
        assert snapshot() == first
        seed(s=8, reset=True)
        assert snapshot() != first
        assert Customer.objects.count() == N
        assert User.objects.filter(username="admin").count() == 1

    def test_demo_logins_prints_every_role_and_the_portal_login(self, seeded):
        out = StringIO()
        call_command("demo_logins", stdout=out)
        text = out.getvalue()
        for username, *_ in demo.DEMO_STAFF:
            assert re.search(rf"^\s+{username}\s+{demo.DEMO_PASSWORD}", text, re.M)
        account = PortalBinding.objects.get(user__username=demo.PORTAL_DEMO_PHONE).account.account_number
        assert demo.PORTAL_DEMO_PHONE in text and account in text

    def test_demo_logins_without_data_says_how_to_seed(self, db):
        out = StringIO()
        call_command("demo_logins", stdout=out)
        assert "gridcare seed" in out.getvalue()


def models_f(name: str):
    from django.db.models import F

    return F(name)


def _fake_plan(n: int, seed: int) -> demo.GenPlan:
    stations = []
    area_id = 1
    for b_index, bureau in enumerate(demo.BUREAUS):
        for spec in bureau.stations:
            plan = demo.StationPlan(unit_id=len(stations) + 1, spec=spec, bureau_index=b_index)
            for k, area_type in enumerate([AreaType.URBAN, AreaType.RURAL, AreaType.REMOTE]):
                plan.areas.append(demo.AreaPlan(id=area_id, area_type=area_type, locality=f"测试{k}村"))
                area_id += 1
            stations.append(plan)
    return demo.GenPlan(
        customers=n,
        seed=seed,
        chunk_size=97,
        stations=stations,
        managers_by_bureau=[[1], [2], [3]],
        first_ids=[1] * demo.N_TABLES,
        tz_suffix="+00",
    )


def test_generator_is_deterministic_and_seed_dependent():
    def lines(seed: int) -> list[list[str]]:
        return [chunk.lines for chunk in demo.generate(_fake_plan(500, seed))]

    assert lines(3) == lines(3)
    assert lines(3) != lines(4)


def test_generator_rows_match_the_columns():
    for chunk in demo.generate(_fake_plan(300, 1)):
        for (_model, cols), rows in zip(demo.BULK_TABLES, chunk.lines, strict=True):
            assert all(len(row.split("\t")) == len(cols) for row in rows)
            assert not any("\n" in row or "\\" in row.replace(demo.NULL, "") for row in rows)


@pytest.mark.django_db(transaction=True)
def test_failure_midway_leaves_nothing(monkeypatch):
    """The whole seed is one transaction: an error after some rows were written rolls all of them back."""

    def boom(first_account_id):
        raise RuntimeError("boom")

    monkeypatch.setattr(demo, "_portal_user", boom)
    with pytest.raises(RuntimeError, match="boom"):
        seed(200, 2)
    assert Customer.objects.count() == 0 and Account.objects.count() == 0
    assert SupplyUnit.objects.count() == 0 and User.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY, forked generator and index rebuild are PostgreSQL paths"
)
def test_postgresql_bulk_path_with_forked_generator_and_index_rebuild():
    """The path a million-customer seed takes: rows from a child process, COPY, indexes and FKs rebuilt."""
    messages: list[str] = []
    result = demo.seed_demo(
        customers=700, seed=9, chunk_size=150, drop_indexes=True, fork=True, progress=messages.append
    )
    assert result.counts["customers"] == Customer.objects.count() == 700
    assert any("indexes rebuilt" in m for m in messages) and any(
        "foreign keys validated" in m for m in messages
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'customers_account'::regclass AND contype IN ('f', 'u')"
        )
        assert cur.fetchone()[0] >= 4  # customer, premise, unit FKs and the unique 户号 are back
        cur.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'customers_customer'")
        assert cur.fetchone()[0] >= 9
    # Sequences were moved past the ids the seed assigned: the ORM can insert after it.
    premise = Premise.objects.create(
        address="示范县城关镇人民路1号",
        unit_id=Premise.objects.first().unit_id,
        transformer_area_id=Premise.objects.first().transformer_area_id,
    )
    assert premise.pk > Premise.objects.exclude(pk=premise.pk).order_by("-pk").first().pk
    first = snapshot()
    # Same data as the in-process generator on the same seed.
    demo.reset_demo()
    demo.seed_demo(customers=700, seed=9, chunk_size=150, drop_indexes=False, fork=False)
    assert snapshot()[0] == first[0] and snapshot()[1] == first[1]


@pytest.mark.django_db(transaction=True)
def test_failed_reset_keeps_the_old_data(monkeypatch):
    """--reset deletes and re-seeds in one transaction: if the new seed fails, the old data stays."""
    seed(120, 3)
    before = snapshot()

    def boom(first_account_id):
        raise RuntimeError("boom")

    monkeypatch.setattr(demo, "_portal_user", boom)
    with pytest.raises(RuntimeError, match="boom"):
        seed(150, 4, reset=True)
    assert snapshot() == before
