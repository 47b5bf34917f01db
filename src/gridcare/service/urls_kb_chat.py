"""Staff pages of the knowledge base (/service/kb/) and the online chat (/service/chat/); included by urls.py
(namespace "service")."""

from django.urls import path

from . import views_kb_chat as v

urlpatterns = [
    path("kb/", v.kb_list, name="kb"),
    path("kb/new/", v.kb_new, name="kb_new"),
    path("kb/review/", v.kb_review, name="kb_review"),
    path("kb/<str:code>/", v.kb_article, name="kb_article"),
    path("kb/<str:code>/edit/", v.kb_edit, name="kb_edit"),
    path("kb/<str:code>/retire/", v.kb_retire, name="kb_retire"),
    path(
        "kb/<str:code>/versions/<int:number>/<str:action>/",
        v.kb_version_action,
        name="kb_version_action",
    ),
    path("chat/", v.chat_console, name="chat_console"),
    path("chat/<int:chat_id>/", v.chat_detail, name="chat_detail"),
    path("chat/<int:chat_id>/<str:action>/", v.chat_action, name="chat_action"),
]
