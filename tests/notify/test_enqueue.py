"""Enqueue: rendering, channels and suppression, quiet hours with an injected clock, dedupe, bad templates.

Given 张三 (account 3100000001, phone 13812345678, SMS on by default) in station A1, when a notice is
enqueued, then one outbox row per enabled channel is written with the zh-CN text, held back to 08:00
Beijing time when it was created in the quiet hours (22:00–08:00) unless it is an outage or emergency.
"""

from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.masking import mask_account_number
from gridcare.customers.models import Customer
from gridcare.notify import outbox, preferences, templates_render
from gridcare.notify.choices import Kind, SuppressReason
from gridcare.notify.models import NoticeTemplate, Notification, NotifyPreference

from .conftest import at

D = Decimal
BILL_CTX = {"period": "2026年10月", "amount": D("80.7"), "due_date": date(2026, 11, 20)}


def enqueue(world, kind=Kind.BILL_ISSUED, key="k1", now=None, context=None, customer=None):
    customer = customer or world.cust_a
    return outbox.notification_enqueue(
        kind=kind,
        customer_id=customer.pk,
        account_id=customer.accounts.first().pk,
        context=BILL_CTX if context is None else context,
        dedupe_key=key,
        now=now or at(2026, 11, 5, 10),
    )


def test_bill_issued_sms_text(world):
    [n] = enqueue(world)
    # Account masked to its last 4 digits, 80.7 shown with two decimals, the date in Chinese.
    assert (
        n.body
        == "【供电服务】尊敬的客户，您户号******0001的2026年10月电费80.70元已发行，请于2026年11月20日前缴纳。"
    )
    assert (n.channel, n.recipient, n.status, n.attempts) == ("sms", "13812345678", "pending", 0)
    assert n.unit_id == world.station_a.pk and n.dedupe_key == "k1:sms"
    assert n.not_before == n.next_attempt_at == at(2026, 11, 5, 10)


def test_amount_rounds_half_up(world):
    [n] = enqueue(world, context={**BILL_CTX, "amount": D("12.345")})
    assert "电费12.35元" in n.body  # 12.345 → 12.35 (half up, not banker's 12.34)


def test_fans_out_to_every_enabled_channel(world):
    Customer.objects.filter(pk=world.cust_a.pk).update(
        notify_wechat=True, notify_email=True, email="zs@example.cn"
    )
    NotifyPreference.objects.create(customer=world.cust_a, wechat_openid="oAbc123", updated_at=at(2026, 1, 1))
    rows = {n.channel: n for n in enqueue(world)}
    assert set(rows) == {"sms", "wechat", "email"}
    assert rows["email"].recipient == "zs@example.cn"
    assert rows["email"].subject == "2026年10月电费账单（户号3100000001）"
    assert rows["wechat"].recipient == "oAbc123"
    assert rows["wechat"].payload["data"]["keyword3"] == "80.70元"
    assert rows["wechat"].payload["data"]["keyword1"] == "3100000001"


def test_no_channel_enabled_is_one_suppressed_row(world):
    Customer.objects.filter(pk=world.cust_a.pk).update(notify_sms=False)
    [n] = enqueue(world)
    assert (n.status, n.suppressed_reason, n.channel) == ("suppressed", SuppressReason.NO_CHANNEL, "")


def test_channel_without_recipient_is_suppressed(world):
    Customer.objects.filter(pk=world.cust_a.pk).update(notify_email=True, email="")
    rows = {n.channel: n for n in enqueue(world)}
    assert rows["sms"].status == "pending"
    assert (rows["email"].status, rows["email"].suppressed_reason) == (
        "suppressed",
        SuppressReason.NO_RECIPIENT,
    )


def test_greeting_opt_out_suppresses_greetings_only(world):
    NotifyPreference.objects.create(customer=world.cust_a, greetings_opt_out=True, updated_at=at(2026, 1, 1))
    [g] = enqueue(world, kind=Kind.GREETING, key="g", context={"text": "中秋快乐"})
    assert (g.status, g.suppressed_reason) == ("suppressed", SuppressReason.OPTED_OUT)
    [b] = enqueue(world, key="b")
    assert b.status == "pending"


