from django.urls import path

from gridcare.home import views as home
from gridcare.org import views as org_views
from gridcare.portal import console_views as portal_console

from . import views, views_import

app_name = "console"
urlpatterns = [
    path("login/", org_views.login_view, name="login"),
    path("logout/", org_views.logout_view, name="logout"),
    path("", home.home, name="home"),
    path("customers/", views.search, name="search"),
    path("customers/export/", views.export, name="export"),
    path("customers/export/<int:job_id>/download/", views.export_download, name="export_download"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/accounts/new/", views.account_open, name="account_open"),
    path("accounts/<str:account_number>/close/", views.account_close, name="account_close"),
    path("accounts/<str:account_number>/transfer/", views.account_transfer, name="account_transfer"),
    path("accounts/<str:account_number>/bind-unlock/", portal_console.bind_unlock, name="bind_unlock"),
    path("service-points/<int:pk>/meters/new/", views.meter_install, name="meter_install"),
    path("meters/<int:pk>/edit/", views.meter_edit, name="meter_edit"),
    path("stats/", views.stats, name="stats"),
    path("import/", views_import.import_page, name="import"),
]
