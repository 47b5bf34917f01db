from django.urls import path

from . import views, views_tariffs

app_name = "billing"
urlpatterns = [
    path("quote/", views.quote, name="quote"),
    path("tariffs/", views_tariffs.tariffs, name="tariffs"),
    path("tariffs/<str:code>/versions/new/", views_tariffs.version_editor, name="version_create"),
    path("tariffs/<str:code>/versions/new/json/", views_tariffs.version_json, name="version_json"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/retry/", views.run_retry, name="run_retry"),
    path("runs/<int:pk>/issue/", views.run_issue, name="run_issue"),
    path("runs/<int:pk>/delete/", views.run_delete, name="run_delete"),
    path("bills/<int:pk>/", views.bill_detail, name="bill_detail"),
    path("bills/<int:pk>/pdf/", views.bill_pdf, name="bill_pdf"),
    path("bills/<int:pk>/cancel-rebill/", views.bill_cancel_rebill, name="bill_cancel_rebill"),
]
