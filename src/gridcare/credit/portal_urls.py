"""Portal pages of customer credit (/portal/credit/): the customer's grade, the events that count, and contests."""

from django.urls import path

from . import portal_views as views

app_name = "portal_credit"
urlpatterns = [
    path("", views.index, name="index"),
    path("events/<int:pk>/contest/", views.contest, name="contest"),
]
