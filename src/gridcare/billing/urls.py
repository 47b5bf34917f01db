from django.urls import path

from . import views

app_name = "billing"
urlpatterns = [
    path("quote/", views.quote, name="quote"),
    path("tariffs/", views.tariffs, name="tariffs"),
    path("tariffs/<str:code>/versions/new/", views.version_create, name="version_create"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/issue/", views.run_issue, name="run_issue"),
    path("runs/<int:pk>/delete/", views.run_delete, name="run_delete"),
    path("bills/<int:pk>/", views.bill_detail, name="bill_detail"),
    path("bills/<int:pk>/pdf/", views.bill_pdf, name="bill_pdf"),
    path("bills/<int:pk>/cancel-rebill/", views.bill_cancel_rebill, name="bill_cancel_rebill"),
]
