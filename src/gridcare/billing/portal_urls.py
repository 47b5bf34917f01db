from django.urls import path

from . import views

app_name = "billing_portal"
urlpatterns = [
    path("quote/", views.portal_quote, name="quote"),
    path("bills/<int:pk>/", views.portal_bill_detail, name="bill_detail"),
    path("bills/<int:pk>/pdf/", views.portal_bill_pdf, name="bill_pdf"),
]
