"""SMS codes (短信验证码) for portal registration and binding: sent through the notify outbox whatever the
quiet hours and opt-outs, stored only as a hash, 5 minutes and 5 tries; sends rate-limited per phone, per
client IP (behind trusted proxies, the forwarded one) and per 户号."""

import json
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from django.urls import reverse

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.notify.choices import NotificationStatus
from gridcare.notify.dispatch import outbox_dispatch
from gridcare.notify.models import Notification, NotifyPreference
from gridcare.org.models import User
from gridcare.portal import codes, services
from gridcare.portal.models import SmsCode

from ..smscodes import last_sms_code

URL = reverse("portal:register")
PHONE = "13600000000"
PASSWORD = "Dian-fei-2026"
ANON = Actor(user=None, channel=Channel.PORTAL)
# 2026-11-10 15:00:00 UTC = 23:00 in Beijing, inside the default quiet hours 22:00–08:00.
NIGHT = datetime(2026, 11, 10, 15, 0, tzinfo=UTC).timestamp()


def _register(client, code, phone=PHONE):
    return client.post(
        URL, {"phone": phone, "code": code, "password": PASSWORD, "password_confirm": PASSWORD}
    )


def test_registration_without_a_code_is_refused_and_creates_nothing(client, world):
    users = User.objects.count()
    response = _register(client, "")
    assert response.status_code == 400
    assert "请输入短信验证码" in response.content.decode()
    assert User.objects.count() == users


def test_registration_with_a_code_sent_to_another_phone_is_refused(client, world):
    client.post(URL, {"phone": "13600000001", "send_code": "1"})
    response = _register(client, last_sms_code("13600000001"))  # the code of 13600000001, for 13600000000
    assert response.status_code == 400
    assert "验证码已失效" in response.content.decode()
    assert not User.objects.filter(username=PHONE).exists()


def test_register_page_sends_a_code_and_the_code_registers(client, world):
    response = client.post(URL, {"phone": PHONE, "send_code": "1"})
    assert response.status_code == 200
    assert "验证码已发送至 136****0000" in response.content.decode()
    code = last_sms_code(PHONE)

    assert _register(client, code).status_code == 302
    assert User.objects.filter(username=PHONE).exists()
    # A code is spent once.
    User.objects.filter(username=PHONE).delete()
    assert _register(client, code).status_code == 400


def test_only_a_hash_of_the_code_is_stored(world):
    row = codes.code_send(actor=ANON, purpose="register", phone=PHONE, client_key="10.0.0.1")
    code = last_sms_code(PHONE)
    assert row.code_hash != code and code not in row.code_hash
    assert len(row.code_hash) == 64
    assert (row.expires_at - row.created_at).total_seconds() == 300


