"""Portal login (the shared login_view with portal=True): customers only, lockout, safe `next`, logout."""

from django.urls import reverse

from gridcare.core.models import AuditEvent
from gridcare.org.models import User

URL = reverse("portal:login")


def test_login_page_renders(client, world):
    response = client.get(URL)
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
    assert "客户登录" in response.content.decode()


def test_customer_logs_in_and_lands_on_the_account_list(client, world):
    response = client.post(URL, {"username": world.portal_user.username, "password": world.password})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:accounts")
    assert client.get(reverse("portal:accounts")).status_code == 200


def test_login_follows_a_local_next_but_not_a_foreign_one(client, world):
    creds = {"username": world.portal_user.username, "password": world.password}
    response = client.post(f"{URL}?next=/portal/bind/", creds)
    assert response["Location"] == "/portal/bind/"
    client.logout()
    response = client.post(URL, {**creds, "next": "https://evil.example/"})
    assert response["Location"] == reverse("portal:accounts")


def test_wrong_password_is_refused(client, world):
    response = client.post(URL, {"username": world.portal_user.username, "password": "wrong-password"})
    assert response.status_code == 400
    assert "用户名或密码错误，或账号已暂时锁定，请稍后再试" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_staff_cannot_log_in_through_the_portal(client, world):
    response = client.post(URL, {"username": world.a_clerk.username, "password": world.password})
    assert response.status_code == 400
    assert "用户名或密码错误，或账号已暂时锁定，请稍后再试" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_repeated_failures_lock_the_portal_account(client, world, settings):
    limit = settings.GRIDCARE["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert (
            client.post(URL, {"username": world.portal_user.username, "password": "wrong"}).status_code == 400
        )

    response = client.post(URL, {"username": world.portal_user.username, "password": world.password})

    # the right password is refused now, with the message every refusal gets (nothing says "locked")
    assert response.status_code == 400
    assert "用户名或密码错误，或账号已暂时锁定，请稍后再试" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert User.objects.get(pk=world.portal_user.pk).locked_until is not None
    locked = AuditEvent.objects.get(action="user.locked", object_id=str(world.portal_user.pk))
    assert locked.channel == "portal"
    assert AuditEvent.objects.filter(action="user.login_failed", channel="portal").count() == limit - 1


def test_logged_in_customer_visiting_login_goes_to_accounts(customer_client):
    response = customer_client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:accounts")


def test_logout_returns_a_customer_to_the_portal_login(customer_client):
    response = customer_client.post(reverse("console:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:login")
    follow = customer_client.get(reverse("portal:accounts"))
    assert follow.status_code == 302
    assert follow["Location"].startswith(reverse("portal:login"))


def test_home_links_to_login_register_and_query(client, world):
    page = client.get(reverse("portal:home")).content.decode()
    for name in ("portal:login", "portal:register", "portal:query"):
        assert f'href="{reverse(name)}"' in page


def test_home_for_a_customer_links_to_accounts_bind_and_logout(customer_client):
    page = customer_client.get(reverse("portal:home")).content.decode()
    for name in ("portal:accounts", "portal:bind"):
        assert f'href="{reverse(name)}"' in page
    assert f'action="{reverse("console:logout")}"' in page
