"""The 95598 agent console (issue 15 §6): identify the caller by 户号 or phone and see, on one screen, their
accounts, open orders, current and planned outages, what they owe and their last contacts; create an order from
the prefilled quick form; search the knowledge base."""

import re
from datetime import date, datetime

import pytest

from gridcare.core.models import AuditEvent
from gridcare.service.models import WorkOrder
from tests.payments.ledger.test_ledger import issued_bill

from .test_pages_orders import FUTURE, act, body, make

CN_PLANNED_START = datetime.fromisoformat("2099-05-01T08:00:00+08:00")
CN_PLANNED_END = datetime.fromisoformat("2099-05-01T14:00:00+08:00")


@pytest.fixture
def planned_outage(svc):
    """A published planned outage of account 3100000001's area, in 2099 (published: listed whatever the day)."""
    from gridcare.outages.freeze import freeze
    from gridcare.outages.models import OutageEvent, OutageScope

    ev = OutageEvent.objects.create(
        number="TD-P-1",
        unit=svc.station_a,
        kind="planned",
        title="10kV东关线检修",
        status="published",
        planned_start=CN_PLANNED_START,
        planned_end=CN_PLANNED_END,
    )
    OutageScope.objects.create(event=ev, transformer_area=svc.area_a)
    freeze(ev, start=CN_PLANNED_START, actual=False)
    return ev


@pytest.mark.django_db
def test_console_is_for_the_roles_that_handle_orders(svc, login):
    for user in (svc.a_agent, svc.a_clerk, svc.a_dispatcher, svc.a_manager, svc.admin):
        r = login(user).get("/service/console/")
        assert r.status_code == 200, user.username
        page = body(r)
        assert 'action="/service/kb/"' in page and 'data-testid="quick-order"' in page
    assert login(svc.a_reader).get("/service/console/").status_code == 404
    assert login(svc.portal_user).get("/service/console/").status_code == 404
    assert login().get("/service/console/").status_code == 302


@pytest.mark.django_db
def test_caller_by_account_number_on_one_screen(svc, login, planned_outage):
    open_order = make(svc.a_agent, "complaint", now=FUTURE, description="抄表员态度差")
    closed = make(svc.a_agent, "consultation", description="电价咨询")
    act(svc.a_agent, closed, "answer", resolution="已解答")
    act(svc.a_agent, closed, "close")
    make(svc.b_agent, "fault", account_number="3200000001")  # another customer
    # due far ahead: 100.00 owed, none of it past due, whatever the day the test runs
    issued_bill(svc.acct_a, "2099-01", "100.00", date(2099, 2, 20))
    r = login(svc.a_agent).get("/service/console/", {"q": "3100000001"})
    page = body(r)
    assert r.status_code == 200
    account = re.search(r'data-testid="account-3100000001">.*?</dl>', page, re.S)[0]
    assert "张*" in account and "138****5678" in account and "东关镇人民路18号" not in account
    assert 'data-testid="money-3100000001"' in page
    money = re.search(r'data-testid="money-3100000001">.*?</tr>', page, re.S)[0]
    assert "100.00" in money
    assert "合计应交 100.00 元" in page
    outage = re.search(r'data-testid="outage-TD-P-1">.*?</p>', page, re.S)[0]
    assert "10kV东关线检修" in outage and "05-01 08:00" in outage and "05-01 14:00" in outage
    opened = re.search(r'data-testid="caller-open">.*?</table>', page, re.S)[0]
    assert open_order.number in opened and closed.number not in opened
    contacts = re.search(r'data-testid="caller-contacts">.*?</div>', page, re.S)[0]
    assert open_order.number in contacts and closed.number in contacts and "已解答" not in contacts
    assert "解答" in contacts  # the events of each contact
    assert "3200000001" not in page
    # the quick form comes prefilled with the account
    quick = re.search(r'data-testid="quick-order">.*?</form>', page, re.S)[0]
    assert 'name="account_number" value="3100000001"' in quick
    assert 'accesskey="1" data-key="1" checked' in quick  # 故障报修 chosen, key 1


@pytest.mark.django_db
def test_caller_by_phone_of_the_customer_or_of_earlier_orders(svc, login):
    stranger = make(svc.a_agent, "fault", phone="13600001111", address="东关镇某村", area="rural")
    c = login(svc.a_agent)
    page = body(c.get("/service/console/", {"q": "13812345678"}))
    assert 'data-testid="account-3100000001"' in page
    page = body(c.get("/service/console/", {"q": "136 0000 1111"}))
    assert 'data-testid="caller-accounts"' not in page and stranger.number in page
    quick = re.search(r'data-testid="quick-order">.*?</form>', page, re.S)[0]
    assert 'name="phone" value="13600001111"' in quick  # an unidentified caller: the phone carried over
    page = body(c.get("/service/console/", {"q": "13900000000"}))
    assert 'data-testid="caller-unknown"' in page
    # another bureau's customer is not found from bureau A
    page = body(c.get("/service/console/", {"q": "13987654321"}))
    assert 'data-testid="caller-unknown"' in page and "3200000001" not in page
    r = c.get("/service/console/", {"q": "张三"})
    assert r.status_code == 400 and "请输入10位户号或来电号码" in body(r)


@pytest.mark.django_db
def test_console_shows_personal_data_to_the_roles_that_may_and_audits_it(svc, login):
    order = make(svc.a_agent, "complaint", now=FUTURE)
    page = body(login(svc.a_clerk).get("/service/console/", {"q": "3100000001"}))
    assert "13812345678" in page and "东关镇人民路18号" in page
    row = AuditEvent.objects.get(action="customer.view_pii")
    assert set(row.changes["object_ids"]) == {order.number, "3100000001"}
    assert row.changes["source"] == "console.service_console"


@pytest.mark.django_db
def test_quick_create_from_the_console(svc, login):
    c = login(svc.a_agent)
    r = c.post(
        "/service/orders/new/",
        {
            "order_type": "fault",
            "sub_type": "",
            "account_number": "3100000001",
            "channel": "phone",
            "priority": "2",
            "description": "楼道停电",
        },
    )
    assert r.status_code == 302
    order = WorkOrder.objects.get()
    # the account's area is urban: the arrival clock is 45 minutes
    assert (order.order_type, order.priority, order.area, order.account) == ("fault", 2, "urban", svc.acct_a)
    arrival = order.deadlines.get(name="arrival")
    assert (arrival.due_at - order.received_at).total_seconds() == 45 * 60
    page = body(c.get("/service/console/", {"q": "3100000001"}))
    assert order.number in re.search(r'data-testid="caller-open">.*?</table>', page, re.S)[0]


@pytest.mark.django_db
def test_console_reads_a_bounded_number_of_queries(svc, login, django_assert_max_num_queries, planned_outage):
    make(svc.a_agent, "complaint", now=FUTURE)
    c = login(svc.a_agent)
    c.get("/service/console/", {"q": "3100000001"})
    with django_assert_max_num_queries(30) as few:
        c.get("/service/console/", {"q": "3100000001"})
    for _ in range(12):
        order = make(svc.a_agent, "opinion", now=FUTURE)
        act(svc.a_agent, order, "accept", now=FUTURE)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = body(c.get("/service/console/", {"q": "3100000001"}))
    assert page.count('data-testid="open-') == 13