@pytest.mark.parametrize(
    ("created", "released"),
    [
        (at(2026, 11, 5, 21, 59, 59), None),  # just before 22:00: goes now
        (at(2026, 11, 5, 22, 0), at(2026, 11, 6, 8, 0)),  # 22:00 is quiet: next morning 08:00
        (at(2026, 11, 5, 23, 30), at(2026, 11, 6, 8, 0)),
        (at(2026, 11, 6, 0, 0), at(2026, 11, 6, 8, 0)),  # after midnight: the same morning
        (at(2026, 11, 6, 7, 59, 59), at(2026, 11, 6, 8, 0)),
        (at(2026, 11, 6, 8, 0), None),  # 08:00 is no longer quiet
    ],
)
def test_quiet_hours_boundaries(world, created, released):
    [n] = enqueue(world, now=created)
    assert n.not_before == (released or created)
    assert n.next_attempt_at == n.not_before


@pytest.mark.parametrize("kind", [Kind.OUTAGE, Kind.EMERGENCY])
def test_outage_and_emergency_ignore_quiet_hours(world, kind):
    ctx = {"reason": "线路检修", "area": "东关镇", "start": "11月6日8时", "end": "18时", "text": "台风预警"}
    [n] = enqueue(world, kind=kind, context=ctx, now=at(2026, 11, 5, 23, 0))
    assert n.not_before == at(2026, 11, 5, 23, 0)


def test_customer_quiet_hours_within_a_day(world):
    NotifyPreference.objects.create(
        customer=world.cust_a, quiet_start=time(12, 0), quiet_end=time(14, 0), updated_at=at(2026, 1, 1)
    )
    [n] = enqueue(world, now=at(2026, 11, 5, 12, 30))
    assert n.not_before == at(2026, 11, 5, 14, 0)
    [m] = enqueue(world, key="k2", now=at(2026, 11, 5, 23, 0))  # 22:00 default no longer applies
    assert m.not_before == at(2026, 11, 5, 23, 0)


def test_same_dedupe_key_twice_is_one_row(world):
    first = enqueue(world)
    again = enqueue(world, now=at(2026, 11, 5, 11))
    assert [n.pk for n in first] == [n.pk for n in again]
    assert Notification.objects.count() == 1
    assert (
        outbox.notifications_enqueue_bulk(
            [
                {
                    "kind": Kind.BILL_ISSUED,
                    "customer_id": world.cust_a.pk,
                    "context": BILL_CTX,
                    "dedupe_key": "k1",
                }
            ]
        )
        == 0
    )


def test_bulk_writes_each_new_notice_once(world, django_assert_max_num_queries):
    items = [
        {
            "kind": Kind.DUE_REMINDER,
            "customer_id": c.pk,
            "account_id": c.accounts.first().pk,
            "context": {"amount": D("10"), "due_date": date(2026, 11, 20)},
            "dedupe_key": f"due:{c.pk}",
        }
        for c in (world.cust_a, world.cust_b)
    ]
    # templates, existing keys, customers, accounts, insert (+ savepoint)
    with django_assert_max_num_queries(8):
        assert outbox.notifications_enqueue_bulk(items, now=at(2026, 11, 5, 10)) == 2
    assert outbox.notifications_enqueue_bulk(items, now=at(2026, 11, 5, 10)) == 0
    assert Notification.objects.count() == 2


def test_deleted_template_falls_back_to_the_seeded_wording(world):
    """A payment must never fail because a receipt's wording was deleted in admin: the seeded default is used."""
    NoticeTemplate.objects.filter(kind=Kind.OVERDUE, channel="sms").delete()
    items = [{"kind": Kind.OVERDUE, "customer_id": world.cust_a.pk, "context": BILL_CTX, "dedupe_key": "od"}]
    assert outbox.notifications_enqueue_bulk(items) == 1
    n = Notification.objects.get()
    assert n.body.startswith("【供电服务】") and "逾期将按日加收违约金" in n.body


def test_broken_template_and_missing_variable(world):
    NoticeTemplate.objects.filter(kind=Kind.REFUND, channel="sms").update(body="{% if %}")
    with pytest.raises(ValidationError, match="通知模板有误"):
        enqueue(world, kind=Kind.REFUND, context={"amount": D("1")})
    with pytest.raises(ValidationError, match="需要变量 due_date"):
        enqueue(world, context={"period": "2026年10月", "amount": D("1")})
    with pytest.raises(ValidationError, match="未知的通知类型"):
        enqueue(world, kind="spam")
    assert not Notification.objects.exists()


