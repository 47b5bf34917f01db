"""Portal pages of the 95598 service, under /portal/service/: the customer's orders (portal_orders_urls) and
online chat (portal_chat_urls)."""

from django.urls import include, path

app_name = "portal_service"
urlpatterns = [
    path("", include("gridcare.service.portal_orders_urls")),
    path("", include("gridcare.service.portal_chat_urls")),
]
