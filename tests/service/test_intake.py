"""Storm-proof fault intake (issue 15 §5): the phone proof of anonymous callers (SMS code → stateless phone token),
the rate limits per phone and per client address, the triage answers (dispatch / outage / arrears), unknown
accounts, bad input naming its field, who may report, and the storm path answering exactly as the route.

Times: the API acts at the server's now; the service tests inject it. An urban fault's arrival deadline is
received + 45 min, a rural one + 90 min (issue 15 defaults)."""

import json
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.choices import AreaType
from gridcare.outages import services as outage_services
from gridcare.payments.prepaid.models import PrepaidAccount, PrepaidEstimate
from gridcare.portal.models import SmsCode
from gridcare.service import api_intake, intake
from gridcare.service.models import SlaPolicy, WorkOrder, WorkOrderDeadline, WorkOrderEvent
from gridcare.service.triage import TriageResult, triage_fault
from tests.factories import UserFactory
from tests.outages.conftest import grid  # noqa: F401 — a fixture
from tests.smscodes import last_sms_code

pytestmark = pytest.mark.django_db
CN = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/fault-reports"
PHONE = "13600000001"
NOW = datetime(2026, 9, 24, 10, 0, tzinfo=CN)


def token(phone=PHONE, now=None) -> str:
    return intake.phone_token_issue(phone, now=now).token


def report(client=None, headers=None, **kw):
    body = {"phone": PHONE, "description": "家里突然停电了", "address": "东关镇人民路18号"}
    body.update(kw)
    body = {k: v for k, v in body.items() if v is not None}
    client = client or Client(REMOTE_ADDR="198.51.100.7")
    return client.post(URL, data=body, content_type="application/json", **(headers or {}))


def anon(**kw):
    kw.setdefault("phone_token", token(kw.get("phone", PHONE)))
    return report(**kw)


def fields(response) -> set[str]:
    assert response.status_code == 422, response.content
    return {d["field"] for d in response.json()["detail"]}


def counts() -> tuple[int, int, int, int]:
    return (
        WorkOrder.objects.count(),
        WorkOrderDeadline.objects.count(),
        WorkOrderEvent.objects.count(),
        AuditEvent.objects.filter(action="workorder.create").count(),
    )


@pytest.fixture
def conf(settings):
    def set_conf(**values):
        settings.GRIDCARE = {**settings.GRIDCARE, **values}

    return set_conf


# ---------------------------------------------------------------- the phone proof


def test_code_then_verify_then_report_without_login(svc):
    client = Client(REMOTE_ADDR="198.51.100.9")
    sent = client.post(f"{URL}/code", {"phone": PHONE}, content_type="application/json")
    assert sent.status_code == 200, sent.content
    assert sent.json() == {"detail": "验证码已发送至 136****0001，5分钟内有效", "expires_in": 300}
    assert SmsCode.objects.get(phone=PHONE).purpose == "fault_report"
    proof = client.post(
        f"{URL}/verify", {"phone": PHONE, "code": last_sms_code(PHONE)}, content_type="application/json"
    )
    assert proof.status_code == 200, proof.content
    got = report(client, phone_token=proof.json()["phone_token"])
    assert got.status_code == 201, got.content
    order = WorkOrder.objects.get(number=got.json()["number"])
    assert (order.channel, order.phone, order.account_id, order.customer_user_id) == (
        "web",
        PHONE,
        None,
        None,
    )


def test_a_wrong_code_gives_no_token_and_a_spent_code_cannot_be_reused(svc):
    client = Client(REMOTE_ADDR="198.51.100.9")
    client.post(f"{URL}/code", {"phone": PHONE}, content_type="application/json")
    code = last_sms_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    bad = client.post(f"{URL}/verify", {"phone": PHONE, "code": wrong}, content_type="application/json")
    assert fields(bad) == {"code"} and "phone_token" not in bad.content.decode()
    ok = client.post(f"{URL}/verify", {"phone": PHONE, "code": code}, content_type="application/json")
    assert ok.status_code == 200
    again = client.post(f"{URL}/verify", {"phone": PHONE, "code": code}, content_type="application/json")
    assert fields(again) == {"code"}


