"""The channels' JSON APIs, one module per channel family (mounted in gridcare.api)."""
