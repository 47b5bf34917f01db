"""Mount point (issue 16); filled by its owner."""

urlpatterns: list = []
