"""Registering a portal user: 手机号 as username, Django's password rules, nothing written on error."""

import pytest
from django.urls import reverse

from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.org.models import User

from ..smscodes import last_sms_code

URL = reverse("portal:register")
GOOD_PASSWORD = "Dian-fei-2026"


def _post(client, phone="13600000000", password=GOOD_PASSWORD, confirm=None):
    """Ask for the code ("获取验证码"), then register with the code read from the outbox."""
    sent = client.post(URL, {"phone": phone, "send_code": "1"})
    code = last_sms_code(phone.replace(" ", "")) if sent.status_code == 200 else ""
    return client.post(
        URL,
        {
            "phone": phone,
            "code": code,
            "password": password,
            "password_confirm": password if confirm is None else confirm,
        },
    )


def _counts():
    return User.objects.count(), AuditEvent.objects.count()


def test_register_page_renders_a_csrf_protected_form(client, world):
    response = client.get(URL)
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
    assert "注册" in response.content.decode()


def test_register_creates_a_customer_user_and_audits_it(client, world):
    response = _post(client, phone=" 136 0000 0000 ")

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:login")
    user = User.objects.get(username="13600000000")
    assert user.role == Role.CUSTOMER
    assert user.unit_id is None
    assert user.phone == "13600000000"
    assert user.check_password(GOOD_PASSWORD)
    event = AuditEvent.objects.get(action="portal_user.register")
    assert event.channel == "portal"
    assert event.object_id == str(user.pk)
    assert GOOD_PASSWORD not in str(event.changes)
    # The message shows on the login page the user lands on.
    assert "注册成功" in client.get(response["Location"]).content.decode()


def test_registered_user_can_log_in(client, world):
    _post(client)
    response = client.post(reverse("portal:login"), {"username": "13600000000", "password": GOOD_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:accounts")


def test_duplicate_phone_is_refused_with_a_clear_error(client, world):
    before = _counts()
    response = _post(client, phone=world.portal_user.username)
    assert response.status_code == 400
    assert "该手机号已注册" in response.content.decode()
    assert _counts() == before


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("12345", "电话号码无效"),
        ("1380013800", "电话号码无效"),
        ("abcdefghijk", "电话号码无效"),
        ("010-12345678", "请输入11位手机号码"),  # a landline is a phone, but not one to log in with
        ("", "必填"),
    ],
)
def test_bad_phone_is_refused(client, world, phone, message):
    before = _counts()
    response = _post(client, phone=phone)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _counts() == before


@pytest.mark.parametrize(
    "password",
    ["Ab1-", "12345678901", "password123"],
    ids=["too-short", "all-digits", "too-common"],
)
def test_weak_password_is_refused(client, world, password):
    before = _counts()
    response = _post(client, password=password)
    assert response.status_code == 400
    assert 'id="id_password_errors"' in response.content.decode()
    assert not User.objects.filter(username="13600000000").exists()
    assert _counts() == before


def test_password_confirmation_must_match(client, world):
    before = _counts()
    response = _post(client, confirm=GOOD_PASSWORD + "x")
    assert response.status_code == 400
    assert "两次输入的密码不一致" in response.content.decode()
    assert _counts() == before


def test_logged_in_customer_is_sent_to_the_account_list(customer_client):
    response = customer_client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:accounts")


def test_asking_a_code_does_not_tell_whether_a_phone_is_registered(client, world):
    """The code step answers a registered and a new phone alike; only the holder of the phone (who has the code)
    learns that it is registered."""
    registered = world.portal_user.username
    new = "13600000007"
    answers = [client.post(URL, {"phone": p, "send_code": "1"}) for p in (registered, new)]
    assert [a.status_code for a in answers] == [200, 200]
    pages = [a.content.decode() for a in answers]
    assert "已注册" not in pages[0] and "已注册" not in pages[1]
    assert pages[0].replace(registered, new).count("验证码") == pages[1].count("验证码")
    # a wrong code: the refusal is about the code, not the phone
    wrong = client.post(
        URL,
        {"phone": registered, "code": "000000", "password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD},
    )
    assert wrong.status_code == 400 and "已注册" not in wrong.content.decode()
    # the right code (the owner): now they are told to log in, and nothing is written
    before = _counts()
    owner = client.post(
        URL,
        {
            "phone": registered,
            "code": last_sms_code(registered),
            "password": GOOD_PASSWORD,
            "password_confirm": GOOD_PASSWORD,
        },
    )
    assert owner.status_code == 400 and "该手机号已注册，请直接登录" in owner.content.decode()
    assert User.objects.count() == before[0]
