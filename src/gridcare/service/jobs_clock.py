"""Job kinds of the work-order clocks (issue 15 §3–4)."""
