from django.urls import path

from . import views

app_name = "org"
urlpatterns = [
    path("locked/", views.locked_users, name="locked_users"),
    path("<int:pk>/unlock/", views.user_unlock, name="user_unlock"),
]
