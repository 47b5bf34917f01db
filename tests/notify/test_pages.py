"""Delivery status on the customer page and API, and preference pages for staff and the portal customer.

张三's phone is 13812345678: staff without customer.view_pii (the 95598 agent) see 138****5678.
"""

from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gridcare.core.models import AuditEvent
from gridcare.customers.models import Customer, PortalBinding
from gridcare.notify import dispatch, outbox
from gridcare.notify.models import Notification, NotifyPreference

from .conftest import at


def notice(world, key, customer=None):
    return outbox.notification_enqueue(
        kind="emergency",
        customer_id=(customer or world.cust_a).pk,
        context={"text": "台风预警"},
        dedupe_key=key,
        now=at(2026, 11, 5, 10),
    )


@pytest.mark.parametrize(
    ("who", "status", "recipient"),
    [
        (None, 401, None),
        ("portal_user", 404, None),
        ("b_clerk", 404, None),
        ("a_agent", 200, "138****5678"),
        ("a_clerk", 200, "138****5678"),  # masked by default even for customer.view_pii roles
        ("a_manager", 200, "138****5678"),
        ("admin", 200, "138****5678"),
    ],
)
def test_notifications_api_matrix(world, login, who, status, recipient):
    notice(world, "n1")
    r = login(getattr(world, who) if who else None).get(
        f"/api/v1/notify/notifications?customer_id={world.cust_a.pk}"
    )
    assert r.status_code == status
    if recipient:
        [row] = r.json()
        assert (row["recipient"], row["kind"], row["status"], row["attempts"]) == (
            recipient,
            "emergency",
            "pending",
            0,
        )


@pytest.mark.parametrize("who", ["a_agent", "a_clerk", "a_manager", "admin"])
def test_customer_page_masks_recipients_for_every_role_until_the_audited_reveal(world, login, who):
    notice(world, "n1")
    client = login(getattr(world, who))
    url = f"/customers/{world.cust_a.pk}/"
    page = client.get(url).content.decode()
    assert "13812345678" not in page and "138****5678" in page
    assert not AuditEvent.objects.filter(action="customer.view_pii").exists()
    revealed = client.get(url + "?reveal=1")
    if who == "a_agent":  # no customer.view_pii: no reveal at all
        assert revealed.status_code == 404
        assert not AuditEvent.objects.filter(action="customer.view_pii").exists()
        return
    notices = revealed.content.decode().split('data-testid="notifications"')[1]
    assert "13812345678" in notices
    assert (
        AuditEvent.objects.filter(
            action="customer.view_pii", customer_id=world.cust_a.pk, actor=getattr(world, who)
        ).count()
        == 1
    )


def test_api_reveal_needs_view_pii_and_is_audited(world, login):
    notice(world, "n1")
    url = f"/api/v1/notify/notifications?customer_id={world.cust_a.pk}&reveal=true"
    r = login(world.a_agent).get(url)
    assert r.status_code == 403
    assert not AuditEvent.objects.filter(action="customer.view_pii").exists()
    r = login(world.b_clerk).get(url)
    assert r.status_code == 404
    assert not AuditEvent.objects.filter(action="customer.view_pii").exists()
    [row] = login(world.a_clerk).get(url).json()
    assert row["recipient"] == "13812345678"
    assert (
        AuditEvent.objects.filter(
            action="customer.view_pii", customer_id=world.cust_a.pk, actor=world.a_clerk
        ).count()
        == 1
    )


def test_api_lists_the_last_20_newest_first(world, login):
    for i in range(25):
        notice(world, f"n{i:02d}")
    rows = login(world.a_clerk).get(f"/api/v1/notify/notifications?customer_id={world.cust_a.pk}").json()
    assert len(rows) == 20 and rows[0]["id"] > rows[-1]["id"]


