"""Demo data for the payments pages (`gridcare demo_channels`)."""
