"""Job kinds of customer credit (autodiscovered), one module per part."""

from . import jobs_inspections, jobs_register, jobs_runs  # noqa: F401  (register their job kinds)
