from django.urls import path

from . import views

app_name = "jobs"
urlpatterns = [
    path("", views.job_list, name="list"),
    path("<int:pk>/", views.job_detail, name="detail"),
    path("<int:pk>/retry/", views.job_retry, name="retry"),
    path("schedules/", views.schedule_list, name="schedules"),
    path("schedules/<str:name>/", views.schedule_edit, name="schedule_edit"),
    path("schedules/<str:name>/toggle/", views.schedule_toggle, name="schedule_toggle"),
    path("schedules/<str:name>/run/", views.schedule_run, name="schedule_run"),
]
