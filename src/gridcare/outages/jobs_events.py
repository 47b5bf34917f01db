"""Job kinds (jobs_events): see docs/outages.md."""
