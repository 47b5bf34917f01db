"""The demo 95598 data (`gridcare demo_service`) on a small demo county (customers/demo.py, 300 customers, with its
demo outages): a year of orders of every type, sub-type and channel, walked legally through their lifecycles, with
the deadlines the services compute, overdue and warned orders, outage-linked fault reports, and a knowledge base
of at least 30 published articles; idempotent, `--replace` rebuilds the same data."""

import random
from collections import defaultdict
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from gridcare.core.clock import demo_clock
from gridcare.core.models import AuditEvent
from gridcare.customers import demo as customers_demo
from gridcare.org.models import User
from gridcare.outages.demo import demo_outages
from gridcare.outages.models import AffectedAccount
from gridcare.service import lifecycle, reports, services
from gridcare.service.choices import ComplaintSubType, OrderChannel, OrderType, ServiceRequestSubType
from gridcare.service.deadlines import CHINA
from gridcare.service.demo import demo_service
from gridcare.service.models import (
    KnowledgeArticle,
    KnowledgeVersion,
    WorkOrder,
    WorkOrderDeadline,
    WorkOrderEvent,
)

SIDE = {"chase", "substantiate", "rate", "escalate"}


@pytest.fixture
def county(db):
    customers_demo.seed_demo(customers=300, seed=3, chunk_size=300, drop_indexes=False, fork=False)


def build(today: date):
    demo_outages(today=today, seed=42)
    return demo_service(today=today, seed=42)


# A day of a statutory holiday and the year's end (deadlines run into a year the calendar does not hold).
@pytest.fixture(params=[date(2026, 10, 1), date(2026, 12, 31)], ids=["national-day", "year-end"])
def built(county, request):
    today = request.param
    counts = build(today)
    return today, demo_clock(today)[1], counts


def test_a_year_of_orders_of_every_type_sub_type_and_channel(built):
    today, now, counts = built
    orders = list(WorkOrder.objects.filter(demo=True).select_related("account"))
    assert len(orders) == counts["orders"] >= 150
    assert {o.order_type for o in orders} == set(OrderType.values)
    assert {o.channel for o in orders} == set(OrderChannel.values)
    assert {o.sub_type for o in orders if o.order_type == "service_request"} == set(
        ServiceRequestSubType.values
    )
    assert set(ComplaintSubType.values) <= {o.sub_type for o in orders if o.order_type == "complaint"}
    first = today - timedelta(days=365)
    for o in orders:
        day = o.received_at.astimezone(CHINA).date()
        assert first <= day <= today and o.received_at <= now
        assert o.received_at.microsecond == 0
        assert len(o.number) == 16 and o.number.startswith(f"{day:%Y%m%d}")
        if o.account is not None:
            # On an account in service then, in its unit.
            assert o.account.opened_on <= day and (o.account.closed_on is None or o.account.closed_on > day)
            assert o.unit_id == o.account.unit_id
        else:
            assert o.phone and o.address  # an unidentified caller
        if o.order_type == "fault":
            assert o.area in ("urban", "rural", "remote") and o.triage in ("dispatch", "outage")
    assert any(o.account is None for o in orders)
    # Spread over the year: orders in at least ten of the twelve months back.
    months = {(o.received_at.astimezone(CHINA).year, o.received_at.astimezone(CHINA).month) for o in orders}
    assert len(months) >= 10


def test_lifecycles_are_legal_and_the_stored_state_is_their_outcome(built):
    _today, now, _counts = built
    events = defaultdict(list)
    for e in WorkOrderEvent.objects.filter(order__demo=True).order_by("at", "id"):
        events[e.order_id].append(e)
    for o in WorkOrder.objects.filter(demo=True):
        status = ""
        # Created when registered: at once, or a letter entered later with the day it came as received_at.
        create = events[o.pk][0]
        assert create.action == "create" and create.at == o.created_at
        assert (o.created_at > o.received_at) == o.received_entered == (o.channel == "letter")
        for e in events[o.pk]:
            assert create.at <= e.at <= now
            if e.action in SIDE:
                assert e.from_status == e.to_status == status, (o.number, e.action)
                continue
            assert e.from_status == status, (o.number, e.action)
            if e.action == "create":
                assert status == "" and e.to_status == "created"
            elif e.action == "merge":
                assert status not in lifecycle.TERMINAL and e.to_status == "merged"
                assert o.merged_into_id and e.data["into"] == o.merged_into.number
                into = o.merged_into  # an open duplicate at the time
                assert into.created_at <= e.at and (into.closed_at is None or into.closed_at > e.at)
            elif e.action == "callback" and e.data["satisfaction"] == "unsatisfied":
                assert lifecycle.forward_target(o.order_type, status, "callback") == "callback"
                assert e.to_status == lifecycle.REOPEN_TO[o.order_type] and e.data["reopened"]
            else:
                assert lifecycle.forward_target(o.order_type, status, e.action) == e.to_status
            status = e.to_status
        assert status == o.status, o.number
        if o.status in lifecycle.TERMINAL:
            assert o.closed_at is not None
        if o.status == "closed" and o.order_type not in lifecycle.OPTIONAL_CALLBACK:
            assert o.callback_result in ("satisfied", "basic")


