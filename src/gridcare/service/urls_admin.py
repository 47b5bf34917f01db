"""URL patterns of the 95598 service (issue 15); included by service/urls.py or portal_urls.py."""

urlpatterns: list = []
