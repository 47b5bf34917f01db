"""Seed the time-limit policy table with the SPEC C4 defaults (issue 15)."""

from django.db import migrations

DEFAULTS = [
    ("fault", "", "urban", "arrival", 45, "minutes", "received"),
    ("fault", "", "rural", "arrival", 90, "minutes", "received"),
    ("fault", "", "remote", "arrival", 120, "minutes", "received"),
    ("fault", "", "urban", "restoration", 3, "hours", "arrived"),
    ("fault", "", "rural", "restoration", 4, "hours", "arrived"),
    ("fault", "", "remote", "restoration", 4, "hours", "arrived"),
    ("complaint", "", "", "contact", 1, "working_days", "received"),
    ("complaint", "", "", "reply", 7, "working_days", "received"),
    ("report", "", "", "reply", 10, "working_days", "received"),
    ("opinion", "", "", "reply", 10, "working_days", "received"),
    ("service_request", "reconnection", "", "complete", 24, "hours", "received"),
    ("service_request", "meter_check", "", "complete", 4, "working_days", "received"),
    ("service_request", "reading_data", "", "complete", 6, "working_days", "received"),
    ("service_request", "other", "", "complete", 5, "working_days", "received"),
    ("", "", "", "callback", 1, "working_days", "resolved"),
]


def seed(apps, schema_editor):
    SlaPolicy = apps.get_model("service", "SlaPolicy")
    for order_type, sub_type, area, name, amount, unit, basis in DEFAULTS:
        SlaPolicy.objects.get_or_create(
            order_type=order_type,
            sub_type=sub_type,
            area=area,
            name=name,
            defaults={"amount": amount, "unit": unit, "basis": basis},
        )


class Migration(migrations.Migration):
    dependencies = [("service", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
