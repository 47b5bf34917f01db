"""The 95598 order pages (issue 15 §1, §2): the list with its filters and clock markers, the new-order form (补录
受理时间, attachments, the triage outcome), an order's page with exactly the actions its type, step and the
user's role allow; refusals answer 400 (bad input, an illegal transition) or 404 (another unit, no permission)
and change nothing."""

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.service import services
from gridcare.service.models import WorkOrder, WorkOrderAttachment, WorkOrderDeadline, WorkOrderEvent

# Received long ago: a fault's 45-minute arrival clock is past due whatever day the tests run.
PAST = datetime.fromisoformat("2026-09-24T10:00:00+08:00")
# Received in a year the calendar does not hold: nothing is due yet, and working-day clocks are provisional.
FUTURE = datetime.fromisoformat("2099-03-02T10:00:00+08:00")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"x" * 64


def make(user, order_type="fault", *, now=PAST, **kw):
    """An order created through the service, as the given user, at `now`."""
    if "phone" not in kw and "account_number" not in kw:
        kw["account_number"] = "3100000001"
    return services.work_order_create(
        actor=Actor(user=user, channel=Channel.CONSOLE), order_type=order_type, channel="phone", now=now, **kw
    ).order


def act(user, order, action, **kw):
    kw.setdefault("now", PAST + timedelta(minutes=5))
    return services.work_order_act(
        actor=Actor(user=user, channel=Channel.CONSOLE), order=order, action=action, **kw
    )


def body(r) -> str:
    return r.content.decode()


def forms_on(page: str) -> list[str]:
    return re.findall(r'data-testid="act-([a-z]+)"', page)


# ---------------------------------------------------------------- list


@pytest.mark.django_db
def test_list_for_every_staff_role_scoped_to_the_unit(svc, login):
    order = make(svc.a_agent, "fault")
    theirs = make(svc.b_agent, "complaint", account_number="3200000001")
    for user in (svc.a_agent, svc.a_clerk, svc.a_reader, svc.a_manager, svc.a_dispatcher):
        page = body(login(user).get("/service/orders/"))
        assert f'data-testid="order-{order.number}"' in page, user.username
        assert f'data-testid="order-{theirs.number}"' not in page, user.username
    page = body(login(svc.admin).get("/service/orders/"))
    assert order.number in page and theirs.number in page
    page = body(login(svc.b_agent).get("/service/orders/"))
    assert theirs.number in page and order.number not in page
    assert login(svc.portal_user).get("/service/orders/").status_code == 404
    r = login().get("/service/orders/")
    assert r.status_code == 302 and "/login/" in r["Location"]


@pytest.mark.django_db
def test_list_filters_and_search(svc, login):
    fault = make(svc.a_agent, "fault")
    complaint = make(svc.a_agent, "complaint", sub_type="service")
    stranger = make(svc.a_agent, "fault", phone="13600001111", address="东关镇某村", area="rural")
    act(svc.a_agent, complaint, "accept")
    c = login(svc.a_agent)

    def shown(**params):
        page = body(c.get("/service/orders/", params))
        return {
            n for n in (fault.number, complaint.number, stranger.number) if f'data-testid="order-{n}"' in page
        }

    assert shown() == {fault.number, complaint.number, stranger.number}
    assert shown(order_type="complaint") == {complaint.number}
    assert shown(status="accepted") == {complaint.number}
    assert shown(status="created", order_type="fault") == {fault.number, stranger.number}
    assert shown(channel="web") == set()
    assert shown(q="3100000001") == {fault.number, complaint.number}
    assert shown(q="136-0000-1111") == {stranger.number}
    assert shown(q=fault.number) == {fault.number}
    assert shown(q=fault.number[:10]) >= {fault.number}
    r = c.get("/service/orders/", {"status": "nonsense"})
    assert r.status_code == 400 and 'class="errorlist"' in body(r)
    r = c.get("/service/orders/", {"q": "1" * 41})
    assert r.status_code == 400


