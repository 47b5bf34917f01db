"""Portal online payment, mounted at /portal/pay/ (the sandbox gateway itself lives under /payments/)."""

from django.urls import path

from .channels.views import online as online_views
from .channels.views import portal as portal_views
from .channels.views import public as public_views

app_name = "payments_portal"
urlpatterns = [
    path("receipt/<str:order_no>/", portal_views.receipt, name="receipt"),
    path("order/<str:order_no>/qr/", portal_views.order_qr, name="order_qr"),
    path("order/<str:order_no>/status/", portal_views.order_status, name="order_status"),
    # WeChat JSAPI needs the payer's openid: WeChat's OAuth (snsapi_base) and back.
    path("wechat/oauth/", online_views.wechat_oauth_start, name="wechat_oauth"),
    path("wechat/oauth/back/", online_views.wechat_oauth_back, name="wechat_oauth_back"),
    # The receipt of an order paid without logging in, opened by the secret in its link (public_pay).
    path("public/<str:token>/receipt/", public_views.receipt, name="public_receipt"),
    path("public/<str:token>/status/", public_views.status, name="public_status"),
    path("<str:account_number>/", portal_views.pay, name="pay"),
]
