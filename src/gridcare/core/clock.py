"""The demo builders' clock: every demo command takes `--today YYYY-MM-DD` (default: the real date), every
builder function a `today=` keyword, so the demo data (and the tests that build it) never depend on the
wall clock.

With no `today` the builders use the real date and time. With one, "now" is that day at `DEMO_HOUR` in the
project's time zone (Asia/Shanghai): the working day is under way (today's counter shift has opened, today's
payments are in), and a builder run twice for the same day writes the same data whatever the hour.
"""

import argparse
from datetime import date, datetime, time

from django.utils import timezone

DEMO_HOUR = 16


def parse_today(value: str) -> date:
    """`--today` as a date; argparse reports the error with the option's name."""
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from None


def add_today_argument(parser) -> None:
    parser.add_argument(
        "--today",
        type=parse_today,
        default=None,
        metavar="YYYY-MM-DD",
        help="build the demo as of this day (default: today's real date)",
    )


def demo_clock(today: date | str | None = None) -> tuple[date, datetime]:
    """(today, now) for a builder: the real ones without `today`, else `today` (a date or YYYY-MM-DD) at
    DEMO_HOUR local time."""
    if isinstance(today, str):
        today = date.fromisoformat(today)
    if today is None:
        now = timezone.now()
        return timezone.localdate(now), now
    return today, datetime.combine(today, time(DEMO_HOUR), tzinfo=timezone.get_current_timezone())
