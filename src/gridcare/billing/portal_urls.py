from django.urls import path

from . import portal_views, views

app_name = "billing_portal"
urlpatterns = [
    path("quote/", views.portal_quote, name="quote"),
    path("bills/<int:pk>/", views.portal_bill_detail, name="bill_detail"),
    path("bills/<int:pk>/pdf/", views.portal_bill_pdf, name="bill_pdf"),
    path("bills/<int:pk>/invoice/", portal_views.invoice_issue, name="invoice_issue"),
    path("bills/<int:pk>/invoice/pdf/", portal_views.invoice_pdf, name="invoice_pdf"),
]