@pytest.mark.django_db
def test_list_marks_overdue_red_and_warned_amber_and_filters_overdue(svc, login):
    late = make(svc.a_agent, "fault")  # arrival due 2026-09-24 10:45 +08:00, long past
    warned = make(svc.a_agent, "complaint", now=FUTURE)
    WorkOrderDeadline.objects.filter(order=warned, name="contact").update(warned_at=FUTURE)
    calm = make(svc.a_agent, "report", now=FUTURE)
    done = make(svc.a_agent, "consultation")  # no clock at all
    c = login(svc.a_agent)
    page = body(c.get("/service/orders/"))
    row = re.search(rf'<tr data-testid="order-{late.number}" class="clock-overdue">.*?</tr>', page, re.S)
    assert row and "超时" in row[0] and "到达现场 09-24 10:45" in row[0]
    row = re.search(rf'<tr data-testid="order-{warned.number}" class="clock-warned">.*?</tr>', page, re.S)
    # 2099-03-02 is a Monday: contact is due on the next working day, provisional (2099 is not loaded)
    assert row and "预警" in row[0] and "联系客户 03-03 23:59" in row[0] and "暂定" in row[0]
    assert f'<tr data-testid="order-{calm.number}" class="clock-none">' in page
    assert f'<tr data-testid="order-{done.number}" class="clock-none">' in page
    page = body(c.get("/service/orders/", {"overdue": "on"}))
    assert late.number in page and warned.number not in page and calm.number not in page
    # a late order that is closed is no longer overdue
    WorkOrder.objects.filter(pk=late.pk).update(status="closed")
    page = body(c.get("/service/orders/", {"overdue": "on"}))
    assert late.number not in page


@pytest.mark.django_db
def test_list_masks_personal_data_unless_the_role_may_see_it(svc, login):
    order = make(svc.a_agent, "fault")  # 张三, 13812345678, 东关镇人民路18号 from the account
    page = body(login(svc.a_agent).get("/service/orders/"))
    assert "138****5678" in page and "13812345678" not in page
    assert "张*" in page and "东关镇人民路18号" not in page
    assert not AuditEvent.objects.filter(action="customer.view_pii").exists()
    page = body(login(svc.a_clerk).get("/service/orders/"))
    assert "13812345678" in page and "东关镇人民路18号" in page and "张三" in page
    row = AuditEvent.objects.get(action="customer.view_pii")
    assert row.actor == svc.a_clerk and row.changes["object_ids"] == [order.number]
    assert row.changes["customer_ids"] == [svc.cust_a.pk]


@pytest.mark.django_db
def test_list_reads_a_bounded_number_of_queries_and_pages(svc, login, django_assert_max_num_queries):
    for i in range(3):
        make(svc.a_agent, "fault", now=PAST + timedelta(minutes=i))
    c = login(svc.a_agent)
    c.get("/service/orders/")  # warm the session
    with django_assert_max_num_queries(9) as few:
        c.get("/service/orders/")
    for i in range(55):
        make(svc.a_agent, "complaint", now=PAST + timedelta(hours=1, minutes=i))
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = body(c.get("/service/orders/"))
    assert page.count('data-testid="order-2') == 50 and "第 1 / 2 页" in page
    page = body(c.get("/service/orders/", {"page": 2, "order_type": ""}))
    assert page.count('data-testid="order-2') == 8


# ---------------------------------------------------------------- new order


def new_order(client, **data):
    form = {
        "order_type": "fault",
        "sub_type": "",
        "channel": "phone",
        "account_number": "3100000001",
        "caller_name": "",
        "phone": "",
        "address": "",
        "area": "",
        "description": "家里没电了",
        "priority": "1",
        "received_at": "",
    }
    form.update(data)
    return client.post("/service/orders/new/", form)


@pytest.mark.django_db
def test_new_order_form_creates_and_shows_the_triage(svc, login):
    c = login(svc.a_agent)
    page = body(c.get("/service/orders/new/", {"account_number": "3100000001"}))
    assert 'value="3100000001"' in page and 'name="files"' in page and "补录受理时间" in page
    # sub-types only for the types that have them
    assert 'data-type="service_request"' in page and 'data-type="complaint"' in page
    assert 'data-type="fault"' not in page
    r = new_order(c)
    order = WorkOrder.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/service/orders/{order.number}/"
    assert (order.order_type, order.account, order.created_by) == ("fault", svc.acct_a, svc.a_agent)
    assert order.triage == "dispatch" and not order.received_entered
    page = body(c.get(r["Location"]))
    assert "研判需派发抢修" in page and 'data-testid="order-triage"' in page
    assert AuditEvent.objects.filter(action="workorder.create", object_id=str(order.pk)).exists()


