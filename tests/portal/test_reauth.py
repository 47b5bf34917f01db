"""Re-authentication (身份确认: the password or an SMS code to the login phone) before changing the login phone
and before paying more than GRIDCARE_REAUTH_PAY_THRESHOLD on the portal; a re-auth counts for 5 minutes."""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.customers.models import PortalBinding
from gridcare.org.models import User
from gridcare.payments.models import PaymentOrder
from gridcare.portal import services
from tests.payments.ledger.test_ledger import issued_bill

from ..factories import PASSWORD
from ..smscodes import last_sms_code

REAUTH = reverse("portal:reauth")
PHONE_URL = reverse("portal:phone_change")
PAY_URL = "/portal/pay/3100000001/"
NEW_PHONE = "13900000001"


def _reauth_with_password(client, world, next_url=""):
    return client.post(REAUTH, {"password": world.password, "next": next_url})


def test_the_phone_page_first_asks_to_re_authenticate(customer_client):
    response = customer_client.get(PHONE_URL)
    assert response.status_code == 302
    assert response["Location"] == f"{REAUTH}?next=%2Fportal%2Fphone%2F"


def test_a_wrong_password_is_refused_and_audited(customer_client, world):
    response = customer_client.post(REAUTH, {"password": "wrong-one", "next": PHONE_URL})
    assert response.status_code == 400
    assert "密码不正确" in response.content.decode()
    assert AuditEvent.objects.filter(action="portal.reauth_failed", actor=world.portal_user).count() == 1
    assert customer_client.get(PHONE_URL).status_code == 302  # still not re-authenticated


def test_wrong_passwords_count_toward_the_shared_login_lockout(customer_client, world, gridcare_conf):
    """Re-authentication is one more door that checks a password: it shares the login lockout."""
    gridcare_conf(LOGIN_MAX_FAILURES=2)
    for _ in range(3):  # successes do not count
        assert _reauth_with_password(customer_client, world).status_code == 302
    for _ in range(2):
        assert customer_client.post(REAUTH, {"password": "wrong-one"}).status_code == 400

    user = User.objects.get(pk=world.portal_user.pk)
    assert user.locked_until is not None  # the second failure of a limit of 2 locked the account
    response = _reauth_with_password(customer_client, world)
    assert response.status_code == 400  # the right password is refused while locked
    assert "短信验证码" in response.content.decode()
    # ... and so is the portal's login page: one lockout for every door
    assert not Client().login(username=world.portal_user.username, password=PASSWORD, portal=True)


def test_password_then_a_code_to_the_new_phone_changes_the_login_phone(customer_client, world):
    response = _reauth_with_password(customer_client, world, PHONE_URL)
    assert response.status_code == 302 and response["Location"] == PHONE_URL
    assert customer_client.get(PHONE_URL).status_code == 200

    sent = customer_client.post(PHONE_URL, {"new_phone": NEW_PHONE, "send_code": "1"})
    assert sent.status_code == 200
    assert "验证码已发送至 139****0001" in sent.content.decode()
    response = customer_client.post(PHONE_URL, {"new_phone": NEW_PHONE, "code": last_sms_code(NEW_PHONE)})

    assert response.status_code == 302
    user = User.objects.get(pk=world.portal_user.pk)
    assert (user.username, user.phone) == (NEW_PHONE, NEW_PHONE)
    event = AuditEvent.objects.get(action="portal_user.phone_change")
    assert event.changes == {"phone": ["13700000000", NEW_PHONE]}


def test_a_code_to_the_old_phone_re_authenticates_too(customer_client, world):
    customer_client.post(REAUTH, {"send_code": "1", "next": PHONE_URL})
    response = customer_client.post(REAUTH, {"code": last_sms_code("13700000000"), "next": PHONE_URL})
    assert response.status_code == 302 and response["Location"] == PHONE_URL
    assert customer_client.get(PHONE_URL).status_code == 200
    assert AuditEvent.objects.get(action="portal.reauth").changes == {"method": "code"}


