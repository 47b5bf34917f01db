"""The customer's online chat under /portal/service/chat/; included by portal_urls.py (namespace
"portal_service")."""

from django.urls import path

from . import portal_chat_views as v

urlpatterns = [
    path("chat/", v.portal_chat, name="chat"),
    path("chat/<int:chat_id>/", v.portal_chat_session, name="chat_session"),
    path("chat/<int:chat_id>/send/", v.portal_chat_action, {"action": "send"}, name="chat_send"),
    path("chat/<int:chat_id>/close/", v.portal_chat_action, {"action": "close"}, name="chat_close"),
]
