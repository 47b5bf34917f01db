"""Quote API, tariff list and admin version upkeep, through HTTP."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.test import Client

from gridcare.billing import services
from gridcare.billing.models import Tariff, TariffVersion
from gridcare.billing.rating import Usage, VersionSpan, parse_params, rate
from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent

QUOTE = "/api/v1/billing/quote"
TARIFFS = "/api/v1/billing/tariffs"


def post(client, path, body):
    return client.post(path, data=body, content_type="application/json")


def state():
    return (list(TariffVersion.objects.order_by("pk").values()), AuditEvent.objects.count())


@pytest.fixture
def anon(db):
    return Client()


def test_quote_res_tier_crossing(anon):
    body = {
        "tariff_code": "RES-TIER",
        "period_start": "2025-03-01",
        "period_end": "2025-03-31",
        "kwh": {"total": "200"},
        "ytd_kwh_before": "2700",
    }
    resp = post(anon, QUOTE, body)
    assert resp.status_code == 200, resp.content
    data = resp.json()
    # 200 × 0.538 = 107.60; 140 kWh over 2760 × 0.05 = 7.00
    assert [(ln["code"], ln["amount"]) for ln in data["lines"]] == [("energy", "107.60"), ("tier2", "7.00")]
    assert data["total"] == "114.60"


def test_quote_matches_engine(anon):
    body = {
        "tariff_code": "LI-TWO-PART",
        "period_start": "2025-12-17",
        "period_end": "2026-01-15",
        "kwh": {"peak": 40000.5, "flat": "50000", "valley": "30000"},
        "capacity_kva": 1000,
        "power_factor": "0.87",
    }
    data = post(anon, QUOTE, body).json()
    version = Tariff.objects.get(code="LI-TWO-PART").versions.get()
    expected = rate(
        versions=[VersionSpan(version.valid_from, version.valid_to, parse_params(version.parameters))],
        period_start=date(2025, 12, 17),
        period_end=date(2026, 1, 15),
        usage=Usage.of(peak=D("40000.5"), flat=D(50000), valley=D(30000)),
        capacity_kva=D(1000),
        power_factor=D("0.87"),
    )
    assert data["total"] == str(expected.total)
    assert [ln["amount"] for ln in data["lines"]] == [str(ln.amount) for ln in expected.lines]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kwh": {"total": "-5"}}, "kwh.total"),
        ({"tariff_code": "NOPE"}, "tariff_code"),
        ({"tariff_code": "LI-TWO-PART", "kwh": {"peak": "10"}, "power_factor": "0.9"}, "capacity_kva"),
        ({"period_end": "2025-02-01"}, "period_end"),
        ({"period_start": "2019-12-01"}, "period_start"),
        ({"kwh": {}}, "kwh"),
        ({"kwh": {"total": "abc"}}, "kwh.total"),
    ],
)
def test_quote_validation_errors(anon, change, field):
    body = {
        "tariff_code": "RES-TIER",
        "period_start": "2025-03-01",
        "period_end": "2025-03-31",
        "kwh": {"total": "200"},
        **change,
    }
    before = state()
    resp = post(anon, QUOTE, body)
    assert resp.status_code == 422, resp.content
    assert field in [d["field"] for d in resp.json()["detail"]]
    assert state() == before


def test_quote_rate_limited(anon, settings):
    settings.GRIDCARE = {**settings.GRIDCARE, "PUBLIC_QUERY_RATE": 2}
    body = {
        "tariff_code": "AGR-FLAT",
        "period_start": "2025-03-01",
        "period_end": "2025-03-31",
        "kwh": {"total": "100"},
    }
    codes = [post(anon, QUOTE, body).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert post(anon, QUOTE, body).json()["detail"]


def test_tariff_list_public(anon):
    resp = anon.get(TARIFFS)
    assert resp.status_code == 200
    rows = {t["code"]: t for t in resp.json()}
    assert set(rows) == {"RES-TIER", "RES-TIER-TOU", "COM-FLAT", "COM-TOU", "LI-TWO-PART", "AGR-FLAT"}
    assert rows["RES-TIER"]["current_version"]["parameters"]["energy_price"] == "0.538"


NEW_VERSION = {"valid_from": "2030-01-01", "valid_to": None, "parameters": {"energy_price": "0.55"}}


def _close_agr(world):
    v = TariffVersion.objects.get(tariff__code="AGR-FLAT")
    v.valid_to = date(2029, 12, 31)
    v.save()


def test_version_create_admin(world):
    _close_agr(world)
    c = Client()
    c.force_login(world.admin)
    resp = post(c, f"{TARIFFS}/AGR-FLAT/versions", NEW_VERSION)
    assert resp.status_code == 201, resp.content
    assert TariffVersion.objects.filter(tariff__code="AGR-FLAT").count() == 2
    ev = AuditEvent.objects.get(action="tariff_version.create")
    assert ev.actor == world.admin and ev.changes["parameters"] == {"energy_price": "0.55"}


@pytest.mark.parametrize("who", ["anonymous", "a_clerk", "a_manager", "portal_user"])
def test_version_create_refused_for_non_admins(world, who):
    _close_agr(world)
    c = Client()
    if who != "anonymous":
        c.force_login(getattr(world, who))
    before = state()
    resp = post(c, f"{TARIFFS}/AGR-FLAT/versions", NEW_VERSION)
    assert resp.status_code == (401 if who == "anonymous" else 403)
    assert state() == before


def test_version_create_overlap_and_bad_price_refused(world):
    c = Client()
    c.force_login(world.admin)
    before = state()
    resp = post(c, f"{TARIFFS}/AGR-FLAT/versions", NEW_VERSION)  # the 2020 version is open-ended
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "valid_from" and "重叠" in resp.json()["detail"][0]["message"]
    resp = post(c, f"{TARIFFS}/AGR-FLAT/versions", {**NEW_VERSION, "parameters": {"energy_price": "-1"}})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "params.energy_price"
    assert state() == before


def test_proration_through_service_and_quote(db):
    t = Tariff.objects.create(
        code="TEST-PRO", name="测试", kind="commercial_flat", customer_class="commercial"
    )
    actor = Actor()
    services.tariff_version_create(
        actor=actor,
        tariff=t,
        valid_from=date(2025, 1, 1),
        valid_to=date(2025, 6, 15),
        params={"energy_price": "0.50"},
    )
    services.tariff_version_create(
        actor=actor, tariff=t, valid_from=date(2025, 6, 16), valid_to=None, params={"energy_price": 0.6}
    )
    assert TariffVersion.objects.get(tariff=t, valid_from=date(2025, 6, 16)).parameters == {
        "energy_price": "0.6"
    }
    data = post(
        Client(),
        QUOTE,
        {
            "tariff_code": "TEST-PRO",
            "period_start": "2025-06-01",
            "period_end": "2025-06-30",
            "kwh": {"total": "301"},
        },
    ).json()
    # 15 + 15 days: 150.50 kWh each; 150.50 × 0.50 = 75.25; 150.50 × 0.60 = 90.30 → 165.55
    assert [ln["amount"] for ln in data["lines"]] == ["75.25", "90.30"]
    assert data["total"] == "165.55"
