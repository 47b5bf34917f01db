from django.urls import path

from . import views

app_name = "billing_portal"
urlpatterns = [
    path("quote/", views.portal_quote, name="quote"),
]
