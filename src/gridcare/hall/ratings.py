"""Evaluation devices (评价器, issue 16 §6): the customer rates the clerk after each transaction on the device
bound to the counter; a 不满意 rating becomes a follow-up item for the hall manager.

The rules a regulator re-checks are pure functions fed plain values:
- `satisfaction_rate`: (非常满意 + 满意) ÷ ratings;
- `wilson_lower_bound`: the lower bound of the Wilson score interval of that rate, z = 1.96;
- `rank`: clerks with at least the hall's `min_ratings_to_rank` ratings (default 30), ordered by the Wilson bound,
  best first (equal bounds share a rank, the next rank skips: 1, 2, 2, 4); the others get no rank.

Which transaction a device offers: the most recent ticket its counter finished (status done) within
`RATING_WINDOW` (10 minutes) before now, if that ticket is not rated yet. An older one is never offered — its
customer has left — and a rated one leaves the device waiting for the next transaction. The rating is written
with the ticket's clerk, the counter, the hall and the device, a `rated` TicketEvent (the ticket's own trail),
and for 不满意 an open `RatingFollowUp`. A second rating of one ticket is refused (checked under the ticket's row
lock, and by the OneToOne constraint for a race the lock cannot see)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm
from gridcare.core.scoping import require_unit

from .choices import SATISFIED_SCORES, DeviceKind, FollowUpStatus, Score, TicketStatus, TicketStep
from .models import HallDevice, Rating, RatingFollowUp, Ticket, TicketEvent

RATING_WINDOW = timedelta(minutes=10)
Z = 1.96
DEFAULT_MIN_RATINGS = 30
REASON_MAX = 200
NOTE_MAX = 500

# What a dissatisfied customer most often says (the device offers these; the customer may type another).
COMMON_REASONS = (
    gettext_lazy("等候时间太长"),
    gettext_lazy("办理速度慢"),
    gettext_lazy("服务态度不好"),
    gettext_lazy("业务不熟练"),
    gettext_lazy("解释不清楚"),
    gettext_lazy("要求材料过多、反复跑"),
)


def _err(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


# ---------------------------------------------------------------- pure rules


def satisfaction_rate(counts: Mapping[str, int]) -> float | None:
    """(非常满意 + 满意) ÷ ratings, from the number of ratings per score; None when there is no rating."""
    total = sum(counts.get(s, 0) for s in Score.values)
    if total <= 0:
        return None
    good = sum(counts.get(s, 0) for s in SATISFIED_SCORES)
    return good / total


def wilson_lower_bound(good: int, n: int, z: float = Z) -> float | None:
    """The Wilson score interval's lower bound of the rate good ÷ n:
    (p̂ + z²/2n − z·√(p̂(1−p̂)/n + z²/4n²)) ÷ (1 + z²/n). None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= good <= n:
        raise ValueError("good must lie in 0..n")
    p = good / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Clamped: at p̂ = 0 the exact value is 0, which floating subtraction may miss by 1e-19.
    return min(1.0, max(0.0, (centre - margin) / (1 + z2 / n)))


@dataclass(frozen=True)
class Ranked:
    key: Hashable
    good: int
    n: int
    rate: float | None
    lower_bound: float | None
    rank: int | None  # None: fewer ratings than the threshold (样本不足)


def rank(
    rows: Iterable[tuple[Hashable, int, int]], *, min_ratings: int = DEFAULT_MIN_RATINGS
) -> list[Ranked]:
    """Rank (key, good, n) rows: those with n ≥ min_ratings by the Wilson lower bound, best first; equal bounds
    share a rank and the next rank skips (1, 2, 2, 4). The unranked follow, most ratings first. Within equal
    bounds, more ratings first, then the key."""
    items = []
    for key, good, n in rows:
        lb = wilson_lower_bound(good, n)
        items.append((key, good, n, (good / n) if n else None, lb))
    eligible = [it for it in items if it[2] >= max(min_ratings, 1)]
    others = [it for it in items if it[2] < max(min_ratings, 1)]
    eligible.sort(key=lambda it: (-(it[4] or 0.0), -it[2], str(it[0])))
    others.sort(key=lambda it: (-it[2], str(it[0])))
    out: list[Ranked] = []
    prev_lb: float | None = None
    current = 0
    for i, (key, good, n, rate_, lb) in enumerate(eligible, start=1):
        # Bounds equal to twelve places are one bound (floating noise of equal rates with equal n is zero anyway).
        if prev_lb is None or round(lb or 0.0, 12) != round(prev_lb, 12):
            current = i
        prev_lb = lb or 0.0
        out.append(Ranked(key, good, n, rate_, lb, current))
    out.extend(Ranked(key, good, n, rate_, lb, None) for key, good, n, rate_, lb in others)
    return out


# ---------------------------------------------------------------- the device


