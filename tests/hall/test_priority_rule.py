"""The priority rule as a pure function (issue 16 §2), orders worked out by hand."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcare.hall.priority import QueueItem, queue_order

T = datetime(2026, 3, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
G = timedelta(minutes=20)


def m(k):
    return T + timedelta(minutes=k)


def ids(items, now):
    return [it.id for it in queue_order(items, now=now, guard=G)]


def test_priority_before_normal_oldest_first():
    items = [
        QueueItem(1, m(0), m(0), False),
        QueueItem(2, m(5), m(5), True),
        QueueItem(3, m(3), m(3), True),
        QueueItem(4, m(1), m(1), False),
    ]
    assert ids(items, m(10)) == [3, 2, 1, 4]


def test_guard_is_strict_and_starved_joins_at_issue_time():
    items = [QueueItem(1, m(0), m(0), False), QueueItem(2, m(5), m(5), True)]
    assert ids(items, m(20)) == [2, 1]  # waited exactly 20: not longer than the guard
    assert ids(items, m(20) + timedelta(seconds=1)) == [1, 2]  # 20 min 1 s: joins at 09:00, before 09:05


def test_appointment_ordered_by_check_in_time():
    # An appointment issued (booked) long ago but checked in at 09:12 stands at 09:12.
    appt = QueueItem(1, m(12), m(12), True)
    elderly = QueueItem(2, m(10), m(10), True)
    assert ids([appt, elderly], m(13)) == [2, 1]


def test_ties_by_id():
    assert ids([QueueItem(5, m(0), m(0), False), QueueItem(4, m(0), m(0), False)], m(1)) == [4, 5]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 60), st.booleans()), min_size=1, max_size=30),
    st.integers(0, 90),
)
def test_no_normal_ticket_overtaken_by_a_younger_normal_and_starved_never_behind_younger_priority(
    spec, now_min
):
    items = [QueueItem(i, m(k), m(k), p) for i, (k, p) in enumerate(spec)]
    now = m(now_min)
    order = queue_order(items, now=now, guard=G)
    pos = {it.id: i for i, it in enumerate(order)}
    for a in items:
        for b in items:
            if not a.priority and not b.priority and (a.issued_at, a.id) < (b.issued_at, b.id):
                assert pos[a.id] < pos[b.id]
            if not a.priority and now - a.issued_at > G and b.priority and a.issued_at < b.queue_at:
                assert pos[a.id] < pos[b.id]
            if a.priority and not b.priority and now - b.issued_at <= G:
                assert pos[a.id] < pos[b.id]
