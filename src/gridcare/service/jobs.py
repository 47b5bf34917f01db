"""Job kinds of the 95598 service (autodiscovered): the clocks (80 % warnings, overdue escalation, provisional
deadlines recomputed once a year is loaded) live in `jobs_clock`."""

from . import jobs_clock  # noqa: F401  (registers its job kinds)
