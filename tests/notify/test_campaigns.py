"""Holiday greeting campaigns (seed 004 §3.2): segment selection, idempotent launch, scheduled time, the
permission matrix on the API and the console page, and the CLI.

Customers: 张三 (station A1, household/residential), 李四 (station B1, household/residential) from the
shared world, plus 东关商店 (station A1, sme/commercial) added here.
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.choices import CustomerClass, Segment
from gridcare.jobs.models import Job
from gridcare.notify import campaigns, outbox
from gridcare.notify.models import Campaign, Notification
from tests.brokers import broker_at
from tests.factories import CustomerFactory, UserFactory, make_account

from .conftest import at

URL = "/api/v1/notify/campaigns"


@pytest.fixture
def shop(world):
    c = CustomerFactory(
        name="东关商店",
        unit=world.station_a,
        segment=Segment.SME,
        customer_class=CustomerClass.COMMERCIAL,
        phone="13811112222",
    )
    make_account(c, "3100000002", world.area_a)
    return c


@pytest.fixture
def b_manager(world):
    return UserFactory(username="b_manager", role=Role.MANAGER, unit=world.bureau_b)


def create(world, user=None, **kw):
    args = {
        "name": "2027年春节问候",
        "unit_id": world.bureau_a.pk,
        "text": "新春快乐，阖家安康！",
        "scheduled_at": at(2027, 2, 16, 9),
        "now": at(2027, 2, 10, 10),
        **kw,
    }
    return campaigns.campaign_create(actor=Actor(user=user or world.a_manager), **args)


def test_segment_selection(world, shop):
    assert set(campaigns.campaign_customers(create(world)).values_list("id", flat=True)) == {
        world.cust_a.pk,
        shop.pk,
    }
    household = create(world, segment=Segment.HOUSEHOLD)
    assert list(campaigns.campaign_customers(household).values_list("id", flat=True)) == [world.cust_a.pk]
    commercial = create(world, customer_class=CustomerClass.COMMERCIAL)
    assert list(campaigns.campaign_customers(commercial).values_list("id", flat=True)) == [shop.pk]
    everyone = create(world, user=world.admin, unit_id=world.company.pk)
    assert campaigns.campaign_customers(everyone).count() == 3


def test_launch_enqueues_once_at_the_scheduled_time(world, shop):
    c = create(world)
    campaigns.campaign_launch(actor=Actor(user=world.a_manager), campaign_id=c.pk, now=at(2027, 2, 10, 10))
    again = campaigns.campaign_launch(
        actor=Actor(user=world.a_manager), campaign_id=c.pk, now=at(2027, 2, 10, 11)
    )
    assert again.status == "launched" and again.recipients == 2
    rows = list(Notification.objects.filter(campaign=c).order_by("customer_id"))
    assert [n.customer_id for n in rows] == sorted([world.cust_a.pk, shop.pk])
    assert all(n.not_before == at(2027, 2, 16, 9) and n.kind == "greeting" for n in rows)
    assert rows[0].body == "【供电服务】尊敬的张三：新春快乐，阖家安康！"
    assert AuditEvent.objects.filter(action="notify.campaign_launch").count() == 1


def test_launch_at_night_waits_for_quiet_hours_to_end(world):
    c = create(world, scheduled_at=at(2027, 2, 16, 23, 0))
    campaigns.campaign_launch(actor=Actor(user=world.a_manager), campaign_id=c.pk, now=at(2027, 2, 10, 10))
    assert Notification.objects.get(campaign=c).not_before == at(2027, 2, 17, 8, 0)


def test_bad_input_names_the_field(world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        create(world, name="", text="x" * 301, segment="vip")
    assert set(exc.value.message_dict) == {"name", "text", "segment"}
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 401),
        ("portal_user", 403),
        ("a_clerk", 403),
        ("b_manager", 404),
        ("a_manager", 201),
    ],
)
def test_api_create_matrix(world, login, b_manager, who, status):
    user = {"b_manager": b_manager}.get(who) or (getattr(world, who) if who else None)
    r = login(user).post(
        URL,
        {"name": "春节问候", "unit_id": world.station_a.pk, "text": "新春快乐", "segment": "household"},
        content_type="application/json",
    )
    assert r.status_code == status, r.content
    assert Campaign.objects.count() == (1 if status == 201 else 0)
    if status == 201:
        body = r.json()
        assert (body["status"], body["recipients"], body["segment"]) == ("draft", 0, "household")


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 401),
        ("portal_user", 404),
        ("a_clerk", 404),
        ("b_manager", 404),
        ("a_manager", 202),
    ],
)
def test_api_launch_matrix(world, login, b_manager, who, status):
    c = create(world, scheduled_at=None)
    user = {"b_manager": b_manager}.get(who) or (getattr(world, who) if who else None)
    r = login(user).post(f"{URL}/{c.pk}/launch")
    assert r.status_code == status, r.content
    assert Notification.objects.count() == (1 if status == 202 else 0)
    assert Job.objects.count() == (1 if status == 202 else 0)  # refused: no job row either
    if status == 202:
        body = r.json()
        assert body["recipients"] == 1 and body["pending"] == 1
        assert body["job_state"] == "succeeded" and Job.objects.get(pk=body["job_id"]).result == {
            "campaign_id": c.pk,
            "recipients": 1,
        }
        assert login(user).post(f"{URL}/{c.pk}/launch").json()["recipients"] == 1  # idempotent
        assert Notification.objects.count() == 1


def test_api_list_is_unit_scoped(world, login, b_manager):
    create(world)
    assert [c["name"] for c in login(world.a_manager).get(URL).json()] == ["2027年春节问候"]
    assert login(b_manager).get(URL).json() == []
    assert login(world.a_clerk).get(URL).status_code == 403


def test_api_validation_error(world, login):
    r = login(world.a_manager).post(
        URL,
        {"name": "x", "unit_id": world.station_a.pk, "text": "", "customer_class": "bogus"},
        content_type="application/json",
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["detail"]} == {"text", "customer_class"}


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 302),
        ("portal_user", 404),
        ("a_clerk", 404),
        ("a_manager", 200),
    ],
)
def test_console_page_matrix(world, login, who, status):
    r = login(getattr(world, who) if who else None).get("/notify/campaigns/")
    assert r.status_code == status


def test_console_create_preview_launch(world, login, shop, b_manager, django_assert_max_num_queries):
    c = login(world.a_manager)
    r = c.post(
        "/notify/campaigns/",
        {
            "name": "中秋问候",
            "unit": world.bureau_a.pk,
            "segment": "",
            "customer_class": "",
            "text": "中秋快乐",
            "scheduled_at": "",
        },
    )
    camp = Campaign.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/notify/campaigns/{camp.pk}/"
    page = c.get(f"/notify/campaigns/{camp.pk}/").content.decode()
    assert 'data-testid="recipients">2<' in page and "尊敬的张*：中秋快乐" in page
    assert login(b_manager).post(f"/notify/campaigns/{camp.pk}/launch/").status_code == 404
    assert not Notification.objects.exists()
    assert c.post(f"/notify/campaigns/{camp.pk}/launch/").status_code == 302
    assert Notification.objects.filter(campaign=camp).count() == 2
    with django_assert_max_num_queries(12):
        listing = c.get("/notify/campaigns/")
    assert "中秋问候" in listing.content.decode()
    bad = c.post("/notify/campaigns/", {"name": "", "unit": world.bureau_b.pk, "text": ""})
    assert bad.status_code == 400 and Campaign.objects.count() == 1  # bureau B is not a choice for A


def test_cli_create_launch_list(world, shop):
    out = StringIO()
    call_command(
        "notify_campaign",
        "create",
        "--name",
        "元旦问候",
        "--unit",
        "0101",
        "--text",
        "元旦快乐",
        "--segment",
        "sme",
        stdout=out,
    )
    camp = Campaign.objects.get()
    assert f"campaign {camp.pk} created: 1 customers" in out.getvalue()
    call_command("notify_campaign", "launch", str(camp.pk), stdout=out)
    call_command("notify_campaign", "launch", str(camp.pk), stdout=out)
    assert Notification.objects.get().customer_id == shop.pk
    call_command("notify_campaign", "list", stdout=out)
    assert "元旦问候\tlaunched\trecipients=1" in out.getvalue()
    with pytest.raises(CommandError, match="unit: 供电单位不存在"):
        call_command("notify_campaign", "create", "--name", "x", "--unit", "9999", "--text", "y")
    with pytest.raises(CommandError, match="segment"):
        call_command(
            "notify_campaign", "create", "--name", "x", "--unit", "0101", "--text", "y", "--segment", "v"
        )
    with pytest.raises(CommandError, match="campaign_id"):
        call_command("notify_campaign", "launch", "999999")


def test_cli_dispatch_once(world):
    outbox.notification_enqueue(
        kind="emergency", customer_id=world.cust_a.pk, context={"text": "台风预警"}, dedupe_key="typhoon"
    )
    out = StringIO()
    call_command("notify_dispatch", stdout=out)
    assert "claimed=1 sent=1" in out.getvalue()


@pytest.fixture
def broker_down(settings):
    from gridcare.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    with broker_at("redis://127.0.0.1:1/0"):  # a closed port; the pools rebuilt either way
        yield app


def test_launch_is_a_job_and_a_broker_down_sends_nothing(world, login, broker_down):
    c = create(world, scheduled_at=None)
    client = login(world.a_manager)

    page = client.post(f"/notify/campaigns/{c.pk}/launch/", follow=True)
    api = client.post(f"{URL}/{c.pk}/launch")

    assert "后台任务服务暂时不可用，活动未发送" in page.content.decode()
    assert api.status_code == 503 and "后台任务服务暂时不可用" in api.json()["detail"]
    c.refresh_from_db()
    assert c.status == "draft" and Notification.objects.count() == 0
    assert (
        list(Job.objects.values_list("kind", "state", "error"))
        == [("notify.campaign_launch", "failed", "broker unavailable")] * 2
    )


def test_console_launch_goes_to_the_job(world, login):
    c = create(world, scheduled_at=None)

    r = login(world.a_manager).post(f"/notify/campaigns/{c.pk}/launch/")

    job = Job.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/jobs/{job.pk}/"
    assert (job.state, job.done, job.total, job.created_by_id) == ("succeeded", 1, 1, world.a_manager.pk)
    assert Notification.objects.filter(campaign_id=c.pk).count() == 1