def test_a_code_for_one_phone_does_not_verify_another(svc):
    client = Client(REMOTE_ADDR="198.51.100.9")
    client.post(f"{URL}/code", {"phone": PHONE}, content_type="application/json")
    other = client.post(
        f"{URL}/verify",
        {"phone": "13600000002", "code": last_sms_code(PHONE)},
        content_type="application/json",
    )
    assert fields(other) == {"code"}


def test_codes_go_to_mobiles_only_and_their_sending_is_limited_per_phone(svc, conf):
    conf(SMS_CODE_PER_PHONE=2)
    client = Client(REMOTE_ADDR="198.51.100.9")
    landline = client.post(f"{URL}/code", {"phone": "0571-87654321"}, content_type="application/json")
    assert fields(landline) == {"phone"}
    statuses = [
        client.post(f"{URL}/code", {"phone": PHONE}, content_type="application/json").status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert SmsCode.objects.filter(phone=PHONE).count() == 2


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "请先通过短信验证码验证手机号（phone_token）后再报修"),
        ("forged", "手机验证凭证无效，请重新获取短信验证码"),
        ("other_phone", "手机验证凭证与报修电话不符，请用验证过的手机号报修"),
        ("expired", "手机验证已过期，请重新获取短信验证码"),
    ],
)
def test_anonymous_reports_without_a_valid_token_for_the_phone_are_refused(svc, case, message):
    tokens = {
        "missing": None,
        "forged": token()[:-4] + ("AAAA" if not token().endswith("AAAA") else "BBBB"),
        "other_phone": token("13600000002"),
        # issued 2 h 1 s ago: the token lives 7,200 s
        "expired": token(now=time.time() - 7201),
    }
    before = counts()
    response = report(phone_token=tokens[case])
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": message}
    assert response["WWW-Authenticate"] == 'Bearer realm="gridcare"'
    assert counts() == before


def test_a_token_just_inside_its_two_hours_is_accepted():
    issued = 1_790_000_000.0
    proof = intake.phone_token_issue(PHONE, now=issued)
    intake.phone_token_check(proof.token, PHONE, now=issued + 7200)
    with pytest.raises(intake.PhoneTokenRefused):
        intake.phone_token_check(proof.token, PHONE, now=issued + 7201)
    assert proof.expires_at == datetime.fromtimestamp(issued + 7200, tz=CN)


def test_the_token_is_checked_without_a_database_read():
    proof = token()
    with CaptureQueriesContext(connection) as queries:
        intake.phone_token_check(proof, PHONE)
    assert len(queries) == 0


# ---------------------------------------------------------------- rate limits


def test_anonymous_reports_are_limited_per_phone(svc, conf):
    conf(FAULT_REPORTS_PER_PHONE=2)
    statuses = [anon(**{"phone": PHONE}).status_code for _ in range(2)]
    before = counts()
    # another address, same phone: still over
    limited = report(Client(REMOTE_ADDR="198.51.100.8"), phone_token=token())
    assert statuses == [201, 201] and limited.status_code == 429
    assert limited.json() == {"detail": "报修过于频繁，请稍后再试；紧急情况请拨打 95598"}
    assert counts() == before
    assert anon(phone="13600000002").status_code == 201  # another phone is not limited


def test_anonymous_reports_are_limited_per_client_address(svc, conf):
    conf(FAULT_REPORTS_PER_IP=3)
    client = Client(REMOTE_ADDR="203.0.113.5")
    phones = [f"1360000001{i}" for i in range(4)]
    statuses = [report(client, phone=p, phone_token=token(p)).status_code for p in phones]
    assert statuses == [201, 201, 201, 429]
    assert WorkOrder.objects.filter(phone=phones[3]).count() == 0
    other = report(Client(REMOTE_ADDR="203.0.113.6"), phone=phones[3], phone_token=token(phones[3]))
    assert other.status_code == 201


