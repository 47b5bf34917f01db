"""SQLite keeps no reference triggers on bills and lines (0006 no longer creates them; this drops them where
an earlier 0006 did). SQLite rebuilds a table to alter it, and a trigger naming the rebuilt table breaks the
rename ("error in trigger … no such table"). On SQLite — the laptop and demo database — the application
(PROTECT, bills written with their lines in one transaction) keeps the references; PostgreSQL checks them."""

from django.db import migrations

TRIGGERS = ("billing_bill_refs_insert", "billing_bill_refs_update", "billing_billline_refs_insert",
            "billing_billline_refs_update")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_set_based_reference_checks")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
