"""One login lockout for every door that checks a password (console, portal, Django admin), reserved before the
password is hashed, and one answer for every refusal.

The parallel tests send real concurrent requests (threads, each with its own database connection) and need
PostgreSQL's row locks; on SQLite they are skipped.
"""

import re
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gridcare.core.models import AuditEvent
from gridcare.org.models import User

CONSOLE = reverse("console:login")
PORTAL = reverse("portal:login")
ADMIN = reverse("admin:login")
MESSAGE = "用户名或密码错误，或账号已暂时锁定，请稍后再试"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="parallel logins need PostgreSQL's row locks"
)


@pytest.fixture
def limit(settings):
    return settings.GRIDCARE["LOGIN_MAX_FAILURES"]


def post(client, url, username, password):
    data = {"username": username, "password": password}
    if url == ADMIN:
        data["next"] = "/admin/"
    return client.post(url, data)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


class Counter:
    """Counts calls (thread-safe)."""

    def __init__(self):
        self.n, self._lock = 0, threading.Lock()

    def hit(self):
        with self._lock:
            self.n += 1


@pytest.fixture
def checks(monkeypatch):
    """How many real password checks (User.check_password) ran."""
    counter, real = Counter(), User.check_password

    def counting(user, raw):
        counter.hit()
        return real(user, raw)

    monkeypatch.setattr(User, "check_password", counting)
    return counter


@pytest.fixture
def hashes(monkeypatch):
    """How many password hashes were computed, real or throw-away (the tests' hasher is MD5)."""
    counter, real = Counter(), MD5PasswordHasher.encode

    def counting(self, password, salt):
        counter.hit()
        return real(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting)
    return counter


# ---------------------------------------------------------------- one lockout for every door


def test_failures_at_the_admin_login_lock_the_console_login(client, world, limit):
    for _ in range(limit + 2):  # seven failures at /admin/login/
        resp = post(client, ADMIN, "a_clerk", "wrong")
        assert resp.status_code == 200 and not logged_in(client)  # the admin redisplays its form

    resp = post(Client(), CONSOLE, "a_clerk", world.password)

    assert resp.status_code == 400 and MESSAGE in resp.content.decode()
    user = User.objects.get(pk=world.a_clerk.pk)
    assert user.locked_until is not None and user.locked_until > timezone.now()
    assert AuditEvent.objects.filter(action="user.login_failed", object_id=str(user.pk)).count() == limit - 1
    locked = AuditEvent.objects.get(action="user.locked", object_id=str(user.pk))
    assert locked.channel == "console" and locked.ip == "127.0.0.1"


def test_failures_at_the_console_lock_the_admin_login(client, world, limit):
    world.admin.is_staff = True
    world.admin.save(update_fields=["is_staff"])
    for _ in range(limit):
        assert post(client, CONSOLE, world.admin.username, "wrong").status_code == 400

    admin = Client()
    resp = post(admin, ADMIN, world.admin.username, world.password)

    assert resp.status_code == 200 and not logged_in(admin)
    assert admin.get("/admin/").status_code == 302  # still sent to the admin's login page
    # once the lock is lifted the same password opens the admin
    User.objects.filter(pk=world.admin.pk).update(locked_until=None, failed_logins=0)
    resp = post(admin, ADMIN, world.admin.username, world.password)
    assert resp.status_code == 302 and logged_in(admin)


def test_portal_failures_lock_the_portal_account(client, world, limit):
    for _ in range(limit):
        assert post(client, PORTAL, world.portal_user.username, "wrong").status_code == 400
    resp = post(client, PORTAL, world.portal_user.username, world.password)
    assert resp.status_code == 400 and not logged_in(client)
    assert User.objects.get(pk=world.portal_user.pk).locked_until is not None


def test_a_success_clears_the_count(client, world, limit):
    for _ in range(limit - 1):
        post(client, CONSOLE, "a_clerk", "wrong")
    assert post(client, CONSOLE, "a_clerk", world.password).status_code == 302
    client.logout()
    for _ in range(limit - 1):
        post(client, CONSOLE, "a_clerk", "wrong")
    assert post(client, CONSOLE, "a_clerk", world.password).status_code == 302
    user = User.objects.get(pk=world.a_clerk.pk)
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert not AuditEvent.objects.filter(action="user.locked").exists()


