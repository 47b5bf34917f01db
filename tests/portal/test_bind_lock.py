"""The per-户号 bind lock: failed proofs are counted per 户号 across users; the 10th locks binding for 24 hours;
a counter clerk who may edit customers lifts it after checking the customer's ID (audited)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.org.models import User
from gridcare.portal import services
from gridcare.portal.models import BindLock

from ..smscodes import last_sms_code

GOOD = {"account_number": "3100000001", "name": "张三", "phone_last4": "5678"}
T0 = 1_800_000_000.0  # an injected clock


def _user(i: int) -> User:
    return User.objects.create_user(f"136000001{i:02d}", password="x-Dian-fei-2026", role="customer")


def _fail(user, now=T0, client_key=None):
    with pytest.raises(services.BindRefused):
        services.bind_code_send(
            actor=Actor(user=user, channel=Channel.PORTAL),
            user=user,
            client_key=client_key or f"198.51.100.{user.pk % 250}",
            now=now,
            **{**GOOD, "phone_last4": "0000"},
        )


@pytest.fixture
def locked(world):
    """3100000001 after ten failed proofs by ten different users from ten addresses."""
    for i in range(10):
        _fail(_user(i))
    return world.acct_a


def test_ten_failures_by_different_users_lock_the_account(world):
    for i in range(9):
        _fail(_user(i))
    assert BindLock.objects.get(account=world.acct_a).failures == 9
    assert BindLock.objects.get(account=world.acct_a).locked_until is None

    _fail(_user(9))

    lock = BindLock.objects.get(account=world.acct_a)
    assert lock.locked_until == datetime.fromtimestamp(T0, tz=UTC) + timedelta(hours=24)
    assert AuditEvent.objects.filter(action="portal.bind_lock", customer_id=world.cust_a.pk).count() == 1
    assert AuditEvent.objects.filter(action="portal.bind_failed").count() == 10


def test_a_locked_account_refuses_even_the_right_proof_until_24_hours_pass(locked, world):
    user = world.portal_user
    actor = Actor(user=user, channel=Channel.PORTAL)
    with pytest.raises(services.BindLocked):
        services.bind_code_send(
            actor=actor, user=user, client_key="192.0.2.1", now=T0 + 24 * 3600 - 1, **GOOD
        )
    assert services.bind_code_send(actor=actor, user=user, client_key="192.0.2.1", now=T0 + 24 * 3600, **GOOD)


def test_the_lock_page_answer_says_to_come_to_the_counter(locked, customer_client, world, monkeypatch):
    monkeypatch.setattr(services.time, "time", lambda: T0 + 60)
    response = customer_client.post(reverse("portal:bind"), {**GOOD, "send_code": "1"})
    assert response.status_code == 400
    assert "营业厅" in response.content.decode()


def test_failures_on_unknown_accounts_lock_nothing(world):
    for i in range(10):
        user = _user(i)
        with pytest.raises(services.BindRefused):
            services.bind_code_send(
                actor=Actor(user=user, channel=Channel.PORTAL),
                user=user,
                client_key=f"198.51.100.{i}",
                now=T0,
                **{**GOOD, "account_number": "3999999999"},
            )
    assert not BindLock.objects.exists()


def test_a_successful_bind_clears_the_count(world):
    for i in range(9):
        _fail(_user(i))
    user = world.portal_user
    actor = Actor(user=user, channel=Channel.PORTAL)
    services.bind_code_send(actor=actor, user=user, client_key="192.0.2.1", now=T0, **GOOD)
    services.portal_bind_account(
        actor=actor, user=user, client_key="192.0.2.1", now=T0, code=last_sms_code("13812345678"), **GOOD
    )
    assert BindLock.objects.get(account=world.acct_a).failures == 0
    _fail(_user(20))
    assert BindLock.objects.get(account=world.acct_a).locked_until is None


def _unlock_url():
    return reverse("console:bind_unlock", args=["3100000001"])


def _lock_now(account):
    """Put a lock ending in the future of the real clock (the console page uses it)."""
    BindLock.objects.update_or_create(
        account=account,
        defaults={
            "failures": 0,
            "locked_until": datetime.now(tz=UTC) + timedelta(hours=5),
            "updated_at": datetime.now(tz=UTC),
        },
    )


def test_the_customer_page_shows_the_lock_and_the_unlock_link(world, login):
    _lock_now(world.acct_a)
    page = (
        login(world.a_clerk).get(reverse("console:customer_detail", args=[world.cust_a.pk])).content.decode()
    )
    assert 'data-testid="bind-locked-3100000001"' in page
    assert _unlock_url() in page


def test_a_clerk_lifts_the_lock_after_checking_the_id(world, login):
    _lock_now(world.acct_a)
    tail = world.cust_a.id_number[-4:].lower()  # an X check digit may be typed in either case
    response = login(world.a_clerk).post(_unlock_url(), {"id_checked": "on", "id_last4": tail})
    assert response.status_code == 302
    assert response["Location"] == reverse("console:customer_detail", args=[world.cust_a.pk])
    lock = BindLock.objects.get(account=world.acct_a)
    assert lock.locked_until is None and lock.failures == 0
    event = AuditEvent.objects.get(action="portal.bind_unlock")
    assert (event.actor_id, event.customer_id, event.channel) == (
        world.a_clerk.pk,
        world.cust_a.pk,
        "console",
    )
    assert event.changes["id_checked"] is True


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"id_last4": "TAIL"}, "请确认已核验客户的有效身份证件原件"),  # box not ticked
        ({"id_checked": "on", "id_last4": "WRONG"}, "证件号码后四位与登记的证件号码不一致"),
        ({"id_checked": "on", "id_last4": ""}, "证件号码后四位与登记的证件号码不一致"),
    ],
    ids=["unchecked", "wrong-digits", "no-digits"],
)
def test_the_unlock_needs_the_id_check_and_changes_nothing_otherwise(world, login, data, field_message):
    _lock_now(world.acct_a)
    tail = world.cust_a.id_number[-4:]
    wrong = "0000" if tail != "0000" else "1111"
    data = {k: (tail if v == "TAIL" else wrong if v == "WRONG" else v) for k, v in data.items()}
    before = BindLock.objects.get(account=world.acct_a).locked_until
    response = login(world.a_clerk).post(_unlock_url(), data)
    assert response.status_code == 400
    assert field_message in response.content.decode()
    assert BindLock.objects.get(account=world.acct_a).locked_until == before
    assert not AuditEvent.objects.filter(action="portal.bind_unlock").exists()


@pytest.mark.parametrize("who", ["a_reader", "b_clerk", "portal_user"])
def test_who_may_not_edit_this_customer_cannot_unlock(world, login, who):
    _lock_now(world.acct_a)
    before = BindLock.objects.get(account=world.acct_a).locked_until
    response = login(getattr(world, who)).post(
        _unlock_url(), {"id_checked": "on", "id_last4": world.cust_a.id_number[-4:]}
    )
    assert response.status_code in (302, 403, 404)
    assert BindLock.objects.get(account=world.acct_a).locked_until == before
    assert not AuditEvent.objects.filter(action="portal.bind_unlock").exists()


def test_unlocking_an_account_that_is_not_locked_is_a_clear_error(world, login):
    response = login(world.a_clerk).post(
        _unlock_url(), {"id_checked": "on", "id_last4": world.cust_a.id_number[-4:]}
    )
    assert response.status_code == 400
    assert "该户号当前没有绑定锁定" in response.content.decode()
