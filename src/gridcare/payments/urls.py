from django.urls import path

from . import views

app_name = "payments"
urlpatterns = [
    path("counter/", views.counter, name="counter"),
    path("<int:pk>/receipt/", views.receipt, name="receipt"),
]
