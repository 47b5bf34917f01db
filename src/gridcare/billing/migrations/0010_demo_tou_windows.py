"""The demo catalogue's COM-TOU and LI-TWO-PART versions were seeded with TOU prices but no TOU windows, so the
tariff editor (which asks for windows covering the day whenever there are TOU prices) could neither preview nor
save a new version of them. This adds the hours their descriptions state to versions that have none.

The windows only say which hours each period is (the meter's registers carry the kWh per period), so the rating
of these versions is unchanged. Versions that already have windows, and every other tariff, are left alone."""

from django.db import migrations

# 尖峰 19:00–21:00，高峰 08:00–11:00、18:00–19:00、21:00–23:00，平段 11:00–18:00，低谷 23:00–08:00
WINDOWS = {
    "sharp": "19:00-21:00",
    "peak": ["08:00-11:00", "18:00-19:00", "21:00-23:00"],
    "flat": "11:00-18:00",
    "valley": "23:00-08:00",
}
CODES = ("COM-TOU", "LI-TWO-PART")


def add_windows(apps, schema_editor):
    TariffVersion = apps.get_model("billing", "TariffVersion")
    for version in TariffVersion.objects.filter(tariff__code__in=CODES).order_by("pk"):
        params = dict(version.parameters or {})
        prices = params.get("tou_prices") or {}
        if not prices or params.get("tou_windows"):
            continue
        if set(prices) != set(WINDOWS):
            continue  # an edited version with other periods: its windows are its editor's to set
        params["tou_windows"] = WINDOWS
        version.parameters = params
        version.save(update_fields=["parameters"])


class Migration(migrations.Migration):
    dependencies = [("billing", "0009_electronic_invoice")]
    operations = [migrations.RunPython(add_windows, migrations.RunPython.noop)]