def test_the_address_limit_counts_the_forwarded_client_behind_a_trusted_proxy(svc, conf, settings):
    conf(FAULT_REPORTS_PER_IP=1)
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    first = report(
        proxy,
        phone="13600000011",
        phone_token=token("13600000011"),
        headers={"HTTP_X_FORWARDED_FOR": "192.0.2.1"},
    )
    second = report(
        proxy,
        phone="13600000012",
        phone_token=token("13600000012"),
        headers={"HTTP_X_FORWARDED_FOR": "192.0.2.2"},
    )
    third = report(
        proxy,
        phone="13600000013",
        phone_token=token("13600000013"),
        headers={"HTTP_X_FORWARDED_FOR": "192.0.2.1"},
    )
    assert (first.status_code, second.status_code, third.status_code) == (201, 201, 429)


def test_staff_and_customers_are_not_rate_limited_and_need_no_token(svc, conf):
    conf(FAULT_REPORTS_PER_PHONE=1, FAULT_REPORTS_PER_IP=1)
    staff = Client(REMOTE_ADDR="198.51.100.7")
    staff.force_login(svc.a_agent)
    customer = Client(REMOTE_ADDR="198.51.100.7")
    customer.force_login(svc.portal_user)
    assert [report(staff).status_code for _ in range(2)] == [201, 201]
    assert [report(customer).status_code for _ in range(2)] == [201, 201]


# ---------------------------------------------------------------- triage and the answer


def test_a_known_account_is_dispatched_with_its_area_and_the_45_minute_promise(svc):
    response = anon(account_number="3100000001", address=None)
    assert response.status_code == 201, response.content
    body = response.json()
    order = WorkOrder.objects.get(number=body["number"])
    received = order.received_at.astimezone(CN)
    assert body == {
        "number": order.number,
        "triage": "dispatch",
        "message": "已派发抢修，抢修人员承诺 45 分钟内到达现场",
        "est_restoration": None,
        "deadlines": [
            {
                "name": "arrival",
                "due_at": (received + timedelta(minutes=45)).isoformat(),
                "provisional": False,
            }
        ],
    }
    assert order.account == svc.acct_a and order.transformer_area_id == svc.area_a.pk
    assert order.unit_id == svc.acct_a.unit_id and order.address == "东关镇人民路18号"
    assert order.caller_name == "张三" and order.phone == PHONE  # the caller's phone, not the file's
    assert order.number[:8] == f"{received:%Y%m%d}" and len(order.number) == 16
    event = order.events.get()
    assert (event.action, event.to_status, event.actor_id) == ("create", "created", None)
    audit = AuditEvent.objects.get(action="workorder.create", object_id=str(order.pk))
    assert (audit.customer_id, audit.unit_id, audit.changes, audit.channel) == (
        svc.cust_a.pk,
        svc.acct_a.unit_id,
        {"type": "fault", "channel": "web"},
        "api",
    )
    assert audit.ip == "198.51.100.7"


def test_a_rural_area_promises_90_minutes(svc):
    svc.area_a.area_type = AreaType.RURAL
    svc.area_a.save(update_fields=["area_type"])
    made = intake.fault_report_create(
        actor=Actor(), channel="web", phone=PHONE, description="停电", account_number="3100000001", now=NOW
    )
    assert made.message == "已派发抢修，抢修人员承诺 90 分钟内到达现场"
    assert [(d.name, d.due_at) for d in made.deadlines] == [
        ("arrival", datetime(2026, 9, 24, 11, 30, tzinfo=CN))
    ]
    assert WorkOrder.objects.get(pk=made.order_id).area == "rural"


def test_an_unknown_account_is_allowed_for_a_fault_with_phone_and_address(svc):
    response = anon(account_number="3999999999", address="西湖路1号")
    assert response.status_code == 201, response.content
    order = WorkOrder.objects.get(number=response.json()["number"])
    # no account: the caller's address, the root unit, the town's commitment
    assert (order.account_id, order.address, order.unit_id, order.area) == (
        None,
        "西湖路1号",
        svc.company.pk,
        "urban",
    )


