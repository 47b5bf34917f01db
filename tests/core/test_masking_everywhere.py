"""One masking helper for every surface: the same name, phone, address and bank account read the same in the
console, the portal, the public query and the API (gridcare.core.masking).

Expected values by hand (SPEC C1):
- a person's name keeps its first character: 张三 → 张*; an organisation's registered name is not personal data
  and is shown whole everywhere: 东关机械厂 → 东关机械厂 (the console showed it whole, the portal and the public
  query masked it: 东****);
- phone 13812345678 → 138****5678;
- address 东关镇人民路18号 (9 characters) keeps max(3, min(9 // 2, 9)) = 4: 东关镇人****;
- bank account 6222021234567890128 → first 4 + **** + last 4: 6222****0128.
"""

import html
import re
from datetime import date

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.customers.choices import CustomerKind
from gridcare.customers.models import PortalBinding
from gridcare.payments.channels import withholding as wh
from tests.factories import CustomerFactory, UserFactory, make_account

NAME, ORG = "张*", "东关机械厂"
PHONE = "138****5678"
ADDRESS = "东关镇人****"
CARD = "6222****0128"


@pytest.fixture
def setup(world):
    org = CustomerFactory(name="东关机械厂", kind=CustomerKind.ORGANISATION, unit=world.station_a)
    acct_org = make_account(org, "3100000002", world.area_a, address="东关镇工业园3号")
    world.acct_a.premise.address = "东关镇人民路18号"
    world.acct_a.premise.save()
    for acct in (world.acct_a, acct_org):
        PortalBinding.objects.create(user=world.portal_user, account=acct, created_at=timezone.now())
    wh.agreement_create(
        actor=Actor(),
        account_number="3100000001",
        bank_code="105",
        bank_account="6222021234567890128",
        holder_name="张三",
        signed_on=date(2026, 1, 5),
    )
    world.org = org
    from gridcare.core.permissions import Role

    world.a_billing = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    return world


def text(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return html.unescape(resp.content.decode())


def dd(body: str, testid: str) -> str:
    m = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', body)
    assert m, testid
    return m[1].strip()


def test_names_mask_identically_in_console_portal_and_api(setup, login):
    w = setup
    agent = login(w.a_agent)  # may view customers, not unmask them
    portal = login(w.portal_user)
    anonymous = login()
    for customer, number, expected in ((w.cust_a, "3100000001", NAME), (w.org, "3100000002", ORG)):
        page = text(agent.get(f"/customers/{customer.pk}/"))
        shown = {
            "console customer page": re.search(r'data-testid="customer-name">([^<]*?) <span', page)[1],
            "console ledger": _ledger_name(text(agent.get(f"/payments/accounts/{number}/ledger/"))),
            "API customer": agent.get(f"/api/v1/customers/{customer.pk}").json()["name"],
            "API public query": anonymous.get(f"/api/v1/public/accounts/{number}").json()["name"],
            "portal query page": _query_name(
                text(anonymous.post("/portal/query/", {"account_number": number}))
            ),
            "portal pay page": dd(text(portal.get(f"/portal/pay/{number}/")), "pay-name"),
        }
        assert shown == dict.fromkeys(shown, expected), shown


def _ledger_name(body: str) -> str:
    m = re.search(r"<dt>户名</dt><dd[^>]*>([^<]*)</dd>", body)
    assert m, "ledger shows the account holder"
    return m[1].strip()


def _query_name(body: str) -> str:
    m = re.search(r"<dt>客户名称</dt><dd>([^<]*)</dd>", body)
    assert m, "public query result"
    return m[1].strip()


def test_phone_address_and_bank_account_mask_identically(setup, login):
    w = setup
    agent, portal, anonymous = login(w.a_agent), login(w.portal_user), login()
    # phone: console page, API, portal account card
    assert dd(text(agent.get(f"/customers/{w.cust_a.pk}/")), "phone") == PHONE
    assert agent.get(f"/api/v1/customers/{w.cust_a.pk}").json()["phone"] == PHONE
    assert f"{PHONE}" in text(portal.get("/portal/accounts/3100000001/"))
    # address: public query API, portal pay page, console ledger page, console audit timeline (account.open)
    assert anonymous.get("/api/v1/public/accounts/3100000001").json()["address"] == ADDRESS
    assert f"<dt>用电地址</dt><dd>{ADDRESS}</dd>" in text(portal.get("/portal/pay/3100000001/"))
    assert ADDRESS in text(agent.get("/payments/accounts/3100000001/ledger/"))
    # bank account: console agreements page, API, audit trail (console timeline and API)
    billing = login(w.a_billing)
    assert f"<td>{CARD}</td>" in text(billing.get("/payments/withholding/agreements/"))
    [agreement] = billing.get("/api/v1/withholding/agreements").json()
    assert agreement["bank_account"] == CARD
    timeline = text(agent.get(f"/customers/{w.cust_a.pk}/"))
    assert f"<td>银行账号</td><td>—</td><td>{CARD}</td>" in timeline
    events = agent.get("/api/v1/audit-events?action=withholding_agreement.create").json()["items"]
    assert [e["changes"]["bank_account"] for e in events] == [CARD]
    # nowhere the clear values
    for body in (timeline, text(portal.get("/portal/pay/3100000001/"))):
        assert "13812345678" not in body and "6222021234567890128" not in body


def test_the_helpers():
    from gridcare.core.masking import (
        mask_account_number,
        mask_bank_account,
        mask_customer_name,
        mask_openid,
    )

    assert mask_customer_name("张三", "person") == "张*"
    assert mask_customer_name("东关机械厂", "organisation") == "东关机械厂"
    assert mask_bank_account("6222021234567890128") == "6222****0128"
    assert mask_bank_account("6222****0128") == "6222****0128"  # an audit row stores it masked already
    assert mask_bank_account("12345678") == "********"
    assert mask_account_number("3100000001") == "******0001"
    assert mask_openid("oAbc_123456") == "oAbc****" and mask_openid("***") == "***"
