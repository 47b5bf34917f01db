"""The customer's work orders in the portal, under /portal/service/ (namespace portal_service). An order number is
digits only, so the other pages of /portal/service/ (chat) never meet the order routes."""

from django.urls import path, register_converter

from . import portal_views


class OrderNumberConverter:
    regex = "[0-9]{6,24}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(OrderNumberConverter, "portal_order_number")

urlpatterns = [
    path("", portal_views.orders, name="orders"),
    path("new/", portal_views.new, name="new"),
    path("<portal_order_number:number>/", portal_views.detail, name="detail"),
    path("<portal_order_number:number>/chase/", portal_views.chase, name="chase"),
    path("<portal_order_number:number>/rate/", portal_views.rate, name="rate"),
    path("<portal_order_number:number>/files/<int:pk>/", portal_views.attachment, name="attachment"),
]
