"""Evaluation devices (issue 16 §6): the customer rates the last transaction of the counter on its device page;
a double rating, a 不满意 without a reason, a stale or foreign ticket are refused with nothing written; a 不满意
becomes a follow-up the hall manager closes (audited). The clock is injected everywhere."""

import pytest
from django.core.exceptions import ValidationError
from django.db.models.query import QuerySet

from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.hall import devices, ratings, services, views_ratings
from gridcare.hall.choices import TicketSource
from gridcare.hall.models import Rating, RatingFollowUp, TicketEvent

from ..factories import UserFactory
from .conftest import at


def serve(
    w, counter, *, issued: float, called: float, finished: float, clerk=None, started: float | None = None
):
    """Issue a ticket, call it at `counter` (opening the counter first if needed), optionally start it, finish it."""
    clerk = clerk or w.a_clerk
    actor = w.actor(clerk)
    t = services.ticket_issue(
        hall=counter.hall, category="payment", source=TicketSource.KIOSK, now=at(issued)
    )
    setup = counter.setup
    setup.refresh_from_db()
    if setup.state == "closed":
        services.counter_open(counter=counter, actor=actor, now=at(issued))
    called_t = services.ticket_call(counter=counter, ticket=t, actor=actor, now=at(called)).ticket
    assert called_t.pk == t.pk
    if started is not None:
        services.ticket_start(counter=counter, actor=actor, now=at(started))
    return services.ticket_finish(counter=counter, actor=actor, now=at(finished))


def evaluator(w, counter=None):
    device, key = devices.device_create(
        hall=w.hall_a, kind="evaluator", counter=counter or w.c1, name="1号评价器", actor=w.actor(w.a_manager)
    )
    return device, key


def counts():
    return (
        Rating.objects.count(),
        RatingFollowUp.objects.count(),
        TicketEvent.objects.filter(kind="rated").count(),
    )


def test_a_rating_is_written_with_its_clerk_counter_device_and_event(hw):
    device, _key = evaluator(hw)
    t = serve(hw, hw.c1, issued=0, called=1, finished=6)
    assert ratings.pending_ticket(device, now=at(7)).pk == t.pk
    r = ratings.rating_record(device=device, ticket_id=t.pk, score="satisfied", reason="ignored", now=at(7))
    assert (r.hall_id, r.counter_id, r.clerk_id, r.device_id) == (
        hw.hall_a.pk,
        hw.c1.pk,
        hw.a_clerk.pk,
        device.pk,
    )
    assert r.reason == ""  # a reason only goes with 不满意
    ev = TicketEvent.objects.get(ticket=t, kind="rated")
    assert ev.detail["score"] == "satisfied" and ev.at == at(7)
    assert not RatingFollowUp.objects.exists()
    # Rated: the device waits for the next transaction.
    assert ratings.pending_ticket(device, now=at(8)) is None


def test_double_rating_refused_and_nothing_changed(hw):
    device, _key = evaluator(hw)
    t = serve(hw, hw.c1, issued=0, called=1, finished=6)
    ratings.rating_record(device=device, ticket_id=t.pk, score="very_satisfied", now=at(7))
    before = counts()
    with pytest.raises(ValidationError) as e:
        ratings.rating_record(device=device, ticket_id=t.pk, score="dissatisfied", reason="态度差", now=at(8))
    assert "已评价" in e.value.message_dict["ticket"][0]
    assert counts() == before
    assert Rating.objects.get(ticket=t).score == "very_satisfied"


def test_a_race_past_the_check_is_caught_by_the_one_to_one(hw, monkeypatch):
    device, _key = evaluator(hw)
    t = serve(hw, hw.c1, issued=0, called=1, finished=6)
    ratings.rating_record(device=device, ticket_id=t.pk, score="satisfied", now=at(7))
    before = counts()
    # The other rating committed between our check and our insert: the check sees nothing, the insert fails.
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    with pytest.raises(ValidationError) as e:
        ratings.rating_record(device=device, ticket_id=t.pk, score="neutral", now=at(7.5))
    monkeypatch.undo()
    assert "已评价" in e.value.message_dict["ticket"][0]
    assert counts() == before


def test_dissatisfied_needs_a_reason_and_opens_a_follow_up(hw):
    device, _key = evaluator(hw)
    t = serve(hw, hw.c1, issued=0, called=1, finished=6)
    for blank in ("", "   "):
        with pytest.raises(ValidationError) as e:
            ratings.rating_record(
                device=device, ticket_id=t.pk, score="dissatisfied", reason=blank, now=at(7)
            )
        assert "reason" in e.value.message_dict
    with pytest.raises(ValidationError) as e:
        ratings.rating_record(
            device=device, ticket_id=t.pk, score="dissatisfied", reason="x" * 201, now=at(7)
        )
    assert "reason" in e.value.message_dict
    assert counts() == (0, 0, 0)
    r = ratings.rating_record(
        device=device, ticket_id=t.pk, score="dissatisfied", reason="等候时间太长", now=at(7)
    )
    f = RatingFollowUp.objects.get(rating=r)
    assert f.status == "open" and r.reason == "等候时间太长"


