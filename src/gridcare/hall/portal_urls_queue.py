"""Portal pages of the remote ticket (/portal/hall/ticket/)."""

from django.urls import path

from . import portal_views_queue

urlpatterns = [
    path("ticket/", portal_views_queue.ticket, name="ticket"),
    path("ticket/<int:ticket_id>/status/", portal_views_queue.ticket_status, name="ticket_status"),
    path("ticket/<int:ticket_id>/cancel/", portal_views_queue.ticket_cancel, name="ticket_cancel"),
]
