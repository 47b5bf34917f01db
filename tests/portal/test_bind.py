"""Binding a 户号 by proving 户号 + 户名 + last four digits of the registered phone; unbinding."""

import pytest
from django.test import Client
from django.urls import reverse

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.customers.models import PortalBinding
from gridcare.portal import services

from ..smscodes import last_sms_code
from .conftest import normalized

URL = reverse("portal:bind")
GOOD = {"account_number": "3100000001", "name": "张三", "phone_last4": "5678"}
REFUSAL = "户号、户名或手机号后四位不匹配，请核对后重试"


REGISTERED_PHONE = "13812345678"  # 张三's, where the bind code goes


def _bindings():
    return PortalBinding.objects.count()


def _send(client, proof):
    """Step 1: the proof, and "获取验证码"."""
    return client.post(URL, {**proof, "send_code": "1"})


def _bind(client, proof=GOOD):
    """Both steps: ask for the code, then bind with the code read from the outbox (the last response)."""
    sent = _send(client, proof)
    if sent.status_code != 200:
        return sent
    return client.post(URL, {**proof, "code": last_sms_code(REGISTERED_PHONE)})


def _bind_service(actor, user, now, proof=GOOD):
    services.bind_code_send(actor=actor, user=user, client_key="10.0.0.1", now=now, **proof)
    return services.portal_bind_account(
        actor=actor, user=user, client_key="10.0.0.1", now=now, code=last_sms_code(REGISTERED_PHONE), **proof
    )


def test_bind_page_renders_for_a_customer(customer_client):
    response = customer_client.get(URL)
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content


def test_bind_with_the_right_proof_creates_the_binding_and_audits_it(customer_client, world):
    response = _bind(customer_client, {**GOOD, "account_number": " 3100000001 ", "name": " 张三 "})

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:accounts")
    binding = PortalBinding.objects.get()
    assert (binding.user_id, binding.account_id) == (world.portal_user.pk, world.acct_a.pk)
    event = AuditEvent.objects.get(action="portal.bind")
    assert event.channel == Channel.PORTAL
    assert event.actor_id == world.portal_user.pk
    assert event.customer_id == world.cust_a.pk
    assert event.unit_id == world.acct_a.unit_id
    assert event.object_id == str(binding.pk)
    page = customer_client.get(response["Location"]).content.decode()
    assert "已绑定户号 3100000001" in page


@pytest.mark.parametrize(
    "proof",
    [
        {**GOOD, "account_number": "3100009999"},  # unknown
        {**GOOD, "account_number": "31000000"},  # malformed: too short
        {**GOOD, "account_number": "310000000A"},  # malformed: not digits
        {**GOOD, "account_number": "3" * 200},  # malformed: absurdly long
        {**GOOD, "account_number": "3100000002"},  # closed account of the same customer
        {**GOOD, "name": "张四"},  # wrong name
        {**GOOD, "name": "李四"},  # another customer's name
        {**GOOD, "phone_last4": "5679"},  # wrong digits
        {**GOOD, "phone_last4": "678"},  # malformed digits
        {**GOOD, "phone_last4": "4321"},  # another customer's digits
        {"account_number": "3200000001", "name": "张三", "phone_last4": "5678"},  # someone else's 户号
    ],
    ids=[
        "unknown",
        "short",
        "letters",
        "long",
        "closed",
        "wrong-name",
        "other-name",
        "wrong-last4",
        "short-last4",
        "other-last4",
        "other-account",
    ],
)
def test_every_kind_of_mismatch_gets_the_very_same_answer(
    customer_client, world, closed_account, gridcare_conf, proof
):
    gridcare_conf(BIND_MAX_FAILURES=100)
    # The reference answer: an unknown 户号.
    reference = _send(customer_client, {**GOOD, "account_number": "3999999999"})

    response = _send(customer_client, proof)

    assert response.status_code == reference.status_code == 400
    assert normalized(response) == normalized(reference)
    assert REFUSAL in response.content.decode()
    assert proof["account_number"][:10] not in response.content.decode()  # nothing typed is echoed back
    assert _bindings() == 0
    assert not AuditEvent.objects.filter(action="portal.bind").exists()
    assert AuditEvent.objects.filter(action="portal.bind_failed", actor=world.portal_user).count() == 2


def test_failed_attempts_are_limited_per_user(customer_client, world, gridcare_conf):
    gridcare_conf(BIND_MAX_FAILURES=3)
    for _ in range(3):
        assert _send(customer_client, {**GOOD, "phone_last4": "0000"}).status_code == 400

    # Even the right proof is refused now, or the limit would not stop guessing.
    response = _send(customer_client, GOOD)

    assert response.status_code == 429
    assert "绑定失败次数过多" in response.content.decode()
    assert _bindings() == 0

    # Another user's allowance is their own.
    other = Client()
    other.force_login(world.portal_user.__class__.objects.create_user("13600000001", password=world.password))
    assert _bind(other).status_code == 302