def test_stale_foreign_unknown_and_bad_score_refused(hw):
    device, _key = evaluator(hw)
    other, _k = evaluator(hw, hw.c2)
    t = serve(hw, hw.c1, issued=0, called=1, finished=6)
    cases = [
        (device, t.pk, "satisfied", at(16.5), "ticket"),  # 10.5 minutes after the finish: past the window
        (other, t.pk, "satisfied", at(7), "ticket"),  # the device of another counter
        (device, 999999, "satisfied", at(7), "ticket"),
        (device, "abc", "satisfied", at(7), "ticket"),
        (device, t.pk, "superb", at(7), "score"),
        (device, t.pk, "", at(7), "score"),
    ]
    for dev, tid, score, now, field in cases:
        with pytest.raises(ValidationError) as e:
            ratings.rating_record(device=dev, ticket_id=tid, score=score, now=now)
        assert field in e.value.message_dict, (tid, score)
    assert ratings.pending_ticket(device, now=at(16.5)) is None
    assert ratings.pending_ticket(other, now=at(7)) is None
    assert counts() == (0, 0, 0)


def test_only_the_counters_latest_transaction_is_offered(hw):
    device, _key = evaluator(hw)
    serve(hw, hw.c1, issued=0, called=1, finished=3)
    t2 = serve(hw, hw.c1, issued=2, called=4, finished=6)
    assert ratings.pending_ticket(device, now=at(7)).pk == t2.pk
    # A ticket still being served is not offered; the last finished one is.
    t3 = services.ticket_issue(hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(6))
    services.ticket_call(counter=hw.c1, ticket=t3, actor=hw.actor(hw.a_clerk), now=at(6.5))
    assert ratings.pending_ticket(device, now=at(7)).pk == t2.pk


# ---------------------------------------------------------------- the device page


@pytest.fixture
def clock(monkeypatch):
    state = {"now": at(7)}
    monkeypatch.setattr(views_ratings, "page_now", lambda: state["now"])
    return state


def test_device_page_rates_and_refuses_a_second_rating(hw, client, clock):
    device, key = evaluator(hw)
    url = f"/hall/d/{key}/evaluate/"
    assert client.get(f"/hall/d/{key}x/evaluate/").status_code == 404
    _display, display_key = devices.device_create(
        hall=hw.hall_a, kind="display", actor=hw.actor(hw.a_manager)
    )
    assert client.get(f"/hall/d/{display_key}/evaluate/").status_code == 404
    r = client.get(url)
    assert r.status_code == 200 and 'data-testid="eval-waiting"' in r.content.decode()
    t = serve(hw, hw.c1, issued=0, called=1, finished=6)
    page = client.get(url).content.decode()
    assert t.number in page and 'data-testid="score-satisfied"' in page and "非常满意" in page
    # The htmx poll gets the panel alone.
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith("<section") and t.number in partial
    r = client.post(url, {"ticket": t.pk, "score": "satisfied"})
    assert r.status_code == 302 and r["Location"] == f"{url}?thanks={t.number}"
    assert Rating.objects.get(ticket=t).score == "satisfied"
    assert "感谢您的评价" in client.get(r["Location"]).content.decode()
    before = counts()
    r = client.post(url, {"ticket": t.pk, "score": "very_satisfied"})
    assert r.status_code == 400 and "不能重复评价" in r.content.decode()
    assert counts() == before and Rating.objects.get(ticket=t).score == "satisfied"


def test_device_page_asks_for_the_reason_of_a_dissatisfied_rating(hw, client, clock):
    _device, key = evaluator(hw)
    url = f"/hall/d/{key}/evaluate/"
    t = serve(hw, hw.c1, issued=0, called=1, finished=6)
    # The first tap on 不满意 asks why; nothing is written yet.
    r = client.post(url, {"ticket": t.pk, "score": "dissatisfied"})
    body = r.content.decode()
    assert r.status_code == 200 and 'data-testid="reason-form"' in body and "等候时间太长" in body
    assert counts() == (0, 0, 0)
    # Submitting the reason step without a reason is refused.
    r = client.post(url, {"ticket": t.pk, "score": "dissatisfied", "step": "reason", "reason_other": " "})
    assert r.status_code == 400 and "请选择或填写不满意的原因" in r.content.decode()
    assert 'data-testid="reason-form"' in r.content.decode()
    assert counts() == (0, 0, 0)
    # A typed reason wins over a picked one.
    r = client.post(
        url,
        {
            "ticket": t.pk,
            "score": "dissatisfied",
            "step": "reason",
            "reason": "办理速度慢",
            "reason_other": "叫号不清",
        },
    )
    assert r.status_code == 302
    rating = Rating.objects.get(ticket=t)
    assert (rating.score, rating.reason) == ("dissatisfied", "叫号不清")
    assert rating.follow_up.status == "open"