def test_the_lock_ends_and_the_count_starts_again(client, world, limit):
    for _ in range(limit):
        post(client, CONSOLE, "a_clerk", "wrong")
    # the lock has run out (moved into the past instead of waiting)
    User.objects.filter(pk=world.a_clerk.pk).update(locked_until=timezone.now() - timedelta(seconds=1))

    assert post(client, CONSOLE, "a_clerk", "wrong").status_code == 400
    user = User.objects.get(pk=world.a_clerk.pk)
    assert (user.failed_logins, user.locked_until) == (1, None)  # one failure of a new series, not locked
    assert post(client, CONSOLE, "a_clerk", world.password).status_code == 302


def test_the_other_door_neither_logs_in_nor_counts(world, limit):
    """A customer at the console (or staff at the portal) is treated like an unknown name: refused, never
    counted, so hammering the wrong door cannot lock anyone out of the right one."""
    for _ in range(limit + 1):
        assert post(Client(), CONSOLE, world.portal_user.username, world.password).status_code == 400
        assert post(Client(), PORTAL, "a_clerk", world.password).status_code == 400
    assert post(Client(), PORTAL, world.portal_user.username, world.password).status_code == 302
    assert post(Client(), CONSOLE, "a_clerk", world.password).status_code == 302
    assert not AuditEvent.objects.filter(action__startswith="user.").exists()


def test_inactive_user_is_refused_like_an_unknown_name(world):
    User.objects.filter(pk=world.a_clerk.pk).update(is_active=False)
    resp = post(Client(), CONSOLE, "a_clerk", world.password)
    assert resp.status_code == 400 and MESSAGE in resp.content.decode()


# ---------------------------------------------------------------- nothing tells the cases apart


_CSRF = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]*"')


def _page(resp) -> str:
    return _CSRF.sub(r"\1TOKEN", resp.content.decode())


@pytest.mark.parametrize("url", [CONSOLE, PORTAL])
def test_locked_unknown_wrong_door_and_wrong_password_answer_the_same(world, limit, url, hashes):
    """Same status, same page (byte for byte, CSRF tokens aside) and the same work: exactly one password hash."""
    own, other = (
        (world.portal_user.username, "a_clerk") if url == PORTAL else ("a_clerk", world.portal_user.username)
    )
    locked = "a_locked_one"
    from ..factories import UserFactory

    UserFactory(
        username=locked,
        role=User.objects.get(username=own).role,
        locked_until=timezone.now() + timedelta(minutes=10),
    )

    answers, work = {}, {}
    for case, (name, password) in {
        "wrong password": (own, "wrong"),
        "unknown name": ("nobody-here", "wrong"),
        "locked, right password": (locked, world.password),
        "locked, wrong password": (locked, "wrong"),
        "other door, right password": (other, world.password),
    }.items():
        before = hashes.n
        answers[case] = post(Client(), url, name, password)
        work[case] = hashes.n - before

    assert {c: r.status_code for c, r in answers.items()} == dict.fromkeys(answers, 400)
    pages = {c: _page(r) for c, r in answers.items()}
    assert len(set(pages.values())) == 1, pages
    assert MESSAGE in pages["unknown name"] and "锁定至" not in pages["unknown name"]
    assert work == dict.fromkeys(answers, 1)


def test_refusals_at_the_admin_login_look_the_same(world):
    """Django admin's form: a locked account and an unknown name get the same page."""
    User.objects.filter(pk=world.a_clerk.pk).update(locked_until=timezone.now() + timedelta(minutes=10))
    locked = _page(post(Client(), ADMIN, "a_clerk", world.password))
    unknown = _page(post(Client(), ADMIN, "nobody-here", world.password))
    assert locked.replace("a_clerk", "NAME") == unknown.replace("nobody-here", "NAME")


def test_a_locked_account_is_refused_without_checking_its_password(world, checks):
    User.objects.filter(pk=world.a_clerk.pk).update(locked_until=timezone.now() + timedelta(minutes=10))
    post(Client(), CONSOLE, "a_clerk", world.password)
    assert checks.n == 0


# ---------------------------------------------------------------- at the same moment (PostgreSQL)


