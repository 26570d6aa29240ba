"""Chat routes, mounted under ``/api/`` (no trailing slashes)."""

from django.urls import path

from chat import apis, views

urlpatterns = [
    path("chat", views.chat_stream, name="chat-stream"),
    path("config", views.config, name="config"),
    path("runs", views.run_create, name="run-create"),
    path("runs/<str:run_id>/events", views.run_events, name="run-events"),
    path("runs/<str:run_id>/cancel", views.run_cancel, name="run-cancel"),
    path("conversations", apis.ConversationListApi.as_view(), name="conversation-list"),
    path(
        "conversations/<str:conversation_id>",
        apis.ConversationDetailApi.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<str:conversation_id>/items",
        apis.ConversationItemsApi.as_view(),
        name="conversation-items",
    ),
]
