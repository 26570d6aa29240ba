"""Chat routes, mounted under ``/api/`` (no trailing slashes)."""

from django.urls import path

from chat import views

urlpatterns = [
    path("chat", views.chat_stream, name="chat-stream"),
    path("config", views.config, name="config"),
    path("conversations", views.ConversationListApi.as_view(), name="conversation-list"),
    path(
        "conversations/<str:conversation_id>",
        views.ConversationDetailApi.as_view(),
        name="conversation-detail",
    ),
]