def test_an_unknown_account_without_an_address_names_the_account(svc):
    before = counts()
    assert fields(anon(account_number="3999999999", address=None)) == {"account_number"}
    assert fields(anon(account_number=None, address=None)) == {"address"}
    assert counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"description": "   "}, "description"),
        ({"description": "x" * 501}, "description"),
        ({"area": "moon"}, "area"),
        ({"address": "路" * 201}, "address"),
        ({"deadlines": [{"name": "arrival"}]}, "deadlines"),
        ({"due_at": "2026-09-24T10:00:00+08:00"}, "due_at"),
        ({"channel": "phone"}, "channel"),
        ({"transformer_area": "T1"}, "transformer_area"),
        ({"description": None}, "description"),  # missing
    ],
)
def test_bad_input_answers_422_naming_the_field_and_writes_nothing(svc, body, field):
    before = counts()
    assert field in fields(anon(**body))
    assert counts() == before


def test_inside_an_outage_the_caller_hears_its_restoration_and_no_crew_is_sent(grid):  # noqa: F811
    w = grid.world
    dispatcher = Actor(user=UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a))
    out = datetime(2026, 9, 24, 8, 0, tzinfo=CN)
    event = outage_services.outage_create(
        actor=dispatcher,
        kind="fault",
        cause_category="equipment",
        title="设备故障",
        scope=[("area", "T1")],
        planned_start=out,
        planned_end=out + timedelta(hours=4),
        now=out + timedelta(minutes=3),
    )
    assert event.status == "in_progress"
    account = grid.accounts["T1"][1]
    made = intake.fault_report_create(
        actor=Actor(),
        channel="web",
        phone=PHONE,
        description="没电了",
        account_number=account.account_number,
        now=NOW,
    )
    assert made.triage == "outage"
    assert made.message == f"您所在区域正在停电（停电编号 {event.number}），预计 12:00 恢复供电，无需重复报修"
    assert made.est_restoration == datetime(2026, 9, 24, 12, 0, tzinfo=CN)
    order = WorkOrder.objects.get(pk=made.order_id)
    assert (order.triage, order.outage_id, order.transformer_area_id) == ("outage", event.pk, grid.t1.pk)
    assert event.number in order.events.get().note
    # no crew is sent: no arrival clock to escalate 45 minutes into a storm
    assert not order.deadlines.exists()
    # a T3 account (another feeder) is outside it: dispatched
    other = intake.fault_report_create(
        actor=Actor(),
        channel="web",
        phone=PHONE,
        description="没电了",
        account_number=grid.accounts["T3"][0].account_number,
        now=NOW,
    )
    assert other.triage == "dispatch"


def test_the_outage_answer_through_the_api(grid):  # noqa: F811
    w = grid.world
    dispatcher = Actor(user=UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a))
    now = timezone.now()
    event = outage_services.outage_create(
        actor=dispatcher,
        kind="fault",
        cause_category="equipment",
        title="设备故障",
        scope=[("feeder", "F1")],
        planned_start=now - timedelta(minutes=30),
        planned_end=now + timedelta(hours=3),
        now=now,
    )
    response = anon(account_number=grid.accounts["T2"][2].account_number, address=None)
    body = response.json()
    assert response.status_code == 201 and body["triage"] == "outage"
    assert f"（停电编号 {event.number}）" in body["message"] and body["message"].endswith("无需重复报修")
    assert (
        body["est_restoration"]
        == (now + timedelta(hours=3)).astimezone(CN).replace(microsecond=0).isoformat()
    )


def test_a_staff_caller_without_account_gives_the_transformer_area_and_is_linked_by_it(grid):  # noqa: F811
    w = grid.world
    dispatcher = Actor(user=UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a))
    out = datetime(2026, 9, 24, 8, 0, tzinfo=CN)
    event = outage_services.outage_create(
        actor=dispatcher,
        kind="fault",
        cause_category="equipment",
        title="设备故障",
        scope=[("area", "T3")],
        planned_start=out,
        planned_end=out + timedelta(hours=5),
        now=out,
    )
    made = intake.fault_report_create(
        actor=Actor(user=w.a_agent, channel=Channel.API),
        channel="phone",
        phone="0571-87654321",
        description="整条街停电",
        address="东关镇三号台区附近",
        transformer_area_code="T3",
        now=NOW,
    )
    order = WorkOrder.objects.get(pk=made.order_id)
    assert (made.triage, order.outage_id, order.transformer_area_id, order.area) == (
        "outage",
        event.pk,
        grid.t3.pk,
        "rural",
    )
    assert order.created_by == w.a_agent and order.unit_id == w.station_a.pk


