"""Staff performance of the hall (issue 16 §6), read side: the report by clerk for one month, and the rating
follow-ups. Scoped to the user's unit subtree through the hall selectors (hall.report / hall.manage).

What counts, for a China calendar month:
- **Tickets served**: tickets of the clerk with status done whose `finished_at` lies in the month.
- **Average service time**: `finished_at − started_at` over those tickets; a ticket finished without an explicit
  start (the clerk pressed "next" at once) is timed from its call (`called_at`) — the service sets `started_at`
  to the call time in that case, and the Coalesce covers rows written otherwise. Minutes to 0.01, half-up.
- **Ratings**: the ratings of the clerk with `rated_at` in the month; satisfaction rate = (非常满意 + 满意) ÷
  ratings; the Wilson lower bound (z = 1.96) of that rate; the rank among the clerks with at least the threshold
  of ratings (`ratings.rank`), the others shown as 样本不足.
- **Threshold**: with a hall chosen, its `min_ratings_to_rank`; across several halls the strictest (largest)
  threshold among them, so nobody is ranked on fewer ratings than any of those halls demands.
- **Follow-ups open**: the open follow-ups of the clerk's 不满意 ratings of the month.

Every figure is aggregated in SQL: a fixed number of queries (halls, thresholds, tickets, ratings, follow-ups,
names) whatever the number of tickets or clerks."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, DurationField, ExpressionWrapper, F, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from gridcare.core.permissions import Perm
from gridcare.core.spreadsheet import as_text_cell

from . import ratings
from .choices import FollowUpStatus, Score, TicketStatus
from .models import HallProfile, Rating, RatingFollowUp, Ticket
from .opening import CHINA
from .selectors import halls_for

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


# ---------------------------------------------------------------- filters


def parse_month(raw: str | None, today: date) -> tuple[date, dict[str, list[str]]]:
    """`YYYY-MM` → the month's first day; empty → this month; bad → this month and an error on `month`."""
    this = today.replace(day=1)
    if raw is None or raw == "":
        return this, {}
    m = MONTH_RE.match(str(raw)) if str(raw).isascii() else None
    if m is None or not (2000 <= int(m.group(1)) <= 2100 and 1 <= int(m.group(2)) <= 12):
        return this, {"month": [_("月份格式应为 YYYY-MM（2000 至 2100 年）")]}
    return date(int(m.group(1)), int(m.group(2)), 1), {}


def parse_hall_id(raw) -> tuple[int | None, dict[str, list[str]]]:
    if raw is None or raw == "":
        return None, {}
    s = str(raw)
    if not (s.isascii() and s.isdigit()) or len(s) > 12:
        return None, {"hall_id": [_("营业厅应为营业厅编号（整数 id）")]}
    return int(s), {}


def month_bounds(first: date) -> tuple[datetime, datetime]:
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return (
        datetime(first.year, first.month, 1, tzinfo=CHINA),
        datetime(nxt.year, nxt.month, 1, tzinfo=CHINA),
    )


# ---------------------------------------------------------------- arithmetic


def _microseconds(value) -> int:
    if value is None:
        return 0
    if isinstance(value, timedelta):
        return value // timedelta(microseconds=1)
    return int(value)  # a backend answering the sum as a number of microseconds


def avg_minutes(total_us: int, count: int) -> Decimal | None:
    """The mean of `count` durations summing to `total_us` microseconds, in minutes to 0.01, half-up (exact)."""
    if not count:
        return None
    den = count * 60_000_000
    hundredths = (2 * total_us * 100 + den) // (2 * den)
    return (Decimal(hundredths) / 100).quantize(Decimal("0.01"))


