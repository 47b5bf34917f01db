"""Credit pages (issue 17) — filled by its part."""

urlpatterns: list = []