def test_on_bills_issued_enqueues_each_bill_once(world, django_assert_max_num_queries):
    from gridcare.billing.services import on_bills_issued
    from tests.payments.ledger.test_ledger import issued_bill

    a = issued_bill(world.acct_a, "2026-10", "80.70", date(2026, 11, 20))
    b = issued_bill(world.acct_b, "2026-10", "120.00", date(2026, 11, 20))
    with django_assert_max_num_queries(10):
        on_bills_issued([a.pk, b.pk])
    on_bills_issued([a.pk, b.pk])  # called again (a retried job): nothing more
    rows = {n.customer_id: n for n in Notification.objects.all()}
    assert len(rows) == 2
    assert rows[world.cust_a.pk].dedupe_key == f"bill_issued:{a.pk}:sms"
    assert "2026年10月电费80.70元" in rows[world.cust_a.pk].body
    assert "2026年11月20日" in rows[world.cust_b.pk].body and "120.00元" in rows[world.cust_b.pk].body
    assert rows[world.cust_b.pk].account_id == world.acct_b.pk


def test_quiet_release_helper_with_equal_bounds():
    assert preferences.quiet_release(at(2026, 11, 5, 23), time(0, 0), time(0, 0)) is None
    assert mask_account_number("3100000001") == "******0001"
    assert at(2026, 11, 5, 22) + timedelta(hours=10) == at(2026, 11, 6, 8)


def test_reworded_template_with_tags_and_filters(world):
    """A bureau's rewording in admin may use tags and filters: Django's engine renders those."""
    NoticeTemplate.objects.filter(kind=Kind.DUE_REMINDER, channel="sms").update(
        body="{% if amount %}{{ customer_name|slice:':1' }}先生/女士，{{ account_number }}欠费{{ amount }}元{% endif %}"
    )
    [n] = enqueue(world, kind=Kind.DUE_REMINDER, context={"amount": D("7.5"), "due_date": date(2026, 11, 20)})
    assert n.body == "张先生/女士，3100000001欠费7.50元"
    subject, body, payload = templates_render.notice_render(
        kind=Kind.PAYMENT_RECEIPT,
        channel="wechat",
        context={
            "account_number": "3100000001",
            "amount": D("100"),
            "paid_at": at(2026, 11, 5, 9, 7),
            "account_masked": "******0001",
            "customer_name": "张三",
        },
    )
    assert body == "您户号******0001于2026年11月5日 09:07缴费100.00元成功，感谢您的支持。"
    assert payload["data"]["keyword3"] == "2026年11月5日 09:07"


def test_on_bills_issued_logs_instead_of_failing_the_issue(world, caplog):
    from gridcare.billing.services import on_bills_issued
    from tests.payments.ledger.test_ledger import issued_bill

    NoticeTemplate.objects.filter(kind=Kind.BILL_ISSUED, channel="sms").update(body="{% if %}")
    a = issued_bill(world.acct_a, "2026-10", "80.70", date(2026, 11, 20))
    on_bills_issued([a.pk])  # the bills stay issued; the problem is logged for the operator
    assert "bill issued notices failed (1 bills)" in caplog.text and "通知模板有误" in caplog.text
    assert not Notification.objects.exists()


def test_admin_form_refuses_a_broken_template(world):
    from gridcare.notify.admin import NoticeTemplateForm

    t = NoticeTemplate.objects.get(kind=Kind.OVERDUE, channel="sms")
    form = NoticeTemplateForm(
        {
            "kind": t.kind,
            "channel": t.channel,
            "subject": "",
            "body": "欠费{% if amount %}",
            "wechat_template_id": "",
            "wechat_fields": "{}",
        },
        instance=t,
    )
    assert not form.is_valid() and "模板语法错误" in str(form.errors["body"])
    ok = NoticeTemplateForm(
        {
            "kind": t.kind,
            "channel": t.channel,
            "subject": "",
            "body": "欠费{{ amount }}元",
            "wechat_template_id": "",
            "wechat_fields": "{}",
        },
        instance=t,
    )
    assert ok.is_valid(), ok.errors


def test_muted_block_enqueues_nothing(world):
    """Backfilling past events (the demo's year of history, a legacy migration) must not notify customers."""
    item = {"kind": Kind.OVERDUE, "customer_id": world.cust_a.pk, "context": BILL_CTX, "dedupe_key": "m1"}
    with outbox.notices_muted():
        assert outbox.notifications_enqueue_bulk([item]) == 0
    assert not Notification.objects.exists()
    assert outbox.notifications_enqueue_bulk([item]) == 1  # outside the block it goes as usual
