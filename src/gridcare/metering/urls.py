from django.urls import path

from . import views

app_name = "metering"
urlpatterns = [
    path("routes/", views.route_list, name="routes"),
    path("routes/<int:pk>/walk/", views.route_walk, name="route_walk"),
    path("exceptions/", views.exceptions, name="exceptions"),
    path("reads/<int:pk>/<slug:action>/", views.exception_action, name="exception_action"),
]
