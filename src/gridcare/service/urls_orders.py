"""Staff pages of the 95598 work orders (issue 15), under /service/ (namespace "service"): the order list, the
new-order form, an order's page and its actions, attachments, the agent console, the dispatcher board and the
crew's phone page."""

from django.urls import path

from . import views_orders as v

urlpatterns = [
    path("orders/", v.order_list, name="orders"),
    path("orders/new/", v.order_new, name="order_new"),
    path("orders/<str:number>/", v.order_detail, name="order_detail"),
    path("orders/<str:number>/act/<str:action>/", v.order_act, name="order_act"),
    path("attachments/<int:pk>/", v.attachment, name="attachment"),
    path("console/", v.console_page, name="console"),
    path("board/", v.board_page, name="board"),
    path("crew/", v.crew_page, name="crew"),
]