def test_a_wrong_code_for_the_new_phone_changes_nothing(customer_client, world):
    _reauth_with_password(customer_client, world)
    customer_client.post(PHONE_URL, {"new_phone": NEW_PHONE, "send_code": "1"})
    code = last_sms_code(NEW_PHONE)
    response = customer_client.post(
        PHONE_URL, {"new_phone": NEW_PHONE, "code": "000000" if code != "000000" else "111111"}
    )
    assert response.status_code == 400
    assert "验证码不正确" in response.content.decode()
    assert User.objects.get(pk=world.portal_user.pk).username == "13700000000"


def test_a_phone_already_registered_is_refused(customer_client, world):
    User.objects.create_user(NEW_PHONE, password="x-Dian-fei-2026", role="customer")
    _reauth_with_password(customer_client, world)
    response = customer_client.post(PHONE_URL, {"new_phone": NEW_PHONE, "send_code": "1"})
    assert response.status_code == 400
    assert "该手机号已注册" in response.content.decode()


def test_a_re_authentication_counts_for_five_minutes(world):
    session = {}
    services.portal_reauth(
        actor=Actor(user=world.portal_user, channel="portal"),
        user=world.portal_user,
        session=session,
        password=world.password,
        now=1_800_000_000.0,
    )
    assert services.reauth_fresh(session, now=1_800_000_000.0 + 300)
    assert not services.reauth_fresh(session, now=1_800_000_000.0 + 301)
    with pytest.raises(PermissionError):
        services.phone_change_code_send(
            actor=Actor(user=world.portal_user, channel="portal"),
            user=world.portal_user,
            session=session,
            new_phone=NEW_PHONE,
            client_key="192.0.2.1",
            now=1_800_000_000.0 + 301,
        )


def test_the_reauth_page_does_not_redirect_off_site(customer_client, world):
    response = _reauth_with_password(customer_client, world, "https://evil.example/")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:accounts")


# ---------------------------------------------------------------- paying above the threshold


@pytest.fixture
def payer(world, settings, customer_client):
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "SANDBOX_PAY": {"ENABLED": True, "PRIVATE_KEY": "", "PUBLIC_KEY": ""},
        "REAUTH_PAY_THRESHOLD": "5000.00",
    }
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    issued_bill(world.acct_a, "2026-09", "80.70", date(2099, 1, 20), issued_on=date(2026, 10, 5))
    return customer_client


def test_paying_the_threshold_itself_needs_no_re_authentication(payer):
    response = payer.post(PAY_URL, {"amount": "5000.00"})
    assert response.status_code == 302
    assert response["Location"].startswith("/payments/sandbox/")
    assert PaymentOrder.objects.count() == 1


def test_paying_above_the_threshold_asks_to_re_authenticate_first(payer, world):
    response = payer.post(PAY_URL, {"amount": "5000.01"})
    assert response.status_code == 302
    # the way back keeps the amount typed and the payment method chosen
    assert response["Location"] == (
        f"{REAUTH}?next=%2Fportal%2Fpay%2F3100000001%2F%3Famount%3D5000.01%26method%3Dsandbox"
    )
    assert PaymentOrder.objects.count() == 0

    back = _reauth_with_password(payer, world, f"{PAY_URL}?amount=5000.01&method=sandbox")
    assert back["Location"] == f"{PAY_URL}?amount=5000.01&method=sandbox"
    assert 'value="5000.01"' in payer.get(back["Location"]).content.decode()  # the amount typed is kept
    response = payer.post(PAY_URL, {"amount": "5000.01"})
    assert response.status_code == 302
    assert response["Location"].startswith("/payments/sandbox/")
    assert PaymentOrder.objects.get().amount == Decimal("5000.01")


def test_the_threshold_is_configurable(payer, settings):
    settings.GRIDCARE = {**settings.GRIDCARE, "REAUTH_PAY_THRESHOLD": "50.00"}
    response = payer.post(PAY_URL, {"amount": "80.70"})
    assert response.status_code == 302
    assert response["Location"].startswith(REAUTH)
    assert PaymentOrder.objects.count() == 0
