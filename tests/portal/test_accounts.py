"""The account list and detail: a customer sees only accounts bound to them; staff get 404 here."""

from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gridcare.customers.models import Meter, PortalBinding
from gridcare.org.models import User

from ..factories import make_account

LIST = reverse("portal:accounts")


def _bind(user, *accounts):
    for account in accounts:
        PortalBinding.objects.create(user=user, account=account, created_at=account.customer.created_at)


def _detail(number):
    return reverse("portal:account_detail", args=[number])


def test_empty_list_invites_to_bind(customer_client):
    page = customer_client.get(LIST).content.decode()
    assert "您还没有绑定户号" in page
    assert f'href="{reverse("portal:bind")}"' in page


def test_list_shows_the_bound_account_with_its_details(customer_client, world):
    _bind(world.portal_user, world.acct_a)

    response = customer_client.get(LIST)

    assert response.status_code == 200
    page = response.content.decode()
    for expected in (
        "3100000001",
        "东关镇人民路18号",
        "东关供电所",
        "正常",
        "220V",
        "8.0 kVA",
        "M3100000001",
        "张三",
    ):
        assert expected in page, expected
    assert "138****5678" in page
    assert "13812345678" not in page  # the phone stays masked, even for its owner


def test_list_shows_only_accounts_bound_to_the_user(customer_client, world):
    other = User.objects.create_user("13600000003", password=world.password)
    _bind(other, world.acct_b)
    _bind(world.portal_user, world.acct_a)

    page = customer_client.get(LIST).content.decode()

    assert "3100000001" in page
    assert "3200000001" not in page
    assert "西关镇解放街7号" not in page
    assert "李四" not in page


def test_removed_meters_are_not_listed(customer_client, world):
    _bind(world.portal_user, world.acct_a)
    Meter.objects.filter(asset_number="M3100000001").update(removed_on=date(2024, 1, 1))
    assert "M3100000001" not in customer_client.get(LIST).content.decode()


def test_list_query_count_does_not_grow_with_accounts(customer_client, world):
    _bind(world.portal_user, world.acct_a)
    customer_client.get(LIST)  # warm the session and content-type caches
    with CaptureQueriesContext(connection) as one:
        assert customer_client.get(LIST).status_code == 200
    more = [
        make_account(world.cust_a, f"31000001{i:02d}", world.area_a, address=f"东关镇新街{i}号")
        for i in range(5)
    ]
    _bind(world.portal_user, *more)
    with CaptureQueriesContext(connection) as six:
        page = customer_client.get(LIST).content.decode()
    assert all(a.account_number in page for a in more)
    assert len(six) == len(one)
    # Money adds three: the open bills, the credit and the open disconnection cases of all accounts at once.
    assert len(one) <= 9, [q["sql"][:60] for q in one.captured_queries]


def test_detail_of_a_bound_account(customer_client, world):
    _bind(world.portal_user, world.acct_a)

    response = customer_client.get(_detail("3100000001"))

    assert response.status_code == 200
    page = response.content.decode()
    for expected in (
        "3100000001",
        "东关镇人民路18号",
        "东关供电所",
        "220V",
        "8.0 kVA",
        "M3100000001",
        "2020-01-01",
    ):
        assert expected in page, expected
    assert f'action="{reverse("portal:unbind", args=["3100000001"])}"' in page


def test_detail_of_an_unbound_account_is_the_same_404_as_an_unknown_one(customer_client, world):
    _bind(world.portal_user, world.acct_a)
    unknown = customer_client.get(_detail("9999999999"))
    malformed = customer_client.get(_detail("abc"))
    not_bound = customer_client.get(_detail("3200000001"))

    assert unknown.status_code == malformed.status_code == not_bound.status_code == 404
    assert unknown.content == not_bound.content == malformed.content


def test_closed_bound_account_is_shown_as_closed(customer_client, world, closed_account):
    _bind(world.portal_user, closed_account)
    page = customer_client.get(LIST).content.decode()
    assert "3100000002" in page
    assert "已销户" in page


@pytest.mark.parametrize("url", [LIST, _detail("3100000001"), reverse("portal:bind")])
def test_anonymous_visitors_are_sent_to_the_portal_login(client, world, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:login')}?next={url}"


@pytest.mark.parametrize("who", ["a_clerk", "b_clerk", "a_agent", "admin", "a_manager"])
@pytest.mark.parametrize("url", [LIST, _detail("3100000001")])
def test_staff_get_404_on_the_customer_pages(client, world, who, url):
    _bind(world.portal_user, world.acct_a)
    client.force_login(getattr(world, who))
    assert client.get(url).status_code == 404


def test_deactivated_customer_is_sent_back_to_the_portal_login(world):
    _bind(world.portal_user, world.acct_a)
    client = Client()
    client.force_login(world.portal_user)
    User.objects.filter(pk=world.portal_user.pk).update(is_active=False)
    # Django's ModelBackend refuses inactive users, so the session no longer authenticates.
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_detail_lists_issued_bills_of_the_bound_account_only(customer_client, world):
    from decimal import Decimal

    from django.utils import timezone

    from gridcare.billing.models import Bill

    def bill(account, month, amount, status):
        return Bill.objects.create(
            account=account,
            unit=account.unit,
            period_start=date(2026, month, 1),
            period_end=date(2026, month, 28),
            tariff_code="RES-TIER",
            kwh_total=Decimal("150"),
            amount=Decimal(amount),
            status=status,
            due_date=date(2026, month + 1, 10),
            created_at=timezone.now(),
        )

    bill(world.acct_a, 9, "80.70", "issued")
    bill(world.acct_a, 10, "99.99", "draft")  # a draft is not shown to the customer yet
    bill(world.acct_b, 9, "55.55", "issued")  # another customer's bill
    _bind(world.portal_user, world.acct_a)
    page = customer_client.get(_detail("3100000001")).content.decode()
    assert "80.70" in page and "2026-09" in page
    assert "99.99" not in page and "55.55" not in page
    assert customer_client.get(_detail("3200000001")).status_code == 404
