"""Pages of the hall queue (issue 16 §1, §3, §4) and the hall set-up page."""

from django.urls import path

from . import views_queue, views_setup

urlpatterns = [
    path("", views_queue.index, name="index"),
    path("<int:hall_id>/greeter/", views_queue.greeter, name="greeter"),
    path("<int:hall_id>/setup/", views_setup.setup_page, name="setup"),
    path("counter/<int:counter_id>/", views_queue.counter_page, name="counter"),
    path("counter/<int:counter_id>/action/", views_queue.counter_action, name="counter_action"),
    path("d/<str:key>/display/", views_queue.display_page, name="display"),
    path("d/<str:key>/display/board/", views_queue.display_board, name="display_board"),
    path("d/<str:key>/kiosk/", views_queue.kiosk, name="kiosk"),
]