def _pct(x: float | None) -> Decimal | None:
    return None if x is None else (Decimal(repr(x)) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- the report


def performance_report(*, user, month: date, hall_id: int | None = None) -> dict[str, Any] | None:
    """The report of `month` for the halls the user may see under hall.report (or the one hall `hall_id`);
    None when `hall_id` is not one of them (the caller answers 404)."""
    halls = list(halls_for(user, Perm.HALL_REPORT))
    if hall_id is not None:
        halls = [h for h in halls if h.pk == hall_id]
        if not halls:
            return None
    hall_ids = [h.pk for h in halls]
    thresholds = dict(
        HallProfile.objects.filter(hall_id__in=hall_ids).values_list("hall_id", "min_ratings_to_rank")
    )
    min_ratings = max(
        (thresholds.get(pk, ratings.DEFAULT_MIN_RATINGS) for pk in hall_ids),
        default=ratings.DEFAULT_MIN_RATINGS,
    )
    start, end = month_bounds(month)

    served = (
        Ticket.objects.filter(
            hall_id__in=hall_ids,
            status=TicketStatus.DONE,
            finished_at__gte=start,
            finished_at__lt=end,
            clerk__isnull=False,
        )
        .values("clerk_id")
        .annotate(
            n=Count("id"),
            total=Sum(
                ExpressionWrapper(
                    F("finished_at") - Coalesce(F("started_at"), F("called_at")), output_field=DurationField()
                )
            ),
        )
    )
    rows: dict[int, dict[str, Any]] = {}

    def row(clerk_id: int) -> dict[str, Any]:
        if clerk_id not in rows:
            rows[clerk_id] = {
                "clerk_id": clerk_id,
                "served": 0,
                "service_us": 0,
                "timed": 0,
                "by_score": dict.fromkeys(Score.values, 0),
                "follow_ups_open": 0,
            }
        return rows[clerk_id]

    for r in served:
        x = row(r["clerk_id"])
        x["served"] = r["n"]
        x["service_us"] = _microseconds(r["total"])
        x["timed"] = r["n"]
    scored = (
        Rating.objects.filter(
            hall_id__in=hall_ids, rated_at__gte=start, rated_at__lt=end, clerk__isnull=False
        )
        .values("clerk_id", "score")
        .annotate(n=Count("ticket_id"))
    )
    for r in scored:
        if r["score"] in Score.values:
            row(r["clerk_id"])["by_score"][r["score"]] = r["n"]
    open_items = (
        RatingFollowUp.objects.filter(
            status=FollowUpStatus.OPEN,
            rating__hall_id__in=hall_ids,
            rating__rated_at__gte=start,
            rating__rated_at__lt=end,
            rating__clerk__isnull=False,
        )
        .values("rating__clerk_id")
        .annotate(n=Count("id"))
    )
    for r in open_items:
        row(r["rating__clerk_id"])["follow_ups_open"] = r["n"]

    names = {
        u["id"]: (u["display_name"] or u["username"])
        for u in get_user_model().objects.filter(pk__in=list(rows)).values("id", "username", "display_name")
    }
    ranked = ratings.rank(
        (
            (cid, sum(x["by_score"][s] for s in ratings.SATISFIED_SCORES), sum(x["by_score"].values()))
            for cid, x in rows.items()
        ),
        min_ratings=min_ratings,
    )
    # Ranked clerks by rank; the others by ratings, then by tickets served.
    order = {rk.key: i for i, rk in enumerate(ranked)}
    out = []
    for rk in ranked:
        x = rows[rk.key]  # type: ignore[index]
        out.append(
            {
                "clerk_id": x["clerk_id"],
                "clerk": names.get(x["clerk_id"], str(x["clerk_id"])),
                "served": x["served"],
                "avg_service_minutes": avg_minutes(x["service_us"], x["timed"]),
                "ratings": rk.n,
                "by_score": x["by_score"],
                "satisfied": rk.good,
                "satisfaction_rate": ratings.satisfaction_rate(x["by_score"]),
                "satisfaction_pct": _pct(ratings.satisfaction_rate(x["by_score"])),
                "wilson_lower_bound": rk.lower_bound,
                "rank": rk.rank,
                "follow_ups_open": x["follow_ups_open"],
            }
        )
    unranked = [o for o in out if o["rank"] is None]
    unranked.sort(key=lambda o: (-o["ratings"], -o["served"], o["clerk"], order[o["clerk_id"]]))
    out = [o for o in out if o["rank"] is not None] + unranked

    total_scores = {s: sum(o["by_score"][s] for o in out) for s in Score.values}
    served_total = sum(o["served"] for o in out)
    return {
        "month": f"{month:%Y-%m}",
        "hall": (
            {"id": halls[0].pk, "code": halls[0].code, "name": halls[0].name} if hall_id is not None else None
        ),
        "halls": [{"id": h.pk, "code": h.code, "name": h.name} for h in halls],
        "min_ratings_to_rank": min_ratings,
        "rows": out,
        "totals": {
            "served": served_total,
            "avg_service_minutes": avg_minutes(
                sum(rows[o["clerk_id"]]["service_us"] for o in out),
                sum(rows[o["clerk_id"]]["timed"] for o in out),
            ),
            "ratings": sum(total_scores.values()),
            "by_score": total_scores,
            "satisfaction_rate": ratings.satisfaction_rate(total_scores),
            "satisfaction_pct": _pct(ratings.satisfaction_rate(total_scores)),
            "follow_ups_open": sum(o["follow_ups_open"] for o in out),
        },
    }


def report_json(doc: dict[str, Any]) -> dict[str, Any]:
    """The report as JSON-safe values: minutes as decimal strings, rates and bounds as unrounded floats."""

    def plain(o: dict) -> dict:
        d = dict(o)
        if d.get("avg_service_minutes") is not None:
            d["avg_service_minutes"] = str(d["avg_service_minutes"])
        d.pop("satisfaction_pct", None)
        return d

    return {**doc, "rows": [plain(r) for r in doc["rows"]], "totals": plain(doc["totals"])}


def filename(doc: dict[str, Any]) -> str:
    code = doc["hall"]["code"] if doc["hall"] else "all"
    return f"hall-performance-{code}-{doc['month']}"


def report_xlsx(doc: dict[str, Any]) -> bytes:
    """One sheet: a title, the filter line, the header row, one row per clerk, the totals."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    wb = Workbook()
    ws = wb.active
    ws.title = _("员工绩效")
    ws.append([_("营业厅员工绩效")])
    ws["A1"].font = Font(bold=True, size=14)
    where = doc["hall"]["name"] if doc["hall"] else _("全部营业厅（%(n)s 个）") % {"n": len(doc["halls"])}
    ws.append(
        [
            _("%(where)s · %(month)s · 参与排名至少 %(k)s 条评价")
            % {"where": where, "month": doc["month"], "k": doc["min_ratings_to_rank"]}
        ]
    )
    ws.append([])
    ws.append(
        [
            _("排名"),
            _("柜员"),
            _("办结笔数"),
            _("平均办理时长（分钟）"),
            _("评价数"),
            _("非常满意"),
            _("满意"),
            _("一般"),
            _("不满意"),
            _("满意率"),
            _("Wilson 下限"),
            _("待跟进"),
        ]
    )
    for cell in ws[4]:
        cell.font = Font(bold=True)

    def line(label_rank, name, o):
        ws.append(
            [
                as_text_cell(v)
                for v in (
                    label_rank,
                    name,
                    o["served"],
                    o["avg_service_minutes"],
                    o["ratings"],
                    *(o["by_score"][s] for s in Score.values),
                    o["satisfaction_rate"],
                    o.get("wilson_lower_bound"),
                    o["follow_ups_open"],
                )
            ]
        )
        ws.cell(row=ws.max_row, column=10).number_format = "0.00%"
        ws.cell(row=ws.max_row, column=11).number_format = "0.0000"

    for o in doc["rows"]:
        line(o["rank"] if o["rank"] is not None else _("样本不足"), o["clerk"], o)
    line("", _("合计"), doc["totals"])
    ws.freeze_panes = "A5"
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- follow-ups


def follow_ups_for(user, perm: str = Perm.HALL_MANAGE) -> QuerySet[RatingFollowUp]:
    """Follow-ups of the halls the user may see under `perm`, newest rating first."""
    return (
        RatingFollowUp.objects.select_related(
            "rating__ticket__category", "rating__hall", "rating__counter", "rating__clerk", "handled_by"
        )
        .filter(rating__hall__in=halls_for(user, perm).values("pk"))
        .order_by("-rating__rated_at", "-id")
    )


def follow_up_for(user, pk, perm: str = Perm.HALL_MANAGE) -> RatingFollowUp | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:  # past the column's range: missing, not a driver overflow
        return None
    return follow_ups_for(user, perm).filter(pk=pk).first()


def follow_ups_filter(qs: QuerySet[RatingFollowUp], *, hall_id: int | None, status: str | None):
    if hall_id is not None:
        qs = qs.filter(rating__hall_id=hall_id)
    if status in FollowUpStatus.values:
        qs = qs.filter(status=status)
    return qs
