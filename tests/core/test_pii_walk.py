"""Walk every GET route of the API (/api/v1, enumerated from the OpenAPI schema) and every page of the staff
console and the portal (enumerated from the URL resolver) as each role, and look for personal data in full.

Seeded values whose digits cannot appear by accident: phone 13912345678, ID number 110101199003071233 (check
digit 3 by the GB 11643 weights), bank account 6222029876543214 (Luhn-valid). They stand in a customer's file,
in a withholding agreement and its batch, in a notice sent to the phone, and in the audit trail (the change of
the customer file). A role without customer.view_pii must never receive any of them in full; the bank account
alone may reach the role that sends batches to the bank (payment.batch_send), in the debit file. Wherever a
full value is served, that very request must have written a customer.view_pii audit row by its user.

A route added later fails here until its path parameters are filled below (`API_PARAMS`, `PAGE_PARAMS`)."""

import re
from datetime import date

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import ROLE_PERMISSIONS, Perm, Role
from gridcare.customers import services as customer_services
from gridcare.customers.models import PortalBinding
from gridcare.notify.models import Notification
from gridcare.payments.channels import withholding as wh
from gridcare.service.services import work_order_create
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill, pay

PHONE = "13912345678"
ID_NUMBER = "110101199003071233"
BANK_ACCOUNT = "6222029876543214"
FULL = {"phone": PHONE, "id_number": ID_NUMBER, "bank_account": BANK_ACCOUNT}
MISSING = 987654  # an id no seeded object has: the route answers 404, still walked

# Console and portal routes not walked: Django admin (reference data, superusers only), sign-in/out, language.
SKIP_PAGES = re.compile(r"^(admin/|i18n/|login/|logout/|portal/login/)")


