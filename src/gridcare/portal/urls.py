"""Customer portal routes, mounted at /portal/. Logout is the shared console:logout POST view."""

from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("register/", views.register, name="register"),
    path("query/", views.query, name="query"),
    path("query/pay/", views.query_pay, name="query_pay"),
    path("accounts/", views.accounts, name="accounts"),
    path("bind/", views.bind, name="bind"),
    path("reauth/", views.reauth, name="reauth"),
    path("phone/", views.phone_change, name="phone_change"),
    path("accounts/<str:account_number>/", views.account_detail, name="account_detail"),
    path("accounts/<str:account_number>/unbind/", views.unbind, name="unbind"),
    path("accounts/<str:account_number>/payments/", views.payments, name="payments"),
    path(
        "accounts/<str:account_number>/payments/<int:payment_id>/receipt/",
        views.payment_receipt,
        name="payment_receipt",
    ),
    path("accounts/<str:account_number>/usage/", views.usage, name="usage"),
]
