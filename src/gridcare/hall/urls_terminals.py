"""Staff pages of the terminal monitoring (issue 16 §7), under /hall/ (namespace "hall")."""

from django.urls import path

from . import views_terminals

urlpatterns = [
    path("terminals/", views_terminals.monitor, name="terminals"),
    path("terminals/<int:terminal_id>/", views_terminals.detail, name="terminal_detail"),
    path("terminals/<int:terminal_id>/hall/", views_terminals.hall_set, name="terminal_hall_set"),
    path("terminals/tasks/<int:task_id>/close/", views_terminals.task_close, name="terminal_task_close"),
]