def test_the_story_holds_overdue_warned_merged_reopened_chased_rated(built):
    _today, now, counts = built
    demo = WorkOrder.objects.filter(demo=True)
    open_orders = demo.exclude(status__in=lifecycle.TERMINAL)
    overdue = open_orders.filter(deadlines__met_at__isnull=True, deadlines__due_at__lt=now).distinct()
    assert overdue.count() == counts["overdue"] >= 3
    assert overdue.filter(escalation_level__gt=0, chase_count__gt=0).exists()
    assert WorkOrderDeadline.objects.filter(order__in=overdue, escalated_at__isnull=False).exists()
    warned = WorkOrderDeadline.objects.filter(
        order__in=open_orders, met_at__isnull=True, due_at__gte=now, warned_at__isnull=False
    )
    assert warned.exists() and counts["warned"] >= 1
    for d in warned.select_related("order"):  # warned at 80 % of the time from receipt to the due time
        assert d.warned_at >= d.order.received_at + (d.due_at - d.order.received_at) * 0.8
    assert demo.filter(status="merged", merged_into__isnull=False).count() == counts["merged"] > 0
    assert demo.filter(reopen_count__gt=0).exists()
    assert WorkOrderEvent.objects.filter(order__demo=True, action="callback", data__reopened=True).exists()
    sats = set(
        WorkOrderEvent.objects.filter(order__demo=True, action="callback").values_list(
            "data__satisfaction", flat=True
        )
    )
    assert sats == {"satisfied", "basic", "unsatisfied"}
    assert demo.filter(chase_count__gt=0).exists()
    assert demo.filter(order_type="complaint", substantiated=True).exists()
    assert demo.filter(order_type="complaint", substantiated=False).exists()
    assert demo.exclude(order_type="complaint").filter(substantiated__isnull=False).count() == 0
    assert demo.filter(channel="portal", status="closed").exclude(customer_rating="").exists()
    # The portal demo customer follows their own orders: one closed and not yet rated.
    mine = demo.filter(customer_user__username=customers_demo.PORTAL_DEMO_PHONE)
    assert mine.count() >= 3 and mine.filter(status="closed", customer_rating="").exists()


def test_fault_reports_inside_outages_are_linked_and_merged(built):
    _today, _now, counts = built
    linked = WorkOrder.objects.filter(demo=True, outage__isnull=False).select_related("outage")
    assert linked.count() == counts["outage_linked"] > 0
    for o in linked:
        row = AffectedAccount.objects.filter(event=o.outage, account=o.account).select_related("interruption")
        row = row.first()
        assert row is not None, o.number  # the caller's account was inside the outage …
        assert row.interruption.start <= o.received_at <= row.interruption.end  # … at that time
        if o.triage == "outage":
            # After the outage was frozen: linked and merged into the first caller's order, no crew sent.
            assert o.received_at >= o.outage.frozen_at
            assert o.status == "merged" and o.merged_into.outage_id == o.outage_id
            assert o.merged_into.triage == "dispatch"
        else:
            assert o.triage == "dispatch" and o.arrived_at is not None
    assert linked.filter(triage="outage").exists()


def test_deadlines_are_what_the_services_would_compute(built):
    today, _now, _counts = built
    provisional = WorkOrderDeadline.objects.filter(order__demo=True, provisional=True)
    # Only a date counted in 2027 (a year the calendar does not hold yet) makes a deadline provisional.
    assert provisional.exists() == (today == date(2026, 12, 31))
    assert all(d.due_at.astimezone(CHINA).year == 2027 for d in provisional)
    orders = list(WorkOrder.objects.filter(demo=True).order_by("pk"))
    stored = defaultdict(dict)
    for d in WorkOrderDeadline.objects.filter(order__demo=True):
        stored[d.order_id][d.name] = d
    for o in random.Random(5).sample(orders, min(120, len(orders))):
        mine = stored[o.pk]
        preview = services.preview_deadlines(
            order_type=o.order_type,
            sub_type=o.sub_type or None,
            area=o.area or None,
            received_at=o.received_at,
        )
        for d in preview:
            assert (mine[d.name].due_at, mine[d.name].provisional) == (d.due_at, d.provisional), (
                o.number,
                d.name,
            )
        if "restoration" in mine:
            r = mine["restoration"]
            again = services.preview_deadlines(
                order_type="fault",
                sub_type=None,
                area=o.area,
                received_at=o.received_at,
                arrived_at=r.starts_at,
            )
            assert next(d.due_at for d in again if d.name == "restoration") == r.due_at
        if o.order_type in lifecycle.OPTIONAL_CALLBACK:
            assert "callback" not in mine and not mine
        for d in mine.values():
            if d.met_at is not None:
                assert d.met_at >= o.received_at