# ---------------------------------------------------------------- follow-ups


def dissatisfied(w, *, finished=6, reason="等候时间太长"):
    device = Rating.objects.first().device if Rating.objects.exists() else evaluator(w)[0]
    t = serve(w, w.c1, issued=finished - 5, called=finished - 4, finished=finished)
    return ratings.rating_record(
        device=device, ticket_id=t.pk, score="dissatisfied", reason=reason, now=at(finished + 1)
    )


def test_follow_up_close_is_audited_and_scoped(hw):
    r = dissatisfied(hw)
    f = r.follow_up
    b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=hw.bureau_b)
    with pytest.raises(PermissionDenied):
        ratings.follow_up_close(follow_up=f, note="已致电", actor=hw.actor(b_manager), now=at(30))
    with pytest.raises(PermissionDenied):
        ratings.follow_up_close(follow_up=f, note="已致电", actor=hw.actor(hw.a_clerk), now=at(30))
    with pytest.raises(ValidationError) as e:
        ratings.follow_up_close(follow_up=f, note="  ", actor=hw.actor(hw.a_manager), now=at(30))
    assert "note" in e.value.message_dict
    f.refresh_from_db()
    assert f.status == "open" and not AuditEvent.objects.filter(action="hall.follow_up_close").exists()
    ratings.follow_up_close(follow_up=f, note="已致电客户致歉", actor=hw.actor(hw.a_manager), now=at(30))
    f.refresh_from_db()
    assert (f.status, f.handled_by, f.handled_at, f.note) == (
        "closed",
        hw.a_manager,
        at(30),
        "已致电客户致歉",
    )
    ev = AuditEvent.objects.get(action="hall.follow_up_close")
    assert ev.unit_id == hw.bureau_a.pk and ev.object_id == str(f.pk)
    with pytest.raises(ValidationError) as e:
        ratings.follow_up_close(follow_up=f, note="再次", actor=hw.actor(hw.a_manager), now=at(31))
    assert "follow_up" in e.value.message_dict
    assert AuditEvent.objects.filter(action="hall.follow_up_close").count() == 1


def test_follow_ups_page_lists_and_closes(hw, login, clock, django_assert_max_num_queries):
    for k in range(3):
        dissatisfied(hw, finished=6 + 10 * k, reason=f"原因{k}")
    manager = login(hw.a_manager)
    with django_assert_max_num_queries(12):
        r = manager.get("/hall/follow-ups/")
    body = r.content.decode()
    assert r.status_code == 200 and "原因0" in body and "原因2" in body
    f = RatingFollowUp.objects.get(rating__reason="原因1")
    # Refused: no note (400, the form again, nothing written); a clerk or another unit's manager: 404.
    r = manager.post(f"/hall/follow-ups/{f.pk}/close/", {"note": ""})
    assert r.status_code == 400 and "请填写处理情况" in r.content.decode()
    b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=hw.bureau_b)
    assert login(b_manager).post(f"/hall/follow-ups/{f.pk}/close/", {"note": "x"}).status_code == 404
    assert login(hw.a_clerk).post(f"/hall/follow-ups/{f.pk}/close/", {"note": "x"}).status_code == 404
    assert login(hw.a_clerk).get("/hall/follow-ups/").status_code == 404
    assert "原因0" not in login(b_manager).get("/hall/follow-ups/").content.decode()
    assert login().get("/hall/follow-ups/").status_code == 302
    f.refresh_from_db()
    assert f.status == "open"
    r = manager.post(f"/hall/follow-ups/{f.pk}/close/", {"note": "已回访，客户接受解释"})
    assert r.status_code == 302
    f.refresh_from_db()
    assert f.status == "closed" and f.note == "已回访，客户接受解释"
    body = manager.get("/hall/follow-ups/").content.decode()
    assert "原因1" not in body and "原因0" in body
    assert "原因1" in manager.get("/hall/follow-ups/?status=closed").content.decode()
    assert manager.get("/hall/follow-ups/?status=bogus&hall=x").status_code == 200
