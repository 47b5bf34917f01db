"""Job kinds: each app declares its kinds in its own `jobs.py` with `@job_kind(...)`.

A kind is a function `run(ctx: JobContext) -> dict | None` (the result stored on the row), with an optional
`validate(params: dict, actor) -> dict` that refuses bad parameters before anything is queued (raise
django.core.exceptions.ValidationError with the message the form shows) and returns the cleaned parameters
(JSON-serialisable), and an optional `unit(params) -> unit id` for scoping the row."""

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


KINDS: dict[str, JobKind] = {}


class UnknownJobKind(LookupError):
    pass


def job_kind(
    name: str,
    *,
    label: str | Promise,
    validate: Callable[[dict, Any], dict] | None = None,
    unit: Callable[[dict], int | None] | None = None,
):
    """Register the decorated function as the job kind `name`."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in KINDS and KINDS[name].run is not fn:
            raise ValueError(f"job kind {name!r} registered twice")
        KINDS[name] = JobKind(name=name, label=label, run=fn, validate=validate, unit=unit)
        return fn

    return register


def get(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownJobKind(name) from None