def _at_once(calls: list) -> list:
    """Run each `call(client)` in its own thread (own client, own connection), all released together."""
    barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, call):
        try:
            c = Client()
            barrier.wait(timeout=30)
            answers[i] = call(c)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_check_at_most_the_limit(world, limit, checks):
    answers = _at_once([lambda c: post(c, CONSOLE, "a_clerk", "wrong")] * 20)

    assert [a.status_code for a in answers] == [400] * 20
    assert checks.n == limit  # 20 attempts, 5 password checks
    user = User.objects.get(pk=world.a_clerk.pk)
    assert user.locked_until is not None and user.failed_logins == limit
    assert AuditEvent.objects.filter(action="user.login_failed").count() == limit - 1
    assert AuditEvent.objects.filter(action="user.locked").count() == 1
    assert post(Client(), CONSOLE, "a_clerk", world.password).status_code == 400


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_attempts_through_every_door_share_one_limit(world, limit, checks):
    doors = [CONSOLE, ADMIN] * 8
    answers = _at_once([lambda c, url=url: post(c, url, "a_clerk", "wrong") for url in doors])

    # the admin redisplays its form (200), the console answers 400; nobody is logged in
    assert [a.status_code for a in answers] == [400, 200] * 8
    assert checks.n == limit  # 16 attempts through two doors, 5 password checks
    assert post(Client(), CONSOLE, "a_clerk", world.password).status_code == 400


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_right_passwords_leave_no_count_and_no_lock(world, checks):
    """Right passwords take a slot too while they are checked (a burst may see a few refused), but each success
    frees the slots again: every check that ran logged in, and nothing is left counted, locked or audited."""
    answers = _at_once([lambda c: post(c, CONSOLE, "a_clerk", world.password)] * 12)
    codes = [a.status_code for a in answers]
    assert set(codes) <= {302, 400} and codes.count(302) == checks.n >= 1
    user = User.objects.get(pk=world.a_clerk.pk)
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert not AuditEvent.objects.filter(action__startswith="user.").exists()
    assert post(Client(), CONSOLE, "a_clerk", world.password).status_code == 302


@pytest.mark.parametrize("url", [CONSOLE, PORTAL, ADMIN])
def test_a_name_with_nul_is_refused_like_any_unknown_name(world, url):
    resp = post(Client(), url, "a_clerk\x00", world.password)
    assert resp.status_code == (200 if url == ADMIN else 400)
    assert not AuditEvent.objects.exists()


def test_wrong_old_passwords_at_the_admin_password_change_lock_the_account(world, limit):
    """Django admin's change-password form checks the old password too: through the same lockout."""
    world.admin.is_staff = True
    world.admin.save(update_fields=["is_staff"])
    admin = Client()
    admin.force_login(world.admin)
    url = reverse("admin:password_change")
    assert url == "/admin/password_change/" and admin.get(url).status_code == 200
    new = {"new_password1": "Another-pass-2027", "new_password2": "Another-pass-2027"}
    for _ in range(limit):
        resp = admin.post(url, {"old_password": "wrong", **new})
        assert resp.status_code == 200 and resp.context["form"].errors["old_password"]

    assert post(Client(), CONSOLE, world.admin.username, world.password).status_code == 400
    assert AuditEvent.objects.filter(action="user.locked", object_id=str(world.admin.pk)).count() == 1
    # even the right old password is refused while locked, and the password stays as it was
    resp = admin.post(url, {"old_password": world.password, **new})
    assert resp.status_code == 200 and resp.context["form"].errors["old_password"]
    assert User.objects.get(pk=world.admin.pk).check_password(world.password)


def test_the_admin_password_change_still_works_with_the_right_old_password(world):
    world.admin.is_staff = True
    world.admin.save(update_fields=["is_staff"])
    admin = Client()
    admin.force_login(world.admin)
    resp = admin.post(
        reverse("admin:password_change"),
        {
            "old_password": world.password,
            "new_password1": "Another-pass-2027",
            "new_password2": "Another-pass-2027",
        },
    )
    assert resp.status_code == 302 and resp["Location"] == reverse("admin:password_change_done")
    assert User.objects.get(pk=world.admin.pk).check_password("Another-pass-2027")
    assert Client().get(reverse("admin:password_change")).status_code == 302  # anonymous: to the admin login