@pytest.mark.django_db
def test_new_order_for_an_unidentified_caller_and_a_service_request(svc, login):
    c = login(svc.a_clerk)
    r = new_order(
        c, account_number="", phone="13600001111", address="东关镇某村5号", area="rural", caller_name="王五"
    )
    assert r.status_code == 302
    order = WorkOrder.objects.get()
    assert (order.account, order.phone, order.area, order.caller_name) == (
        None,
        "13600001111",
        "rural",
        "王五",
    )
    r = new_order(c, order_type="service_request", sub_type="meter_check", description="电表走得快")
    assert r.status_code == 302
    assert WorkOrder.objects.get(order_type="service_request").sub_type == "meter_check"


@pytest.mark.django_db
def test_new_order_refusals_name_the_field_and_write_nothing(svc, login):
    c = login(svc.a_agent)
    later = (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    r = new_order(c, received_at=later)
    assert r.status_code == 400 and "受理时间不能晚于当前时间" in body(r)
    r = new_order(c, order_type="complaint", account_number="3999999999")
    assert r.status_code == 400 and "3999999999 不存在" in body(r)
    r = new_order(c, order_type="service_request", sub_type="")
    assert r.status_code == 400 and "服务申请须填写子类" in body(r)
    r = new_order(c, order_type="consultation", sub_type="meter_check")
    assert r.status_code == 400 and "该类型工单没有子类" in body(r)
    r = new_order(c, account_number="", phone="", address="")
    assert r.status_code == 400 and "未提供户号时须留联系电话和地址" in body(r)
    r = new_order(c, order_type="nonsense")
    assert r.status_code == 400
    # another bureau's account: not this agent's to take
    r = new_order(c, account_number="3200000001", order_type="complaint")
    assert r.status_code == 400 and "您无权在该供电单位受理工单" in body(r)
    assert (
        not WorkOrder.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="workorder").exists()
    )


@pytest.mark.django_db
def test_an_earlier_received_time_is_kept_and_audited(svc, login):
    earlier = timezone.localtime() - timedelta(days=2)
    r = new_order(login(svc.a_agent), order_type="opinion", received_at=earlier.strftime("%Y-%m-%dT%H:%M"))
    assert r.status_code == 302
    order = WorkOrder.objects.get()
    assert order.received_entered and order.received_at == earlier.replace(second=0, microsecond=0)
    row = AuditEvent.objects.get(action="workorder.received_entered")
    assert datetime.fromisoformat(row.changes["received_at"]) == order.received_at
    page = body(login(svc.a_agent).get(f"/service/orders/{order.number}/"))
    assert "补录" in page


