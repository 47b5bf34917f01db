"""Staff pages of the 95598 service, under /service/: orders, agent console, dispatcher board and crew page
(urls_orders), knowledge base and chat (urls_kb_chat), calendar and time-limit policies (urls_admin), reports
(urls_reports)."""

from django.urls import include, path

app_name = "service"
urlpatterns = [
    path("", include("gridcare.service.urls_orders")),
    path("", include("gridcare.service.urls_kb_chat")),
    path("", include("gridcare.service.urls_admin")),
    path("", include("gridcare.service.urls_reports")),
]
