"""Public pages of the 95598 service, under /service/public/ (no login): the fault-report form (issue 15 §5)."""

app_name = "service_public"
urlpatterns: list = []