@pytest.mark.django_db
def test_attachments_are_checked_one_by_one(svc, login, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = login(svc.a_agent)

    def files(*named):
        return [SimpleUploadedFile(n, d, content_type="application/octet-stream") for n, d in named]

    r = new_order(c, files=files(("现场.png", PNG), ("说明.txt", b"hello"), ("空.pdf", b"")))
    page = body(r)
    assert r.status_code == 400 and 'data-testid="file-errors"' in page
    assert "说明.txt" in page and "不是图片" in page and "空.pdf" in page and "是空的" in page
    assert "现场.png" not in re.search(r'data-testid="file-errors">(.*?)</ul>', page, re.S)[1]
    big = PNG + b"\x00" * (5 * 1024 * 1024)
    r = new_order(c, files=files(("大图.png", big)))
    assert r.status_code == 400 and "超过 5 MB" in body(r)
    assert not WorkOrder.objects.exists() and not WorkOrderAttachment.objects.exists()
    r = new_order(c, files=files(("现场.png", PNG), ("函件.pdf", PDF)))
    assert r.status_code == 302
    order = WorkOrder.objects.get()
    assert sorted(order.attachments.values_list("name", "content_type")) == [
        ("函件.pdf", "application/pdf"),
        ("现场.png", "image/png"),
    ]


@pytest.mark.django_db
def test_new_order_needs_workorder_handle(svc, login):
    assert login(svc.a_reader).get("/service/orders/new/").status_code == 404
    assert new_order(login(svc.a_reader)).status_code == 404
    assert new_order(login(svc.portal_user)).status_code == 404
    assert not WorkOrder.objects.exists()


@pytest.mark.django_db
def test_a_report_inside_a_known_outage_is_told_the_restoration(svc, login):
    from gridcare.outages.freeze import freeze
    from gridcare.outages.models import OutageEvent, OutageScope

    start = timezone.now() - timedelta(hours=1)
    end = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    ev = OutageEvent.objects.create(
        number="TD-T-1",
        unit=svc.station_a,
        kind="fault",
        title="10kV线路故障",
        status="in_progress",
        planned_start=start,
        planned_end=end,
        actual_start=start,
    )
    OutageScope.objects.create(event=ev, transformer_area=svc.area_a)
    freeze(ev, start=start)
    ev.areas.update(est_restoration=end)
    c = login(svc.a_agent)
    r = new_order(c)
    order = WorkOrder.objects.get()
    assert (order.triage, order.outage) == ("outage", ev)
    page = body(c.get(r["Location"]))
    when = timezone.localtime(end).strftime("%Y-%m-%d %H:%M")
    assert f"位于停电事件 TD-T-1 范围内，预计 {when} 恢复送电" in page  # the message after creating
    triage = re.search(r'data-testid="order-triage">(.*?)</p>', page, re.S)[1]
    assert "TD-T-1" in triage and when in triage and "不另派抢修" in triage


# ---------------------------------------------------------------- one order


@pytest.mark.django_db
def test_order_page_shows_clocks_history_and_only_the_actions_the_user_may_take(svc, login):
    order = make(svc.a_agent, "fault", description="整栋楼停电")
    page = body(login(svc.a_agent).get(f"/service/orders/{order.number}/"))
    assert 'data-status="created"' in page and "整栋楼停电" in page
    # arrival 45 minutes (urban) from 2026-09-24 10:00 +08:00, shown in China time, past due
    assert re.search(
        r'data-testid="deadline-arrival" data-state="overdue">.*?2026-09-24 10:45:00', page, re.S
    )
    assert 'data-testid="event-create"' in page and "受理登记" in page
    assert forms_on(page) == ["accept", "escalate", "transfer", "merge", "chase"]
    assert "138****5678" in page and "13812345678" not in page
    act(svc.a_agent, order, "accept", note="已核实")
    assert forms_on(body(login(svc.a_agent).get(f"/service/orders/{order.number}/"))) == [
        "return",
        "escalate",
        "transfer",
        "merge",
        "chase",
    ]
    page = body(login(svc.a_dispatcher).get(f"/service/orders/{order.number}/"))
    assert forms_on(page)[0] == "dispatch" and "已核实" in page
    # a dispatcher may dispatch to crew who may act on the order's unit (bureau A and below it)
    options = re.search(r'id="f-dispatch-assignee".*?</select>', page, re.S)[0]
    assert svc.a_dispatcher.display_name in options
    assert forms_on(body(login(svc.a_reader).get(f"/service/orders/{order.number}/"))) == []
    assert login(svc.b_agent).get(f"/service/orders/{order.number}/").status_code == 404
    assert login(svc.portal_user).get(f"/service/orders/{order.number}/").status_code == 404
    assert login(svc.a_agent).get("/service/orders/NO-SUCH/").status_code == 404


@pytest.mark.django_db
def test_complaints_offer_substantiation_and_the_provisional_mark(svc, login):
    order = make(svc.a_agent, "complaint", now=FUTURE)
    page = body(login(svc.a_agent).get(f"/service/orders/{order.number}/"))
    assert "substantiate" in forms_on(page)
    row = re.search(r'data-testid="deadline-reply" data-state="pending">.*?</tr>', page, re.S)[0]
    # 7 working days after Monday 2099-03-02, Monday to Friday (2099 is not loaded): Wednesday 11 March
    assert "2099-03-11 23:59:59" in row and "暂定" in row
    r = login(svc.a_agent).post(f"/service/orders/{order.number}/act/substantiate/", {"substantiated": "yes"})
    assert r.status_code == 302
    order.refresh_from_db()
    assert order.substantiated is True
    r = login(svc.a_agent).post(f"/service/orders/{order.number}/act/substantiate/", {"substantiated": ""})
    assert r.status_code == 400 and "请选择属实或不属实" in body(r)


def post(client, order, action, **data):
    return client.post(f"/service/orders/{order.number}/act/{action}/", data)


@pytest.mark.django_db
def test_actions_walk_a_complaint_to_its_close(svc, login):
    order = make(svc.a_agent, "complaint", sub_type="business")
    c = login(svc.a_agent)
    r = post(c, order, "accept", note="受理")
    assert r.status_code == 302 and r["Location"] == f"/service/orders/{order.number}/"
    r = post(c, order, "assign", assignee=str(svc.a_manager.pk), note="请客户经理处理")
    assert r.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.assignee) == ("assigned", svc.a_manager)
    assert post(c, order, "contact", note="已电话联系").status_code == 302
    assert post(c, order, "reply", resolution="已更正电费").status_code == 302
    order.refresh_from_db()
    assert (order.status, order.resolution) == ("replied", "已更正电费")
    assert post(c, order, "callback", satisfaction="satisfied", note="客户满意").status_code == 302
    r = post(c, order, "close")
    assert r.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.callback_result) == ("closed", "satisfied")
    page = body(c.get(r["Location"]))
    # a complaint may still be marked substantiated after it is closed (it counts in complaint rates then)
    assert "已归档" in page and forms_on(page) == ["substantiate"]
    assert list(order.events.values_list("action", flat=True)) == [
        "create",
        "accept",
        "assign",
        "contact",
        "reply",
        "callback",
        "close",
    ]