@pytest.fixture
def prepaid(svc):
    """3100000001 enrolled in prepaid, its latest estimate `available` as given."""

    def make(available: str):
        now = timezone.now()
        pre = PrepaidAccount.objects.create(
            account=svc.acct_a, enrolled_on=date(2026, 1, 1), created_at=now, updated_at=now
        )
        est = PrepaidEstimate.objects.create(
            prepaid=pre,
            estimated_on=date(2026, 9, 23),
            available=Decimal(available),
            remaining=Decimal(available),
            created_at=now,
        )
        pre.last_estimate = est
        pre.save(update_fields=["last_estimate"])
        return pre

    return make


@pytest.mark.parametrize(
    ("available", "outcome"), [("0.00", "arrears"), ("-12.30", "arrears"), ("0.01", "dispatch")]
)
def test_a_prepaid_account_with_no_balance_is_answered_as_arrears(svc, prepaid, available, outcome):
    prepaid(available)
    response = anon(account_number="3100000001", address=None)
    body = response.json()
    assert response.status_code == 201 and body["triage"] == outcome
    if outcome == "arrears":
        assert body["message"] == "您的预付费账户余额不足，已暂停供电，请缴费后自动复电，无需派员抢修"
        assert WorkOrder.objects.get(number=body["number"]).triage == "arrears"


def test_the_one_statement_triage_agrees_with_triage_fault(grid):  # noqa: F811
    """intake.account_triage reads the triage facts with the account; triage.triage_fault is the rule."""
    w = grid.world
    dispatcher = Actor(user=UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a))
    out = datetime(2026, 9, 24, 8, 0, tzinfo=CN)
    first = outage_services.outage_create(
        actor=dispatcher,
        kind="fault",
        cause_category="equipment",
        title="设备故障",
        scope=[("feeder", "F1")],
        planned_start=out,
        planned_end=out + timedelta(hours=4),
        now=out,
    )
    later = outage_services.outage_create(  # another kind: a fault and an external cause may overlap
        actor=dispatcher,
        kind="external",
        cause_category="tree",
        title="外力破坏",
        scope=[("area", "T2")],
        planned_start=out + timedelta(hours=1),
        planned_end=out + timedelta(hours=6),
        now=out + timedelta(hours=1),
    )
    # T1's accounts: one restored, the others still out
    t1 = grid.accounts["T1"]
    outage_services.outage_restore(
        actor=dispatcher,
        event=first,
        at=out + timedelta(hours=2),
        account_numbers=[t1[0].account_number],
        now=out + timedelta(hours=2),
    )
    t3 = grid.accounts["T3"]
    now = timezone.now()
    for acct, available, unenrolled in ((t3[0], "-5.00", None), (t3[1], "-5.00", date(2026, 9, 1))):
        pre = PrepaidAccount.objects.create(
            account=acct,
            enrolled_on=date(2026, 1, 1),
            unenrolled_on=unenrolled,
            created_at=now,
            updated_at=now,
        )
        est = PrepaidEstimate.objects.create(
            prepaid=pre,
            estimated_on=date(2026, 9, 23),
            available=Decimal(available),
            remaining=Decimal(available),
            created_at=now,
        )
        PrepaidAccount.objects.filter(pk=pre.pk).update(last_estimate=est)
    expected = {
        t1[0].account_number: "dispatch",  # its interruption ended
        t1[1].account_number: "outage",
        grid.accounts["T2"][1].account_number: "outage",  # in both: the later start wins
        t3[0].account_number: "arrears",
        t3[1].account_number: "dispatch",  # no longer prepaid
        w.acct_b.account_number: "dispatch",
    }
    for number, outcome in expected.items():
        account, fast = intake.account_triage(number)
        rule = triage_fault(account_id=account.id, transformer_area_id=account.transformer_area_id, now=NOW)
        assert fast == rule and fast.outcome == outcome, number
    assert intake.account_triage(grid.accounts["T2"][1].account_number)[1].outage_id == later.pk
    assert intake.account_triage("3999999999") is None


