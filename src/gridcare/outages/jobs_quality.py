"""Job kinds (jobs_quality): see docs/outages.md."""
