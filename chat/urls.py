"""Chat routes, mounted under ``/api/`` (no trailing slashes)."""

from django.urls import path

from chat import views

urlpatterns = [
    path("chat", views.chat_stream, name="chat-stream"),
    path("config", views.config, name="config"),
    path("runs", views.run_create, name="run-create"),
    path("runs/<str:run_id>/events", views.run_events, name="run-events"),
    path("runs/<str:run_id>/cancel", views.run_cancel, name="run-cancel"),
    path("conversations", views.ConversationListApi.as_view(), name="conversation-list"),
    path(
        "conversations/<str:conversation_id>",
        views.ConversationDetailApi.as_view(),
        name="conversation-detail",
    ),
]
