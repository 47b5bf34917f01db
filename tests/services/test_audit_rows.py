"""Every service leaves an audit row: who, channel, what changed; refused writes change nothing."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.customers import services
from gridcare.customers.models import Account, AccountHolding, Customer, Meter, Premise, ServicePoint
from gridcare.org import services as org_services
from gridcare.org.models import ApiToken, Counter, User

from ..factories import valid_id_number, valid_uscc


def last(action):
    return AuditEvent.objects.filter(action=action).latest("id")


def test_customer_create_person_and_organisation(world):
    actor = Actor(user=world.a_clerk, channel=Channel.CONSOLE, ip="10.0.0.1")
    c = services.customer_create(
        actor=actor,
        data={
            "kind": "person",
            "name": " 王五 ",
            "customer_class": "residential",
            "segment": "household",
            "id_number": valid_id_number(5).lower(),
            "phone": "+86 136 0000 1111",
            "unit_id": world.station_a.pk,
        },
    )
    assert c.name == "王五" and c.phone == "13600001111"
    ev = last("customer.create")
    assert (ev.actor, ev.channel, ev.customer_id, ev.unit_id, ev.ip) == (
        world.a_clerk,
        "console",
        c.pk,
        world.station_a.pk,
        "10.0.0.1",
    )
    assert ev.changes["after"]["name"] == "王五"
    org = services.customer_create(
        actor=actor,
        data={
            "kind": "organisation",
            "name": "东关县人民医院",
            "customer_class": "commercial",
            "segment": "important",
            "id_number": valid_uscc(12),
            "phone": "0571-88886666",
            "unit_id": world.station_a.pk,
        },
    )
    assert org.id_number == valid_uscc(12)


def test_customer_create_collects_every_error_and_writes_nothing(world):
    before = (Customer.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError) as e:
        services.customer_create(
            actor=Actor(user=world.a_clerk, channel=Channel.API),
            data={
                "kind": "person",
                "name": "",
                "customer_class": "x",
                "segment": "household",
                "id_number": "110105194912310021",
                "phone": "123",
                "unit_id": 999999,
            },
        )
    assert set(e.value.message_dict) == {"name", "customer_class", "id_number", "phone", "unit_id"}
    assert "校验位错误" in e.value.message_dict["id_number"][0]
    # an organisation needs a unified social credit code, not a resident ID
    with pytest.raises(ValidationError) as e:
        services.customer_create(
            actor=Actor(user=world.admin),
            data={
                "kind": "organisation",
                "name": "某公司",
                "customer_class": "commercial",
                "segment": "sme",
                "id_number": valid_id_number(3),
                "phone": "13600001111",
                "unit_id": world.station_a.pk,
            },
        )
    assert "统一社会信用代码" in e.value.message_dict["id_number"][0]
    assert (Customer.objects.count(), AuditEvent.objects.count()) == before


def test_customer_write_for_another_unit_is_refused(world):
    before = (Customer.objects.count(), AuditEvent.objects.count(), world.cust_b.name)
    with pytest.raises(services.PermissionDenied):
        services.customer_update(
            actor=Actor(user=world.a_clerk), customer=world.cust_b, data={"name": "改名"}
        )
    with pytest.raises(services.PermissionDenied):
        services.customer_update(
            actor=Actor(user=world.a_agent), customer=world.cust_a, data={"name": "改名"}
        )
    with pytest.raises(services.PermissionDenied):  # moving a customer into a unit the clerk does not govern
        services.customer_update(
            actor=Actor(user=world.a_clerk), customer=world.cust_a, data={"unit_id": world.station_b.pk}
        )
    world.cust_b.refresh_from_db()
    assert (Customer.objects.count(), AuditEvent.objects.count(), world.cust_b.name) == before


def test_customer_update_diff_only(world):
    services.customer_update(
        actor=Actor(user=world.a_clerk, channel=Channel.API),
        customer=world.cust_a,
        data={"phone2": "13700009999", "notify_email": True},
    )
    ev = last("customer.update")
    assert ev.changes == {"notify_email": [False, True], "phone2": ["", "13700009999"]}
    n = AuditEvent.objects.count()
    services.customer_update(
        actor=Actor(user=world.a_clerk), customer=world.cust_a, data={"phone2": "13700009999"}
    )
    assert AuditEvent.objects.count() == n  # nothing changed, nothing recorded


def test_account_open_close_transfer_history(world):
    actor = Actor(user=world.a_clerk, channel=Channel.CONSOLE)
    acct = services.account_open(
        actor=actor,
        customer=world.cust_a,
        account_number="3100000002",
        address="东关镇新街2号",
        transformer_area_id=world.area_a.pk,
        opened_on=date(2025, 3, 1),
        voltage_level="380V",
        contract_capacity_kva="30",
        tariff_code="COM-FLAT",
    )
    sp = ServicePoint.objects.get(account=acct)
    assert sp.contract_capacity_kva == Decimal("30.0") and sp.unit_id == world.station_a.pk
    assert last("account.open").changes["after"]["account_number"] == "3100000002"
    new_owner = Customer.objects.create(
        kind="person",
        name="赵六",
        customer_class="residential",
        segment="household",
        id_number=valid_id_number(8),
        phone="13500000000",
        unit=world.station_a,
        created_at=world.cust_a.created_at,
        updated_at=world.cust_a.updated_at,
    )
    with pytest.raises(ValidationError):  # effective date not after the current holding's start
        services.account_transfer(
            actor=actor, account=acct, new_customer=new_owner, effective_on=date(2025, 3, 1)
        )
    from django.utils import timezone

    from gridcare.customers.models import PortalBinding

    PortalBinding.objects.create(user=world.portal_user, account=acct, created_at=timezone.now())
    services.account_transfer(
        actor=actor, account=acct, new_customer=new_owner, effective_on=date(2025, 9, 1)
    )
    # the old holder's portal binding ends with the transfer, and that is audited
    assert not PortalBinding.objects.filter(account=acct).exists()
    assert last("portal.unbind").changes == {"reason": "transfer", "users": [world.portal_user.pk]}
    assert {e.customer_id for e in AuditEvent.objects.filter(action="account.transfer")} == {
        world.cust_a.pk,
        new_owner.pk,
    }
    services.account_close(actor=actor, account=acct, closed_on=date(2026, 1, 31))
    rows = list(
        AccountHolding.objects.filter(account=acct)
        .order_by("valid_from")
        .values_list("customer_id", "valid_from", "valid_to", "reason")
    )
    assert rows == [
        (world.cust_a.pk, date(2025, 3, 1), date(2025, 9, 1), "move_in"),
        (new_owner.pk, date(2025, 9, 1), date(2026, 1, 31), "transfer"),
    ]
    with pytest.raises(ValidationError):
        services.account_close(actor=actor, account=acct, closed_on=date(2026, 2, 1))  # already closed
    assert last("account.close").changes["status"] == ["active", "closed"]


def test_account_open_errors_write_nothing(world):
    before = (Premise.objects.count(), Account.objects.count(), AuditEvent.objects.count())
    actor = Actor(user=world.a_clerk)
    cases = [
        ({"account_number": "3100000001"}, "account_number"),  # duplicate
        ({"account_number": "31-0000001"}, "account_number"),  # malformed
        ({"transformer_area_id": 987654}, "transformer_area_id"),  # unknown area
        ({"contract_capacity_kva": "-3"}, "contract_capacity_kva"),
        ({"contract_capacity_kva": "abc"}, "contract_capacity_kva"),
        ({"voltage_level": "9kV"}, "voltage_level"),
    ]
    base = {
        "account_number": "3100000055",
        "address": "新街3号",
        "transformer_area_id": world.area_a.pk,
        "opened_on": date(2026, 1, 1),
        "voltage_level": "220V",
        "contract_capacity_kva": "8",
    }
    for override, field in cases:
        with pytest.raises(ValidationError) as e:
            services.account_open(actor=actor, customer=world.cust_a, **{**base, **override})
        assert field in e.value.message_dict
    with pytest.raises(services.PermissionDenied):  # another unit's area
        services.account_open(
            actor=actor, customer=world.cust_a, **{**base, "transformer_area_id": world.area_b.pk}
        )
    assert (Premise.objects.count(), Account.objects.count(), AuditEvent.objects.count()) == before


def test_meter_exchange_and_update(world):
    actor = Actor(user=world.a_reader, channel=Channel.CONSOLE)
    sp = world.acct_a.service_points.get()
    new = services.meter_install(
        actor=actor,
        service_point=sp,
        data={
            "asset_number": "NEW0001",
            "digits": 8,
            "multiplier": 50,
            "has_tou": True,
            "installed_on": date(2026, 4, 1),
        },
    )
    old = Meter.objects.get(asset_number="M3100000001")
    assert old.removed_on == date(2026, 4, 1) and new.removed_on is None
    assert (
        last("meter.remove").object_id == str(old.pk) and last("meter.install").customer_id == world.cust_a.pk
    )
    assert new.registers == ["total", "sharp", "peak", "flat", "valley"]
    with pytest.raises(ValidationError) as e:
        services.meter_install(
            actor=actor,
            service_point=sp,
            data={"asset_number": "NEW0001", "digits": 3, "multiplier": 0, "installed_on": date(2026, 5, 1)},
        )
    assert set(e.value.message_dict) == {"asset_number", "digits", "multiplier"}
    services.meter_update(actor=actor, meter=new, data={"multiplier": 100})
    assert last("meter.update").changes == {"multiplier": [50, 100]}


def test_org_services_audited(world):
    actor = Actor(user=world.admin, channel=Channel.CONSOLE)
    unit = org_services.unit_create(
        actor=actor, code="010102", name="南关供电所", level="station", parent=world.bureau_a
    )
    assert unit.path == "01.0101.010102."
    hall = org_services.hall_create(actor=actor, unit=unit, code="H99", name="南关营业厅", counters=3)
    assert Counter.objects.filter(hall=hall).count() == 3
    user = org_services.staff_create(
        actor=actor, username="newclerk", password="Xx-12345678", role="counter_clerk", unit=unit
    )
    token, key = org_services.api_token_create(actor=actor, user=user, name="integration")
    assert ApiToken.objects.get(pk=token.pk).key_hash == ApiToken.hash_key(key) and key not in str(
        token.__dict__
    )
    actions = set(AuditEvent.objects.filter(actor=world.admin).values_list("action", flat=True))
    assert {"unit.create", "hall.create", "staff.create", "api_token.create"} <= actions
    assert User.objects.get(username="newclerk").check_password("Xx-12345678")


def test_customer_manager_must_be_visible_staff(world):
    actor = Actor(user=world.a_clerk)
    b_manager = world.b_clerk  # staff of another bureau: not assignable by a bureau-A clerk
    before = AuditEvent.objects.count()
    for bad in (world.portal_user.pk, b_manager.pk, 987654):
        with pytest.raises(ValidationError) as e:
            services.customer_update(actor=actor, customer=world.cust_a, data={"customer_manager_id": bad})
        assert "customer_manager_id" in e.value.message_dict
    assert AuditEvent.objects.count() == before
    services.customer_update(
        actor=actor, customer=world.cust_a, data={"customer_manager_id": world.a_manager.pk}
    )
    assert last("customer.update").changes == {"customer_manager_id": [None, world.a_manager.pk]}


def test_lengths_and_nul_rejected_before_the_database(world):
    actor = Actor(user=world.a_clerk)
    base = {
        "account_number": "3100000066",
        "address": "新街4号",
        "transformer_area_id": world.area_a.pk,
        "opened_on": date(2026, 1, 1),
        "voltage_level": "220V",
        "contract_capacity_kva": "8",
    }
    for override, field in [
        ({"address": "路" * 201}, "address"),
        ({"address": "a\x00b"}, "address"),
        ({"tariff_code": "X" * 33}, "tariff_code"),
        ({"contract_capacity_kva": "10000000000"}, "contract_capacity_kva"),
    ]:
        with pytest.raises(ValidationError) as e:
            services.account_open(actor=actor, customer=world.cust_a, **{**base, **override})
        assert field in e.value.message_dict
    with pytest.raises(ValidationError) as e:
        services.customer_update(actor=actor, customer=world.cust_a, data={"email": "a" * 250 + "@x.cn"})
    assert "email" in e.value.message_dict
    sp = world.acct_a.service_points.get()
    with pytest.raises(ValidationError) as e:
        services.meter_install(
            actor=Actor(user=world.a_reader),
            service_point=sp,
            data={"asset_number": "OK1", "multiplier": 2**31, "installed_on": date(2026, 1, 1)},
        )
    assert "multiplier" in e.value.message_dict