def test_a_wrong_code_is_audited_and_five_tries_use_the_code_up(world):
    codes.code_send(actor=ANON, purpose="register", phone=PHONE, client_key="10.0.0.1")
    code = last_sms_code(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for n in range(1, 6):
        with pytest.raises(services.ValidationError) as exc:
            codes.code_verify(actor=ANON, purpose="register", phone=PHONE, code=wrong)
        assert exc.value.message_dict == {"code": ["验证码不正确"]}
        assert SmsCode.objects.get().attempts == n
    # The sixth try, even with the right code, finds the code used up.
    with pytest.raises(services.ValidationError) as exc:
        codes.code_verify(actor=ANON, purpose="register", phone=PHONE, code=code)
    assert exc.value.message_dict == {"code": ["验证码已失效，请重新获取"]}
    events = AuditEvent.objects.filter(action="portal.sms_code_failed")
    assert events.count() == 6
    assert events.first().changes["phone_last4"] == "0000"
    assert all(code not in json.dumps(e.changes) for e in events)


def test_the_fifth_try_may_still_be_right(world):
    codes.code_send(actor=ANON, purpose="register", phone=PHONE, client_key="10.0.0.1")
    code = last_sms_code(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        with pytest.raises(services.ValidationError):
            codes.code_verify(actor=ANON, purpose="register", phone=PHONE, code=wrong)
    codes.code_verify(actor=ANON, purpose="register", phone=PHONE, code=code)  # no exception
    assert SmsCode.objects.get().used_at is not None


def test_a_code_expires_after_five_minutes(world):
    t0 = 1_800_000_000.0
    codes.code_send(actor=ANON, purpose="register", phone=PHONE, client_key="10.0.0.1", now=t0)
    code = last_sms_code(PHONE)
    with pytest.raises(services.ValidationError) as exc:
        codes.code_verify(actor=ANON, purpose="register", phone=PHONE, code=code, now=t0 + 300)
    assert exc.value.message_dict == {"code": ["验证码已失效，请重新获取"]}
    codes.code_verify(actor=ANON, purpose="register", phone=PHONE, code=code, now=t0 + 299)


def test_a_new_code_retires_the_previous_one(world):
    codes.code_send(actor=ANON, purpose="register", phone=PHONE, client_key="10.0.0.1")
    first = last_sms_code(PHONE)
    codes.code_send(actor=ANON, purpose="register", phone=PHONE, client_key="10.0.0.1")
    second = last_sms_code(PHONE)
    if first != second:  # one in a million they are equal, and the check below would not apply
        with pytest.raises(services.ValidationError):
            codes.code_verify(actor=ANON, purpose="register", phone=PHONE, code=first)
    codes.code_verify(actor=ANON, purpose="register", phone=PHONE, code=second)


def test_a_code_for_one_purpose_does_not_serve_another(world):
    codes.code_send(actor=ANON, purpose="register", phone=PHONE, client_key="10.0.0.1")
    with pytest.raises(services.ValidationError):
        codes.code_verify(actor=ANON, purpose="reauth", phone=PHONE, code=last_sms_code(PHONE))


def test_the_code_sms_ignores_quiet_hours_opt_outs_and_channel_switches(world, settings, tmp_path):
    settings.NOTIFY = {**settings.NOTIFY, "FILE_PATH": str(tmp_path / "outbox.jsonl")}
    # 张三 switched SMS off, opted out of greetings and keeps quiet hours 21:00–09:00.
    cust = world.cust_a
    cust.notify_sms = False
    cust.save(update_fields=["notify_sms"])
    NotifyPreference.objects.create(
        customer=cust,
        quiet_start=time(21, 0),
        quiet_end=time(9, 0),
        greetings_opt_out=True,
        updated_at=cust.created_at,
    )
    codes.code_send(actor=ANON, purpose="register", phone=cust.phone, client_key="10.0.0.1", now=NIGHT)

    n = Notification.objects.get(kind="sms_code")
    at = datetime.fromtimestamp(NIGHT, tz=UTC)
    assert (n.status, n.channel, n.recipient) == (NotificationStatus.PENDING, "sms", cust.phone)
    assert n.not_before == at and n.next_attempt_at == at  # not moved to 08:00
    assert n.customer_id is None and n.unit_id is None

    code = last_sms_code(cust.phone)
    result = outbox_dispatch(now=at)
    assert result.sent == 1
    line = json.loads(Path(tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert line["to"] == cust.phone and line["kind"] == "sms_code"
    assert f"验证码{code}，" in line["body"]  # visible in development, in the file backend
    # Once sent, the outbox row no longer shows it.
    n.refresh_from_db()
    assert code not in n.body and "验证码******，" in n.body and "5分钟内有效" in n.body


def test_sends_are_limited_per_phone(client, world, gridcare_conf):
    gridcare_conf(SMS_CODE_PER_PHONE=2)
    for _ in range(2):
        assert client.post(URL, {"phone": PHONE, "send_code": "1"}).status_code == 200
    response = client.post(URL, {"phone": PHONE, "send_code": "1"}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429
    assert "验证码发送过于频繁" in response.content.decode()
    assert SmsCode.objects.filter(phone=PHONE).count() == 2
    assert client.post(URL, {"phone": "13600000001", "send_code": "1"}).status_code == 200


def test_sends_are_limited_per_client_address_behind_trusted_proxies(client, world, gridcare_conf, settings):
    gridcare_conf(SMS_CODE_PER_IP=2)
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    for phone in ("13600000001", "13600000002"):
        r = client.post(URL, {"phone": phone, "send_code": "1"}, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
        assert r.status_code == 200
    third = client.post(
        URL, {"phone": "13600000003", "send_code": "1"}, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy
    )
    assert third.status_code == 429
    # Another client behind the same proxy has its own allowance.
    other = client.post(
        URL, {"phone": "13600000003", "send_code": "1"}, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy
    )
    assert other.status_code == 200


def test_a_forged_forwarded_header_from_a_client_is_ignored(client, world, gridcare_conf, settings):
    gridcare_conf(SMS_CODE_PER_IP=1)
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert (
        client.post(URL, {"phone": "13600000001", "send_code": "1"}, REMOTE_ADDR="198.51.100.1").status_code
        == 200
    )
    forged = client.post(
        URL,
        {"phone": "13600000002", "send_code": "1"},
        REMOTE_ADDR="198.51.100.1",
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )
    assert forged.status_code == 429


def test_bind_code_sends_are_limited_per_account_across_users_and_addresses(world, gridcare_conf):
    gridcare_conf(SMS_CODE_PER_ACCOUNT=2)
    proof = {"account_number": "3100000001", "name": "张三", "phone_last4": "5678"}
    users = [
        User.objects.create_user(f"1360000001{i}", password=world.password, role="customer") for i in range(3)
    ]
    for i, user in enumerate(users[:2]):
        actor = Actor(user=user, channel=Channel.PORTAL)
        assert (
            services.bind_code_send(actor=actor, user=user, client_key=f"192.0.2.{i}", **proof)
            == "138****5678"
        )
    with pytest.raises(services.CodeRateLimited):
        services.bind_code_send(
            actor=Actor(user=users[2], channel=Channel.PORTAL), user=users[2], client_key="192.0.2.9", **proof
        )
    assert SmsCode.objects.filter(purpose="bind", target="3100000001").count() == 2


def test_a_bind_code_goes_to_the_registered_phone_and_binds_only_that_account(world):
    user = world.portal_user
    actor = Actor(user=user, channel=Channel.PORTAL)
    proof = {"account_number": "3100000001", "name": "张三", "phone_last4": "5678"}
    services.bind_code_send(actor=actor, user=user, client_key="192.0.2.1", **proof)
    code = last_sms_code("13812345678")
    assert not Notification.objects.filter(kind="sms_code", recipient=user.phone).exists()
    with pytest.raises(services.ValidationError):
        services.portal_bind_account(
            actor=actor, user=user, code="000000" if code != "000000" else "111111", **proof
        )
    binding = services.portal_bind_account(actor=actor, user=user, code=code, **proof)
    assert binding.account_id == world.acct_a.pk


def test_a_bind_without_a_code_is_refused(customer_client, world):
    response = customer_client.post(
        reverse("portal:bind"), {"account_number": "3100000001", "name": "张三", "phone_last4": "5678"}
    )
    assert response.status_code == 400
    assert "请输入短信验证码" in response.content.decode()
    assert not world.portal_user.bindings.exists()


def test_failed_bind_proofs_are_limited_per_client_address(world, gridcare_conf):
    gridcare_conf(BIND_PER_IP=2, BIND_MAX_FAILURES=100)
    good = {"account_number": "3100000001", "name": "张三", "phone_last4": "5678"}
    for i in range(3):  # right proofs are not counted
        user = User.objects.create_user(f"1360000003{i}", password=world.password, role="customer")
        services.bind_code_send(
            actor=Actor(user=user, channel=Channel.PORTAL), user=user, client_key="192.0.2.1", **good
        )
    proof = {**good, "account_number": "3999999999"}
    for i in range(2):
        user = User.objects.create_user(f"1360000002{i}", password=world.password, role="customer")
        with pytest.raises(services.BindRefused):
            services.bind_code_send(
                actor=Actor(user=user, channel=Channel.PORTAL), user=user, client_key="192.0.2.1", **proof
            )
    fresh = User.objects.create_user("13600000029", password=world.password, role="customer")
    with pytest.raises(services.BindRateLimited):
        services.bind_code_send(
            actor=Actor(user=fresh, channel=Channel.PORTAL), user=fresh, client_key="192.0.2.1", **good
        )
    # Another address has its own allowance.
    assert services.bind_code_send(
        actor=Actor(user=fresh, channel=Channel.PORTAL), user=fresh, client_key="192.0.2.2", **good
    )
