from django.urls import path

from . import sandbox, views, views_collections

app_name = "payments"
urlpatterns = [
    path("counter/", views.counter, name="counter"),
    path("<int:pk>/receipt/", views.receipt, name="receipt"),
    path("collections/", views_collections.task_list, name="collections_tasks"),
    path("collections/tasks/<int:pk>/<str:action>/", views_collections.task_action, name="collections_task_action"),
    path("collections/accounts/<str:account_number>/", views_collections.account_timeline,
         name="collections_account"),
    path("collections/accounts/<str:account_number>/protect/", views_collections.account_protect,
         name="collections_protect"),
    # The local sandbox gateway (模拟支付网关): 404 unless GRIDCARE["SANDBOX_PAY"]["ENABLED"].
    path("sandbox/<str:order_no>/", sandbox.checkout, name="sandbox"),
    path("sandbox/<str:order_no>/confirm/", sandbox.confirm, name="sandbox_confirm"),
    path("sandbox/<str:order_no>/cancel/", sandbox.cancel, name="sandbox_cancel"),
]
