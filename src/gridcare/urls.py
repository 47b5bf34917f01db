from django.conf import settings
from django.conf.urls.i18n import i18n_patterns  # noqa: F401  (kept for language-prefixed routes later)
from django.contrib import admin
from django.urls import include, path

from gridcare.api import api
from gridcare.org.views import admin_password_change

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("portal/billing/", include("gridcare.billing.portal_urls")),
    path("portal/pay/", include("gridcare.payments.portal_urls")),
    path("portal/notify/", include("gridcare.notify.portal_urls")),
    path("portal/outages/", include("gridcare.outages.portal_urls")),
    path("portal/service/", include("gridcare.service.portal_urls")),
    path("portal/hall/", include("gridcare.hall.portal_urls")),
    path("portal/credit/", include("gridcare.credit.portal_urls")),
    path("portal/", include("gridcare.portal.urls")),
    path("billing/", include("gridcare.billing.urls")),
    path("payments/", include("gridcare.payments.urls")),
    path("metering/", include("gridcare.metering.urls")),
    path("notify/", include("gridcare.notify.urls")),
    path("users/", include("gridcare.org.urls")),
    path("jobs/", include("gridcare.jobs.urls")),
    path("outages/public/", include("gridcare.outages.public_urls")),
    path("outages/", include("gridcare.outages.urls")),
    path("reliability/", include("gridcare.outages.reliability_urls")),
    path("service/public/", include("gridcare.service.public_urls")),
    path("service/", include("gridcare.service.urls")),
    path("hall/", include("gridcare.hall.urls")),
    path("credit/", include("gridcare.credit.urls")),
    path("", include("gridcare.customers.urls")),
]
if settings.ADMIN_ENABLED:  # off in production unless GRIDCARE_ADMIN_ENABLED=1 (settings.py)
    urlpatterns[1:1] = [
        # The admin's change-password page checks the old password through the login lockout (gridcare.org.views).
        path("admin/password_change/", admin_password_change, name="admin_password_change"),
        path("admin/", admin.site.urls),
    ]

# Branded error pages when DEBUG is off (templates/403.html, 404.html; 500.html with the request id, rendered
# without a request context or the database).
handler403 = "gridcare.core.views.permission_denied"
handler404 = "gridcare.core.views.page_not_found"
handler500 = "gridcare.core.views.server_error"
handler400 = "gridcare.core.views.bad_request"
