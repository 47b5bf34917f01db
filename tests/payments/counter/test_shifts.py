"""Cashier shifts (收费班次) and the till close (日结), with hand-computed totals.

张三's account 3100000001 owes one bill of 80.00 due far ahead (no late fee depends on the test day).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.payments.counter import services as counter
from gridcare.payments.ledger import services
from gridcare.payments.models import CashierShift, Payment
from tests.factories import UserFactory

D = Decimal
API = "/api/v1"


def open_shift(user, counter_name: str = "1号窗口", opening_float: str = "500.00") -> CashierShift:
    return counter.shift_open(actor=Actor(user=user), counter=counter_name, opening_float=opening_float)


@pytest.fixture
def cashier(world):
    return UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)


@pytest.fixture
def clerk(world):
    return UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)


@pytest.fixture
def debt(world):
    from tests.payments.ledger.test_ledger import issued_bill

    return issued_bill(world.acct_a, "2026-09", "80.00", date(2099, 1, 20), issued_on=date(2026, 10, 5))


def post_payment(c, amount: str, channel: str, txn: str, number: str = "3100000001"):
    body = {"account_number": number, "amount": amount, "channel": channel, "channel_txn_id": txn}
    return c.post(f"{API}/payments", body, content_type="application/json")


def test_shift_with_cash_card_and_a_reversed_payment_closes_when_balanced(world, debt, cashier, clerk, login):
    c = login(cashier)
    opened = c.post(
        f"{API}/shifts", {"counter": "1号窗口", "opening_float": "500.00"}, content_type="application/json"
    )
    assert opened.status_code == 201 and opened.json()["status"] == "open"
    shift_id = opened.json()["id"]
    assert post_payment(c, "100.00", "counter_cash", "R1").status_code == 201
    assert post_payment(c, "80.50", "counter_card", "R2").status_code == 201
    assert post_payment(c, "30.00", "counter_cash", "R3").status_code == 201
    assert set(Payment.objects.values_list("shift_id", flat=True)) == {shift_id}
    services.payment_reverse(
        actor=Actor(user=clerk), payment=Payment.objects.get(channel_txn_id="R3"), reason="假币退回"
    )
    # Expected cash = 100.00 + 30.00 − 30.00 (R3 reversed before the close) = 100.00; card = 80.50; 2 payments
    live = c.get(f"{API}/shifts/{shift_id}").json()
    assert (live["expected_cash"], live["expected_card"], live["payments"]) == ("100.00", "80.50", 2)
    page = c.get("/payments/counter/").content.decode()
    assert 'data-testid="shift-cash">100.00<' in page and 'data-testid="shift-card">80.50<' in page

    closed = c.post(
        f"{API}/shifts/{shift_id}/close",
        {"declared_cash": "100.00", "declared_card": "80.50"},
        content_type="application/json",
    )
    assert closed.status_code == 200, closed.content
    s = CashierShift.objects.get()
    assert (
        s.status,
        s.expected_cash,
        s.expected_card,
        s.declared_cash,
        s.declared_card,
        s.payments_count,
    ) == ("closed", D("100.00"), D("80.50"), D("100.00"), D("80.50"), 2)
    assert AuditEvent.objects.filter(action="shift.close", object_id=str(s.pk)).count() == 1
    # After the close: no shift, so no more counter payments
    refused = post_payment(c, "5.00", "counter_cash", "R4")
    assert refused.status_code == 422 and Payment.objects.count() == 3


def test_unbalanced_close_is_refused_with_the_difference_and_nothing_written(world, debt, cashier, login):
    shift = open_shift(cashier)
    c = login(cashier)
    post_payment(c, "100.00", "counter_cash", "R1")
    post_payment(c, "20.00", "counter_card", "R2")
    resp = c.post(
        f"{API}/shifts/{shift.pk}/close",
        {"declared_cash": "99.00", "declared_card": "20.00"},
        content_type="application/json",
    )
    assert resp.status_code == 422
    detail = {d["field"]: d["message"] for d in resp.json()["detail"]}
    # cash: expected 100.00, declared 99.00 → difference 99.00 − 100.00 = −1.00; card balances
    assert set(detail) == {"declared_cash"}
    assert "100.00" in detail["declared_cash"] and "99.00" in detail["declared_cash"]
    assert "-1.00" in detail["declared_cash"]
    s = CashierShift.objects.get()
    assert (s.status, s.closed_at, s.declared_cash, s.expected_cash) == ("open", None, None, None)
    assert not AuditEvent.objects.filter(action="shift.close").exists()
    # The page shows the same refusal
    page = c.post(
        f"/payments/shifts/{shift.pk}/close/", {"declared_cash": "100.00", "declared_card": "19.99"}
    )
    assert page.status_code == 400 and "-0.01" in page.content.decode()
    assert CashierShift.objects.get().status == "open"
    ok = c.post(f"/payments/shifts/{shift.pk}/close/", {"declared_cash": "100.00", "declared_card": "20.00"})
    assert ok.status_code == 302 and CashierShift.objects.get().status == "closed"


@pytest.mark.parametrize(
    "cash, card, field",
    [("-1", "0", "declared_cash"), ("abc", "0", "declared_cash"), ("0", "1.001", "declared_card")],
)
def test_bad_declared_amounts(world, cashier, cash, card, field):
    shift = open_shift(cashier)
    with pytest.raises(ValidationError) as exc:
        counter.shift_close(actor=Actor(user=cashier), shift=shift, declared_cash=cash, declared_card=card)
    assert field in exc.value.message_dict
    assert CashierShift.objects.get().status == "open"


def test_empty_shift_closes_with_zero(world, cashier):
    shift = open_shift(cashier)
    closed = counter.shift_close(
        actor=Actor(user=cashier), shift=shift, declared_cash="0", declared_card="0.00"
    )
    assert (closed.status, closed.expected_cash, closed.payments_count) == ("closed", D("0.00"), 0)


def test_one_open_shift_per_cashier(world, cashier, login):
    open_shift(cashier)
    resp = login(cashier).post(f"{API}/shifts", {"counter": "2号窗口"}, content_type="application/json")
    assert resp.status_code == 422 and CashierShift.objects.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():  # the database itself refuses a second one
        CashierShift.objects.create(
            unit=world.bureau_a, cashier=cashier, counter="x", opening_float=0, opened_at=timezone.now()
        )
    # Once closed, a new one may be opened
    counter.shift_close(
        actor=Actor(user=cashier), shift=CashierShift.objects.get(), declared_cash="0", declared_card="0"
    )
    assert open_shift(cashier, "2号窗口").status == "open"


def test_counter_payment_without_an_open_shift_is_refused(world, debt, cashier, login):
    c = login(cashier)
    resp = post_payment(c, "10.00", "counter_cash", "R1")
    assert resp.status_code == 422 and not Payment.objects.exists()
    page = c.post(
        "/payments/counter/?account_number=3100000001",
        {
            "account_number": "3100000001",
            "amount": "10.00",
            "channel": "counter_cash",
            "form_token": "tok-0123456789abcdef",
        },
    )
    assert page.status_code == 400 and "开班" in page.content.decode() and not Payment.objects.exists()
    # Opening the shift from the counter page, then paying, works
    assert c.post("/payments/shifts/open/", {"counter": "1号窗口", "opening_float": "200"}).status_code == 302
    ok = c.post(
        "/payments/counter/?account_number=3100000001",
        {
            "account_number": "3100000001",
            "amount": "10.00",
            "channel": "counter_cash",
            "form_token": "tok-0123456789abcdef",
        },
    )
    assert ok.status_code == 302 and Payment.objects.get().shift == CashierShift.objects.get()
    assert "1号窗口" in c.get(ok["Location"]).content.decode()  # the receipt names the counter


def test_bad_shift_open_input(world, cashier, login):
    c = login(cashier)
    for body, field in [
        ({"counter": "", "opening_float": "0"}, "counter"),
        ({"counter": "1号", "opening_float": "-5"}, "opening_float"),
    ]:
        resp = c.post(f"{API}/shifts", body, content_type="application/json")
        assert resp.status_code == 422 and field in [d["field"] for d in resp.json()["detail"]]
    assert c.post("/payments/shifts/open/", {"counter": "", "opening_float": "0"}).status_code == 400
    assert not CashierShift.objects.exists()


def test_reversal_after_the_close_shows_on_the_daily_sheet(world, debt, cashier, clerk, login):
    shift = open_shift(cashier)
    c = login(cashier)
    post_payment(c, "100.00", "counter_cash", "R1")
    post_payment(c, "40.00", "counter_card", "R2")
    counter.shift_close(actor=Actor(user=cashier), shift=shift, declared_cash="100.00", declared_card="40.00")
    services.payment_reverse(
        actor=Actor(user=clerk), payment=Payment.objects.get(channel_txn_id="R2"), reason="刷卡撤销"
    )
    shift.refresh_from_db()
    assert (shift.expected_card, shift.declared_card) == (
        D("40.00"),
        D("40.00"),
    )  # the closed shift keeps them
    sup = UserFactory(username="a_sup", role=Role.MANAGER, unit=world.bureau_a)
    body = login(sup).get(f"{API}/shifts/daily-sheet?unit_id={world.bureau_a.pk}").json()
    assert [
        (s["expected_cash"], s["declared_cash"], s["diff_cash"], s["expected_card"], s["diff_card"])
        for s in body["shifts"]
    ] == [("100.00", "100.00", "0.00", "40.00", "0.00")]
    assert [(r["channel_txn_id"], r["amount"]) for r in body["reversals"]] == [("R2", "-40.00")]
    # net = 100.00 cash + 40.00 card − 40.00 reversed = 100.00
    assert body["totals"]["net"] == "100.00" and body["totals"]["reversals"] == "-40.00"
    page = login(sup).get("/payments/shifts/daily/").content.decode()
    assert 'data-testid="sheet-reversal"' in page and 'data-testid="sheet-net">100.00<' in page


def test_supervisor_sees_every_shift_cashier_only_their_own(
    world, cashier, login, django_assert_max_num_queries
):
    other = UserFactory(username="a_cashier2", role=Role.CASHIER, unit=world.station_a)
    b_cashier = UserFactory(username="b_cashier", role=Role.CASHIER, unit=world.bureau_b)
    mine, theirs, b_shift = open_shift(cashier), open_shift(other), open_shift(b_cashier)
    sup = UserFactory(username="a_sup", role=Role.MANAGER, unit=world.bureau_a)
    assert {s["id"] for s in login(sup).get(f"{API}/shifts").json()} == {mine.pk, theirs.pk}
    assert {s["id"] for s in login(cashier).get(f"{API}/shifts").json()} == {mine.pk}
    assert login(cashier).get(f"{API}/shifts/{theirs.pk}").status_code == 404
    assert login(sup).get(f"{API}/shifts/{b_shift.pk}").status_code == 404
    sheet = login(cashier).get(f"{API}/shifts/daily-sheet").json()
    assert [s["id"] for s in sheet["shifts"]] == [mine.pk]
    for i in range(5):
        open_shift(UserFactory(username=f"extra{i}", role=Role.CASHIER, unit=world.station_a))
    c = login(sup)
    with django_assert_max_num_queries(12):
        page = c.get("/payments/shifts/")
    assert page.status_code == 200 and page.content.decode().count("1号窗口") == 7
    with django_assert_max_num_queries(14):
        daily = c.get("/payments/shifts/daily/")
    assert daily.content.decode().count('data-testid="sheet-shift"') == 7


def test_shift_permission_matrix(world, cashier, login):
    shift = open_shift(cashier)
    b_cashier = UserFactory(username="b_cashier", role=Role.CASHIER, unit=world.bureau_b)
    close = {"declared_cash": "0", "declared_card": "0"}
    open_body = {"counter": "9号窗口"}
    # anonymous
    assert login().post(f"{API}/shifts", open_body, content_type="application/json").status_code == 401
    assert (
        login().post(f"{API}/shifts/{shift.pk}/close", close, content_type="application/json").status_code
        == 401
    )
    assert login().get("/payments/shifts/").status_code == 302
    assert login().get(f"{API}/shifts/daily-sheet").status_code == 401
    assert login().get(f"{API}/shifts").status_code == 401
    # customer, staff without the permission
    for user in (world.portal_user, world.a_agent):
        assert (
            login(user).post(f"{API}/shifts", open_body, content_type="application/json").status_code == 403
        )
        assert (
            login(user)
            .post(f"{API}/shifts/{shift.pk}/close", close, content_type="application/json")
            .status_code
            == 404
        )
        assert login(user).get("/payments/shifts/").status_code == 404
        assert login(user).get("/payments/shifts/daily/").status_code == 404
        assert login(user).get(f"{API}/shifts").status_code == 403
        assert login(user).get(f"{API}/shifts/daily-sheet").status_code == 403
        assert login(user).get(f"{API}/shifts/{shift.pk}").status_code == 404
    # another unit's cashier, and a supervisor who is not the shift's cashier
    assert (
        login(b_cashier)
        .post(f"{API}/shifts/{shift.pk}/close", close, content_type="application/json")
        .status_code
        == 404
    )
    assert (
        login(world.a_manager)
        .post(f"{API}/shifts/{shift.pk}/close", close, content_type="application/json")
        .status_code
        == 404
    )
    assert login(b_cashier).get(f"{API}/shifts/daily-sheet?unit_id={world.bureau_a.pk}").status_code == 404
    assert CashierShift.objects.filter(status="open").count() == 1
    assert CashierShift.objects.count() == 1
    # with it
    assert (
        login(cashier)
        .post(f"{API}/shifts/{shift.pk}/close", close, content_type="application/json")
        .status_code
        == 200
    )


def test_shift_open_idempotency_key(world, cashier, login):
    c = login(cashier)
    first = c.post(
        f"{API}/shifts", {"counter": "1号"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="s-1"
    )
    again = c.post(
        f"{API}/shifts", {"counter": "1号"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="s-1"
    )
    assert (first.status_code, again.status_code) == (201, 201) and first.json() == again.json()
    assert CashierShift.objects.count() == 1


# ---------------------------------------------------------------- at the same moment (PostgreSQL)

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_opens_at_once_open_one_shift(world, cashier):
    from tests.payments.ledger.test_refunds import _at_once

    results = _at_once([lambda: open_shift(cashier, "1号"), lambda: open_shift(cashier, "2号")])
    assert sorted(type(r).__name__ for r in results) == ["CashierShift", "ValidationError"], results
    assert CashierShift.objects.count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_payment_at_the_moment_of_the_close(world, debt, cashier):
    from tests.payments.ledger.test_refunds import _at_once

    shift = open_shift(cashier)
    actor = Actor(user=cashier)
    counter.counter_payment_record(
        actor=actor, channel="counter_cash", channel_txn_id="R1", account_number="3100000001", amount="100.00"
    )
    results = _at_once(
        [
            lambda: counter.shift_close(actor=actor, shift=shift, declared_cash="100.00", declared_card="0"),
            lambda: counter.counter_payment_record(
                actor=actor,
                channel="counter_cash",
                channel_txn_id="R2",
                account_number="3100000001",
                amount="10.00",
            ),
        ]
    )
    shift.refresh_from_db()
    if isinstance(results[0], CashierShift):  # closed first: the payment found no open shift
        assert isinstance(results[1], ValidationError) and shift.expected_cash == D("100.00")
        assert not Payment.objects.filter(channel_txn_id="R2").exists()
    else:  # paid first: 100.00 + 10.00 = 110.00 expected, so the close declaring 100.00 is refused
        assert isinstance(results[0], ValidationError) and shift.status == "open"
        assert Payment.objects.get(channel_txn_id="R2").shift_id == shift.pk


def test_paid_at_must_fall_inside_the_open_shift(world, debt, cashier):
    shift = open_shift(cashier)
    args = {
        "actor": Actor(user=cashier),
        "channel": "counter_cash",
        "account_number": "3100000001",
        "amount": "10.00",
    }
    for n, when in enumerate((shift.opened_at - timedelta(minutes=1), timezone.now() + timedelta(hours=1))):
        with pytest.raises(ValidationError) as exc:
            counter.counter_payment_record(channel_txn_id=f"PA-{n}", paid_at=when, **args)
        assert "paid_at" in exc.value.message_dict
    assert not Payment.objects.filter(channel_txn_id__startswith="PA-").exists()
    ok = counter.counter_payment_record(channel_txn_id="PA-ok", paid_at=shift.opened_at, **args)
    assert ok.created and ok.payment.paid_at == shift.opened_at and ok.payment.shift_id == shift.pk


def test_closing_a_shift_past_midnight_shows_the_sheet_of_its_opening_day(world, cashier, login):
    yesterday = timezone.localdate() - timedelta(days=1)
    opened = timezone.make_aware(datetime(yesterday.year, yesterday.month, yesterday.day, 23, 50))  # noqa: DTZ001
    shift = counter.shift_open(actor=Actor(user=cashier), counter="夜班窗口", opening_float="0", now=opened)
    resp = login(cashier).post(
        f"/payments/shifts/{shift.pk}/close/", {"declared_cash": "0", "declared_card": "0"}
    )
    assert resp.status_code == 302 and resp["Location"].endswith(f"?day={yesterday.isoformat()}")
    sheet = login(cashier).get(resp["Location"]).content.decode()
    assert "夜班窗口" in sheet