def test_triage_messages_say_the_day_when_restoration_is_not_today():
    late = TriageResult(
        outcome="outage",
        outage_id=1,
        outage_number="TD1",
        est_restoration=datetime(2026, 9, 25, 1, 30, tzinfo=CN),
    )
    assert intake.triage_message(late, arrival=None, now=NOW) == (
        "您所在区域正在停电（停电编号 TD1），预计 9月25日 01:30 恢复供电，无需重复报修"
    )
    # 16:30 UTC is 00:30 the next day in China
    same_day = TriageResult(
        outcome="outage",
        outage_number="TD2",
        est_restoration=datetime(2026, 9, 24, 7, 5, tzinfo=ZoneInfo("UTC")),
    )
    assert "预计 15:05 恢复供电" in intake.triage_message(same_day, arrival=None, now=NOW)
    unknown = TriageResult(outcome="outage", outage_number="TD3")
    assert (
        intake.triage_message(unknown, arrival=None, now=NOW)
        == "您所在区域正在停电（停电编号 TD3），正在抢修，无需重复报修"
    )


# ---------------------------------------------------------------- who may report


def test_a_portal_customer_reports_as_the_portal_and_owns_the_order(svc):
    client = Client()
    client.force_login(svc.portal_user)
    response = report(client)
    order = WorkOrder.objects.get(number=response.json()["number"])
    assert (order.channel, order.customer_user, order.created_by) == ("portal", svc.portal_user, None)
    assert order.events.get().actor == svc.portal_user
    assert fields(report(client, channel="phone")) == {"channel"}


def test_staff_report_with_a_bearer_token_and_choose_the_channel(svc):
    from gridcare.org import services as org_services

    _t, key = org_services.api_token_create(actor=Actor(), user=svc.a_agent, name="95598")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = report(client, account_number="3100000001", channel="phone")
    order = WorkOrder.objects.get(number=response.json()["number"])
    assert (order.channel, order.created_by) == ("phone", svc.a_agent)
    assert fields(report(client, channel="pigeon")) == {"channel"}
    assert (
        Client(HTTP_AUTHORIZATION="Bearer gc_wrong")
        .post(URL, {"phone": PHONE, "description": "x", "address": "y"}, content_type="application/json")
        .status_code
        == 401
    )


def test_staff_without_handle_get_403_and_another_units_account_404(svc):
    before = counts()
    reader = Client()
    reader.force_login(svc.a_reader)
    assert report(reader).status_code == 403
    agent_b = Client()
    agent_b.force_login(svc.b_agent)
    assert report(agent_b, account_number="3100000001").status_code == 404
    assert counts() == before


def test_the_fault_report_answers_in_a_bounded_number_of_statements(svc):
    with CaptureQueriesContext(connection) as queries:
        assert anon(account_number="3100000001", address=None).status_code == 201
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # the account with its triage facts and the policy rows, then the write: one statement on PostgreSQL (the
    # order, its deadline, event and audit row), one per table elsewhere
    assert len(statements) == (2 if connection.vendor == "postgresql" else 5), statements
    with CaptureQueriesContext(connection) as queries:
        assert anon(address="西湖路1号").status_code == 201  # no account: the policy rows and the root unit
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == (2 if connection.vendor == "postgresql" else 5), statements


def test_the_policy_table_as_edited_applies_to_new_reports(svc):
    SlaPolicy.objects.filter(order_type="fault", area="urban", name="arrival").update(amount=30)
    SlaPolicy.objects.filter(order_type="fault", area="remote", name="arrival").update(amount=2, unit="hours")
    known = intake.fault_report_create(
        actor=Actor(), channel="web", phone=PHONE, description="停电", account_number="3100000001", now=NOW
    )
    assert known.message == "已派发抢修，抢修人员承诺 30 分钟内到达现场"
    assert [(d.name, d.due_at) for d in known.deadlines] == [
        ("arrival", datetime(2026, 9, 24, 10, 30, tzinfo=CN))
    ]
    remote = intake.fault_report_create(
        actor=Actor(), channel="web", phone=PHONE, description="停电", address="山里", area="remote", now=NOW
    )
    assert remote.message == "已派发抢修，抢修人员承诺 2 小时内到达现场"
    assert [d.due_at for d in remote.deadlines] == [datetime(2026, 9, 24, 12, 0, tzinfo=CN)]


