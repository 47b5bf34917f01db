"""`field__any=[…]`: one array parameter on PostgreSQL, IN elsewhere; same rows either way."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from gridcare.customers.models import Account


def test_any_matches_in(world):
    ids = [world.acct_a.pk, world.acct_b.pk, 10**9]
    assert (
        sorted(Account.objects.filter(pk__any=ids).values_list("pk", flat=True))
        == sorted(Account.objects.filter(pk__in=ids).values_list("pk", flat=True))
        == sorted([world.acct_a.pk, world.acct_b.pk])
    )
    assert list(Account.objects.filter(pk__any=[])) == []
    assert Account.objects.filter(customer_id__any=[world.acct_a.customer_id]).get() == world.acct_a


def test_any_is_one_parameter_on_postgresql(world):
    with CaptureQueriesContext(connection) as ctx:
        list(Account.objects.filter(pk__any=list(range(1, 3000))))
    sql = ctx.captured_queries[-1]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY('{1,2," in sql and " IN (" not in sql  # the ids travel as one array literal
    else:
        assert " IN (" in sql