def test_the_limit_counts_failures_only(customer_client, world, gridcare_conf):
    gridcare_conf(BIND_MAX_FAILURES=2)
    assert _bind(customer_client).status_code == 302
    assert _bind(customer_client).status_code == 302
    assert _send(customer_client, {**GOOD, "name": "张"}).status_code == 400
    assert _bind(customer_client).status_code == 302
    assert _send(customer_client, {**GOOD, "name": "张"}).status_code == 400
    assert _send(customer_client, GOOD).status_code == 429


def test_the_limit_lifts_in_the_next_hour(world, gridcare_conf):
    gridcare_conf(BIND_MAX_FAILURES=1)
    actor = Actor(user=world.portal_user, channel=Channel.PORTAL)
    now = 1_800_000_000.0  # an injected clock, at the start of an hour window
    now -= now % services.BIND_WINDOW_SECONDS
    with pytest.raises(services.BindRefused):
        _bind_service(actor, world.portal_user, now, {**GOOD, "name": "x"})
    with pytest.raises(services.BindRateLimited):
        _bind_service(actor, world.portal_user, now + 3599)

    binding = _bind_service(actor, world.portal_user, now + 3600)

    assert binding.account_id == world.acct_a.pk


def test_binding_twice_is_idempotent(customer_client, world):
    assert _bind(customer_client).status_code == 302
    response = _bind(customer_client)

    assert response.status_code == 302
    assert PortalBinding.objects.filter(user=world.portal_user, account=world.acct_a).count() == 1
    assert AuditEvent.objects.filter(action="portal.bind").count() == 1


def test_two_users_may_bind_the_same_account(customer_client, world):
    other_user = world.portal_user.__class__.objects.create_user("13600000002", password=world.password)
    other = Client()
    other.force_login(other_user)
    assert _bind(customer_client).status_code == 302
    assert _bind(other).status_code == 302
    assert PortalBinding.objects.filter(account=world.acct_a).count() == 2


def test_missing_fields_are_form_errors_and_count_nothing(customer_client, world, gridcare_conf):
    gridcare_conf(BIND_MAX_FAILURES=1)
    response = customer_client.post(URL, {"account_number": "", "name": "", "phone_last4": ""})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="portal.bind_failed").exists()
    assert _bind(customer_client).status_code == 302


def test_unbind_removes_the_binding_and_audits_it(customer_client, world):
    _bind(customer_client)

    response = customer_client.post(reverse("portal:unbind", args=["3100000001"]))

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:accounts")
    assert _bindings() == 0
    event = AuditEvent.objects.get(action="portal.unbind")
    assert event.channel == Channel.PORTAL
    assert (event.customer_id, event.unit_id) == (world.cust_a.pk, world.acct_a.unit_id)
    assert customer_client.get(reverse("portal:account_detail", args=["3100000001"])).status_code == 404


def test_unbind_of_an_account_not_bound_is_404_and_writes_nothing(customer_client, world):
    before = AuditEvent.objects.count()
    assert customer_client.post(reverse("portal:unbind", args=["3200000001"])).status_code == 404
    assert customer_client.post(reverse("portal:unbind", args=["9999999999"])).status_code == 404
    assert AuditEvent.objects.count() == before


def test_unbind_needs_post(customer_client, world):
    _bind(customer_client)
    assert customer_client.get(reverse("portal:unbind", args=["3100000001"])).status_code == 405
    assert _bindings() == 1


def test_bind_is_csrf_protected(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.portal_user)
    assert client.post(URL, GOOD).status_code == 403
    assert _bindings() == 0


@pytest.mark.parametrize("who", ["a_clerk", "admin", "a_manager"])
def test_staff_get_404_on_bind_and_write_nothing(client, world, who):
    client.force_login(getattr(world, who))
    assert client.get(URL).status_code == 404
    assert client.post(URL, GOOD).status_code == 404
    assert _bindings() == 0


def test_anonymous_bind_goes_to_the_portal_login_and_writes_nothing(client, world):
    response = client.post(URL, GOOD)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:login')}?next={URL}"
    assert _bindings() == 0


def test_the_service_refuses_staff_users(world):
    actor = Actor(user=world.a_clerk, channel=Channel.PORTAL)
    with pytest.raises(PermissionError):
        services.bind_code_send(actor=actor, user=world.a_clerk, client_key="10.0.0.1", **GOOD)
    with pytest.raises(PermissionError):
        services.portal_bind_account(actor=actor, user=world.a_clerk, code="123456", **GOOD)
    assert _bindings() == 0
