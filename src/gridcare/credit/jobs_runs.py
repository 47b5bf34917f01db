"""Credit job kinds (issue 17) — filled by its part."""