@pytest.mark.django_db
def test_refused_actions_rerender_with_the_error_and_change_nothing(svc, login):
    order = make(svc.a_agent, "fault")
    c = login(svc.a_agent)
    events = WorkOrderEvent.objects.count()
    r = post(c, order, "close", note="x")
    assert r.status_code == 400 and 'data-testid="action-errors"' in body(r) and "不能执行" in body(r)
    r = post(c, order, "return", note="")
    assert r.status_code == 400
    act(svc.a_agent, order, "accept")
    events += 1
    r = post(c, order, "return", note="  ")
    assert r.status_code == 400 and "退回须填写原因" in body(r)
    # the agent may not dispatch: answered as for a missing order
    assert post(c, order, "dispatch", assignee=str(svc.a_dispatcher.pk)).status_code == 404
    # a dispatcher may not send another bureau's staff
    b_crew = type(svc.a_dispatcher).objects.create(username="b_crew", role="dispatcher", unit=svc.bureau_b)
    r = post(login(svc.a_dispatcher), order, "dispatch", assignee=str(b_crew.pk))
    assert r.status_code == 400 and "所选人员不能处理该工单" in body(r)
    r = post(c, order, "merge", into="NO-SUCH")
    assert r.status_code == 400 and "工单 NO-SUCH 不存在" in body(r)
    r = post(c, order, "transfer", unit="")
    assert r.status_code == 400 and "请选择另一个供电单位" in body(r)
    r = post(c, order, "fly")
    assert r.status_code == 404
    assert c.get(f"/service/orders/{order.number}/act/accept/").status_code == 405
    assert post(login(svc.b_agent), order, "escalate").status_code == 404
    assert post(login(svc.a_reader), order, "escalate").status_code == 404
    order.refresh_from_db()
    assert order.status == "accepted" and order.assignee is None and order.escalation_level == 0
    assert WorkOrderEvent.objects.count() == events


