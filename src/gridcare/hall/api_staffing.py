"""`POST /api/v1/halls/staffing` (issue 16 "Staffing, exactly"): the Erlang C what-if; stores nothing.

Any staff user (a token or the console session); anonymous 401, a customer 403. Bad input (a non-positive rate,
a level outside (0, 1), a negative wait) answers 422 naming the field. When no N ≤ `max_counters` meets the target
(or ⌊A⌋ + 1 already exceeds it) the answer is 422 with `best_service_level` (and `best_counters`): the best
reachable within `max_counters` (null when not one N fits)."""

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from gridcare.core.api import LIST_ERRORS

from . import erlang

router = Router(tags=["hall"])


class StaffingIn(Schema):
    arrivals_per_hour: float = Field(..., description="每小时到达客户数 λ（> 0）")
    mean_service_minutes: float = Field(..., description="平均办理时长（分钟，> 0）")
    target_wait_seconds: float = Field(..., description="目标等候时间 t（秒，≥ 0；0 时 SL = 1 − C）")
    target_service_level: float = Field(..., description="目标服务水平，(0, 1) 之间，如 0.8")
    max_counters: int = Field(1000, ge=1, le=100_000, description="最多可开窗口数，默认 1000")


class StaffingRowOut(Schema):
    counters: int
    erlang_c: float
    service_level: float
    asa_seconds: float
    occupancy: float


class StaffingOut(StaffingRowOut):
    offered_load: float
    table: list[StaffingRowOut]


class FieldError(Schema):
    field: str
    message: str


class UnreachableOut(Schema):
    """422: a field error; when the target cannot be met, also the best service level reachable (absent when the
    input itself was refused)."""

    detail: list[FieldError]
    best_service_level: float | None = None
    best_counters: int | None = None


MESSAGES = {
    "arrivals_per_hour": "每小时到达数必须大于 0",
    "mean_service_minutes": "平均办理时长必须大于 0",
    "target_wait_seconds": "目标等候时间不能为负数",
    "target_service_level": "目标服务水平必须在 0 与 1 之间（不含 0 和 1）",
}


def _row(r) -> dict:
    return {
        "counters": r.counters,
        "erlang_c": r.erlang_c,
        "service_level": r.service_level,
        "asa_seconds": r.asa_seconds,
        "occupancy": r.occupancy,
    }


@router.post("/halls/staffing", response={200: StaffingOut, **LIST_ERRORS, 422: UnreachableOut})
def halls_staffing(request, payload: StaffingIn):
    """Erlang C: the fewest counters meeting the service level, and the table from ⌊A⌋ + 1 to that + 3."""
    if not getattr(request.user, "is_staff_user", False):
        raise HttpError(403, _("仅限员工使用"))
    try:
        s = erlang.staffing(
            arrivals_per_hour=payload.arrivals_per_hour,
            mean_service_minutes=payload.mean_service_minutes,
            target_wait_seconds=payload.target_wait_seconds,
            target_service_level=payload.target_service_level,
            max_counters=payload.max_counters,
        )
    except erlang.StaffingUnreachable as exc:
        if exc.best_service_level is None:
            msg = _("到达量过大：至少需要 %(n)s 个窗口，超过上限 %(m)s") % {
                "n": int(payload.arrivals_per_hour * payload.mean_service_minutes / 60) + 1,
                "m": payload.max_counters,
            }
        else:
            msg = _("%(m)s 个窗口以内达不到目标服务水平，最高可达 %(sl).5f（%(n)s 个窗口）") % {
                "m": payload.max_counters,
                "sl": exc.best_service_level,
                "n": exc.best_counters,
            }
        return Status(
            422,
            {
                "detail": [{"field": "max_counters", "message": msg}],
                "best_service_level": exc.best_service_level,
                "best_counters": exc.best_counters,
            },
        )
    except ValueError as exc:
        field = str(exc)
        return Status(
            422,
            {
                "detail": [{"field": field, "message": _(MESSAGES.get(field, "输入无效"))}],
                "best_service_level": None,
                "best_counters": None,
            },
        )
    return {**_row(s), "offered_load": s.offered_load, "table": [_row(r) for r in s.table]}