def test_customer_page_shows_masked_delivery_status_with_bounded_queries(world, login):
    notice(world, "first")
    dispatch.outbox_dispatch(now=at(2026, 11, 5, 10))
    agent = login(world.a_agent)
    url = f"/customers/{world.cust_a.pk}/"
    with CaptureQueriesContext(connection) as one:
        page = agent.get(url).content.decode()
    assert 'data-testid="notifications"' in page and "138****5678" in page and "13812345678" not in page
    assert "已发送" in page and "2026-11-05 10:00" in page
    assert "notify-prefs" not in page  # the agent may not edit preferences
    for i in range(30):
        notice(world, f"more{i}")
    with CaptureQueriesContext(connection) as many:
        agent.get(url)
    assert len(many) == len(one)  # 31 notices cost what 1 did
    assert "notify-prefs" in login(world.a_clerk).get(url).content.decode()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 302),
        ("portal_user", 404),
        ("a_agent", 404),
        ("b_clerk", 404),
        ("a_clerk", 200),
    ],
)
def test_staff_preferences_page_matrix(world, login, who, status):
    url = f"/notify/customers/{world.cust_a.pk}/preferences/"
    c = login(getattr(world, who) if who else None)
    assert c.get(url).status_code == status
    r = c.post(url, {"notify_sms": "on", "quiet_start": "23:00", "quiet_end": "07:00"})
    assert r.status_code == (302 if status == 200 else status)
    changed = NotifyPreference.objects.filter(customer=world.cust_a, quiet_start=time(23, 0)).exists()
    assert changed == (status == 200)


def test_staff_edits_preferences_and_it_is_audited(world, login):
    c = login(world.a_clerk)
    url = f"/notify/customers/{world.cust_a.pk}/preferences/"
    bad = c.post(url, {"notify_wechat": "on", "quiet_start": "23:00", "quiet_end": "07:00"})
    assert bad.status_code == 400 and "开通微信通知需要填写微信用户标识" in bad.content.decode()
    assert not NotifyPreference.objects.exists()
    r = c.post(
        url,
        {
            "notify_wechat": "on",
            "wechat_openid": "oAbc_123",
            "greetings_opt_out": "on",
            "quiet_start": "23:00",
            "quiet_end": "07:00",
        },
    )
    assert r.status_code == 302
    cust = Customer.objects.get(pk=world.cust_a.pk)
    pref = NotifyPreference.objects.get(customer=cust)
    assert (cust.notify_sms, cust.notify_wechat) == (False, True)
    assert (pref.quiet_start, pref.quiet_end, pref.wechat_openid, pref.greetings_opt_out) == (
        time(23, 0),
        time(7, 0),
        "oAbc_123",
        True,
    )
    ev = AuditEvent.objects.get(action="notify.preference_update")
    assert ev.customer_id == cust.pk and ev.changes["quiet_start"] == ["22:00", "23:00"]
    assert ev.changes["wechat_openid"] == ["", "***"]  # the openid itself stays out of the audit trail
    # The new quiet hours apply: 22:30 is no longer quiet, 23:30 waits for 07:00.
    [early] = outbox.notification_enqueue(
        kind="refund",
        customer_id=cust.pk,
        context={"amount": 5},
        dedupe_key="r1",
        now=at(2026, 11, 5, 22, 30),
    )
    assert early.not_before == at(2026, 11, 5, 22, 30)
    [late] = outbox.notification_enqueue(
        kind="refund",
        customer_id=cust.pk,
        context={"amount": 5},
        dedupe_key="r2",
        now=at(2026, 11, 5, 23, 30),
    )
    assert late.not_before == at(2026, 11, 6, 7, 0)


def test_portal_customer_edits_own_preferences(world, login):
    url = "/portal/notify/3100000001/"
    assert login().get(url).status_code == 302
    assert login(world.a_clerk).get(url).status_code == 404  # staff use the console
    c = login(world.portal_user)
    assert c.get(url).status_code == 404  # not bound yet
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    assert c.get(url).status_code == 200
    assert c.get("/portal/notify/3200000001/").status_code == 404  # someone else's account
    r = c.post(
        url, {"notify_sms": "on", "quiet_start": "21:00", "quiet_end": "09:00", "greetings_opt_out": "on"}
    )
    assert r.status_code == 302
    pref = NotifyPreference.objects.get(customer=world.cust_a)
    assert (pref.quiet_start, pref.greetings_opt_out) == (time(21, 0), True)
    ev = AuditEvent.objects.get(action="notify.preference_update")
    assert ev.channel == "portal" and ev.actor_id == world.portal_user.pk
    assert "notify-prefs" in c.get("/portal/accounts/3100000001/").content.decode()
    assert Notification.objects.count() == 0


def test_wechat_field_is_labelled_in_chinese_without_openid(world, login):
    """微信OpenID was the label on the console and portal preference pages; it reads 微信用户标识 now."""
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    pages = [
        login(world.a_clerk).get(f"/notify/customers/{world.cust_a.pk}/preferences/"),
        login(world.portal_user).get("/portal/notify/3100000001/"),
    ]
    for resp in pages:
        body = resp.content.decode()
        assert resp.status_code == 200
        assert '<label for="id_wechat_openid">微信用户标识</label>' in body
        assert "OpenID" not in body