# ---------------------------------------------------------------- the storm path


@pytest.fixture
def served(monkeypatch):
    """The statuses the storm path answered (None when it declined)."""
    answers = []
    real = api_intake.fault_report_answer

    def spy(request, payload, user):
        response = real(request, payload, user)
        answers.append(response.status_code)
        return response

    monkeypatch.setattr(api_intake, "fault_report_answer", spy)
    return answers


def comparable(response) -> tuple:
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() != "x-request-id"}
    body = response.json()
    if isinstance(body, dict) and "number" in body:
        body["number"] = "N"  # numbers are random
        for d in body["deadlines"]:
            d["due_at"] = "T"
    return response.status_code, body, headers


def whole_stack_client(settings, addr):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("FaultReportLeanMiddleware")]
    return Client(REMOTE_ADDR=addr)


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("ok", 201),
        ("no_token", 401),
        ("unknown_account_no_address", 422),
        ("bad_phone", 422),
        ("area", 422),
        ("staff_field", 422),
    ],
)
def test_the_storm_path_answers_as_the_route(svc, settings, served, case, status):
    bodies = {
        "ok": {"phone_token": token(), "account_number": "3100000001"},
        "no_token": {},
        "unknown_account_no_address": {
            "phone_token": token(),
            "account_number": "3999999999",
            "address": None,
        },
        "bad_phone": {"phone": "12", "phone_token": token()},
        "area": {"phone_token": token(), "area": "moon"},
        "staff_field": {"phone_token": token(), "channel": "phone"},
    }
    fast = report(Client(REMOTE_ADDR="198.51.100.20"), **bodies[case])
    assert served == [status], fast.content  # the storm path answered
    assert fast.status_code == status
    assert fast["X-Frame-Options"] == "DENY" and fast["X-Content-Type-Options"] == "nosniff"
    assert fast["Content-Security-Policy"].startswith("default-src 'self'")
    assert len(fast["X-Request-ID"]) == 32 and fast["Cache-Control"] == "no-store"
    assert int(fast["Content-Length"]) == len(fast.content)
    full = report(whole_stack_client(settings, "198.51.100.21"), **bodies[case])
    assert served == [status, status]  # the route answered through the same function
    assert comparable(fast) == comparable(full)


def test_the_storm_path_leaves_refused_bodies_cookies_and_tokens_to_the_stack(svc, served):
    client = Client(REMOTE_ADDR="198.51.100.22")
    missing = client.post(URL, {"phone": PHONE}, content_type="application/json")
    assert missing.status_code == 422 and {d["field"] for d in missing.json()["detail"]} == {"description"}
    unknown = report(client, phone_token=token(), colour="red")
    assert fields(unknown) == {"colour"}
    not_json = client.post(URL, data="{nope", content_type="application/json")
    assert not_json.status_code == 400
    nul = client.post(
        URL,
        data=json.dumps({"phone": PHONE, "description": "a\u0000b", "address": "x"}),
        content_type="application/json",
    )
    assert nul.status_code == 422 and nul.json()["detail"][0]["field"] == "description"
    assert served == []  # none of them through the storm path
    with_cookie = Client(REMOTE_ADDR="198.51.100.22")
    with_cookie.cookies["gc_lang"] = "zh-hans"
    assert report(with_cookie, phone_token=token()).status_code == 201
    assert served == [201]  # answered by the route (the spy sees the route's call too)


def test_the_storm_path_and_the_route_count_in_one_bucket(svc, settings, served, conf):
    conf(FAULT_REPORTS_PER_PHONE=2)
    assert report(Client(REMOTE_ADDR="198.51.100.30"), phone_token=token()).status_code == 201
    cookie = Client(REMOTE_ADDR="198.51.100.31")
    cookie.cookies["gc_lang"] = "zh-hans"
    assert report(cookie, phone_token=token()).status_code == 201
    assert report(Client(REMOTE_ADDR="198.51.100.32"), phone_token=token()).status_code == 429


