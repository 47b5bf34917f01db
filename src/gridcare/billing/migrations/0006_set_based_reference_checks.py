"""Reference checks for bills and bill lines, set-based.

The four references a billing run writes a million times (bill → account, unit, run; line → bill) are not
per-row foreign keys (0005 dropped those constraints): each per-row check takes a row lock on the referenced
row, and at a million bills each reference cost 4–10 s (measured on PostgreSQL 15). Instead:

- PostgreSQL: statement-level AFTER triggers with transition tables. An INSERT or UPDATE of bills or lines
  runs one anti-join of the new rows against the referenced table and raises foreign_key_violation (23503)
  when a reference is missing; a DELETE of a referenced account, unit, run or bill raises the same when
  bills or lines still refer to it. Not covered (unlike a foreign key): a concurrent DELETE of the referenced
  row racing the insert. Accounts, units, runs and bills are never deleted by the application (PROTECT).
- SQLite: nothing (see 0007: SQLite's table rebuilds break triggers that name other tables).
"""

from django.db import migrations

PG_FORWARD = r"""
CREATE FUNCTION billing_bill_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM customers_account a WHERE a.id = n.account_id)) THEN
    RAISE EXCEPTION 'billing_bill.account_id refers to a missing customers_account row' USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM org_supplyunit u WHERE u.id = n.unit_id)) THEN
    RAISE EXCEPTION 'billing_bill.unit_id refers to a missing org_supplyunit row' USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF EXISTS (SELECT 1 FROM new_rows n WHERE n.run_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM billing_billingrun r WHERE r.id = n.run_id)) THEN
    RAISE EXCEPTION 'billing_bill.run_id refers to a missing billing_billingrun row' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER billing_bill_refs_insert AFTER INSERT ON billing_bill
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_bill_check_refs();
CREATE TRIGGER billing_bill_refs_update AFTER UPDATE ON billing_bill
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_bill_check_refs();

CREATE FUNCTION billing_billline_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM billing_bill b WHERE b.id = n.bill_id)) THEN
    RAISE EXCEPTION 'billing_billline.bill_id refers to a missing billing_bill row' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER billing_billline_refs_insert AFTER INSERT ON billing_billline
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_billline_check_refs();
CREATE TRIGGER billing_billline_refs_update AFTER UPDATE ON billing_billline
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_billline_check_refs();

CREATE FUNCTION billing_check_still_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'billing_bill' THEN
    IF EXISTS (SELECT 1 FROM old_rows o JOIN billing_billline l ON l.bill_id = o.id) THEN
      RAISE EXCEPTION 'billing_bill rows are still referenced from billing_billline' USING ERRCODE = 'foreign_key_violation';
    END IF;
  ELSIF TG_TABLE_NAME = 'customers_account' THEN
    IF EXISTS (SELECT 1 FROM old_rows o JOIN billing_bill b ON b.account_id = o.id) THEN
      RAISE EXCEPTION 'customers_account rows are still referenced from billing_bill' USING ERRCODE = 'foreign_key_violation';
    END IF;
  ELSIF TG_TABLE_NAME = 'org_supplyunit' THEN
    IF EXISTS (SELECT 1 FROM old_rows o JOIN billing_bill b ON b.unit_id = o.id) THEN
      RAISE EXCEPTION 'org_supplyunit rows are still referenced from billing_bill' USING ERRCODE = 'foreign_key_violation';
    END IF;
  ELSIF TG_TABLE_NAME = 'billing_billingrun' THEN
    IF EXISTS (SELECT 1 FROM old_rows o JOIN billing_bill b ON b.run_id = o.id) THEN
      RAISE EXCEPTION 'billing_billingrun rows are still referenced from billing_bill' USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER billing_bill_referenced_delete AFTER DELETE ON billing_bill
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_check_still_referenced();
CREATE TRIGGER billing_account_referenced_delete AFTER DELETE ON customers_account
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_check_still_referenced();
CREATE TRIGGER billing_unit_referenced_delete AFTER DELETE ON org_supplyunit
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_check_still_referenced();
CREATE TRIGGER billing_run_referenced_delete AFTER DELETE ON billing_billingrun
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_check_still_referenced();
"""

PG_BACKWARD = r"""
DROP TRIGGER IF EXISTS billing_run_referenced_delete ON billing_billingrun;
DROP TRIGGER IF EXISTS billing_unit_referenced_delete ON org_supplyunit;
DROP TRIGGER IF EXISTS billing_account_referenced_delete ON customers_account;
DROP TRIGGER IF EXISTS billing_bill_referenced_delete ON billing_bill;
DROP FUNCTION IF EXISTS billing_check_still_referenced();
DROP TRIGGER IF EXISTS billing_billline_refs_update ON billing_billline;
DROP TRIGGER IF EXISTS billing_billline_refs_insert ON billing_billline;
DROP FUNCTION IF EXISTS billing_billline_check_refs();
DROP TRIGGER IF EXISTS billing_bill_refs_update ON billing_bill;
DROP TRIGGER IF EXISTS billing_bill_refs_insert ON billing_bill;
DROP FUNCTION IF EXISTS billing_bill_check_refs();
"""

def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_bill_indexes_and_references"),
        ("customers", "0003_servicepoint_basic_by_demand"),
        ("org", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
