"""Job kinds of the hall (autodiscovered), one module per part."""

from . import jobs_appointments, jobs_queue, jobs_terminals  # noqa: F401  (register their job kinds)
