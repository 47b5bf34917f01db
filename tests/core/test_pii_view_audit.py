"""Every unmasked view of personal data in the audit trail and in exports leaves one customer.view_pii row
per request, listing what was shown (issue 11); roles without customer.view_pii read it masked and leave
none.

By hand: phone 13912345678 → 139****5678; ID number 110101199003071237 → 110101********1237."""

import csv
import io

import pytest
from django.urls import reverse

from gridcare.core.audit import Actor, audit_record
from gridcare.core.models import AuditEvent

PHONE, PHONE_MASKED = "13912345678", "139****5678"
ID_NUMBER, ID_MASKED = "110101199003071237", "110101********1237"


@pytest.fixture
def events(world):
    """Two rows of bureau A's customer: one with a phone and an ID number in `changes`, one without."""
    pii = audit_record(
        actor=Actor(),
        action="customer.update",
        obj=world.cust_a,
        customer_id=world.cust_a.pk,
        unit_id=world.station_a.pk,
        changes={"phone": ["13800000000", PHONE], "id_number": ["", ID_NUMBER]},
    )
    plain = audit_record(
        actor=Actor(),
        action="customer.update",
        obj=world.cust_a,
        customer_id=world.cust_a.pk,
        unit_id=world.station_a.pk,
        changes={"segment": ["normal", "vip"]},
    )
    return pii, plain


def _pii_rows():
    return list(AuditEvent.objects.filter(action="customer.view_pii").order_by("id"))


@pytest.mark.parametrize(
    "url", ["/api/v1/audit-events?action=customer.update", "/api/v1/customers/{cust}/audit"]
)
def test_audit_trail_masked_without_the_right_whole_and_audited_with_it(world, events, login, url):
    pii, plain = events
    url = url.format(cust=world.cust_a.pk)
    agent = login(world.a_agent)  # audit.view, no customer.view_pii
    body = agent.get(url).json()
    items = body["items"] if isinstance(body, dict) else body
    shown = {e["id"]: e["changes"] for e in items}
    assert shown[pii.pk] == {"phone": ["138****0000", PHONE_MASKED], "id_number": ["", ID_MASKED]}
    assert _pii_rows() == []
    clerk = login(world.a_clerk)  # audit.view and customer.view_pii
    body = clerk.get(url).json()
    items = body["items"] if isinstance(body, dict) else body
    shown = {e["id"]: e["changes"] for e in items}
    assert shown[pii.pk] == {"phone": ["13800000000", PHONE], "id_number": ["", ID_NUMBER]}
    [row] = _pii_rows()
    assert (row.actor_id, row.channel, row.object_type, row.customer_id) == (
        world.a_clerk.pk,
        "api",
        "core.auditevent",
        world.cust_a.pk,
    )
    # only the event that had personal data in it is listed, not the plain one
    assert row.changes["object_ids"] == [str(pii.pk)] and row.changes["customer_ids"] == [world.cust_a.pk]
    # the audit row about the view holds no personal data: reading the trail again lists it as nothing new
    clerk.get(url)
    assert len(_pii_rows()) == 2 and _pii_rows()[1].changes["object_ids"] == [str(pii.pk)]


def test_unmasked_export_lists_the_exported_customers(client, world):
    world.cust_a.id_number = ID_NUMBER
    world.cust_a.save()
    client.force_login(world.a_manager)  # customer.export and customer.view_pii
    masked = client.get(reverse("console:export"), {"q": "张三", "format": "csv"})
    text = b"".join(masked.streaming_content).decode()
    assert "138****5678" in text and "13812345678" not in text  # the fixture's phone, masked
    assert _pii_rows() == []
    resp = client.get(reverse("console:export"), {"q": "张三", "format": "csv", "reveal": "1"})
    rows = list(csv.reader(io.StringIO(b"".join(resp.streaming_content).decode("utf-8").lstrip("\ufeff"))))
    assert rows[1][5] == ID_NUMBER and rows[1][6] == "13812345678"
    [row] = _pii_rows()
    assert (row.object_type, row.changes) == (
        "customers.customer",
        {
            "source": "console.customer_export",
            "object_ids": [str(world.cust_a.pk)],
            "customer_ids": [world.cust_a.pk],
        },
    )
    assert AuditEvent.objects.filter(action="customer.export").count() == 2


def test_whoever_edits_a_customer_file_may_see_it_whole():
    """The edit form holds the file whole (an audited view, customers.views.customer_edit), so customer.edit
    never goes without customer.view_pii."""
    from gridcare.core.permissions import ROLE_PERMISSIONS, Perm

    editors = {r for r, p in ROLE_PERMISSIONS.items() if Perm.CUSTOMER_EDIT in p}
    assert editors and all(Perm.CUSTOMER_VIEW_PII in ROLE_PERMISSIONS[r] for r in editors)


def test_opening_the_edit_form_is_an_audited_view(world, login):
    clerk = login(world.a_clerk)
    assert clerk.get(f"/customers/{world.cust_a.pk}/edit/").status_code == 200
    [row] = _pii_rows()
    assert (row.actor_id, row.customer_id, row.channel) == (world.a_clerk.pk, world.cust_a.pk, "console")


def test_protection_reason_read_whole_is_audited(world, login):
    """The protection reason is medical information: the agent reads "" and leaves no row; the counter
    clerk (customer.view_pii) reads it on the page and in the API, one customer.view_pii row each."""
    world.acct_a.protected, world.acct_a.protected_reason = True, "家中有呼吸机"
    world.acct_a.save(update_fields=["protected", "protected_reason"])
    page, api = (
        "/payments/collections/accounts/3100000001/",
        "/api/v1/collections/accounts/3100000001/timeline",
    )
    agent = login(world.a_agent)
    assert "家中有呼吸机" not in agent.get(page).content.decode()
    assert agent.get(api).json()["protected_reason"] == ""
    assert _pii_rows() == []
    clerk = login(world.a_clerk)
    assert "家中有呼吸机" in clerk.get(page).content.decode()
    assert clerk.get(api).json()["protected_reason"] == "家中有呼吸机"
    rows = _pii_rows()
    assert [(r.channel, r.object_type, r.changes) for r in rows] == [
        (
            channel,
            "customers.account",
            {
                "source": f"{channel}.collections_account",
                "object_ids": ["3100000001"],
                "customer_ids": [world.cust_a.pk],
            },
        )
        for channel in ("console", "api")
    ]


@pytest.mark.parametrize(
    "changes, about_customer, expected",
    [
        ({"phone": ["13800000000", PHONE]}, False, True),
        ({"after": {"id_number": ID_NUMBER}}, True, True),
        ({"bank_account": "6222****1234"}, True, False),  # recorded masked already: nothing shown whole
        ({"name": "东关营业厅"}, False, False),  # a service hall's name is nobody's personal data
        ({"name": ["张三", "张三丰"]}, True, True),  # a customer's name is
        ({"segment": ["normal", "vip"], "count": 3}, True, False),
    ],
)
def test_which_changes_hold_personal_data(changes, about_customer, expected):
    from gridcare.core.masking import audit_changes_hold_pii

    assert audit_changes_hold_pii(changes, about_customer=about_customer) is expected