@pytest.mark.django_db
def test_side_actions_return_escalate_chase_transfer_merge(svc, login):
    order = make(svc.a_agent, "opinion")
    dup = make(svc.a_agent, "opinion")
    c = login(svc.a_agent)
    post(c, order, "accept")
    assert post(c, order, "return", note="信息不全").status_code == 302
    order.refresh_from_db()
    assert order.status == "created"
    assert post(c, order, "escalate", note="重要客户").status_code == 302
    assert post(c, order, "chase", note="客户来电催办").status_code == 302
    order.refresh_from_db()
    assert (order.escalation_level, order.chase_count, order.priority) == (1, 1, 3)
    assert post(login(svc.admin), dup, "transfer", unit=str(svc.bureau_b.pk)).status_code == 302
    dup.refresh_from_db()
    assert dup.unit == svc.bureau_b
    assert login(svc.a_agent).get(f"/service/orders/{dup.number}/").status_code == 404
    other = make(svc.a_agent, "opinion")
    assert post(c, other, "merge", into=order.number).status_code == 302
    other.refresh_from_db()
    assert (other.status, other.merged_into) == ("merged", order)


@pytest.mark.django_db
def test_an_unsatisfied_callback_reopens_the_order(svc, login):
    order = make(svc.a_agent, "consultation")
    c = login(svc.a_agent)
    assert post(c, order, "answer", resolution="峰谷电价按时段计费").status_code == 302
    r = post(c, order, "callback", satisfaction="unsatisfied", note="没听懂")
    assert r.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.reopen_count, order.callback_result) == ("created", 1, "unsatisfied")
    page = body(c.get(r["Location"]))
    assert "回访不满意，已退回重新处理" in page
    r = post(c, order, "callback", satisfaction="")
    assert r.status_code == 400


@pytest.mark.django_db
def test_attachments_upload_and_download_through_the_permission_check(svc, login):
    from django.core.files.uploadedfile import SimpleUploadedFile

    order = make(svc.a_agent, "complaint")
    c = login(svc.a_agent)
    r = c.post(
        f"/service/orders/{order.number}/act/attach/",
        {"files": [SimpleUploadedFile("票据.png", PNG), SimpleUploadedFile("x.exe", b"MZ\x90\x00")]},
    )
    assert r.status_code == 400 and "x.exe" in body(r)
    assert not WorkOrderAttachment.objects.exists()
    r = c.post(
        f"/service/orders/{order.number}/act/attach/", {"files": [SimpleUploadedFile("票据.png", PNG)]}
    )
    assert r.status_code == 302
    att = WorkOrderAttachment.objects.get()
    page = body(c.get(f"/service/orders/{order.number}/"))
    assert f'href="/service/attachments/{att.pk}/"' in page
    r = c.get(f"/service/attachments/{att.pk}/")
    assert r.status_code == 200 and r["Content-Type"] == "image/png" and b"".join(r.streaming_content) == PNG
    assert r["X-Content-Type-Options"] == "nosniff"
    assert login(svc.a_reader).get(f"/service/attachments/{att.pk}/").status_code == 200
    assert login(svc.b_agent).get(f"/service/attachments/{att.pk}/").status_code == 404
    assert login(svc.portal_user).get(f"/service/attachments/{att.pk}/").status_code == 404
    assert login(svc.a_agent).get("/service/attachments/987654/").status_code == 404
    r = c.post(f"/service/orders/{order.number}/act/attach/", {})
    assert r.status_code == 400 and "请选择要上传的文件" in body(r)


@pytest.mark.django_db
def test_a_prepaid_account_with_no_balance_is_answered_as_arrears(svc, login):
    from datetime import date
    from decimal import Decimal

    from gridcare.payments.prepaid.models import PrepaidAccount, PrepaidEstimate

    now = timezone.now()
    pre = PrepaidAccount.objects.create(
        account=svc.acct_a, enrolled_on=date(2026, 1, 1), created_at=now, updated_at=now
    )
    est = PrepaidEstimate.objects.create(
        prepaid=pre,
        estimated_on=date(2026, 9, 23),
        available=Decimal("-12.50"),
        remaining=Decimal("-12.50"),
        created_at=now,
    )
    PrepaidAccount.objects.filter(pk=pre.pk).update(last_estimate=est)
    c = login(svc.a_agent)
    r = new_order(c)
    order = WorkOrder.objects.get()
    assert order.triage == "arrears"
    page = body(c.get(r["Location"]))
    assert "预付费账户余额不足（-12.50 元），按欠费停电答复客户" in page
    assert "引导交费后复电" in re.search(r'data-testid="order-triage">(.*?)</p>', page, re.S)[1]