def test_the_knowledge_base(built):
    articles = list(KnowledgeArticle.objects.select_related("published__author", "published__reviewer"))
    assert len(articles) >= 30
    staff = {u.username: u for u in User.objects.filter(username__in=["agent", "cmanager", "manager"])}
    for a in articles:
        v = a.published
        assert v is not None and v.status == "approved" and v.article_id == a.pk and a.title == v.title
        assert v.body and v.keywords
        assert v.author in (staff["agent"], staff["cmanager"]) and v.reviewer == staff["manager"]
        assert v.reviewed_at and v.created_at <= v.reviewed_at
    versions = KnowledgeVersion.objects.all()
    assert versions.filter(version__gte=2).values("article").distinct().count() >= 10
    assert versions.filter(status="rejected").exclude(review_note="").exists()
    pending = versions.filter(status="pending")
    assert pending.exists() and all(p.version > p.article.published.version for p in pending)
    titles = " ".join(a.title for a in articles)
    for topic in (
        "阶梯电价",
        "峰谷",
        "交费方式",
        "停电",
        "故障报修",
        "电能表",
        "过户",
        "光伏",
        "充电桩",
        "发票",
        "违约金",
    ):
        assert topic in titles, topic


def test_idempotent_and_replace_rebuilds_the_same(county):
    today = date(2026, 6, 30)
    counts = build(today)
    audit = AuditEvent.objects.filter(action="demo.service")
    assert audit.count() == 1 and audit.get().changes["orders"] == counts["orders"]
    sizes = (
        WorkOrder.objects.count(),
        WorkOrderEvent.objects.count(),
        WorkOrderDeadline.objects.count(),
        KnowledgeArticle.objects.count(),
        KnowledgeVersion.objects.count(),
    )
    out = StringIO()
    call_command("demo_service", "--today", "2026-06-30", stdout=out)
    assert "nothing written" in out.getvalue()
    assert audit.count() == 1
    assert sizes == (
        WorkOrder.objects.count(),
        WorkOrderEvent.objects.count(),
        WorkOrderDeadline.objects.count(),
        KnowledgeArticle.objects.count(),
        KnowledgeVersion.objects.count(),
    )
    numbers = sorted(WorkOrder.objects.values_list("number", "status", "received_at"))
    # A hand-made order merged into a demo one lets go of it when the demo is rebuilt.
    target = WorkOrder.objects.filter(demo=True).exclude(status__in=lifecycle.TERMINAL).first()
    mine = WorkOrder.objects.create(
        number="2026063012345678",
        order_type="consultation",
        channel="phone",
        unit_id=target.unit_id,
        status="merged",
        merged_into=target,
        received_at=target.received_at,
    )
    out = StringIO()
    call_command("demo_service", "--today", "2026-06-30", "--replace", stdout=out)
    assert f"replaced {counts['orders']} orders and 35 articles" in out.getvalue()
    assert (
        sorted(WorkOrder.objects.filter(demo=True).values_list("number", "status", "received_at")) == numbers
    )
    mine.refresh_from_db()
    assert mine.merged_into_id is None
    assert audit.count() == 2


def test_the_reports_on_the_demo_read_sensibly(built, django_assert_max_num_queries):
    today, now, counts = built
    admin = User.objects.get(username="admin")
    first, last = reports.default_period(today)
    with django_assert_max_num_queries(12):
        doc = reports.service_report(user=admin, unit_id=None, first=first, last=last, as_of=now)
    assert doc["volumes"]["total"] > 0
    assert all(t["count"] > 0 for t in doc["volumes"]["by_type"])
    assert 70 <= doc["on_time"]["overall"]["rate"] < 100
    assert 80 <= doc["satisfaction"]["callbacks"]["rate"] < 100
    urban = next(r for r in doc["times"]["rows"] if r["area"] == "urban")
    assert urban["arrival"]["count"] > 0 and urban["arrival"]["avg_minutes"] < 45  # mostly within commitment


def test_without_accounts_there_is_nothing_to_build_orders_on(db):
    out = StringIO()
    call_command("demo_service", "--today", "2026-06-30", stdout=out)
    assert "run `gridcare seed` first" in out.getvalue()
    assert not WorkOrder.objects.exists() and KnowledgeArticle.objects.count() == 35
