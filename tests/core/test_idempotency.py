"""The replay of an Idempotency-Key answers from the stored body: times in it must come back to the microsecond,
or the replay (rendered through the same schema and encoder) says "13Z" where the first answer said "13.000Z"
(a flaky failure seen in CI whenever a time fell in the first millisecond of its second)."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from ninja import Status

from gridcare.core.idempotency import idempotent

AT = datetime(2026, 12, 7, 5, 55, 13, 412, tzinfo=ZoneInfo("UTC"))  # 412 µs: inside the second's first ms


@pytest.mark.django_db
def test_replay_keeps_times_to_the_microsecond():
    calls = []

    @idempotent
    def view(request):
        calls.append(1)
        return {"decided_at": AT, "slot": time(8, 30, 0, 250), "amount": "12.30"}

    def post():
        request = RequestFactory().post(
            "/api/v1/x", data=b"{}", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        request.user = AnonymousUser()
        return view(request)

    first = post()
    again = post()
    assert calls == [1]  # the second answer is the replay
    assert isinstance(again, Status) and again.status_code == 200
    assert datetime.fromisoformat(again.value["decided_at"]) == AT == first["decided_at"]
    assert time.fromisoformat(again.value["slot"]) == time(8, 30, 0, 250)
    assert again.value["amount"] == "12.30"
