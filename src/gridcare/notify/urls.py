from django.urls import path

from . import views

app_name = "notify"
urlpatterns = [
    path("customers/<int:pk>/preferences/", views.preferences, name="preferences"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("campaigns/<int:pk>/", views.campaign, name="campaign"),
    path("campaigns/<int:pk>/launch/", views.campaign_launch, name="campaign_launch"),
]
