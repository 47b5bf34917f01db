"""The fuzzer's write probe: an error answer that committed a write carries the header, nothing else does."""

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory

from gridcare.core.audit import Actor, audit_record
from gridcare.core.fuzzprobe import HEADER, FuzzWriteProbeMiddleware
from gridcare.org.choices import UnitLevel
from gridcare.org.models import ApiToken, SupplyUnit
from gridcare.org.services import api_token_create

from ..factories import UserFactory, make_unit

pytestmark = pytest.mark.django_db(transaction=True)


def answer(view):
    return FuzzWriteProbeMiddleware(view)(RequestFactory().post("/api/v1/anything"))


def test_an_error_after_a_committed_insert_is_marked():
    def view(request):
        make_unit("09", "临时单位", UnitLevel.COMPANY)
        return HttpResponse(status=422)

    assert answer(view)[HEADER] == "INSERT org_supplyunit"


def test_an_error_whose_writes_were_rolled_back_is_not_marked():
    def view(request):
        try:
            with transaction.atomic():
                make_unit("09", "临时单位", UnitLevel.COMPANY)
                raise ValueError
        except ValueError:
            return HttpResponse(status=422)

    resp = answer(view)
    assert HEADER not in resp
    assert not SupplyUnit.objects.filter(code="09").exists()


def test_an_error_after_a_write_in_a_committed_transaction_is_marked():
    unit = make_unit("09", "临时单位", UnitLevel.COMPANY)

    def view(request):
        with transaction.atomic():
            SupplyUnit.objects.filter(pk=unit.pk).update(name="改名")
            with transaction.atomic():
                SupplyUnit.objects.filter(pk=unit.pk).delete()
                transaction.set_rollback(True)
        return HttpResponse(status=409)

    # The inner DELETE was rolled back with its savepoint; the UPDATE was committed.
    assert answer(view)[HEADER] == "UPDATE org_supplyunit"


def test_a_success_may_write():
    def view(request):
        make_unit("09", "临时单位", UnitLevel.COMPANY)
        return HttpResponse(status=201)

    assert HEADER not in answer(view)


def test_allowed_writes_do_not_mark_an_error():
    user = UserFactory(username="probe", unit=make_unit("09", "临时单位", UnitLevel.COMPANY))
    token, _key = api_token_create(actor=Actor(), user=user, name="probe")

    def view(request):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=None)  # what TokenAuth does
        audit_record(actor=Actor(), action="user.login_failed", obj=user, unit_id=user.unit_id)
        return HttpResponse(status=401)

    assert HEADER not in answer(view)


def test_an_audit_row_of_another_action_marks_an_error():
    user = UserFactory(username="probe", unit=make_unit("09", "临时单位", UnitLevel.COMPANY))

    def view(request):
        audit_record(actor=Actor(), action="customer.update", obj=user, unit_id=user.unit_id)
        return HttpResponse(status=422)

    assert answer(view)[HEADER] == "INSERT core_auditevent"
