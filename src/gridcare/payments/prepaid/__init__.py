"""Prepaid accounts (预存 / 智能交费): enrolment, daily balance estimates, low-balance alerts."""