def pending_ticket(device: HallDevice, *, now: datetime | None = None) -> Ticket | None:
    """The transaction the device offers for rating: the counter's most recent finished ticket within the
    window, when not rated yet; else None."""
    now = now or timezone.now()
    if device.kind != DeviceKind.EVALUATOR or device.counter_id is None:
        return None
    last = (
        Ticket.objects.select_related("category")
        .filter(
            counter_id=device.counter_id,
            status=TicketStatus.DONE,
            finished_at__gt=now - RATING_WINDOW,
            finished_at__lte=now,
        )
        .order_by("-finished_at", "-id")
        .first()
    )
    if last is None or Rating.objects.filter(ticket_id=last.pk).exists():
        return None
    return last


def _clean_reason(score: str, reason: str) -> str:
    reason = " ".join(str(reason or "").split())
    if "\x00" in reason:
        raise _err("reason", _("原因不能包含空字符"))
    if score != Score.DISSATISFIED:
        return ""
    if not reason:
        raise _err("reason", _("请选择或填写不满意的原因"))
    if len(reason) > REASON_MAX:
        raise _err("reason", _("原因不能超过 %(n)s 个字") % {"n": REASON_MAX})
    return reason


def rating_record(
    *, device: HallDevice, ticket_id, score: str, reason: str = "", now: datetime | None = None
) -> Rating:
    """The customer's rating of ticket `ticket_id` on the evaluation `device`. Refused (ValidationError, nothing
    written): a device that is not an enabled evaluator, a ticket not finished at the device's counter within the
    window, an unknown score, 不满意 without a reason, a ticket already rated."""
    now = now or timezone.now()
    if device.kind != DeviceKind.EVALUATOR or not device.enabled or device.counter_id is None:
        raise _err("device", _("该设备不是可用的评价器"))
    score = str(score or "")
    if score not in Score.values:
        raise _err("score", _("请选择评价：非常满意、满意、一般或不满意"))
    reason = _clean_reason(score, reason)
    try:
        tid = int(ticket_id)
    except (TypeError, ValueError):
        raise _err("ticket", _("没有可评价的业务")) from None
    with transaction.atomic():
        # The row lock serialises two ratings of one ticket; the loser then sees the first one.
        ticket = (
            Ticket.objects.select_for_update()
            .filter(pk=tid, counter_id=device.counter_id, hall_id=device.hall_id)
            .first()
        )
        if ticket is None or ticket.status != TicketStatus.DONE or ticket.finished_at is None:
            raise _err("ticket", _("没有可评价的业务"))
        if Rating.objects.filter(ticket_id=ticket.pk).exists():
            raise _err("ticket", _("号码 %(n)s 的业务已评价，不能重复评价") % {"n": ticket.number})
        if not (now - RATING_WINDOW < ticket.finished_at <= now):
            raise _err("ticket", _("号码 %(n)s 的业务已超过评价时限") % {"n": ticket.number})
        try:
            with transaction.atomic():
                rating = Rating.objects.create(
                    ticket=ticket,
                    hall_id=ticket.hall_id,
                    counter_id=device.counter_id,
                    clerk_id=ticket.clerk_id,
                    score=score,
                    reason=reason,
                    rated_at=now,
                    device=device,
                )
        except IntegrityError:
            raise _err("ticket", _("号码 %(n)s 的业务已评价，不能重复评价") % {"n": ticket.number}) from None
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketStep.RATED,
            at=now,
            counter_id=device.counter_id,
            detail={"score": score, "device": device.pk},
        )
        if score == Score.DISSATISFIED:
            RatingFollowUp.objects.create(rating=rating, status=FollowUpStatus.OPEN)
    return rating


# ---------------------------------------------------------------- follow-ups


def follow_up_close(
    *, follow_up: RatingFollowUp, note: str, actor: Actor, now: datetime | None = None
) -> RatingFollowUp:
    """The hall manager records what was done about a 不满意 rating and closes the item (audited
    `hall.follow_up_close`). Refused: outside the actor's units (PermissionDenied), no note, already closed."""
    now = now or timezone.now()
    hall = follow_up.rating.hall
    require_unit(actor, hall.unit_id, Perm.HALL_MANAGE)
    note = str(note or "").strip()
    if "\x00" in note:
        raise _err("note", _("处理情况不能包含空字符"))
    if not note:
        raise _err("note", _("请填写处理情况"))
    if len(note) > NOTE_MAX:
        raise _err("note", _("处理情况不能超过 %(n)s 个字") % {"n": NOTE_MAX})
    with transaction.atomic():
        locked = RatingFollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if locked.status != FollowUpStatus.OPEN:
            raise _err("follow_up", _("该跟进事项已处理"))
        user = actor.user if getattr(actor.user, "is_authenticated", False) else None
        locked.status, locked.handled_by, locked.handled_at, locked.note = (
            FollowUpStatus.CLOSED,
            user,
            now,
            note,
        )
        locked.save(update_fields=["status", "handled_by", "handled_at", "note"])
        audit_record(
            actor=actor,
            action="hall.follow_up_close",
            obj=locked,
            unit_id=hall.unit_id,
            changes={"ticket": follow_up.rating.ticket.number, "hall": hall.code, "note": note},
        )
    for field in ("status", "handled_by", "handled_at", "note"):
        setattr(follow_up, field, getattr(locked, field))
    return follow_up