@pytest.fixture
def seeded(world):
    w = world
    customer_services.customer_update(
        actor=Actor(), customer=w.cust_a, data={"phone": PHONE, "id_number": ID_NUMBER}
    )
    w.cust_a.refresh_from_db()
    assert (w.cust_a.phone, w.cust_a.id_number) == (PHONE, ID_NUMBER)
    w.bill = issued_bill(w.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    w.payment = pay("30.00", date(2026, 9, 1), "T-walk-1").payment
    w.agreement = wh.agreement_create(
        actor=Actor(),
        account_number=w.acct_a.account_number,
        bank_code="105",
        bank_account=BANK_ACCOUNT,
        holder_name="张三",
        signed_on=date(2026, 1, 5),
    )
    w.batch = wh.withholding_export(actor=Actor(), bank_code="105", as_of=date(2026, 10, 10), unit=w.bureau_a)
    now = timezone.now()
    Notification.objects.create(
        customer=w.cust_a,
        account=w.acct_a,
        unit=w.cust_a.unit,
        kind="bill_issued",
        channel="sms",
        recipient=PHONE,
        subject="",
        body="",
        status="sent",
        not_before=now,
        next_attempt_at=now,
        dedupe_key="walk-1",
        created_at=now,
    )
    PortalBinding.objects.create(user=w.portal_user, account=w.acct_a, created_at=now)
    # A complaint on the walked account: its phone and address are the customer's (the lists and the order page).
    w.order = work_order_create(
        actor=Actor(), order_type="complaint", channel="phone", account_number=w.acct_a.account_number
    ).order
    assert w.order.phone == PHONE
    sp = w.acct_a.service_points.get()
    w.ids = {
        "customer_id": w.cust_a.pk,
        "account_number": w.acct_a.account_number,
        "premise_id": w.acct_a.premise_id,
        "sp_id": sp.pk,
        "asset_number": sp.meters.get().asset_number,
        "feeder_id": w.area_a.feeder_id,
        "area_id": w.area_a.pk,
        "bill_id": w.bill.pk,
        "batch_no": w.batch.batch_no,
    }
    return w


# Path parameters of the API's GET routes, by name (the seeded objects; MISSING where none is seeded).
def api_params(w) -> dict:
    return {
        **w.ids,
        "run_id": MISSING,
        "attachment_id": MISSING,
        "chat_id": MISSING,
        "year": 2026,
        "code": "KB-NO-SUCH",
        "statement_id": MISSING,
        "shift_id": MISSING,
        "refund_id": MISSING,
        "campaign_id": MISSING,
        "job_id": MISSING,
        "order_no": "NO-SUCH-ORDER",
        "number": "TD-NO-SUCH",
        "unit": w.company.pk,
        "month": "2026-08",
        "case_id": MISSING,
        "action_id": MISSING,
        "terminal_id": MISSING,
        "task_id": MISSING,
        "follow_up_id": MISSING,
        "appointment_id": MISSING,
        "hall_id": MISSING,
        "counter_id": MISSING,
        "ticket_id": MISSING,
        "inspection_id": MISSING,
        "notice_id": MISSING,
        "event_id": MISSING,
        "evidence_id": MISSING,
        "contest_id": MISSING,
        "assessment_id": MISSING,
        # required query parameters
        "period": "2026-08",
        "date_from": "2026-08-01",
        "date_to": "2026-10-31",
        "category": "payment",
        "day": "2026-08-03",
    }


def page_params(w) -> dict:
    """Path parameters of the pages: (route prefix, parameter) → value; the longest prefix wins."""
    return {
        ("customers/", "pk"): w.cust_a.pk,
        ("notify/customers/", "pk"): w.cust_a.pk,
        ("billing/bills/", "pk"): w.bill.pk,
        ("portal/billing/bills/", "pk"): w.bill.pk,
        ("payments/", "pk"): w.payment.pk,
        ("service-points/", "pk"): w.ids["sp_id"],
        ("meters/", "pk"): w.acct_a.service_points.get().meters.get().pk,
        ("portal/accounts/", "payment_id"): w.payment.pk,
        ("", "account_number"): w.acct_a.account_number,
        ("", "batch_no"): w.batch.batch_no,
        ("billing/tariffs/", "code"): "RES-TIER",
        ("payments/reports/", "report"): "collection-rate",
        ("payments/collections/tasks/", "action"): "approve",
        # nothing seeded: the page answers 404 (or its own refusal), still walked
        ("billing/runs/", "pk"): MISSING,
        ("payments/receivables/", "pk"): MISSING,
        ("payments/waivers/", "pk"): MISSING,
        ("payments/reconcile/", "pk"): MISSING,
        ("payments/reconcile/exceptions/", "pk"): MISSING,
        ("payments/shifts/", "pk"): MISSING,
        ("payments/refunds/", "pk"): MISSING,
        ("payments/collections/tasks/", "pk"): MISSING,
        ("metering/routes/", "pk"): MISSING,
        ("metering/reads/", "pk"): MISSING,
        ("metering/reads/", "action"): "accept",
        ("notify/campaigns/", "pk"): MISSING,
        ("jobs/", "pk"): MISSING,
        ("jobs/schedules/", "name"): "collections.run",
        ("outages/", "number"): "TD-NO-SUCH",
        ("outages/", "action"): "submit",
        ("service/orders/", "number"): w.order.number,
        ("service/orders/", "action"): "accept",
        ("service/attachments/", "pk"): MISSING,
        ("service/kb/", "code"): "KB-NO-SUCH",
        ("service/kb/", "number"): 1,
        ("service/kb/", "action"): "submit",
        ("service/chat/", "chat_id"): MISSING,
        ("service/chat/", "action"): "accept",
        ("portal/service/chat/", "chat_id"): MISSING,
        ("portal/service/", "number"): w.order.number,
        ("portal/service/", "pk"): MISSING,
        ("service/calendar/", "year"): 2026,
        ("reliability/frequent/", "case_id"): MISSING,
        ("reliability/trips/actions/", "action_id"): MISSING,
        ("customers/export/", "job_id"): MISSING,
        ("users/", "pk"): MISSING,
        ("", "order_no"): "NO-SUCH-ORDER",
        ("", "token"): "no-such-token",
        ("hall/d/", "key"): "no-such-key",
        ("hall/", "hall_id"): MISSING,
        ("hall/", "pk"): MISSING,
        ("portal/hall/appointments/", "pk"): MISSING,
        ("hall/counter/", "counter_id"): MISSING,
        ("portal/hall/ticket/", "ticket_id"): MISSING,
        ("hall/follow-ups/", "pk"): MISSING,
        ("hall/terminals/", "terminal_id"): MISSING,
        ("hall/terminals/tasks/", "task_id"): MISSING,
        ("credit/inspections/", "inspection_id"): MISSING,
        ("credit/notices/", "notice_id"): MISSING,
        ("credit/events/", "pk"): MISSING,
        ("credit/events/", "action"): "approve",
        ("credit/contests/", "pk"): MISSING,
        ("credit/evidence/", "pk"): MISSING,
        ("portal/credit/events/", "pk"): MISSING,
        ("credit/runs/", "run_id"): MISSING,
        ("credit/customers/", "customer_id"): w.cust_a.pk,
        ("credit/assessments/", "assessment_id"): MISSING,
    }


def api_urls(client, w) -> list[str]:
    schema = client.get("/api/v1/openapi.json").json()
    params = api_params(w)
    urls = []
    for path, ops in schema["paths"].items():
        get = ops.get("get")
        if get is None:
            continue
        url = path
        query = []
        for p in get.get("parameters", []):
            if p["in"] == "path":
                assert p["name"] in params, f"{path}: fill path parameter {p['name']} in api_params"
                url = url.replace("{" + p["name"] + "}", str(params[p["name"]]))
            elif p["in"] == "query" and p.get("required"):
                assert p["name"] in params, f"{path}: fill required query parameter {p['name']}"
                query.append(f"{p['name']}={params[p['name']]}")
        urls.append(url + ("?" + "&".join(query) if query else ""))
    return urls


def _routes(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def page_urls(w) -> list[str]:
    table = page_params(w)
    urls = []
    for route in _routes(get_resolver().url_patterns):
        if route.startswith("api/") or SKIP_PAGES.match(route) or route.startswith("^"):
            continue

        def fill(m, route=route):
            name = m[2]
            hits = [(pre, v) for (pre, n), v in table.items() if n == name and route.startswith(pre)]
            assert hits, f"page {route}: fill parameter {name} in page_params"
            return str(max(hits, key=lambda h: len(h[0]))[1])

        urls.append("/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route))
    return urls


def _body(resp) -> str:
    content = b"".join(resp.streaming_content) if resp.streaming else resp.content
    for enc in ("utf-8", "gbk"):
        try:
            return content.decode(enc)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def _allowed(role, url: str) -> set[str]:
    """Which full values the role may receive at `url` (each such answer must be audited)."""
    perms = ROLE_PERMISSIONS.get(role, frozenset()) if role else frozenset()
    if Perm.CUSTOMER_VIEW_PII in perms:
        return set(FULL)
    if getattr(Perm, "PAYMENT_BATCH_SEND", None) in perms and url.rstrip("/").endswith("/file"):
        return {"bank_account"}
    return set()


def _users(w):
    users = [(None, None), (Role.CUSTOMER, w.portal_user)]
    for role in Role:
        if role != Role.CUSTOMER:
            users.append((role, UserFactory(username=f"walk_{role.value}", role=role, unit=w.bureau_a)))
    return users


def test_no_role_receives_personal_data_it_may_not_see_and_every_full_view_is_audited(seeded, login):
    w = seeded
    urls = api_urls(login(), w)
    pages = page_urls(w)
    assert len(urls) >= 45 and len(pages) >= 80, (len(urls), len(pages))  # the walk really covers the routes
    problems, statuses = [], {}
    for role, user in _users(w):
        client = login(user)
        for url in [*urls, *pages]:
            views = AuditEvent.objects.filter(action="customer.view_pii", actor=user) if user else None
            before = views.count() if user else 0
            resp = client.get(url)
            statuses[(role, url)] = resp.status_code
            assert resp.status_code < 500, (role, url, resp.status_code)
            body = _body(resp)
            shown = {kind for kind, value in FULL.items() if value in body}
            for kind in shown - _allowed(role, url):
                problems.append(f"{role or 'anonymous'} {url}: {kind} in full")
            if shown and user is not None:
                if views.count() == before:
                    problems.append(f"{role} {url}: {sorted(shown)} in full without a customer.view_pii row")
    assert problems == [], "\n".join(problems)
    # the walk reached the seeded objects: their detail routes answered 200 to a role that may see them
    clerk = Role.COUNTER_CLERK
    assert statuses[(clerk, f"/api/v1/customers/{w.cust_a.pk}")] == 200
    assert statuses[(clerk, f"/customers/{w.cust_a.pk}/")] == 200
    assert statuses[(Role.BILLING_CLERK, f"/api/v1/withholding/batches/{w.batch.batch_no}/file")] == 200
    assert statuses[(Role.CUSTOMER, f"/portal/accounts/{w.acct_a.account_number}/")] == 200


def test_a_full_view_is_seen_by_the_walk(seeded, login):
    """The walk's eyes work: the revealed customer page holds the seeded phone and ID number, and the
    debit file of the billing clerk holds the bank account — each with its audit row."""
    w = seeded
    admin = login(w.admin)
    body = _body(admin.get(f"/customers/{w.cust_a.pk}/?reveal=1"))
    assert PHONE in body and ID_NUMBER in body
    billing = UserFactory(username="walk_billing", role=Role.BILLING_CLERK, unit=w.bureau_a)
    assert BANK_ACCOUNT in _body(login(billing).get(f"/api/v1/withholding/batches/{w.batch.batch_no}/file"))
    assert AuditEvent.objects.filter(action="customer.view_pii").count() == 2
