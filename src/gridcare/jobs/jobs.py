"""Job kinds of the jobs app itself (none yet; the engine's housekeeping lands here)."""
