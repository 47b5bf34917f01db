"""Job kinds of outages (autodiscovered): the event clocks live in `jobs_events` (start due events, unconfirmed
important-customer contacts), the quality ones in `jobs_quality` (frequent outages, monthly voltage rates, the voltage import), the outage
import in `jobs_import`."""

from . import jobs_events, jobs_import, jobs_quality  # noqa: F401  (registers their job kinds)