def test_service_refusals_name_the_field():
    with pytest.raises(ValidationError) as exc:
        intake.fault_report_create(
            actor=Actor(), channel="web", phone="abc", description="x", address="y", now=NOW
        )
    assert set(exc.value.message_dict) == {"phone"}


# ---------------------------------------------------------------- the public web form

FORM = "/service/public/fault/"


def test_the_public_form_phone_code_report_result(svc):
    client = Client(REMOTE_ADDR="198.51.100.40")
    page = client.get(FORM)
    assert page.status_code == 200 and 'data-testid="send-code"' in page.content.decode()
    sent = client.post(FORM, {"action": "send_code", "phone": PHONE})
    assert sent.status_code == 200 and "验证码已发送至 136****0001" in sent.content.decode()
    verified = client.post(FORM, {"action": "verify", "phone": PHONE, "code": last_sms_code(PHONE)})
    assert verified.status_code == 200 and 'data-testid="submit-report"' in verified.content.decode()
    proof = verified.context["form"].initial["phone_token"]
    done = client.post(
        FORM,
        {
            "action": "report",
            "phone": PHONE,
            "phone_token": proof,
            "account_number": "3100000001",
            "address": "",
            "description": "家里没电了",
        },
    )
    assert done.status_code == 302 and done["Location"].startswith("/service/public/fault/done/?r=")
    result = client.get(done["Location"])
    order = WorkOrder.objects.get(phone=PHONE)
    text = result.content.decode()
    assert order.number in text and "已派发抢修，抢修人员承诺 45 分钟内到达现场" in text
    assert (order.channel, order.account) == ("web", svc.acct_a)
    assert AuditEvent.objects.get(action="workorder.create", object_id=str(order.pk)).channel == "portal"


def test_the_public_form_refuses_a_wrong_code_a_bad_token_and_a_forged_result(svc):
    client = Client(REMOTE_ADDR="198.51.100.41")
    client.post(FORM, {"action": "send_code", "phone": PHONE})
    code = last_sms_code(PHONE)
    wrong = client.post(
        FORM, {"action": "verify", "phone": PHONE, "code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and "验证码不正确" in wrong.content.decode()
    forged = client.post(
        FORM,
        {
            "action": "report",
            "phone": PHONE,
            "phone_token": token("13600000002"),
            "address": "某路",
            "description": "x",
        },
    )
    assert forged.status_code == 401 and "手机验证凭证与报修电话不符" in forged.content.decode()
    assert 'data-testid="send-code"' in forged.content.decode()  # back to the first step
    assert not WorkOrder.objects.exists()
    tampered = client.get("/service/public/fault/done/?r=eyJuIjoiMSJ9:abc:def")
    assert tampered.status_code == 302 and tampered["Location"] == FORM


def test_the_public_form_names_the_missing_address_and_is_rate_limited(svc, conf):
    conf(FAULT_REPORTS_PER_PHONE=1)
    client = Client(REMOTE_ADDR="198.51.100.42")
    data = {"action": "report", "phone": PHONE, "phone_token": token(), "address": "", "description": "停电"}
    missing = client.post(FORM, data)
    assert missing.status_code == 400 and missing.context["form"].errors["address"]
    limited = client.post(FORM, {**data, "address": "某路1号"})
    assert limited.status_code == 429 and "报修过于频繁" in limited.content.decode()
    assert not WorkOrder.objects.exists()


def test_the_public_form_needs_its_csrf_token(svc):
    client = Client(enforce_csrf_checks=True)
    response = client.post(FORM, {"action": "send_code", "phone": PHONE})
    assert response.status_code == 403 and not SmsCode.objects.exists()


def test_a_portal_customer_reports_only_on_a_bound_account(svc):
    customer = Client(REMOTE_ADDR="198.51.100.7")
    customer.force_login(svc.portal_user)  # bound to nothing
    before = counts()
    r = report(customer, account_number=svc.acct_a.account_number)
    assert r.status_code == 422 and "account_number" in fields(r)
    assert counts() == before
    assert report(customer).status_code == 201  # phone and address, like an unidentified caller
