"""Console and portal pages: quote form, tariff catalogue, the raw JSON version form (administrators)."""

from datetime import date

from django.test import Client

from gridcare.billing.models import TariffVersion
from gridcare.core.models import AuditEvent

QUOTE_POST = {
    "tariff_code": "RES-TIER",
    "period_start": "2025-03-01",
    "period_end": "2025-03-31",
    "total": "200",
    "ytd_kwh_before": "2700",
}


def test_portal_quote_public(db):
    c = Client()
    assert c.get("/portal/billing/quote/").status_code == 200
    resp = c.post("/portal/billing/quote/", QUOTE_POST)
    assert resp.status_code == 200
    # 200 × 0.538 = 107.60 + 140 × 0.05 = 7.00
    assert 'data-testid="quote-total">114.60<' in resp.content.decode()


def test_portal_quote_shows_errors(db):
    resp = Client().post(
        "/portal/billing/quote/", {**QUOTE_POST, "tariff_code": "LI-TWO-PART", "total": "", "peak": "100"}
    )
    body = resp.content.decode()
    assert resp.status_code == 200 and "quote-total" not in body
    assert "两部制电价须填写受电容量" in body


def test_console_quote_needs_login(world):
    assert Client().get("/billing/quote/").status_code == 302
    c = Client()
    c.force_login(world.portal_user)
    assert c.get("/billing/quote/").status_code == 404


def test_console_quote_and_tariffs(world):
    c = Client()
    c.force_login(world.a_clerk)
    assert c.get("/billing/quote/").status_code == 200
    resp = c.post("/billing/quote/", QUOTE_POST)
    assert 'data-testid="quote-total">114.60<' in resp.content.decode()
    resp = c.get("/billing/tariffs/")
    assert resp.status_code == 200 and "LI-TWO-PART" in resp.content.decode()
    assert "新增版本" not in resp.content.decode()
    assert c.get("/billing/tariffs/AGR-FLAT/versions/new/").status_code == 404


def test_admin_creates_version_in_console(world):
    TariffVersion.objects.filter(tariff__code="AGR-FLAT").update(valid_to=date(2029, 12, 31))
    c = Client()
    c.force_login(world.admin)
    assert c.get("/billing/tariffs/AGR-FLAT/versions/new/json/").status_code == 200
    resp = c.post(
        "/billing/tariffs/AGR-FLAT/versions/new/json/",
        {"valid_from": "2029-06-01", "parameters": '{"energy_price": "0.55"}'},
    )
    assert resp.status_code == 200 and "重叠" in resp.content.decode()
    resp = c.post(
        "/billing/tariffs/AGR-FLAT/versions/new/json/",
        {"valid_from": "2030-01-01", "parameters": '{"energy_price": "0.55"}'},
    )
    assert resp.status_code == 302
    assert TariffVersion.objects.filter(tariff__code="AGR-FLAT").count() == 2
    assert AuditEvent.objects.filter(action="tariff_version.create", channel="console").count() == 1
