"""PostgreSQL: the SMS code's tries and the per-户号 bind failures are counted atomically, so concurrent
requests cannot get more than 5 tries at a code nor lock a 户号 twice."""

import threading

import pytest
from django.db import connection, connections

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.portal import codes, services
from gridcare.portal.models import BindLock, SmsCode

from ..smscodes import last_sms_code

pytestmark = pytest.mark.django_db(transaction=True)
ANON = Actor(user=None, channel=Channel.PORTAL)
T0 = 1_800_000_000.0


def _together(n: int, work) -> list:
    """Run `work(i)` in n threads released at once; returns what each raised (or None)."""
    barrier = threading.Barrier(n)
    outcomes: list = [None] * n

    def run(i):
        try:
            barrier.wait()
            work(i)
        except Exception as exc:  # noqa: BLE001 — the outcome is what the test looks at
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")


def test_eight_concurrent_wrong_codes_use_at_most_five_tries(postgres, world):
    codes.code_send(actor=ANON, purpose="register", phone="13600000000", client_key="192.0.2.1", now=T0)
    code = last_sms_code("13600000000")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    outcomes = _together(
        8,
        lambda i: codes.code_verify(actor=ANON, purpose="register", phone="13600000000", code=wrong, now=T0),
    )

    assert all(isinstance(o, services.ValidationError) for o in outcomes)
    assert SmsCode.objects.get().attempts == 5
    with pytest.raises(services.ValidationError):  # used up: the right code no longer works
        codes.code_verify(actor=ANON, purpose="register", phone="13600000000", code=code, now=T0)


def test_concurrent_failures_by_twelve_users_lock_the_account_once(postgres, world):
    from gridcare.org.models import User

    users = [
        User.objects.create_user(f"136000004{i:02d}", password="x-Dian-fei-2026", role="customer")
        for i in range(12)
    ]

    def fail(i):
        services.bind_code_send(
            actor=Actor(user=users[i], channel=Channel.PORTAL),
            user=users[i],
            client_key=f"198.51.100.{i}",
            now=T0,
            account_number="3100000001",
            name="张三",
            phone_last4="0000",
        )

    outcomes = _together(12, fail)

    # Each is refused as a wrong proof, or (the last ones) as locked; none crashes.
    assert all(isinstance(o, services.BindRefused | services.BindLocked) for o in outcomes), outcomes
    lock = BindLock.objects.get(account=world.acct_a)
    assert lock.locked_until is not None
    assert AuditEvent.objects.filter(action="portal.bind_lock").count() == 1
    refused = sum(isinstance(o, services.BindRefused) for o in outcomes)
    assert lock.failures == refused - 10
