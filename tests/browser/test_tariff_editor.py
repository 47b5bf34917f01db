"""Browser test in real Chromium: an administrator edits a tariff in the form editor — adds tier rows, enters an
overlapping tier, sees the error naming the row, fixes it, previews the quote and saves a new version."""

import importlib
from datetime import date

import pytest
from django.apps import apps

from gridcare.billing.models import TariffVersion
from gridcare.core.models import AuditEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser_page):
    return browser_page


def test_admin_edits_tiers_previews_and_saves(page, live_server, world):
    # A transactional test before this one flushed the tables, the migration's tariff catalogue included.
    importlib.import_module("gridcare.billing.migrations.0002_demo_catalogue").load(apps, None)
    page.goto(f"{live_server.url}/login/")
    page.fill("#username", world.admin.username)
    page.fill("#password", world.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")

    page.goto(f"{live_server.url}/billing/tariffs/")
    page.click("[data-testid=edit-AGR-FLAT]")
    page.wait_for_selector("[data-testid=tariff-editor]")
    # AGR-FLAT is a single price of 0.50 yuan/kWh, no tiers yet
    assert page.input_value("#id_energy_price") == "0.50"
    assert page.locator("[data-testid=tiers] tbody tr[data-row]").count() == 0
    page.fill("#id_valid_from", "2027-01-01")

    page.click("[data-testid=add-tier]")
    page.wait_for_selector("#id_tiers-0-start")
    page.fill("#id_tiers-0-start", "0")
    page.fill("#id_tiers-0-end", "100")
    page.fill("#id_tiers-0-surcharge", "0")
    page.click("[data-testid=add-tier]")
    page.wait_for_selector("#id_tiers-1-start")
    assert page.input_value("#id_tiers-0-end") == "100"  # what was typed survives adding a row
    assert page.input_value("#id_tiers-1-start") == "100"  # a new tier starts where the last one ends
    page.fill("#id_tiers-1-start", "90")  # overlaps tier 1 (0–100)
    page.fill("#id_tiers-1-surcharge", "0.10")
    page.fill("#id_sample-kwh_total", "150")

    page.click("[data-testid=preview]")
    errors = page.locator("[data-testid=editor-errors]")
    errors.wait_for()
    assert "第2档：起始电量与上一档重叠" in errors.inner_text()
    assert page.locator("[data-testid=preview-result]").count() == 0
    assert TariffVersion.objects.filter(tariff__code="AGR-FLAT").count() == 1

    page.fill("#id_tiers-1-start", "100")
    page.click("[data-testid=preview]")
    page.wait_for_selector("[data-testid=preview-result]")
    assert page.locator("[data-testid=editor-errors]").count() == 0
    # 150 kWh × 0.50 = 75.00; tier 2 from 100 kWh: (150 − 100) × 0.10 = 5.00; total 80.00
    assert page.inner_text("[data-testid=preview-total]").strip() == "80.00"
    assert TariffVersion.objects.filter(tariff__code="AGR-FLAT").count() == 1  # previewing wrote nothing

    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=tariff-AGR-FLAT]")
    assert page.url.endswith("/billing/tariffs/")
    card = page.inner_text("[data-testid=tariff-AGR-FLAT]")
    assert "2027-01-01" in card and "2026-12-31" in card and "第2档" in card
    old, new = TariffVersion.objects.filter(tariff__code="AGR-FLAT").order_by("valid_from")
    assert old.valid_to == date(2026, 12, 31)
    assert new.valid_from == date(2027, 1, 1) and new.parameters == {
        "energy_price": "0.50",
        "tiers": {"basis": "annual", "thresholds": ["100"], "surcharges": ["0.10"]},
    }
    assert AuditEvent.objects.filter(action="tariff_version.create", actor=world.admin).count() == 1
