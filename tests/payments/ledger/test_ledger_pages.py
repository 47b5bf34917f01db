"""Account ledger page and API, reversal and late-fee waivers from the console and the API.

The pages compute the late fee as of today (`timezone.localdate()`), so the book is laid out relative to
today (T). 张三's account 3100000001 is residential: 0.1 % per day after the due date, 1.00 minimum.

Book:
- bill X 100.00 issued T−55, due T−40; bill Y 80.00 issued T−35, due T−10;
- payment P 150.00 in cash on T−30: X is 10 days late → fee 100 × 0.001 × 10 = 0.10 × 10 = 1.00 (also the
  minimum), paid first, then X's 100.00, then 49.00 of Y (not yet due).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.billing.models import Bill, BillStatus
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import ROLE_PERMISSIONS, Perm, Role
from gridcare.customers.models import PortalBinding
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import FeeWaiver, LedgerEntry, Payment, Receivable
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import pay

D = Decimal
API = "/api/v1"


def today() -> date:
    return timezone.localdate()


def bill(account, period: str, amount: str, due: date, issued: date) -> Bill:
    y, m = (int(x) for x in period.split("-"))
    b = Bill.objects.create(
        account=account,
        unit=account.unit,
        period_start=date(y, m, 1),
        period_end=date(y, m, 28),
        tariff_code="RES-TIER",
        kwh_total=D(0),
        amount=D(amount),
        status=BillStatus.ISSUED,
        due_date=due,
        issued_at=timezone.make_aware(datetime(issued.year, issued.month, issued.day, 9)),  # noqa: DTZ001
        created_at=timezone.now(),
    )
    services.receivables_open([b.pk])
    return b


@pytest.fixture
def billing_a(world):
    return UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)


@pytest.fixture
def billing_b(world):
    return UserFactory(username="b_billing", role=Role.BILLING_CLERK, unit=world.bureau_b)


@pytest.fixture
def b_manager(world):
    return UserFactory(username="b_manager", role=Role.MANAGER, unit=world.bureau_b)


@pytest.fixture
def book(world):
    t = today()
    x = bill(world.acct_a, "2026-05", "100.00", t - timedelta(days=40), t - timedelta(days=55))
    y = bill(world.acct_a, "2026-06", "80.00", t - timedelta(days=10), t - timedelta(days=35))
    p = pay("150.00", t - timedelta(days=30), "P-150").payment
    return {"x": Receivable.objects.get(bill=x), "y": Receivable.objects.get(bill=y), "p": p}


def ledger_url(number="3100000001"):
    return f"/payments/accounts/{number}/ledger/"


def snapshot():
    """What a refused request must leave untouched."""
    return (
        list(Payment.objects.order_by("pk").values_list("pk", "status", "unallocated")),
        list(Receivable.objects.order_by("pk").values_list("principal_paid", "fee_paid", "fee_waived")),
        LedgerEntry.objects.count(),
        FeeWaiver.objects.count(),
        list(FeeWaiver.objects.order_by("pk").values_list("status", flat=True)),
    )


# ---------------------------------------------------------------- the ledger page


def test_ledger_page_running_balance_and_open_bills(world, book, login):
    resp = login(world.a_clerk).get(ledger_url())
    assert resp.status_code == 200
    led = resp.context["ledger"]
    t = today()
    # Oldest first: X +100.00 → 100.00; Y +80.00 → 180.00; P −150.00 → 30.00; X's fee +1.00 → 31.00
    assert [(r.entry.occurred_on, r.entry.kind, r.entry.amount, r.balance) for r in led.entries] == [
        (t - timedelta(days=55), "bill", D("100.00"), D("100.00")),
        (t - timedelta(days=35), "bill", D("80.00"), D("180.00")),
        (t - timedelta(days=30), "payment", D("-150.00"), D("30.00")),
        (t - timedelta(days=30), "late_fee", D("1.00"), D("31.00")),
    ]
    assert led.balance == D("31.00") == selectors.ledger_balance(world.acct_a.pk)
    # Only Y is open: 80 − 49 = 31.00, 10 days late → 31 × 0.001 × 10 = 0.31 → the 1.00 minimum
    [y] = led.receivables
    assert (y.receivable.period, y.principal_outstanding, y.fee_unpaid, y.fee_accrued, y.days_overdue) == (
        "2026-06",
        D("31.00"),
        D("0.00"),
        D("1.00"),
        10,
    )
    assert led.amount_due == D("32.00")
    html = resp.content.decode()
    assert 'data-testid="amount-due">32.00<' in html and 'data-testid="balance">31.00<' in html
    # payments with channel, status and allocations: X 1.00 + 100.00, Y 0.00 + 49.00
    assert "柜台现金" in html and "已入账" in html and "2026-05：违约金 1.00 + 电费 100.00" in html
    assert "2026-06：违约金 0.00 + 电费 49.00" in html
    # a counter clerk may look but not reverse or ask for waivers
    assert "reverse-form-" not in html and "waiver-form-" not in html
    # the customer page links each account to its ledger
    detail = login(world.a_clerk).get(f"/customers/{world.cust_a.pk}/").content.decode()
    assert f'href="{ledger_url()}"' in detail


def test_ledger_page_permissions(world, book, login):
    anonymous = login().get(ledger_url())
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    assert login(world.portal_user).get(ledger_url()).status_code == 404  # a customer, even bound
    no_unit = UserFactory(
        username="no_unit", role=Role.COUNTER_CLERK, unit=None
    )  # staff without customer.view
    assert login(no_unit).get(ledger_url()).status_code == 404
    assert login(world.b_clerk).get(ledger_url()).status_code == 404  # another unit
    assert login(world.a_clerk).get(ledger_url("3999999999")).status_code == 404  # missing looks the same
    assert login(world.a_clerk).get(ledger_url()).status_code == 200
    assert login(world.b_clerk).get(ledger_url("3200000001")).status_code == 200


def test_ledger_page_query_count_is_bounded(world, login, django_assert_max_num_queries):
    t = today()
    for n in range(12):  # a year of bills, each paid on its due date: more rows, the same queries
        due = t - timedelta(days=400 - 30 * n)
        bill(world.acct_a, f"2025-{n + 1:02d}", "50.00", due, due - timedelta(days=20))
        pay("50.00", due, f"Q-{n}")
    c = login(world.admin)
    with django_assert_max_num_queries(12):
        resp = c.get(ledger_url())
    assert resp.status_code == 200 and len(resp.context["ledger"].entries) == 24


# ---------------------------------------------------------------- reversal


def test_reversal_from_the_page_reopens_the_debt(world, book, billing_a, login):
    c = login(billing_a)
    page = c.get(ledger_url()).content.decode()
    assert f'data-testid="reverse-form-{book["p"].pk}"' in page
    assert 'data-confirm="冲正后该笔缴费冲抵的欠费将恢复，确认冲正？"' in page
    resp = c.post(f"/payments/{book['p'].pk}/reverse/", {"reason": "银行退票"})
    assert resp.status_code == 302 and resp["Location"] == ledger_url()
    led = c.get(ledger_url()).context["ledger"]
    # Balance 31.00 + the reversed 150.00 = 181.00
    assert led.balance == D("181.00") and led.entries[-1].entry.kind == "reversal"
    x, y = led.receivables
    # X re-opens: 100.00 owed; its 1.00 fee charged on T−30 is unpaid again, and 30 more days accrue from
    # T−30: 100 × 0.001 × 30 = 3.00 (1.00 + 3.00 is over the bill's 1.00 minimum) → 4.00 fee owed
    assert (x.principal_outstanding, x.fee_unpaid, x.fee_accrued) == (D("100.00"), D("1.00"), D("3.00"))
    # Y: 80.00, 10 days late: 0.80 → minimum 1.00
    assert (y.principal_outstanding, y.fee_owed) == (D("80.00"), D("1.00"))
    assert led.amount_due == D("185.00")  # 100 + 4 + 80 + 1
    p = Payment.objects.get(pk=book["p"].pk)
    assert (p.status, p.reversal_reason) == ("reversed", "银行退票")
    assert AuditEvent.objects.filter(action="payment.reverse", actor=billing_a).count() == 1


def test_reversal_bad_input(world, book, billing_a, login):
    c = login(billing_a)
    before = snapshot()
    empty = c.post(f"/payments/{book['p'].pk}/reverse/", {"reason": "  "})
    assert empty.status_code == 400 and "请填写冲正原因" in empty.content.decode()
    long = c.post(f"/payments/{book['p'].pk}/reverse/", {"reason": "因" * 501})
    assert long.status_code == 400 and "500" in long.content.decode()
    assert snapshot() == before
    assert c.post(f"/payments/{book['p'].pk}/reverse/", {"reason": "退票"}).status_code == 302
    twice = c.post(f"/payments/{book['p'].pk}/reverse/", {"reason": "退票"})
    assert twice.status_code == 400 and "该笔缴费已冲正" in twice.content.decode()
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1
    assert c.get(f"/payments/{book['p'].pk}/reverse/").status_code == 405


def test_reversal_permission_matrix(world, book, billing_a, billing_b, login):
    url = f"/payments/{book['p'].pk}/reverse/"
    before = snapshot()
    assert login().post(url, {"reason": "x"}).status_code == 302  # anonymous → login
    assert login(world.portal_user).post(url, {"reason": "x"}).status_code == 404
    assert login(world.a_clerk).post(url, {"reason": "x"}).status_code == 404  # no payment.reverse
    assert login(world.a_manager).post(url, {"reason": "x"}).status_code == 404  # no payment.reverse
    assert login(billing_b).post(url, {"reason": "x"}).status_code == 404  # another unit
    assert snapshot() == before
    assert login(billing_a).post(url, {"reason": "x"}).status_code == 302


# ---------------------------------------------------------------- waivers


@pytest.fixture
def overdue(world):
    """Bill Z of 100.00, due T−20, unpaid: fee owed today 100 × 0.001 × 20 = 2.00."""
    t = today()
    return Receivable.objects.get(
        bill=bill(world.acct_a, "2026-07", "100.00", t - timedelta(days=20), t - timedelta(days=35))
    )


def test_waiver_request_then_approval_lowers_the_balance(world, overdue, billing_a, login):
    c = login(billing_a)
    led = c.get(ledger_url()).context["ledger"]
    assert led.amount_due == D("102.00")  # 100.00 + 2.00 fee
    resp = c.post(
        f"/payments/receivables/{overdue.pk}/waiver/", {"amount": "1.50", "reason": "系统故障未送达账单"}
    )
    assert resp.status_code == 302
    page = c.get(ledger_url())
    assert [w.amount for w in page.context["ledger"].pending_waivers] == [D("1.50")]
    assert page.context["ledger"].amount_due == D("102.00")  # pending: still owed

    queue = login(world.a_manager).get("/payments/waivers/")
    assert queue.status_code == 200 and [w.pk for w in queue.context["waivers"]] == [
        FeeWaiver.objects.get().pk
    ]
    w = FeeWaiver.objects.get()
    done = login(world.a_manager).post(f"/payments/waivers/{w.pk}/decide/", {"decision": "approve"})
    assert done.status_code == 302
    led = c.get(ledger_url()).context["ledger"]
    # Approval charges the 2.00 accrued today and waives 1.50: ledger 100.00 + 2.00 − 1.50 = 100.50;
    # what is owed drops by the 1.50 waived: 102.00 − 1.50 = 100.50
    assert [(r.entry.kind, r.entry.amount, r.balance) for r in led.entries] == [
        ("bill", D("100.00"), D("100.00")),
        ("late_fee", D("2.00"), D("102.00")),
        ("waiver", D("-1.50"), D("100.50")),
    ]
    assert led.amount_due == D("100.50") and not led.pending_waivers
    assert login(world.a_manager).get("/payments/waivers/").context["waivers"] == []


def test_waiver_reject(world, overdue, billing_a, login):
    services_waiver = login(billing_a).post(
        f"/payments/receivables/{overdue.pk}/waiver/", {"amount": "2.00", "reason": "x"}
    )
    assert services_waiver.status_code == 302
    w = FeeWaiver.objects.get()
    assert (
        login(world.a_manager).post(f"/payments/waivers/{w.pk}/decide/", {"decision": "reject"}).status_code
        == 302
    )
    w.refresh_from_db()
    assert w.status == "rejected" and not LedgerEntry.objects.filter(kind="waiver").exists()
    again = login(world.a_manager).post(f"/payments/waivers/{w.pk}/decide/", {"decision": "approve"})
    assert (
        again.status_code == 409
        and f"该减免申请已被{world.a_manager.display_name}审批" in again.content.decode()
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "2.01", "reason": "x"}, "amount", "超过该账单应收违约金 2.00"),
        ({"amount": "abc", "reason": "x"}, "amount", "金额必须是数字"),
        ({"amount": "0", "reason": "x"}, "amount", "金额必须大于 0"),
        ({"amount": "1.001", "reason": "x"}, "amount", "金额最多两位小数"),
        ({"amount": "", "reason": "x"}, "amount", "请填写减免金额"),
        ({"amount": "1.00", "reason": ""}, "reason", "请填写减免原因"),
    ],
)
def test_waiver_request_bad_input(world, overdue, billing_a, login, data, field, message):
    before = snapshot()
    resp = login(billing_a).post(f"/payments/receivables/{overdue.pk}/waiver/", data)
    assert resp.status_code == 400
    form = resp.context["failed"]["form"]
    assert any(message in e for e in form.errors[field])
    assert message in resp.content.decode()
    assert snapshot() == before


def test_waiver_decision_bad_input(world, overdue, billing_a, login):
    login(billing_a).post(f"/payments/receivables/{overdue.pk}/waiver/", {"amount": "1.00", "reason": "x"})
    w = FeeWaiver.objects.get()
    before = snapshot()
    resp = login(world.a_manager).post(f"/payments/waivers/{w.pk}/decide/", {"decision": "maybe"})
    assert resp.status_code == 400 and "请选择批准或驳回" in resp.content.decode()
    assert snapshot() == before


def test_requester_cannot_approve_their_own_waiver(world, overdue, login, monkeypatch):
    # No role both asks for and approves waivers; give managers payment.reverse for this test.
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.MANAGER, ROLE_PERMISSIONS[Role.MANAGER] | {Perm.PAYMENT_REVERSE}
    )
    other = UserFactory(username="a_manager2", role=Role.MANAGER, unit=world.bureau_a)
    c = login(world.a_manager)
    assert (
        c.post(f"/payments/receivables/{overdue.pk}/waiver/", {"amount": "1.00", "reason": "x"}).status_code
        == 302
    )
    w = FeeWaiver.objects.get()
    before = snapshot()
    own = c.post(f"/payments/waivers/{w.pk}/decide/", {"decision": "approve"})
    assert own.status_code == 400 and "不能审批本人提交的减免申请" in own.content.decode()
    assert snapshot() == before
    assert login(other).post(f"/payments/waivers/{w.pk}/decide/", {"decision": "approve"}).status_code == 302
    assert FeeWaiver.objects.get().status == "approved"


def test_waiver_pages_permission_matrix(world, overdue, billing_a, billing_b, b_manager, login):
    url = f"/payments/receivables/{overdue.pk}/waiver/"
    data = {"amount": "1.00", "reason": "x"}
    before = snapshot()
    assert login().post(url, data).status_code == 302
    assert login(world.portal_user).post(url, data).status_code == 404
    assert login(world.a_clerk).post(url, data).status_code == 404
    assert login(billing_b).post(url, data).status_code == 404
    assert snapshot() == before
    assert login(billing_a).post(url, data).status_code == 302
    w = FeeWaiver.objects.get()

    queue = "/payments/waivers/"
    assert login().get(queue).status_code == 302
    assert login(world.portal_user).get(queue).status_code == 404
    assert login(billing_a).get(queue).status_code == 404  # may ask, not approve
    assert login(b_manager).get(queue).context["waivers"] == []  # another unit's queue
    assert [x.pk for x in login(world.a_manager).get(queue).context["waivers"]] == [w.pk]

    decide = f"/payments/waivers/{w.pk}/decide/"
    before = snapshot()
    assert login().post(decide, {"decision": "approve"}).status_code == 302
    assert login(world.portal_user).post(decide, {"decision": "approve"}).status_code == 404
    assert login(billing_a).post(decide, {"decision": "approve"}).status_code == 404
    assert login(b_manager).post(decide, {"decision": "approve"}).status_code == 404
    assert snapshot() == before
    assert login(world.a_manager).post(decide, {"decision": "approve"}).status_code == 302


def test_waiver_queue_query_count_is_bounded(world, billing_a, login, django_assert_max_num_queries):
    t = today()
    for n in range(8):
        r = Receivable.objects.get(
            bill=bill(
                world.acct_a,
                f"2025-{n + 1:02d}",
                "100.00",
                t - timedelta(days=20 + n),
                t - timedelta(days=40 + n),
            )
        )
        login(billing_a).post(f"/payments/receivables/{r.pk}/waiver/", {"amount": "1.00", "reason": "x"})
    c = login(world.a_manager)
    with django_assert_max_num_queries(8):
        resp = c.get("/payments/waivers/")
    assert len(resp.context["waivers"]) == 8


# ---------------------------------------------------------------- API


def test_api_ledger(world, book, login):
    body = login(world.a_clerk).get(f"{API}/accounts/3100000001/ledger").json()
    assert body["balance"] == "31.00" and body["amount_due"] == "32.00"
    assert [(e["kind"], e["amount"], e["balance"]) for e in body["entries"]] == [
        ("bill", "100.00", "100.00"),
        ("bill", "80.00", "180.00"),
        ("payment", "-150.00", "30.00"),
        ("late_fee", "1.00", "31.00"),
    ]
    assert [(b["period"], b["principal_outstanding"], b["late_fee_owed"]) for b in body["open_bills"]] == [
        ("2026-06", "31.00", "1.00")
    ]
    # as of 10 days later: 20 days late on 31.00 → 0.62 → still the 1.00 minimum
    later = (today() + timedelta(days=10)).isoformat()
    assert (
        login(world.a_clerk)
        .get(f"{API}/accounts/3100000001/ledger?as_of={later}")
        .json()["open_bills"][0]["days_overdue"]
        == 20
    )


def test_api_ledger_permissions(world, book, login):
    url = f"{API}/accounts/3100000001/ledger"
    assert login().get(url).status_code == 401
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    assert login(world.portal_user).get(url).status_code == 404
    assert login(world.b_clerk).get(url).status_code == 404
    assert login(world.a_clerk).get(f"{API}/accounts/3999999999/ledger").status_code == 404
    assert login(world.a_clerk).get(url).status_code == 200
    assert login(world.a_clerk).get(f"{url}?as_of=2026-13-01").status_code == 422


def test_api_reverse_with_idempotency_key(world, book, billing_a, billing_b, login):
    url = f"{API}/payments/{book['p'].pk}/reverse"
    body = {"reason": "银行退票"}
    before = snapshot()
    assert login().post(url, body, content_type="application/json").status_code == 401
    assert login(world.portal_user).post(url, body, content_type="application/json").status_code == 404
    assert login(world.a_clerk).post(url, body, content_type="application/json").status_code == 404
    assert login(billing_b).post(url, body, content_type="application/json").status_code == 404
    assert login(billing_a).post(url, {"reason": " "}, content_type="application/json").status_code == 422
    assert snapshot() == before
    c = login(billing_a)
    first = c.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="rev-1")
    assert first.status_code == 200 and first.json()["status"] == "reversed"
    again = c.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="rev-1")
    assert again.status_code == 200 and again.json() == first.json()
    no_key = c.post(url, body, content_type="application/json")
    assert no_key.status_code == 422 and no_key.json()["detail"][0]["message"] == "该笔缴费已冲正"
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1
    # 31.00 + 150.00
    assert selectors.ledger_balance(world.acct_a.pk) == D("181.00")


def test_api_waivers(world, overdue, billing_a, billing_b, b_manager, login, monkeypatch):
    url = f"{API}/receivables/{overdue.pk}/waivers"
    body = {"amount": "1.50", "reason": "系统故障"}
    j = "application/json"
    before = snapshot()
    assert login().post(url, body, content_type=j).status_code == 401
    assert login(world.portal_user).post(url, body, content_type=j).status_code == 404
    assert login(world.a_clerk).post(url, body, content_type=j).status_code == 404
    assert login(billing_b).post(url, body, content_type=j).status_code == 404
    too_much = login(billing_a).post(url, {"amount": "2.01", "reason": "x"}, content_type=j)
    assert too_much.status_code == 422 and too_much.json()["detail"][0]["field"] == "amount"
    assert snapshot() == before
    created = login(billing_a).post(url, body, content_type=j, HTTP_IDEMPOTENCY_KEY="w-1")
    assert created.status_code == 201 and created.json()["status"] == "pending"
    again = login(billing_a).post(url, body, content_type=j, HTTP_IDEMPOTENCY_KEY="w-1")
    assert again.status_code == 201 and again.json()["id"] == created.json()["id"]
    assert FeeWaiver.objects.count() == 1
    wid = created.json()["id"]

    lst = f"{API}/waivers"
    assert login().get(lst).status_code == 401
    assert login(world.portal_user).get(lst).status_code == 403
    assert login(world.a_clerk).get(lst).status_code == 403
    assert login(b_manager).get(lst).json() == []
    assert [w["id"] for w in login(world.a_manager).get(lst).json()] == [wid]
    assert [w["id"] for w in login(billing_a).get(lst).json()] == [wid]
    assert login(world.a_manager).get(f"{lst}?status=nonsense").status_code == 422

    decide = f"{API}/waivers/{wid}/decide"
    before = snapshot()
    assert login().post(decide, {"approve": True}, content_type=j).status_code == 401
    assert login(world.portal_user).post(decide, {"approve": True}, content_type=j).status_code == 404
    assert login(billing_a).post(decide, {"approve": True}, content_type=j).status_code == 404
    assert login(b_manager).post(decide, {"approve": True}, content_type=j).status_code == 404
    assert login(world.a_manager).post(decide, {"approve": "perhaps"}, content_type=j).status_code == 422
    assert snapshot() == before
    ok = login(world.a_manager).post(decide, {"approve": True}, content_type=j)
    assert (
        ok.status_code == 200 and ok.json()["status"] == "approved" and ok.json()["decided_by"] == "a_manager"
    )
    # 100.00 + 2.00 fee charged today − 1.50 waived
    assert selectors.ledger_balance(world.acct_a.pk) == D("100.50")
    assert (
        login(world.a_manager).post(decide, {"approve": False}, content_type=j).status_code == 409
    )  # decided


def test_api_requester_cannot_decide_own_waiver(world, overdue, login, monkeypatch):
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.MANAGER, ROLE_PERMISSIONS[Role.MANAGER] | {Perm.PAYMENT_REVERSE}
    )
    c = login(world.a_manager)
    wid = c.post(
        f"{API}/receivables/{overdue.pk}/waivers",
        {"amount": "1.00", "reason": "x"},
        content_type="application/json",
    ).json()["id"]
    own = c.post(f"{API}/waivers/{wid}/decide", {"approve": True}, content_type="application/json")
    assert own.status_code == 422 and "不能审批本人提交的减免申请" in own.json()["detail"][0]["message"]
    assert FeeWaiver.objects.get().status == "pending"
