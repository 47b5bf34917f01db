"""The customer's work orders in the portal (issue 15 §8): submit any type (a bound account, or a phone and an
address; attachments all or nothing), see my orders and their progress in my words, chase an open one, rate a
closed one once; another customer's order is 404, staff get 404, anonymous visitors the portal login."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.models import PortalBinding
from gridcare.service import services
from gridcare.service.models import WorkOrder, WorkOrderAttachment, WorkOrderEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
LIST, NEW = "/portal/service/", "/portal/service/new/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"


@pytest.fixture
def customer(svc):
    PortalBinding.objects.create(user=svc.portal_user, account=svc.acct_a, created_at=timezone.now())
    client = Client()
    client.force_login(svc.portal_user)
    return client


def staff_order(svc, order_type="service_request", sub_type="meter_check", **kw):
    kw.setdefault("account_number", svc.acct_a.account_number)
    return services.work_order_create(
        actor=Actor(user=svc.admin, channel=Channel.CONSOLE),
        order_type=order_type,
        sub_type=sub_type,
        channel="phone",
        description="电表走字太快",
        **kw,
    ).order


def act(svc, order, *actions, **kw):
    for action in actions:
        order = services.work_order_act(
            actor=Actor(user=svc.a_agent, channel=Channel.CONSOLE), order=order, action=action, **kw
        )
    return order


def close(svc, order):
    order = act(svc, order, "accept", "assign")
    order = act(svc, order, "complete", resolution="已校验电表，误差合格")
    order = act(svc, order, "callback", satisfaction="satisfied")
    return act(svc, order, "close")


# ---------------------------------------------------------------- who may open the pages


def test_anonymous_visitors_go_to_the_portal_login_and_staff_get_404(svc):
    order = staff_order(svc)
    for url in (LIST, NEW, f"{LIST}{order.number}/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/portal/login/")
        staff = Client()
        staff.force_login(svc.a_agent)
        assert staff.get(url).status_code == 404


def test_another_customers_order_and_a_missing_one_are_404(svc, customer):
    other = UserFactory(username="13700000009", role=Role.CUSTOMER, unit=None, phone="13700000009")
    theirs = staff_order(svc, account_number=svc.acct_b.account_number)
    theirs.customer_user = other
    theirs.save(update_fields=["customer_user"])
    for url in (f"{LIST}{theirs.number}/", f"{LIST}20260924999999/"):
        assert customer.get(url).status_code == 404
    assert customer.post(f"{LIST}{theirs.number}/chase/").status_code == 404
    assert customer.post(f"{LIST}{theirs.number}/rate/", {"rating": "satisfied"}).status_code == 404
    assert WorkOrder.objects.get(pk=theirs.pk).chase_count == 0


# ---------------------------------------------------------------- my orders


def test_my_orders_are_those_i_submitted_and_those_on_my_accounts(
    svc, customer, django_assert_max_num_queries
):
    on_my_account = staff_order(svc)  # entered by the 95598 agent on 3100000001
    mine = staff_order(
        svc,
        order_type="consultation",
        sub_type=None,
        account_number=None,
        phone="13700000000",
        address="东关镇",
        customer_user=svc.portal_user,
    )
    not_mine = staff_order(svc, account_number=svc.acct_b.account_number)
    for _ in range(5):
        staff_order(svc)
    with django_assert_max_num_queries(12):
        response = customer.get(LIST)
    text = response.content.decode()
    assert on_my_account.number in text and mine.number in text and not_mine.number not in text
    assert text.count('data-testid="order-') == 7


def test_the_list_shows_the_next_running_deadline(svc, customer):
    order = staff_order(svc, sub_type="reconnection")  # complete: 24 h after receipt
    due = timezone.localtime(order.received_at + timedelta(hours=24))
    assert f"{due:%m-%d %H:%M}" in customer.get(LIST).content.decode()


# ---------------------------------------------------------------- submitting


def test_a_service_request_on_my_account_with_attachments(svc, customer):
    files = [
        SimpleUploadedFile("电表.png", PNG, "image/png"),
        SimpleUploadedFile("照片.pdf", PDF, "application/pdf"),
    ]
    response = customer.post(
        NEW,
        {
            "order_type": "service_request",
            "sub_type": "meter_check",
            "account": "3100000001",
            "phone": "13700000000",
            "description": "电表走字太快，申请校验",
            "attachments": files,
        },
    )
    order = WorkOrder.objects.get(customer_user=svc.portal_user)
    assert response.status_code == 302 and response["Location"] == f"{LIST}{order.number}/"
    assert (order.order_type, order.sub_type, order.channel, order.account) == (
        "service_request",
        "meter_check",
        "portal",
        svc.acct_a,
    )
    assert list(order.deadlines.values_list("name", flat=True)) == ["complete"]
    assert sorted(WorkOrderAttachment.objects.filter(order=order).values_list("content_type", flat=True)) == [
        "application/pdf",
        "image/png",
    ]
    page = customer.get(response["Location"])
    text = page.content.decode()
    assert f"已受理（工单编号 {order.number}）" in text and "电表走字太快，申请校验" in text
    att = order.attachments.get(content_type="image/png")
    download = customer.get(f"{LIST}{order.number}/files/{att.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG


def test_a_fault_without_account_is_triaged_and_its_answer_shown(svc, customer):
    response = customer.post(
        NEW,
        {
            "order_type": "fault",
            "phone": "13700000000",
            "address": "东关镇人民路20号",
            "description": "整栋楼停电",
        },
        follow=True,
    )
    order = WorkOrder.objects.get(customer_user=svc.portal_user)
    assert (order.channel, order.triage, order.account_id) == ("portal", "dispatch", None)
    assert (
        f"报修已受理（工单编号 {order.number}）：已派发抢修，抢修人员承诺 45 分钟内到达现场"
        in response.content.decode()
    )


def test_refused_submissions_write_nothing(svc, customer):
    before = (WorkOrder.objects.count(), WorkOrderAttachment.objects.count(), AuditEvent.objects.count())
    cases = [
        # an account that is not mine: not among the choices
        ({"order_type": "complaint", "account": "3200000001", "description": "x"}, "account"),
        # a service request needs its sub-type
        ({"order_type": "service_request", "account": "3100000001", "description": "x"}, "sub_type"),
        # no account: a phone and an address
        ({"order_type": "opinion", "phone": "", "address": "", "description": "x"}, "phone"),
        # a text file is no attachment, even named .png
        (
            {
                "order_type": "praise",
                "account": "3100000001",
                "description": "服务很好",
                "attachments": [SimpleUploadedFile("a.png", b"hello", "image/png")],
            },
            "attachments",
        ),
    ]
    for data, field in cases:
        response = customer.post(NEW, data)
        assert response.status_code == 400, (field, response.status_code)
        assert field in response.context["form"].errors, (field, response.context["form"].errors)
    after = (WorkOrder.objects.count(), WorkOrderAttachment.objects.count(), AuditEvent.objects.count())
    assert after == before


# ---------------------------------------------------------------- progress, chase, rating


def test_the_timeline_speaks_to_the_customer_and_hides_internal_steps(svc, customer):
    order = act(svc, staff_order(svc), "accept", "assign")
    act(svc, order, "return", note="派错班组，内部退回")
    text = customer.get(f"{LIST}{order.number}/").content.decode()
    assert "已受理" in text and "已接单" in text and "已交办处理" in text
    assert "内部退回" not in text and 'data-testid="event-return"' not in text
    assert "138****5678" in text and "13812345678" not in text  # the phone on file, masked


def test_a_customer_chases_an_open_order_once_an_hour(svc, customer):
    order = staff_order(svc)
    response = customer.post(f"{LIST}{order.number}/chase/", follow=True)
    assert "已催办，我们会尽快处理" in response.content.decode()
    order.refresh_from_db()
    assert (order.chase_count, order.priority) == (1, 2)
    again = customer.post(f"{LIST}{order.number}/chase/", follow=True)
    assert "您已催办过" in again.content.decode()
    order.refresh_from_db()
    assert order.chase_count == 1
    event = WorkOrderEvent.objects.get(order=order, action="chase")
    assert event.actor == svc.portal_user and event.actor_label == "客户"


def test_a_closed_order_is_rated_once_and_cannot_be_chased(svc, customer):
    order = staff_order(svc)
    assert 'data-testid="rate"' not in customer.get(f"{LIST}{order.number}/").content.decode()
    early = customer.post(f"{LIST}{order.number}/rate/", {"rating": "satisfied"})
    assert early.status_code == 400 and "工单归档后才能评价" in early.content.decode()
    order = close(svc, order)
    page = customer.get(f"{LIST}{order.number}/").content.decode()
    assert 'data-testid="rate"' in page and 'data-testid="chase"' not in page
    bad = customer.post(f"{LIST}{order.number}/rate/", {"rating": "great"})
    assert bad.status_code == 400
    ok = customer.post(
        f"{LIST}{order.number}/rate/", {"rating": "basic", "comment": "还可以更快"}, follow=True
    )
    assert "感谢您的评价" in ok.content.decode()
    order.refresh_from_db()
    assert (order.customer_rating, order.customer_comment) == ("basic", "还可以更快")
    twice = customer.post(f"{LIST}{order.number}/rate/", {"rating": "unsatisfied"})
    assert twice.status_code == 400
    order.refresh_from_db()
    assert order.customer_rating == "basic"
    chased = customer.post(f"{LIST}{order.number}/chase/", follow=True)
    assert "不能执行" in chased.content.decode()
    assert AuditEvent.objects.filter(action="workorder.rate", object_id=str(order.pk)).count() == 1
