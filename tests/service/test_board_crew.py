"""The dispatcher board and the crew's phone page (issue 15 §5): open fault orders sorted by urgency then the
nearest deadline, grouped by transformer area with their outage, refreshed by htmx polling, dispatched from the
board; the crew member departs, arrives and restores with notes and photos."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from gridcare.core.permissions import Role
from gridcare.service.models import WorkOrder, WorkOrderAttachment, WorkOrderEvent
from tests.factories import AreaFactory, CustomerFactory, UserFactory, make_account

from .test_pages_orders import PAST, PNG, act, body, make


@pytest.fixture
def crew(svc):
    """A repair crew member at station A1 (a dispatcher-role user: workorder.dispatch)."""
    return UserFactory(username="a_crew", role=Role.DISPATCHER, unit=svc.station_a, display_name="李师傅")


def positions(page: str, numbers) -> list[int]:
    return [page.index(f'data-testid="board-{n}"') for n in numbers]


# ---------------------------------------------------------------- board


@pytest.mark.django_db
def test_board_sorts_by_urgency_then_deadline_and_groups_by_area(svc, login):
    area2 = AreaFactory(unit=svc.station_a, name="东关2号台区", code="T-2")
    acct2 = make_account(CustomerFactory(unit=svc.station_a), "3100000002", area2)
    early = make(svc.a_agent, "fault", now=PAST)  # arrival due 10:45
    later = make(svc.a_agent, "fault", now=PAST + timedelta(minutes=30))  # due 11:15
    urgent = make(svc.a_agent, "fault", now=PAST + timedelta(hours=1), priority=3)  # 特急, due 11:45
    other = make(svc.a_agent, "fault", account_number=acct2.account_number, now=PAST + timedelta(minutes=10))
    not_fault = make(svc.a_agent, "complaint")
    restored = make(svc.a_agent, "fault", now=PAST)
    act(svc.a_agent, restored, "accept")
    for a in ("dispatch", "depart", "arrive"):
        act(svc.a_dispatcher, restored, a)
    act(svc.a_dispatcher, restored, "restore", fault_cause="树障")
    theirs = make(svc.b_agent, "fault", account_number="3200000001")
    page = body(login(svc.a_dispatcher).get("/service/board/"))
    assert positions(page, [urgent.number, early.number, later.number]) == sorted(
        positions(page, [urgent.number, early.number, later.number])
    )
    for n in (not_fault.number, restored.number, theirs.number):
        assert f'data-testid="board-{n}"' not in page
    # area A holds three reports (the most urgent one first), area 2 one
    group_a = re.search(rf'data-testid="area-{svc.area_a.pk}">.*?</table>', page, re.S)[0]
    group_2 = re.search(rf'data-testid="area-{area2.pk}">.*?</table>', page, re.S)[0]
    assert "3 张报修" in group_a and "1 张报修" in group_2 and other.number in group_2
    assert page.index(f'data-testid="area-{svc.area_a.pk}"') < page.index(f'data-testid="area-{area2.pk}"')
    assert "共 4 张故障工单，2 个台区" in page
    assert 'class="clock-overdue"' in page


@pytest.mark.django_db
def test_board_polls_a_partial_and_shows_the_linked_outage(svc, login):
    from django.utils import timezone

    from gridcare.outages.freeze import freeze
    from gridcare.outages.models import OutageEvent, OutageScope

    start = timezone.now() - timedelta(hours=1)
    ev = OutageEvent.objects.create(
        number="TD-F-9",
        unit=svc.station_a,
        kind="fault",
        title="东关线跳闸",
        status="in_progress",
        planned_start=start,
        planned_end=start + timedelta(hours=4),
        actual_start=start,
    )
    OutageScope.objects.create(event=ev, transformer_area=svc.area_a)
    freeze(ev, start=start)
    order = make(svc.a_agent, "fault", now=timezone.now())
    act(svc.a_agent, order, "accept", now=timezone.now())
    assert order.triage == "outage"
    c = login(svc.a_dispatcher)
    page = body(c.get("/service/board/"))
    assert '<script src="/static/service/board.js"' in page
    assert re.search(r'id="board"[^>]*hx-get="/service/board/"[^>]*hx-trigger="every 20s"', page)
    group = re.search(rf'data-testid="area-{svc.area_a.pk}">.*?</table>', page, re.S)[0]
    assert "TD-F-9" in group and "已知停电" in group
    assert f'data-testid="board-dispatch-{order.number}"' not in page  # told the restoration, no crew sent
    r = c.get("/service/board/", HTTP_HX_REQUEST="true")
    part = body(r)
    assert r.status_code == 200 and part.startswith('<div id="board"') and "<html" not in part
    assert order.number in part


@pytest.mark.django_db
def test_board_for_readers_without_dispatch_and_quick_dispatch(svc, login, crew):
    order = make(svc.a_agent, "fault")
    fresh = make(svc.a_agent, "fault")
    act(svc.a_agent, order, "accept")
    page = body(login(svc.a_reader).get("/service/board/"))
    assert order.number in page and "board-dispatch-" not in page and "board-accept-" not in page
    page = body(login(svc.a_agent).get("/service/board/"))
    assert f'data-testid="board-accept-{fresh.number}"' in page and "board-dispatch-" not in page
    c = login(svc.a_dispatcher)
    page = body(c.get("/service/board/"))
    form = re.search(rf'data-testid="board-dispatch-{order.number}">.*?</form>', page, re.S)[0]
    assert "李师傅" in form
    r = c.post(f"/service/orders/{order.number}/act/dispatch/", {"assignee": str(crew.pk), "back": "board"})
    assert r.status_code == 302 and r["Location"] == "/service/board/"
    order.refresh_from_db()
    assert (order.status, order.assignee) == ("dispatched", crew)
    # dispatching it again is refused on the board, with the reason
    r = c.post(f"/service/orders/{order.number}/act/dispatch/", {"assignee": str(crew.pk), "back": "board"})
    assert r.status_code == 400 and 'data-testid="action-errors"' in body(r) and "不能执行" in body(r)
    r = c.post(f"/service/orders/{fresh.number}/act/accept/", {"back": "board"})
    assert r.status_code == 302 and r["Location"] == "/service/board/"
    assert login(svc.b_agent).get("/service/board/").status_code == 200
    assert order.number not in body(login(svc.b_agent).get("/service/board/"))
    assert login(svc.portal_user).get("/service/board/").status_code == 404


@pytest.mark.django_db
def test_board_reads_a_bounded_number_of_queries(svc, login, crew, django_assert_max_num_queries):
    for i in range(3):
        o = make(svc.a_agent, "fault", now=PAST + timedelta(minutes=i))
        act(svc.a_agent, o, "accept")
    c = login(svc.a_dispatcher)
    c.get("/service/board/")
    with django_assert_max_num_queries(12) as few:
        c.get("/service/board/")
    for i in range(25):
        area = AreaFactory(unit=svc.station_a)
        acct = make_account(CustomerFactory(unit=svc.station_a), f"31000100{i:02d}", area)
        o = make(svc.a_agent, "fault", account_number=acct.account_number, now=PAST + timedelta(minutes=i))
        act(svc.a_agent, o, "accept")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = body(c.get("/service/board/"))
    assert "共 28 张故障工单，26 个台区" in page


# ---------------------------------------------------------------- crew page


@pytest.mark.django_db
def test_crew_page_fits_a_phone_and_is_for_dispatch_roles(svc, login, crew):
    r = login(crew).get("/service/crew/")
    page = body(r)
    assert r.status_code == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "暂无派给您的抢修任务" in page
    for user in (svc.a_agent, svc.a_clerk, svc.a_reader, svc.portal_user):
        assert login(user).get("/service/crew/").status_code == 404, user.username


@pytest.mark.django_db
def test_crew_departs_arrives_and_restores_with_notes_and_photos(svc, login, crew):
    order = make(svc.a_agent, "fault")
    mine_not = make(svc.a_agent, "fault")
    act(svc.a_agent, order, "accept")
    act(svc.a_agent, mine_not, "accept")
    act(svc.a_dispatcher, order, "dispatch", assignee=crew)
    act(svc.a_dispatcher, mine_not, "dispatch", assignee=svc.a_dispatcher)
    c = login(crew)
    page = body(c.get("/service/crew/"))
    card = re.search(rf'data-testid="crew-{order.number}">.*?</form>', page, re.S)[0]
    assert f'data-testid="crew-depart-{order.number}"' in card
    assert 'type="file" accept="image/*" capture="environment" multiple' in card
    assert mine_not.number not in page

    def step(action, **data):
        return c.post(f"/service/orders/{order.number}/act/{action}/", {"back": "crew", **data})

    r = step("depart", note="已出发，预计20分钟到")
    assert r.status_code == 302 and r["Location"] == "/service/crew/"
    page = body(c.get("/service/crew/"))
    assert f'data-testid="crew-arrive-{order.number}"' in page and "出发" in page
    r = step(
        "arrive", note="到达", files=[SimpleUploadedFile("现场.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 32)]
    )
    assert r.status_code == 302
    order.refresh_from_db()
    assert order.status == "arrived" and order.arrived_at is not None
    assert list(order.attachments.values_list("content_type", flat=True)) == ["image/jpeg"]
    # restoring needs a fault cause: refused, the typed text kept, nothing written
    events = WorkOrderEvent.objects.count()
    r = step("restore", fault_cause="", resolution="更换熔丝", files=[SimpleUploadedFile("修复.png", PNG)])
    assert r.status_code == 400 and "恢复送电须填写故障原因" in body(r) and "更换熔丝" in body(r)
    r = step("restore", fault_cause="熔丝熔断", files=[SimpleUploadedFile("x.txt", b"text")])
    assert r.status_code == 400 and "x.txt" in body(r)
    order.refresh_from_db()
    assert order.status == "arrived" and WorkOrderEvent.objects.count() == events
    assert WorkOrderAttachment.objects.filter(order=order).count() == 1
    r = step(
        "restore", fault_cause="熔丝熔断", resolution="更换熔丝", files=[SimpleUploadedFile("修复.png", PNG)]
    )
    assert r.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.fault_cause, order.resolution) == ("restored", "熔丝熔断", "更换熔丝")
    assert order.attachments.count() == 2
    page = body(c.get("/service/crew/"))
    assert f'data-testid="crew-{order.number}"' not in page and "已办理“恢复送电”" in page
    notes = list(order.events.values_list("action", "note"))
    assert ("depart", "已出发，预计20分钟到") in notes and ("arrive", "到达") in notes


@pytest.mark.django_db
def test_crew_takes_an_accepted_order_and_may_not_act_on_others(svc, login, crew):
    waiting = make(svc.a_agent, "fault")
    act(svc.a_agent, waiting, "accept")
    created = make(svc.a_agent, "fault")
    c = login(crew)
    page = body(c.get("/service/crew/"))
    assert f'data-testid="crew-take-{waiting.number}"' in page and created.number not in page
    r = c.post(f"/service/orders/{waiting.number}/act/dispatch/", {"back": "crew", "assignee": str(crew.pk)})
    assert r.status_code == 302
    waiting.refresh_from_db()
    assert (waiting.status, waiting.assignee) == ("dispatched", crew)
    assert f'data-testid="crew-depart-{waiting.number}"' in body(c.get("/service/crew/"))
    # a crew member of bureau B neither sees nor moves bureau A's order
    b_crew = UserFactory(username="b_crew", role=Role.DISPATCHER, unit=svc.bureau_b)
    r = login(b_crew).post(f"/service/orders/{waiting.number}/act/depart/", {"back": "crew"})
    assert r.status_code == 404
    waiting.refresh_from_db()
    assert waiting.status == "dispatched"
    assert WorkOrder.objects.filter(status="departed").count() == 0
