"""Defects found by the attacker's review of issue 11, each pinned by a test that failed before its fix."""

from django.test import Client, override_settings

from gridcare.core.audit import Actor, audit_record
from gridcare.core.masking import mask_actor_label
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role

from ..factories import PASSWORD, UserFactory

API = "/api/v1"


def test_a_customers_phone_number_user_name_is_masked_in_the_audit_trail(world, login):
    phone = world.portal_user.username
    assert len(phone) == 11 and phone.startswith("1")
    audit_record(
        actor=Actor(user=world.portal_user, channel="portal"),
        action="portal.bind",
        obj=world.cust_a,
        customer_id=world.cust_a.pk,
        unit_id=world.cust_a.unit_id,
    )
    event = AuditEvent.objects.get(action="portal.bind")
    assert event.actor_label == phone[:3] + "****" + phone[-4:]  # stored masked
    body = login(world.a_agent).get(f"{API}/audit-events").content.decode()
    assert phone not in body
    # a staff user name and a channel stay whole
    assert mask_actor_label("a_clerk") == "a_clerk" and mask_actor_label("api") == "api"


def test_an_integer_past_64_bits_is_a_422_on_its_field_not_a_500(world, login):
    client = login(world.a_clerk)
    for value in ("99999999999999999999", "-99999999999999999999"):
        resp = client.get(f"{API}/customers?unit_id={value}")
        assert resp.status_code == 422, resp.content
        assert resp.json()["detail"][0]["field"] == "unit_id"
    assert client.get(f"{API}/customers?unit_id={2**63 - 1}").status_code == 200  # the largest bigint is fine


def test_the_unlock_list_masks_a_customers_name(world, login):
    from datetime import timedelta

    from django.utils import timezone

    customer = world.portal_user
    customer.display_name = "张奇鹏"
    customer.locked_until = timezone.now() + timedelta(minutes=10)
    customer.save()
    page = login(world.admin).get("/users/locked/").content.decode()
    assert "张奇鹏" not in page and "张**" in page
    rows = login(world.admin).get(f"{API}/users/locked").json()
    assert [r["display_name"] for r in rows if r["id"] == customer.pk] == ["张**"]


@override_settings(ADMIN_ENABLED=True)
def test_the_admin_login_gives_the_one_refusal_message_of_every_door(world):
    manager = UserFactory(username="mgr_staff", role=Role.MANAGER, unit=world.a_clerk.unit, is_staff=True)
    answers = set()
    for username, password in (
        ("admin1", "wrong-password"),
        ("nobody-here", "x"),
        (manager.username, "wrong"),
    ):
        resp = Client().post("/admin/login/", {"username": username, "password": password})
        assert resp.status_code == 200
        text = resp.content.decode()
        assert "用户名或密码错误，或账号已暂时锁定，请稍后再试" in text
        answers.add(text.count("errornote"))
    assert len(answers) == 1
    assert PASSWORD  # the demo password is not what was typed
