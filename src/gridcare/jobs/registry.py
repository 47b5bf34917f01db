"""Job kinds: each app declares its kinds in its own `jobs.py` with `@job_kind(...)`.

A kind is a function `run(ctx: JobContext) -> dict | None` (the result stored on the row), with an optional
`validate(params: dict, actor) -> dict` that refuses bad parameters before anything is queued (raise
django.core.exceptions.ValidationError with the message the form shows) and returns the cleaned parameters
(JSON-serialisable), an optional `unit(params) -> unit id` for scoping the row, and an optional `perm`: staff
holding it see the kind's jobs of their unit subtree (everyone sees their own; administrators all)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str | Promise
    run: Callable[..., Any]
    validate: Callable[[dict, Any], dict] | None = None
    unit: Callable[[dict], int | None] | None = None
    perm: str | None = None


KINDS: dict[str, JobKind] = {}


class UnknownJobKind(LookupError):
    pass


def job_kind(
    name: str,
    *,
    label: str | Promise,
    validate: Callable[[dict, Any], dict] | None = None,
    unit: Callable[[dict], int | None] | None = None,
    perm: str | None = None,
):
    """Register the decorated function as the job kind `name`."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in KINDS and KINDS[name].run is not fn:
            raise ValueError(f"job kind {name!r} registered twice")
        KINDS[name] = JobKind(name=name, label=label, run=fn, validate=validate, unit=unit, perm=perm)
        return fn

    return register


def get(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownJobKind(name) from None


@dataclass(frozen=True)
class DefaultSchedule:
    """A schedule installed by `ensure_schedules` when missing: a crontab (Asia/Shanghai) or an interval."""

    kind: str
    crontab: dict | None = None  # {"minute": "0", "hour": "7", ...} (celery crontab fields)
    every: int | None = None
    period: str = "minutes"  # with `every`: seconds / minutes / hours / days
    params: dict | None = None

    @property
    def name(self) -> str:
        return self.kind


SCHEDULES: dict[str, DefaultSchedule] = {}


def default_schedule(
    kind: str,
    *,
    crontab: dict | None = None,
    every: int | None = None,
    period: str = "minutes",
    params: dict | None = None,
) -> None:
    """Declare a kind's default schedule (next to the kind, in the app's jobs.py); the page edits it later."""
    if (crontab is None) == (every is None):
        raise ValueError("a default schedule is a crontab or an interval")
    SCHEDULES[kind] = DefaultSchedule(kind=kind, crontab=crontab, every=every, period=period, params=params)
